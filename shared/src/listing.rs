//! Paged, filtered lists of an enterprise's employees, read from the list indexes (GSI4 for PCR
//! labels, GSI5 for vaccination states; see [`crate::keys`]).
//!
//! A list is an ordered run of *segments* — (index partition, sort-key prefix) pairs — because
//! the most selective filters are part of the keys: current or left, in or out of Shenzhen, and a
//! name prefix. A page reads at most [`MAX_QUERIES_PER_PAGE`] Query requests, whatever the
//! enterprise's size; only the employee-source filter (an employee may have several sources, so it
//! cannot be a key) is a FilterExpression, and a page filtered by source may come back short,
//! with a cursor to go on.
//!
//! Cursors are opaque to clients and bound to the list they came from: a cursor of another
//! enterprise, label or filter is refused with a 400, never silently answered.

use crate::attr;
use crate::http::ApiError;
use crate::ids::NameError;
use crate::keys;
use crate::roster::{Membership, Source};
use crate::store::{self, Condition, Item, QuerySpec, Store, StoreError};
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A page never costs more Query requests than this.
pub const MAX_QUERIES_PER_PAGE: usize = 2;
pub const MAX_PAGE_SIZE: usize = 50;
/// Items read per request when a source filter drops some after the read.
const FILTERED_READ: i32 = 200;
const MAX_NAME_CHARS: usize = 32;

/// Why a list cannot be read as asked: each a 400, with its own code.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// A label or state that is none of them (an export names its list in its body).
    #[error(transparent)]
    UnknownGroup(#[from] crate::health::UnknownName),
    #[error("limit must be between 1 and {MAX_PAGE_SIZE}, not {0}")]
    InvalidLimit(usize),
    #[error("in_shenzhen filters PCR lists, not vaccination lists")]
    InShenzhenOnVaccination,
    #[error("a name filter: {0}")]
    InvalidName(NameError),
    #[error("the cursor is not one this list issued (another enterprise, label or filter?)")]
    InvalidCursor,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ListError> for ApiError {
    fn from(e: ListError) -> Self {
        let code = match e {
            ListError::UnknownGroup(unknown) => return unknown.into(),
            ListError::InvalidLimit(_) => "invalid_limit",
            ListError::InShenzhenOnVaccination => "invalid_query",
            ListError::InvalidName(_) => "invalid_name",
            ListError::InvalidCursor => "invalid_cursor",
            ListError::Store(store) => return store.into(),
        };
        ApiError::bad_request(code, e.to_string())
    }
}

/// Current employees (the default) or those who left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Current,
    Left,
}

/// Query parameters every employee list takes: filters and paging.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Name prefix (姓名), e.g. a surname.
    #[param(max_length = 32, pattern = "^[^#\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub name: Option<String>,
    /// Employee source: `roster`, `invited` or `hand_added`.
    pub source: Option<Source>,
    /// Current employees (default) or those who left.
    #[serde(default)]
    pub status: Status,
    /// PCR lists only: tested in Shenzhen within 14 days (`true`) or not (`false`).
    pub in_shenzhen: Option<bool>,
    /// The `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
    /// Page size, 1 to 50 (default 50).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<usize>,
}

impl ListParams {
    pub fn page_size(&self) -> Result<usize, ListError> {
        match self.limit.unwrap_or(MAX_PAGE_SIZE) {
            n @ 1..=MAX_PAGE_SIZE => Ok(n),
            n => Err(ListError::InvalidLimit(n)),
        }
    }
}

/// One list, ready to page through.
#[derive(Debug, Clone)]
pub struct EmployeeList {
    segments: Vec<QuerySpec>,
    filter: Option<Condition>,
    /// Binds cursors to this exact list (enterprise, label or state, every filter).
    fingerprint: String,
}

impl EmployeeList {
    /// One PCR label's employees (`label` as the API spells it).
    pub fn pcr(
        uscc: &crate::ids::Uscc,
        label: &str,
        filter: &ListParams,
    ) -> Result<Self, ListError> {
        let shenzhen: Vec<bool> = match filter.in_shenzhen {
            Some(v) => vec![v],
            None => vec![false, true],
        };
        let name = validated_name(filter)?;
        let status = keys::list_status(filter.status == Status::Current);
        let partition = keys::pcr_list(uscc, label);
        let segments = match &name {
            // Without a name, both in and out of Shenzhen share the status prefix: one segment.
            None if filter.in_shenzhen.is_none() => vec![status.to_string()],
            _ => shenzhen
                .iter()
                .map(|sz| {
                    format!(
                        "{status}{}{}",
                        keys::list_in_shenzhen(*sz),
                        name.as_deref().unwrap_or("")
                    )
                })
                .collect(),
        };
        Ok(Self::new(keys::Index::Gsi4, partition, segments, filter))
    }

