use crate::ids::{IdDocument, IdType, PersonKey, PersonKeyer, Phone, Uscc, UsccPolicy};
use crate::registry::{EnterpriseProfile, EnterpriseRecord};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Clock skew tolerated between the platform and us before a time counts as "in the future".
const FUTURE_TOLERANCE_MINUTES: i64 = 10;
const MAX_TEXT_CHARS: usize = 200;

/// What parsing needs from the environment.
pub struct ParseContext<'a> {
    pub now: DateTime<Utc>,
    pub keyer: &'a PersonKeyer,
    pub uscc_policy: &'a UsccPolicy,
}

/// Why a line was not applied; goes to the quarantine object with the line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejection(pub String);

fn reject(field: &str, why: impl std::fmt::Display) -> Rejection {
    Rejection(format!("{field}: {why}"))
}

fn person(
    ctx: &ParseContext<'_>,
    id_type: IdType,
    id_number: &str,
) -> Result<(PersonKey, String), Rejection> {
    let document = IdDocument::parse(id_type, id_number).map_err(|e| reject("id_number", e))?;
    Ok((ctx.keyer.key(&document), document.masked()))
}

fn text(field: &str, value: &str) -> Result<String, Rejection> {
    let value = value.trim();
    if value.is_empty() {
        return Err(reject(field, "is empty"));
    }
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(reject(
            field,
            format!("is longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    // Upstream text is shown back in lists, mails and exports like a name typed here, and
    // refused for the same characters (`ids::name`).
    if value.chars().any(crate::ids::is_forbidden_in_text) {
        return Err(reject(field, "contains control characters"));
    }
    Ok(value.to_string())
}

fn not_future(
    field: &str,
    at: DateTime<Utc>,
    ctx: &ParseContext<'_>,
) -> Result<DateTime<Utc>, Rejection> {
    if at > ctx.now + Duration::minutes(FUTURE_TOLERANCE_MINUTES) {
        return Err(reject(field, "is in the future"));
    }
    Ok(crate::clock::whole_seconds(at))
}

// ---- raw line shapes (borrowed: no allocation until validated) ----

#[derive(Deserialize)]
struct RawLegalRep<'a> {
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
    id_type: IdType,
    #[serde(borrow)]
    id_number: std::borrow::Cow<'a, str>,
}

#[derive(Deserialize)]
struct RawRegistry<'a> {
    #[serde(borrow)]
    uscc: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    legal_rep: RawLegalRep<'a>,
    #[serde(borrow)]
    district: std::borrow::Cow<'a, str>,
}

#[derive(Deserialize)]
struct RawRoster<'a> {
    #[serde(borrow)]
    uscc: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    month: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
    id_type: IdType,
    #[serde(borrow)]
    id_number: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    phone: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawPcr<'a> {
    id_type: IdType,
    #[serde(borrow)]
    id_number: std::borrow::Cow<'a, str>,
    sampled_at: DateTime<Utc>,
    #[serde(default)]
    result_at: Option<DateTime<Utc>>,
    result: PcrOutcome,
    #[serde(borrow)]
    site: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    city: std::borrow::Cow<'a, str>,
}

#[derive(Deserialize)]
struct RawDose<'a> {
    id_type: IdType,
    #[serde(borrow)]
    id_number: std::borrow::Cow<'a, str>,
    dose: u8,
    date: NaiveDate,
    #[serde(borrow)]
    product: std::borrow::Cow<'a, str>,
}

// ---- validated records ----

/// A line of the social-insurance roster: this person was insured by this enterprise that month.
#[derive(Debug, Clone, PartialEq)]
pub struct RosterEntry {
    pub uscc: Uscc,
    /// `YYYY-MM`.
    pub month: String,
    pub person: PersonKey,
    pub name: String,
    pub masked_id: String,
    pub masked_phone: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PcrOutcome {
    Negative,
    Positive,
    /// Sampled, result not yet reported by the lab.
    Pending,
}

/// One PCR sampling and (when known) its result.
#[derive(Debug, Clone, PartialEq)]
pub struct PcrResult {
    pub person: PersonKey,
    pub sampled_at: DateTime<Utc>,
    pub result_at: Option<DateTime<Utc>>,
    pub result: PcrOutcome,
    pub site: String,
    /// Sampled in Shenzhen (the "in Shenzhen" rule counts only these).
    pub in_shenzhen: bool,
}

/// One official vaccination dose (health commission).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Dose {
    pub dose: u8,
    pub date: NaiveDate,
    pub product: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DoseRecord {
    pub person: PersonKey,
    pub dose: Dose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SiteStatus {
    Open,
    Busy,
    Paused,
    Closed,
}

/// A PCR sampling site with its live status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub district: String,
    pub street: String,
    pub address: String,
    pub lng: f64,
    pub lat: f64,
    pub opening_hours: String,
    pub status: SiteStatus,
    pub waiting_minutes: Option<u32>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ZoneLevel {
    /// 封控区
    Sealed,
    /// 管控区
    Controlled,
    /// 防范区
    Prevention,
}

/// A control zone and its effective period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    pub id: String,
    pub level: ZoneLevel,
    pub district: String,
    pub street: String,
    pub area: String,
    pub effective_from: DateTime<Utc>,
    pub effective_until: Option<DateTime<Utc>>,
}

/// A validated line of any feed.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Registry(Box<EnterpriseProfile>),
    Roster(RosterEntry),
    Pcr(PcrResult),
    Vaccination(DoseRecord),
    Site(Site),
    Zone(Zone),
}

