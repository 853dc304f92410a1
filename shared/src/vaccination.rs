//! Vaccination data reported beside the official record (manual §5.2 and §6): an employee's own
//! correction request, or doses an agent enters on an employee's behalf. A report never
//! overwrites the official record synced from the health commission and never changes the
//! counts; it is shown next to it, marked as self-reported or agent-entered, with who and when.
//!
//! Reports live under the person (`PER#{person}` / `VAXREPORT#{at}#{ulid}`): the employee reads
//! all of theirs; an enterprise sees the self-reported ones and those its own agents entered.

use crate::feeds::Dose;
use crate::http::ApiError;
use crate::ids::{PersonKey, Uscc};
use crate::keys;
use crate::keys::ItemKey;
use crate::store::{QuerySpec, Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// No COVID-19 vaccine was given in China before emergency use began (July 2020).
const EARLIEST_DOSE: (i32, u32, u32) = (2020, 7, 1);
const MAX_DOSE: u8 = 5;
const MAX_PRODUCT_CHARS: usize = 40;
const MAX_NOTE_CHARS: usize = 200;
/// A person's reports are read in one page; more than this is refused at write time.
pub const MAX_REPORTS_PER_PERSON: usize = 50;

/// Who reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Reporter {
    /// The employee, about themselves (a correction request).
    Employee,
    /// An agent (or the legal rep) of `uscc`, on the employee's behalf.
    Agent {
        uscc: Uscc,
        agent_id: String,
        agent_name: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaccinationReport {
    #[serde(flatten)]
    key: ItemKey,
    pub id: String,
    pub person: PersonKey,
    pub dose: Dose,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub reporter: Reporter,
    pub reported_at: DateTime<Utc>,
    #[serde(rename = "expires_at")]
    retention_until: i64,
}

/// A dose as a person or an agent reports it (request body).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoseReport {
    /// Dose number, 1 to 5.
    pub dose: u8,
    pub date: NaiveDate,
    /// Product as on the vaccination certificate, e.g. "北京生物" or "Ad5-nCoV".
    pub product: String,
    /// What is wrong with the official record, or where the dose was given.
    #[serde(default)]
    pub note: Option<String>,
}

/// Why a dose report is refused.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("dose must be 1 to {MAX_DOSE}")]
    DoseNumber,
    #[error("date must be between {earliest} and today ({today})")]
    Date {
        earliest: NaiveDate,
        today: NaiveDate,
    },
    #[error("product is 1 to {MAX_PRODUCT_CHARS} characters")]
    Product,
    #[error("note is up to {MAX_NOTE_CHARS} characters")]
    Note,
    #[error(
        "this person already has the most vaccination reports kept; ask the health commission to correct the record"
    )]
    TooMany,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::TooMany => ApiError::conflict("too_many_reports", e.to_string()),
            ReportError::Store(store) => store.into(),
            invalid => ApiError::unprocessable("invalid_dose", invalid.to_string()),
        }
    }
}

impl DoseReport {
    fn validated(self, today: NaiveDate) -> Result<(Dose, Option<String>), ReportError> {
        if !(1..=MAX_DOSE).contains(&self.dose) {
            return Err(ReportError::DoseNumber);
        }
        let (y, m, d) = EARLIEST_DOSE;
        let earliest = NaiveDate::from_ymd_opt(y, m, d).expect("a valid date");
        if self.date < earliest || self.date > today {
            return Err(ReportError::Date { earliest, today });
        }
        let product = self.product.trim().to_string();
        if product.is_empty() || product.chars().count() > MAX_PRODUCT_CHARS {
            return Err(ReportError::Product);
        }
        let note = self
            .note
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        if note
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
        {
            return Err(ReportError::Note);
        }
        Ok((
            Dose {
                dose: self.dose,
                date: self.date,
                product,
            },
            note,
        ))
    }
}

/// A report as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportView {
    pub id: String,
    pub dose: u8,
    pub date: NaiveDate,
    pub product: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// `self_reported` (the employee's correction request) or `agent_entered`.
    pub kind: ReportKind,
    /// For agent-entered data: which enterprise's agent, and who.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entered_for: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entered_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entered_by_agent_id: Option<String>,
    pub reported_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    SelfReported,
    AgentEntered,
}

