//! The retention policy: how long each kind of record stays, counted from what, and which setting
//! changes it. Every item that holds personal data carries `expires_at` (DynamoDB's TTL
//! attribute, epoch seconds; [`crate::keys::TTL`]) computed from one rule here, or no TTL while
//! the rule keeps it "while in force" — and then the rule says what ends it.
//!
//! `docs/privacy.md` prints [`markdown_table`]; a test checks that the page and this table agree,
//! and another scans a table the whole service has written to and checks every item against
//! the rule for its kind and state.

use chrono::{DateTime, Duration, Utc};

/// One kind of record in one state, and how long it is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The record, as `docs/privacy.md` names it.
    pub record: &'static str,
    /// The state the rule covers ("—" when the record has one).
    pub state: &'static str,
    /// How long after `counted_from` the record is kept; `None`: while in force (no TTL).
    pub days: Option<i64>,
    /// The moment retention starts, or what ends "while in force".
    pub counted_from: &'static str,
    /// The environment variable that changes `days`, if any; the others are set here.
    pub setting: Option<&'static str>,
}

impl Rule {
    /// The retention period. A rule kept while in force has none; asking for one is a bug.
    pub const fn period(&self) -> Duration {
        match self.days {
            Some(days) => Duration::days(days),
            None => panic!("a record kept while in force has no retention period"),
        }
    }

    /// The TTL (epoch seconds) of a record whose retention starts at `from`.
    pub fn until(&self, from: DateTime<Utc>) -> i64 {
        (from + self.period()).timestamp()
    }

    /// The period as people say it ("3 years", "90 days", "while in force").
    pub fn kept(&self) -> String {
        match self.days {
            Some(days) if days % 365 == 0 && days >= 365 => match days / 365 {
                1 => "1 year".into(),
                years => format!("{years} years"),
            },
            Some(1) => "1 day".into(),
            Some(days) => format!("{days} days"),
            None => "while in force".into(),
        }
    }
}

pub const AUDIT_RECORD: Rule = Rule {
    record: "audit record (grants, decisions, consents, exports, detail views)",
    state: "—",
    days: Some(3 * 365),
    counted_from: "the event",
    setting: Some("AUDIT_RETENTION_DAYS"),
};

/// A person's own copy of who viewed their details (for `GET /me/data`): as long as the audit.
pub const DETAIL_VIEW: Rule = Rule {
    record: "detail view (the viewed person's copy)",
    state: "—",
    days: AUDIT_RECORD.days,
    counted_from: "the view",
    setting: None,
};

pub const PENDING_AUTHORISATION: Rule = Rule {
    record: "authorisation",
    state: "pending",
    days: Some(365),
    counted_from: "the application (an application nobody decides lapses)",
    setting: Some("DECIDED_RETENTION_DAYS"),
};

pub const DECIDED_AUTHORISATION: Rule = Rule {
    record: "authorisation",
    state: "rejected, revoked",
    days: PENDING_AUTHORISATION.days,
    counted_from: "the decision",
    setting: Some("DECIDED_RETENTION_DAYS"),
};

pub const ENDING_AUTHORISATION: Rule = Rule {
    record: "authorisation",
    state: "active with an end (valid until, or originals due)",
    days: PENDING_AUTHORISATION.days,
    counted_from: "its end",
    setting: Some("DECIDED_RETENTION_DAYS"),
};

pub const ACTIVE_AUTHORISATION: Rule = Rule {
    record: "authorisation",
    state: "active without an end",
    days: None,
    counted_from: "until revoked; then as rejected, revoked",
    setting: None,
};

pub const SHARE_LINK: Rule = Rule {
    record: "share link",
    state: "—",
    days: Some(30),
    counted_from: "its expiry",
    setting: None,
};

pub const INVITATION: Rule = Rule {
    record: "invitation",
    state: "—",
    days: Some(30),
    counted_from: "the end of its validity",
    setting: None,
};

pub const VACCINATION_REPORT: Rule = Rule {
    record: "vaccination report (correction, agent-entered dose)",
    state: "—",
    days: Some(365),
    counted_from: "the report",
    setting: None,
};

