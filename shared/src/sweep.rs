//! A job over the whole table (the sunset, the re-key): a parallel Scan whose segments are the
//! Map iterations of a state machine, each worked a page at a time from where it stopped. After
//! every page the segment's position and counts are saved, so a cut loses at most one page of
//! work, and the work on each item is conditional, so a page read again changes nothing twice.

use crate::keys::ItemKey;
use crate::store::{Item, QuerySpec, ScanPosition, ScanProjection, Store, StoreError};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// How long one invocation works before it hands back (the Lambdas' timeout is 15 min); the
/// state machine calls it again until its segment is done.
pub const DEFAULT_BUDGET_SECONDS: u64 = 600;
/// Items worked on at once in a segment.
const IN_FLIGHT: usize = 16;

/// How one invocation works: for how long, how many pages at most (a test's cut), how large a
/// page.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub budget: std::time::Duration,
    pub max_pages: usize,
    pub page_size: i32,
}

impl Pace {
    /// The whole budget, pages of `page_size`.
    pub fn pages_of(page_size: i32) -> Self {
        Self {
            budget: std::time::Duration::from_secs(DEFAULT_BUDGET_SECONDS),
            max_pages: usize::MAX,
            page_size,
        }
    }

    /// The same, stopping after `seconds` if given.
    pub fn within(self, seconds: Option<u64>) -> Self {
        Self {
            budget: seconds.map_or(self.budget, std::time::Duration::from_secs),
            ..self
        }
    }
}

/// A segment's counts, as the job stores and operators read them.
pub trait Progress: Clone + Serialize + DeserializeOwned {
    /// What became of one item.
    type Outcome;
    /// Counts one item read, and what became of it.
    fn count(&mut self, outcome: Self::Outcome);
    /// Counts one page; `done`: it was the segment's last.
    fn page(&mut self, done: bool);
    fn done(&self) -> bool;
}

/// The stored progress of one segment in one pass, with where its next page starts (which only
/// the job needs).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SegmentItem<P> {
    #[serde(flatten)]
    key: ItemKey,
    #[serde(flatten)]
    progress: P,
    /// `None` before the first page and once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start_after: Option<ScanPosition>,
}

/// Works segment `segment` of `segments`, whose progress is stored at (`pk`, `sk`) (`fresh`
/// before its first page), from where it stopped until it is done or `pace` says stop: `work`
/// on every item of each page but those `skip` names (the jobs' own). Answers its progress.
#[allow(clippy::too_many_arguments)]
pub async fn segment<P, W, F>(
    store: &Store,
    (pk, sk): (&str, &str),
    fresh: P,
    (segment, segments): (u32, u32),
    pace: Pace,
    projection: ScanProjection,
    skip: impl Fn(&Item) -> bool,
    work: W,
) -> Result<P, StoreError>
where
    P: Progress,
    W: Fn(Item) -> F,
    F: std::future::Future<Output = Result<P::Outcome, StoreError>>,
{
    let started = std::time::Instant::now();
    let mut item = store
        .get::<SegmentItem<P>>(pk, sk)
        .await?
        .unwrap_or_else(|| SegmentItem {
            key: ItemKey::new(pk, sk),
            progress: fresh,
            start_after: None,
        });
    let mut pages = 0;
    while !item.progress.done() && started.elapsed() < pace.budget && pages < pace.max_pages {
        let (items, last) = store
            .scan_page(
                segment,
                segments,
                item.start_after.as_ref(),
                pace.page_size,
                projection,
            )
            .await?;
        let outcomes: Vec<Result<P::Outcome, StoreError>> =
            futures::stream::iter(items.into_iter().filter(|item| !skip(item)))
                .map(&work)
                .buffer_unordered(IN_FLIGHT)
                .collect()
                .await;
        for outcome in outcomes {
            item.progress.count(outcome?);
        }
        item.start_after = last;
        item.progress.page(item.start_after.is_none());
        store.put(&item).await?;
        pages += 1;
    }
    Ok(item.progress)
}

/// Every segment's progress stored under `pk` with sort keys starting `prefix` (one Query: at
/// most a few hundred small items).
pub async fn progress<P: Progress>(
    store: &Store,
    pk: &str,
    prefix: String,
) -> Result<Vec<P>, StoreError> {
    let spec = QuerySpec::table(pk.into()).prefix(prefix).limit(1_000);
    Ok(store
        .query_all::<SegmentItem<P>>(&spec, 10_000)
        .await?
        .into_iter()
        .map(|item| item.progress)
        .collect())
}

/// The text of a scanned item's attribute.
pub fn text<'a>(item: &'a Item, attribute: &str) -> Option<&'a str> {
    item.get(attribute)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// A scanned item's key.
pub fn key_of(item: &Item) -> Result<(&str, &str), StoreError> {
    match (text(item, crate::keys::PK), text(item, crate::keys::SK)) {
        (Some(pk), Some(sk)) => Ok((pk, sk)),
        _ => Err(StoreError::Malformed(
            "a scanned item without its key".into(),
        )),
    }
}