    /// One vaccination state's employees (`state` as the API spells it).
    pub fn vaccination(
        uscc: &crate::ids::Uscc,
        state: &str,
        filter: &ListParams,
    ) -> Result<Self, ListError> {
        if filter.in_shenzhen.is_some() {
            return Err(ListError::InShenzhenOnVaccination);
        }
        let name = validated_name(filter)?;
        let prefix = format!(
            "{}{}",
            keys::list_status(filter.status == Status::Current),
            name.as_deref().unwrap_or("")
        );
        Ok(Self::new(
            keys::Index::Gsi5,
            keys::vax_list(uscc, state),
            vec![prefix],
            filter,
        ))
    }

    fn new(
        index: keys::Index,
        partition: String,
        prefixes: Vec<String>,
        filter: &ListParams,
    ) -> Self {
        let segments = prefixes
            .into_iter()
            .map(|prefix| QuerySpec::index(index, partition.clone()).prefix(prefix))
            .collect::<Vec<_>>();
        let source_filter = filter
            .source
            .map(|source| Condition::contains(attr!(Membership, sources), source));
        let described = format!(
            "{}|{partition}|{:?}|{:?}|{:?}|{:?}",
            index.name(),
            segments
                .iter()
                .map(|s| s.sort_prefix.clone())
                .collect::<Vec<_>>(),
            filter.source,
            filter.status,
            filter.in_shenzhen
        );
        Self {
            segments,
            filter: source_filter,
            fingerprint: fingerprint(&described),
        }
    }

    /// One page of up to `size` employees from `cursor` on, and the cursor to the next page.
    /// One page as the caller's rows (`row` drops what it cannot show), and the next cursor.
    pub async fn rows<T>(
        &self,
        store: &Store,
        params: &ListParams,
        row: impl Fn(&Membership) -> Option<T>,
    ) -> Result<(Vec<T>, Option<String>), ListError> {
        let (members, next_cursor) = self
            .page(store, params.cursor.as_deref(), params.page_size()?)
            .await?;
        Ok((members.iter().filter_map(row).collect(), next_cursor))
    }

    pub async fn page(
        &self,
        store: &Store,
        cursor: Option<&str>,
        size: usize,
    ) -> Result<(Vec<Membership>, Option<String>), ListError> {
        let (mut segment, mut start) = match cursor {
            Some(c) => self.decode(c)?,
            None => (0, None),
        };
        let mut rows: Vec<Item> = Vec::with_capacity(size);
        for _ in 0..MAX_QUERIES_PER_PAGE {
            let want = size - rows.len();
            let read = if self.filter.is_some() {
                FILTERED_READ.max(want as i32)
            } else {
                want as i32
            };
            let spec = self.segments[segment].clone().limit(read);
            let (items, last) = store
                .query_items(&spec, start.take(), self.filter.as_ref())
                .await?;
            if items.len() > want {
                // More matched than fit (a filtered read is larger than the page): the next
                // page starts right after the last row shown.
                rows.extend(items.into_iter().take(want));
                // `want` > 0 here (a full page returns before reading), so there is a last row.
                let next = rows
                    .last()
                    .map(|last| self.encode(segment, Some(&self.key_of(last))));
                return Ok((decode_all(rows)?, next));
            }
            rows.extend(items);
            match last {
                Some(key) => start = Some(key),
                None if segment + 1 < self.segments.len() => segment += 1,
                None => return Ok((decode_all(rows)?, None)),
            }
            if rows.len() == size {
                break;
            }
        }
        let next = self.encode(segment, start.as_ref());
        Ok((decode_all(rows)?, Some(next)))
    }

    /// The index position of a row, as DynamoDB's `LastEvaluatedKey` for this index would be.
    fn key_of(&self, item: &Item) -> Item {
        let spec = &self.segments[0];
        [keys::PK, keys::SK, spec.partition_attr, spec.sort_attr]
            .into_iter()
            .filter_map(|a| item.get(a).map(|v| (a.to_string(), v.clone())))
            .collect()
    }