pub const EXPORT_JOB: Rule = Rule {
    record: "export job",
    state: "—",
    days: Some(90),
    counted_from: "the request",
    setting: None,
};

/// The daily export counter: it only has to outlive its business day.
pub const EXPORT_QUOTA: Rule = Rule {
    record: "export quota (count per day)",
    state: "—",
    days: Some(2),
    counted_from: "the latest export of the day",
    setting: None,
};

pub const CURRENT_MEMBERSHIP: Rule = Rule {
    record: "membership (employee of an enterprise)",
    state: "current",
    days: None,
    counted_from: "until the person leaves (roster, removal, consent withdrawn with no other ground)",
    setting: None,
};

pub const LEFT_MEMBERSHIP: Rule = Rule {
    record: "membership (employee of an enterprise)",
    state: "left",
    days: Some(365),
    counted_from: "leaving",
    setting: None,
};

pub const PERSON_HEALTH: Rule = Rule {
    record: "person health (PCR and dose facts, derived state)",
    state: "—",
    days: Some(365),
    counted_from: "the last change of its facts (or its creation)",
    setting: None,
};

pub const GIVEN_CONSENT: Rule = Rule {
    record: "consent",
    state: "given",
    days: None,
    counted_from: "until withdrawn",
    setting: None,
};

/// A withdrawn consent is the proof of what was processed on which ground: kept as the audit.
pub const WITHDRAWN_CONSENT: Rule = Rule {
    record: "consent",
    state: "withdrawn",
    days: AUDIT_RECORD.days,
    counted_from: "the withdrawal",
    setting: None,
};

pub const ENTERPRISE_PROFILE: Rule = Rule {
    record: "enterprise profile (legal rep's name and masked ID)",
    state: "—",
    days: None,
    counted_from: "while the registry lists the enterprise; the sunset procedure ends it",
    setting: None,
};

pub const SYNC_LEDGER: Rule = Rule {
    record: "sync ledger (one per delivery: counts, rejected line numbers)",
    state: "—",
    days: Some(365),
    counted_from: "applying the delivery",
    setting: None,
};

pub const SYNC_RUN: Rule = Rule {
    record: "sync run",
    state: "—",
    days: Some(365),
    counted_from: "the end of the run",
    setting: None,
};

/// Every rule, in the order `docs/privacy.md` lists them. Records not here hold no personal
/// data (enterprise summaries: counts; sites and zones: public; the freshness status) and stay
/// until the sunset job.
pub const POLICY: &[Rule] = &[
    AUDIT_RECORD,
    DETAIL_VIEW,
    PENDING_AUTHORISATION,
    DECIDED_AUTHORISATION,
    ENDING_AUTHORISATION,
    ACTIVE_AUTHORISATION,
    SHARE_LINK,
    INVITATION,
    VACCINATION_REPORT,
    EXPORT_JOB,
    EXPORT_QUOTA,
    CURRENT_MEMBERSHIP,
    LEFT_MEMBERSHIP,
    PERSON_HEALTH,
    GIVEN_CONSENT,
    WITHDRAWN_CONSENT,
    ENTERPRISE_PROFILE,
    SYNC_LEDGER,
    SYNC_RUN,
];

/// The policy as the Markdown table `docs/privacy.md` shows.
pub fn markdown_table() -> String {
    let mut table =
        String::from("| record | state | kept | counted from | setting |\n|---|---|---|---|---|\n");
    for rule in POLICY {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            rule.record,
            rule.state,
            rule.kept(),
            rule.counted_from,
            rule.setting.map_or("—".into(), |s| format!("`{s}`")),
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_as_people_say_them() {
        assert_eq!(AUDIT_RECORD.kept(), "3 years");
        assert_eq!(PERSON_HEALTH.kept(), "1 year");
        assert_eq!(EXPORT_JOB.kept(), "90 days");
        assert_eq!(GIVEN_CONSENT.kept(), "while in force");
    }

    #[test]
    fn a_retention_counts_from_its_start() {
        let from = DateTime::parse_from_rfc3339("2022-04-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            EXPORT_JOB.until(from),
            (from + Duration::days(90)).timestamp()
        );
    }
}
