//! Persistence of invitations and consents: every read and write the invite-join workflows make,
//! named for what it means. Attribute names come from the entities' fields.

use super::model::{Consent, Invitation};
use crate::attr;
use crate::ids::{PersonKey, Uscc};
use crate::keys;
use crate::registry::EnterpriseProfile;
use crate::roster::{self, Membership};
use crate::store::{
    self, BadCursorOr, Condition, Item, ItemUpdate, Page, QuerySpec, Store, StoreError,
};
use chrono::{DateTime, Utc};

/// An enterprise's invitations (`ENT#<uscc>` / `INVITATION#<id>`).
pub struct Invitations;

impl Invitations {
    /// "Still usable": the invitation exists and nobody revoked it.
    fn unrevoked() -> Condition {
        Condition::ItemExists.and(Condition::absent(attr!(Invitation, revoked_at)))
    }

    /// Writes a new invitation with its audit record.
    pub async fn create(
        store: &Store,
        invitation: &Invitation,
        audit: Item,
    ) -> Result<(), StoreError> {
        let table = store.table();
        store
            .transact(vec![
                store::put_new(table, Store::to_item(invitation)?)?,
                store::put_new(table, audit)?,
            ])
            .await
    }

    pub async fn get(
        store: &Store,
        uscc: &Uscc,
        id: &str,
    ) -> Result<Option<Invitation>, StoreError> {
        store
            .get(&keys::enterprise(uscc), &keys::invitation(id))
            .await
    }

    /// A page of the enterprise's invitations, newest first.
    pub async fn page(
        store: &Store,
        uscc: &Uscc,
        cursor: Option<&str>,
    ) -> Result<Page<Invitation>, BadCursorOr> {
        let spec = QuerySpec::table(keys::enterprise(uscc))
            .prefix(keys::INVITATION_PREFIX)
            .newest_first();
        store.query(&spec, cursor).await
    }

    /// The invitation and its enterprise's profile, in one request.
    pub async fn with_enterprise(
        store: &Store,
        uscc: &Uscc,
        id: &str,
    ) -> Result<(Option<Invitation>, Option<EnterpriseProfile>), StoreError> {
        let invitation_key = (keys::enterprise(uscc), keys::invitation(id));
        let profile_key = (keys::enterprise(uscc), keys::PROFILE.to_string());
        let mut found = store
            .get_many(vec![
                Store::key(&invitation_key.0, &invitation_key.1),
                Store::key(&profile_key.0, &profile_key.1),
            ])
            .await?;
        let invitation = found
            .remove(&invitation_key)
            .map(Store::from_item)
            .transpose()?;
        let profile = found
            .remove(&profile_key)
            .map(Store::from_item)
            .transpose()?;
        Ok((invitation, profile))
    }

    /// Revokes an invitation (its link and poster stop working) with its audit record; it fails
    /// with [`StoreError::ConditionFailed`] if the invitation is already revoked.
    pub async fn revoke(
        store: &Store,
        invitation: &Invitation,
        by: &str,
        now: DateTime<Utc>,
        audit: Item,
    ) -> Result<(), StoreError> {
        let revocation = ItemUpdate::of(invitation.key())
            .set(attr!(Invitation, revoked_at), now)
            .set(attr!(Invitation, revoked_by), by)
            .when(Self::unrevoked());
        let table = store.table();
        store
            .transact(vec![
                revocation.into_transact(table)?,
                store::put_new(table, audit)?,
            ])
            .await
    }

    /// Counts one employee joining through it, for the joining transaction; it fails (and so
    /// does the joining) if the invitation was revoked meanwhile.
    pub fn count_use(invitation: &Invitation) -> ItemUpdate {
        ItemUpdate::of(invitation.key())
            .add(attr!(Invitation, uses), 1)
            .when(Self::unrevoked())
    }
}

/// A person's consents to enterprises (`PER#<person>` / `CONSENT#<uscc>`).
pub struct Consents;

impl Consents {
    pub async fn get(
        store: &Store,
        person: &PersonKey,
        uscc: &Uscc,
    ) -> Result<Option<Consent>, StoreError> {
        store.get(&keys::person(person), &keys::consent(uscc)).await
    }

    pub async fn of_person(store: &Store, person: &PersonKey) -> Result<Vec<Consent>, StoreError> {
        let spec = QuerySpec::table(keys::person(person))
            .prefix(keys::CONSENT_PREFIX)
            .limit(100);
        store.query_all(&spec, 1_000).await
    }

    /// The consent and the membership it may rest on, in one request.
    pub async fn with_membership(
        store: &Store,
        person: &PersonKey,
        uscc: &Uscc,
    ) -> Result<(Option<Consent>, Option<Membership>), StoreError> {
        let consent_key = (keys::person(person), keys::consent(uscc));
        let membership_key = roster::membership_key(uscc, person);
        let mut found = store
            .get_many(vec![
                Store::key(&consent_key.0, &consent_key.1),
                Store::key(&membership_key.0, &membership_key.1),
            ])
            .await?;
        let consent = found
            .remove(&consent_key)
            .map(Store::from_item)
            .transpose()?;
        let membership = found
            .remove(&membership_key)
            .map(Store::from_item)
            .transpose()?;
        Ok((consent, membership))
    }
}