    fn encode(&self, segment: usize, start: Option<&Item>) -> String {
        let cursor = ListCursor {
            list: self.fingerprint.clone(),
            segment,
            start: start.map(store::encode_cursor),
        };
        let json = serde_json::to_vec(&cursor).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn decode(&self, cursor: &str) -> Result<(usize, Option<Item>), ListError> {
        let bad = || ListError::InvalidCursor;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| bad())?;
        let cursor: ListCursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if cursor.list != self.fingerprint || cursor.segment >= self.segments.len() {
            return Err(bad());
        }
        let start = cursor
            .start
            .map(|k| store::decode_cursor(&k, &self.segments[cursor.segment]))
            .transpose()
            .map_err(|_| bad())?;
        Ok((cursor.segment, start))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListCursor {
    #[serde(rename = "l")]
    list: String,
    #[serde(rename = "s")]
    segment: usize,
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    start: Option<String>,
}

fn validated_name(filter: &ListParams) -> Result<Option<String>, ListError> {
    let Some(name) = filter
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    else {
        return Ok(None);
    };
    crate::ids::PersonName::parse(name, MAX_NAME_CHARS)
        .map(|name| Some(name.into_string()))
        .map_err(ListError::InvalidName)
}

fn fingerprint(described: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(described.as_bytes())[..8])
}

fn decode_all(rows: Vec<Item>) -> Result<Vec<Membership>, ListError> {
    rows.into_iter()
        .map(|item| Ok(Store::from_item(item)?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uscc() -> crate::ids::Uscc {
        crate::ids::Uscc::parse("91440300MA5D3M0014").unwrap()
    }

    fn code(e: ListError) -> String {
        ApiError::from(e).code.into_owned()
    }

    #[test]
    fn a_page_holds_1_to_50_employees() {
        let with = |limit| ListParams {
            limit,
            ..ListParams::default()
        };
        assert_eq!(with(None).page_size().unwrap(), MAX_PAGE_SIZE);
        assert_eq!(with(Some(1)).page_size().unwrap(), 1);
        for refused in [0, MAX_PAGE_SIZE + 1] {
            let error = with(Some(refused)).page_size().unwrap_err();
            assert_eq!(code(error), "invalid_limit");
        }
    }

    #[test]
    fn filters_are_keys_where_they_can_be() {
        let all = EmployeeList::pcr(&uscc(), "24h", &ListParams::default()).unwrap();
        assert_eq!(
            all.segments.len(),
            1,
            "current employees, in and out of Shenzhen"
        );
        assert!(all.filter.is_none());
        let named = ListParams {
            name: Some(" 王 ".into()),
            source: Some(Source::Invited),
            ..ListParams::default()
        };
        let named = EmployeeList::pcr(&uscc(), "24h", &named).unwrap();
        let prefixes: Vec<_> = named
            .segments
            .iter()
            .map(|s| s.sort_prefix.clone())
            .collect();
        assert_eq!(
            prefixes,
            [Some("C#0#王".to_string()), Some("C#1#王".to_string())]
        );
        assert!(
            named.filter.is_some(),
            "the source is filtered after the read"
        );
    }

    #[test]
    fn refusals_say_which_rule() {
        let in_shenzhen = ListParams {
            in_shenzhen: Some(true),
            ..ListParams::default()
        };
        let error = EmployeeList::vaccination(&uscc(), "boosted", &in_shenzhen).unwrap_err();
        assert_eq!(code(error), "invalid_query");
        let control = ListParams {
            name: Some("王\u{0}".into()),
            ..ListParams::default()
        };
        let error = EmployeeList::pcr(&uscc(), "24h", &control).unwrap_err();
        assert_eq!(code(error), "invalid_name");
        let blank = ListParams {
            name: Some("  ".into()),
            ..ListParams::default()
        };
        assert!(
            EmployeeList::pcr(&uscc(), "24h", &blank).is_ok(),
            "no name filter"
        );
        let unknown: Result<crate::health::PcrLabel, _> = "25h".parse();
        assert_eq!(code(ListError::from(unknown.unwrap_err())), "invalid_label");
    }

    #[test]
    fn a_cursor_opens_only_the_list_it_came_from() {
        let list = EmployeeList::pcr(&uscc(), "24h", &ListParams::default()).unwrap();
        let cursor = list.encode(0, None);
        assert!(list.decode(&cursor).is_ok());
        let left = ListParams {
            status: Status::Left,
            ..ListParams::default()
        };
        let other_filter = EmployeeList::pcr(&uscc(), "24h", &left).unwrap();
        let other_label = EmployeeList::pcr(&uscc(), "48h", &ListParams::default()).unwrap();
        for other in [&other_filter, &other_label] {
            assert!(matches!(
                other.decode(&cursor),
                Err(ListError::InvalidCursor)
            ));
        }
        for forged in ["", "e30", "not base64!", &cursor[1..]] {
            let error = list.decode(forged).unwrap_err();
            assert_eq!(code(error), "invalid_cursor", "{forged:?}");
        }
    }
}
