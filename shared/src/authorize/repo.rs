//! Persistence of authorisation's single-use share links: the conditional write that consumes
//! one, named for what it means. Attribute names come from [`ShareLink`]'s fields.

use super::service::{LINK_SK, ShareLink};
use crate::attr;
use crate::keys;
use crate::store::{Condition, ItemUpdate};
use chrono::{DateTime, Utc};

pub struct ShareLinks;

impl ShareLinks {
    /// Uses up the link, for the transaction that records the legal rep's decision: a replayed
    /// link (already used) fails the whole decision.
    pub fn consume(link_id: &str, now: DateTime<Utc>) -> ItemUpdate {
        let used_at = attr!(ShareLink, used_at);
        ItemUpdate::at(&keys::share_link(link_id), LINK_SK)
            .set(used_at, now)
            .when(Condition::ItemExists.and(Condition::absent(used_at)))
    }
}
