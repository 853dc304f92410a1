//! A copy an execution environment keeps of one small, often-read item, for a fixed time by the
//! injected clock: so no single item is read on every request at city scale. Cloning shares it.

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct TimedCopy<T> {
    keep_for: Duration,
    slot: Arc<Mutex<Option<ReadCopy<T>>>>,
}

/// A value as read, and when.
type ReadCopy<T> = (DateTime<Utc>, T);

impl<T: Clone> TimedCopy<T> {
    pub fn new(keep_for: Duration) -> Self {
        Self {
            keep_for,
            slot: Default::default(),
        }
    }

    /// The copy, if it was read less than its time before `now` (and not after `now`).
    pub fn current(&self, now: DateTime<Utc>) -> Option<T> {
        let slot = self
            .slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.as_ref()
            .filter(|(read_at, _)| now - *read_at < self.keep_for && *read_at <= now)
            .map(|(_, value)| value.clone())
    }

    /// Keeps `value`, read at `now`.
    pub fn keep(&self, now: DateTime<Utc>, value: &T) {
        let mut slot = self
            .slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Some((now, value.clone()));
    }
}
