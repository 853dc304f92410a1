//! Time is injected: domain logic asks a [`Clock`], never the system directly, so tests can pin
//! "now". Instants are stored as UTC; business rules that the manual states in wall-clock terms
//! (02:30/14:30 syncs, "the last 14 days") are evaluated in [`BUSINESS_TZ`].

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;
use std::sync::{Arc, Mutex};

/// Shenzhen's wall clock.
pub const BUSINESS_TZ: Tz = chrono_tz::Asia::Shanghai;

/// How far ahead of ours a person's device clock may be when they give a time that cannot lie in
/// the future (a phone's clock drifts; an operator records "just now").
pub const DEVICE_CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// Every instant the service stores is whole seconds: chrono then writes one fixed RFC 3339
/// shape (`2022-04-01T02:30:00Z`), so stored times sort lexicographically, which conditions and
/// sort keys rely on.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

pub fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(0)
}

/// The real clock, for Lambda and the local stack.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        whole_seconds(Utc::now())
    }
}

/// A clock the test moves by hand.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        whole_seconds(*self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// An instant shown in Shenzhen time, for texts people read (mails, audit views).
pub fn business_time(at: DateTime<Utc>) -> DateTime<Tz> {
    at.with_timezone(&BUSINESS_TZ)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Timelike};

    #[test]
    fn business_time_is_utc_plus_eight() {
        let at = Utc.with_ymd_and_hms(2022, 4, 1, 18, 30, 0).unwrap();
        let local = business_time(at);
        assert_eq!(local.hour(), 2);
        assert_eq!(local.minute(), 30);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Utc.with_ymd_and_hms(2022, 4, 1, 0, 0, 0).unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(chrono::Duration::hours(25));
        assert_eq!(clock.now(), start + chrono::Duration::hours(25));
    }
}
