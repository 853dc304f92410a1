//! Persistence of invitations: the conditional writes that revoke one and count its uses,
//! named for what they mean. Attribute names come from [`Invitation`]'s fields.

use super::model::Invitation;
use crate::attr;
use crate::store::{Condition, ItemUpdate};
use chrono::{DateTime, Utc};

pub struct Invitations;

impl Invitations {
    /// "Still usable": the invitation exists and nobody revoked it.
    fn unrevoked() -> Condition {
        Condition::ItemExists.and(Condition::absent(attr!(Invitation, revoked_at)))
    }

    /// Revokes an invitation (its link and poster stop working), for the transaction that also
    /// audits it; it fails if the invitation is already revoked.
    pub fn revoke(invitation: &Invitation, by: &str, now: DateTime<Utc>) -> ItemUpdate {
        let (pk, sk) = invitation.key();
        ItemUpdate::at(&pk, &sk)
            .set(attr!(Invitation, revoked_at), now)
            .set(attr!(Invitation, revoked_by), by)
            .when(Self::unrevoked())
    }

    /// Counts one employee joining through it, for the joining transaction; it fails (and so
    /// does the joining) if the invitation was revoked meanwhile.
    pub fn count_use(invitation: &Invitation) -> ItemUpdate {
        let (pk, sk) = invitation.key();
        ItemUpdate::at(&pk, &sk)
            .add(attr!(Invitation, uses), 1)
            .when(Self::unrevoked())
    }
}
