//! Which generation of the person key is in force, as the table says (`REKEY` / `RUN`): settled
//! at one generation, or migrating from one to the next while the re-key job runs. Every request
//! that keys a person asks, through this execution environment's copy ([`EpochCache`]), so no
//! item is read on every request, and the job waits out the copy's age before it rewrites
//! anything ([`crate::rekey`]).

use super::RekeyRun;
use crate::cache::TimedCopy;
use crate::ids::KeyGeneration;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, Utc};

/// How long an execution environment trusts the epoch it read.
pub const CACHE_TTL: Duration = Duration::seconds(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEpoch {
    /// Every stored person key is of this generation.
    Settled(KeyGeneration),
    /// The re-key job is rewriting keys of `from` as keys of `to`: reads look under both, and
    /// writes that name a person wait until it is done.
    Migrating {
        from: KeyGeneration,
        to: KeyGeneration,
    },
}

impl KeyEpoch {
    /// The generation new keys are computed at (during a migration: the one keys move to).
    pub fn in_force(self) -> KeyGeneration {
        match self {
            Self::Settled(generation) => generation,
            Self::Migrating { to, .. } => to,
        }
    }

    /// The generation keys move from, while they do.
    pub fn previous(self) -> Option<KeyGeneration> {
        match self {
            Self::Settled(_) => None,
            Self::Migrating { from, .. } => Some(from),
        }
    }

    pub fn is_migrating(self) -> bool {
        matches!(self, Self::Migrating { .. })
    }

    /// What the run says (no run: the first generation, as the service started).
    pub fn of(run: Option<&RekeyRun>) -> Self {
        match run {
            None => Self::Settled(1),
            Some(run) if run.settled_at.is_some() => Self::Settled(run.to),
            Some(run) => Self::Migrating {
                from: run.from,
                to: run.to,
            },
        }
    }
}

/// The epoch as the table says it now: one GetItem (the scheduled jobs, at their start).
pub async fn read(store: &Store) -> Result<KeyEpoch, StoreError> {
    Ok(KeyEpoch::of(super::run(store).await?.as_ref()))
}

/// This execution environment's copy of the epoch, read at most once per [`CACHE_TTL`].
#[derive(Debug, Clone)]
pub struct EpochCache(TimedCopy<KeyEpoch>);

impl Default for EpochCache {
    fn default() -> Self {
        Self(TimedCopy::new(CACHE_TTL))
    }
}

impl EpochCache {
    pub async fn read(&self, store: &Store, now: DateTime<Utc>) -> Result<KeyEpoch, StoreError> {
        if let Some(epoch) = self.0.current(now) {
            return Ok(epoch);
        }
        let epoch = read(store).await?;
        self.0.keep(now, &epoch);
        Ok(epoch)
    }
}