impl From<&VaccinationReport> for ReportView {
    fn from(r: &VaccinationReport) -> Self {
        let (kind, entered_for, entered_by, agent_id) = match &r.reporter {
            Reporter::Employee => (ReportKind::SelfReported, None, None, None),
            Reporter::Agent {
                uscc,
                agent_id,
                agent_name,
            } => (
                ReportKind::AgentEntered,
                Some(uscc.to_string()),
                Some(agent_name.clone()),
                Some(agent_id.clone()),
            ),
        };
        Self {
            id: r.id.clone(),
            dose: r.dose.dose,
            date: r.dose.date,
            product: r.dose.product.clone(),
            note: r.note.clone(),
            kind,
            entered_for,
            entered_by,
            entered_by_agent_id: agent_id,
            reported_at: r.reported_at,
        }
    }
}

impl VaccinationReport {
    pub fn key(&self) -> &ItemKey {
        &self.key
    }

    /// Validates `report` and stamps it; `today` is the business date.
    pub fn new(
        person: &PersonKey,
        report: DoseReport,
        reporter: Reporter,
        now: DateTime<Utc>,
    ) -> Result<Self, ReportError> {
        let today = crate::clock::business_time(now).date_naive();
        let (dose, note) = report.validated(today)?;
        let id = keys::sortable_id();
        Ok(Self {
            key: ItemKey::new(
                keys::person(person),
                keys::vaccination_report(&keys::instant(now), &id),
            ),
            id,
            person: person.clone(),
            dose,
            note,
            reporter,
            reported_at: now,
            retention_until: crate::retention::VACCINATION_REPORT.until(now),
        })
    }

    /// Whether enterprise `uscc` may see this report: self-reported ones, and its own agents'.
    pub fn visible_to(&self, uscc: &Uscc) -> bool {
        match &self.reporter {
            Reporter::Employee => true,
            Reporter::Agent { uscc: by, .. } => by == uscc,
        }
    }
}

/// A person's reports, oldest first (one Query).
pub async fn of_person(
    store: &Store,
    person: &PersonKey,
) -> Result<Vec<VaccinationReport>, StoreError> {
    let spec = QuerySpec::table(keys::person(person))
        .prefix(keys::VAX_REPORT_PREFIX)
        .limit(MAX_REPORTS_PER_PERSON as i32);
    Ok(store.first_page(&spec).await?.items)
}

/// Stores a report, refusing a person's report beyond [`MAX_REPORTS_PER_PERSON`] (so a person's
/// reports always fit one read).
pub async fn save(
    store: &Store,
    report: &VaccinationReport,
    extra: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
) -> Result<(), ReportError> {
    if of_person(store, &report.person).await?.len() >= MAX_REPORTS_PER_PERSON {
        return Err(ReportError::TooMany);
    }
    let mut parts = vec![crate::store::put_new(
        store.table(),
        Store::to_item(report)?,
    )?];
    parts.extend(extra);
    store.transact(parts).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(dose: u8, date: &str, product: &str) -> DoseReport {
        DoseReport {
            dose,
            date: date.parse().unwrap(),
            product: product.into(),
            note: None,
        }
    }

    #[test]
    fn reports_are_checked() {
        let today: NaiveDate = "2022-04-01".parse().unwrap();
        assert!(report(1, "2021-05-01", "北京生物").validated(today).is_ok());
        let long_note = DoseReport {
            note: Some("注".repeat(MAX_NOTE_CHARS + 1)),
            ..report(1, "2021-05-01", "北京生物")
        };
        for (bad, why) in [
            (report(0, "2021-05-01", "北京生物"), "dose must be 1 to 5"),
            (report(6, "2021-05-01", "北京生物"), "dose must be 1 to 5"),
            (report(1, "2019-05-01", "北京生物"), "date must be between"),
            (report(1, "2022-04-02", "北京生物"), "today (2022-04-01)"),
            (report(1, "2021-05-01", "  "), "product is 1 to"),
            (long_note, "note is up to"),
        ] {
            let error = bad.validated(today).unwrap_err();
            assert!(error.to_string().contains(why), "{error}");
            let answer = ApiError::from(error);
            assert_eq!(
                (answer.status.as_u16(), answer.code.as_ref()),
                (422, "invalid_dose")
            );
        }
        let too_many = ApiError::from(ReportError::TooMany);
        assert_eq!(
            (too_many.status.as_u16(), too_many.code.as_ref()),
            (409, "too_many_reports")
        );
    }
}