impl Record {
    /// Two records with the same key within one delivery are duplicates: the later line wins.
    pub fn dedupe_key(&self) -> String {
        match self {
            Self::Registry(p) => p.uscc.to_string(),
            Self::Roster(r) => format!("{}#{}", r.uscc, r.person),
            Self::Pcr(p) => format!("{}#{}", p.person, p.sampled_at.timestamp()),
            Self::Vaccination(d) => format!("{}#{}", d.person, d.dose.dose),
            Self::Site(s) => s.id.clone(),
            Self::Zone(z) => z.id.clone(),
        }
    }
}

/// Parses and validates one line of `feed`.
pub fn parse_line(
    feed: super::Feed,
    line: &str,
    ctx: &ParseContext<'_>,
) -> Result<Record, Rejection> {
    use super::Feed;
    let json = |e: serde_json::Error| Rejection(format!("not a valid {feed} record: {e}"));
    match feed {
        Feed::Registry => {
            let raw: RawRegistry = serde_json::from_str(line).map_err(json)?;
            let uscc = ctx
                .uscc_policy
                .parse(&raw.uscc)
                .map_err(|e| reject("uscc", e))?;
            let legal_rep = IdDocument::parse(raw.legal_rep.id_type, &raw.legal_rep.id_number)
                .map_err(|e| reject("legal_rep.id_number", e))?;
            let record = EnterpriseRecord {
                uscc,
                name: text("name", &raw.name)?,
                legal_rep,
                legal_rep_name: text("legal_rep.name", &raw.legal_rep.name)?,
                district: text("district", &raw.district)?,
            };
            Ok(Record::Registry(Box::new(EnterpriseProfile::new(
                &record, ctx.keyer, ctx.now,
            ))))
        }
        Feed::Roster => {
            let raw: RawRoster = serde_json::from_str(line).map_err(json)?;
            let uscc = ctx
                .uscc_policy
                .parse(&raw.uscc)
                .map_err(|e| reject("uscc", e))?;
            let month = NaiveDate::parse_from_str(&format!("{}-01", raw.month), "%Y-%m-%d")
                .map_err(|_| reject("month", "is not YYYY-MM"))?;
            if month > ctx.now.date_naive() {
                return Err(reject("month", "is in the future"));
            }
            let (person, masked_id) = person(ctx, raw.id_type, &raw.id_number)?;
            let masked_phone = match raw
                .phone
                .as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())
            {
                Some(p) => Some(Phone::parse(p).map_err(|e| reject("phone", e))?.masked()),
                None => None,
            };
            Ok(Record::Roster(RosterEntry {
                uscc,
                month: month.format("%Y-%m").to_string(),
                person,
                name: text("name", &raw.name)?,
                masked_id,
                masked_phone,
            }))
        }
        Feed::Pcr => {
            let raw: RawPcr = serde_json::from_str(line).map_err(json)?;
            let (person, _) = person(ctx, raw.id_type, &raw.id_number)?;
            let sampled_at = not_future("sampled_at", raw.sampled_at, ctx)?;
            let result_at = raw
                .result_at
                .map(|t| not_future("result_at", t, ctx))
                .transpose()?;
            if result_at.is_some_and(|r| r < sampled_at) {
                return Err(reject("result_at", "is before sampled_at"));
            }
            if raw.result != PcrOutcome::Pending && result_at.is_none() {
                return Err(reject("result_at", "is required once a result is known"));
            }
            Ok(Record::Pcr(PcrResult {
                person,
                sampled_at,
                result_at,
                result: raw.result,
                site: text("site", &raw.site)?,
                in_shenzhen: raw.city.trim() == "深圳市",
            }))
        }
        Feed::Vaccination => {
            let raw: RawDose = serde_json::from_str(line).map_err(json)?;
            let (person, _) = person(ctx, raw.id_type, &raw.id_number)?;
            if !(1..=5).contains(&raw.dose) {
                return Err(reject("dose", "must be 1 to 5"));
            }
            if raw.date > ctx.now.date_naive() {
                return Err(reject("date", "is in the future"));
            }
            Ok(Record::Vaccination(DoseRecord {
                person,
                dose: Dose {
                    dose: raw.dose,
                    date: raw.date,
                    product: text("product", &raw.product)?,
                },
            }))
        }
        Feed::Sites => {
            let mut site: Site = serde_json::from_str(line).map_err(json)?;
            for (field, value) in [
                ("id", &mut site.id),
                ("name", &mut site.name),
                ("district", &mut site.district),
                ("street", &mut site.street),
            ] {
                *value = text(field, value)?;
            }
            if !(113.7..=114.7).contains(&site.lng) || !(22.4..=22.9).contains(&site.lat) {
                return Err(reject("lng/lat", "is not in Shenzhen"));
            }
            site.updated_at = not_future("updated_at", site.updated_at, ctx)?;
            Ok(Record::Site(site))
        }
        Feed::Zones => {
            let mut zone: Zone = serde_json::from_str(line).map_err(json)?;
            for (field, value) in [
                ("id", &mut zone.id),
                ("district", &mut zone.district),
                ("street", &mut zone.street),
                ("area", &mut zone.area),
            ] {
                *value = text(field, value)?;
            }
            if zone
                .effective_until
                .is_some_and(|u| u <= zone.effective_from)
            {
                return Err(reject("effective_until", "is not after effective_from"));
            }
            Ok(Record::Zone(zone))
        }
    }
}
