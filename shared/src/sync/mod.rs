//! The sync function's work: apply every delivery under the inbound prefix that is not applied
//! yet, in order, streaming each object line by line (memory bounded by one chunk whatever the
//! object's size), validating every line, applying valid records a chunk at a time, and writing
//! rejected lines — line number and reason, never the line itself, which holds ID numbers — to a
//! quarantine object per chunk.
//!
//! Idempotent and resumable: a ledger item per delivery records the lines done and the counts so
//! far, updated after each applied chunk. A delivery already done is skipped (counts nothing
//! twice); one interrupted half-way resumes after its last checkpoint. Applying is itself
//! idempotent (merges never move data backwards, unchanged records write nothing), so a chunk
//! redone after a crash only turns its earlier "applied" into "unchanged".
//!
//! Counts always balance: `read = applied + unchanged + rejected`.

pub mod apply;

use crate::clock::SharedClock;
use crate::feeds::{self, Feed, ParseContext, Record, Rejection};
use crate::ids::{PersonKeyer, UsccPolicy};
use crate::keys::ItemKey;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};

pub const INBOUND_PREFIX: &str = "inbound/";
pub const QUARANTINE_PREFIX: &str = "quarantine/";
/// Lines per chunk: one BatchGet round and one checkpoint per chunk.
pub const CHUNK_LINES: usize = 1_000;
/// Longest line accepted; a longer one is rejected without being held in memory whole.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
const LEDGER_PK: &str = "SYNC#DELIVERY";
const RUN_PK: &str = "SYNC#RUN";

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("S3 request failed: {0}")]
    S3(String),
    #[error(transparent)]
    Rekey(#[from] crate::rekey::RekeyError),
}

impl SyncError {
    /// Whether the scheduler should retry the invocation.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable(),
            Self::S3(_) => true,
            Self::Rekey(e) => e.is_retryable(),
        }
    }
}

fn s3_error<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(
    e: aws_sdk_s3::error::SdkError<E, R>,
) -> SyncError {
    SyncError::S3(aws_sdk_s3::error::DisplayErrorContext(&e).to_string())
}

/// Everything a sync needs, built once per execution environment.
#[derive(Clone)]
pub struct SyncContext {
    pub store: Store,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub keyer: PersonKeyer,
    pub uscc_policy: Arc<UsccPolicy>,
    pub clock: SharedClock,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Counts {
    pub read: u64,
    pub applied: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

impl Counts {
    pub fn balances(&self) -> bool {
        self.read == self.applied + self.unchanged + self.rejected
    }

    fn add(&mut self, other: &Counts) {
        self.read += other.read;
        self.applied += other.applied;
        self.unchanged += other.unchanged;
        self.rejected += other.rejected;
    }
}

/// One delivery's ledger entry and report.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryReport {
    pub key: String,
    pub feed: Feed,
    pub counts: Counts,
    /// Lines read and accounted for; a resumed delivery continues after this.
    pub lines_done: u64,
    pub done: bool,
    /// The delivery could not be read to its end (e.g. truncated gzip); what was read is applied.
    pub error: Option<String>,
    pub quarantine_objects: Vec<String>,
    /// Roster deliveries: employees marked as left because this month's roster lacks them.
    #[serde(default)]
    pub marked_left: u64,
    pub duration_ms: u64,
    /// True when this run found the delivery already applied and did nothing.
    #[serde(default)]
    pub skipped: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LedgerItem {
    #[serde(flatten)]
    key: ItemKey,
    #[serde(flatten)]
    report: DeliveryReport,
    /// Outlives the delivery itself (the inbound prefix keeps deliveries 30 days), so a
    /// delivery is never applied twice.
    #[serde(rename = "expires_at", default)]
    retention_until: i64,
}

/// The stored run record (a year's retention).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunItem {
    #[serde(flatten)]
    key: ItemKey,
    #[serde(flatten)]
    record: RunRecord,
    #[serde(rename = "expires_at")]
    retention_until: i64,
}

/// A run as the operator reads it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunRecord {
    pub run_id: String,
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub deliveries: Vec<DeliveryReport>,
    pub totals: Counts,
}

/// Applies every delivery not yet applied, feed by feed in [`Feed::ALL`] order.
pub async fn run(ctx: &SyncContext, trigger: &str) -> Result<RunRecord, SyncError> {
    let started_at = ctx.clock.now();
    let mut deliveries = Vec::new();
    for feed in Feed::ALL {
        for key in pending_deliveries(ctx, feed).await? {
            deliveries.push(process_delivery(ctx, feed, &key).await?);
        }
    }
    finish_run(ctx, trigger, started_at, deliveries).await
}

/// Applies one named delivery (the by-hand invocation).
pub async fn run_one(ctx: &SyncContext, key: &str, trigger: &str) -> Result<RunRecord, SyncError> {
    let started_at = ctx.clock.now();
    let feed = feed_of(key)
        .ok_or_else(|| SyncError::S3(format!("{key} is not under {INBOUND_PREFIX}<feed>/")))?;
    let report = process_delivery(ctx, feed, key).await?;
    finish_run(ctx, trigger, started_at, vec![report]).await
}

async fn finish_run(
    ctx: &SyncContext,
    trigger: &str,
    started_at: DateTime<Utc>,
    deliveries: Vec<DeliveryReport>,
) -> Result<RunRecord, SyncError> {
    let mut totals = Counts::default();
    for d in deliveries.iter().filter(|d| !d.skipped) {
        totals.add(&d.counts);
    }
    let finished_at = ctx.clock.now();
    let run_id = ulid::Ulid::new().to_string();
    let record = RunRecord {
        run_id: run_id.clone(),
        trigger: trigger.into(),
        started_at,
        finished_at,
        deliveries,
        totals,
    };
    ctx.store
        .put(&RunItem {
            key: ItemKey::new(
                RUN_PK,
                format!("{}#{run_id}", crate::keys::instant(started_at)),
            ),
            record: record.clone(),
            retention_until: crate::retention::SYNC_RUN.until(finished_at),
        })
        .await?;
    crate::freshness::record_sync(&ctx.store, finished_at).await?;
    Ok(record)
}

/// The operator's view: recent runs, newest first.
pub async fn recent_runs(
    store: &Store,
    cursor: Option<&str>,
) -> Result<crate::store::Page<RunRecord>, crate::store::BadCursorOr> {
    let spec = crate::store::QuerySpec::table(RUN_PK.into())
        .newest_first()
        .limit(20);
    store.query(&spec, cursor).await
}

pub fn feed_of(key: &str) -> Option<Feed> {
    let rest = key.strip_prefix(INBOUND_PREFIX)?;
    let (folder, name) = rest.split_once('/')?;
    (!name.is_empty() && !name.contains('/')).then_some(())?;
    Feed::from_folder(folder)
}

/// Deliveries of `feed` in key order (the naming scheme orders them), minus those done.
async fn pending_deliveries(ctx: &SyncContext, feed: Feed) -> Result<Vec<String>, SyncError> {
    let prefix = format!("{INBOUND_PREFIX}{}/", feed.folder());
    let mut keys_ = Vec::new();
    let mut pages = ctx
        .s3
        .list_objects_v2()
        .bucket(&ctx.bucket)
        .prefix(&prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(s3_error)?;
        keys_.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string))
                .filter(|k| feed_of(k) == Some(feed)),
        );
    }
    keys_.sort();
    let mut pending = Vec::new();
    for key in keys_ {
        let done = ledger(ctx, &key).await?.is_some_and(|r| r.done);
        if !done {
            pending.push(key);
        }
    }
    Ok(pending)
}

async fn ledger(ctx: &SyncContext, key: &str) -> Result<Option<DeliveryReport>, StoreError> {
    Ok(ctx
        .store
        .get::<LedgerItem>(LEDGER_PK, key)
        .await?
        .map(|l| l.report))
}

async fn checkpoint(ctx: &SyncContext, report: &DeliveryReport) -> Result<(), StoreError> {
    ctx.store
        .put(&LedgerItem {
            key: ItemKey::new(LEDGER_PK, report.key.clone()),
            report: report.clone(),
            retention_until: crate::retention::SYNC_LEDGER.until(ctx.clock.now()),
        })
        .await
}

async fn open(
    ctx: &SyncContext,
    key: &str,
) -> Result<Box<dyn AsyncBufRead + Send + Unpin>, SyncError> {
    let object = ctx
        .s3
        .get_object()
        .bucket(&ctx.bucket)
        .key(key)
        .send()
        .await
        .map_err(s3_error)?;
    Ok(decoding(
        BufReader::new(object.body.into_async_read()),
        key.ends_with(".gz"),
    ))
}

/// The delivery's lines from its bytes, gunzipped if `gzip`.
fn decoding(
    body: impl AsyncBufRead + Send + Unpin + 'static,
    gzip: bool,
) -> Box<dyn AsyncBufRead + Send + Unpin> {
    if gzip {
        let mut decoder = async_compression::tokio::bufread::GzipDecoder::new(body);
        decoder.multiple_members(true);
        Box::new(BufReader::new(decoder))
    } else {
        Box::new(body)
    }
}

/// Reads one line into `buf` (without the newline), at most [`MAX_LINE_BYTES`] kept.
/// Returns `Ok(None)` at the end, `Ok(Some(too_long))` otherwise.
async fn read_line(
    reader: &mut (dyn AsyncBufRead + Send + Unpin),
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<bool>> {
    buf.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(any.then_some(too_long));
        }
        any = true;
        let (chunk, found) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        if buf.len() + chunk.len() <= MAX_LINE_BYTES {
            buf.extend_from_slice(chunk);
        } else {
            too_long = true;
        }
        let consumed = found.unwrap_or(available.len());
        reader.consume(consumed);
        if found.is_some() {
            return Ok(Some(too_long));
        }
    }
}

/// Whether a read error is the delivery's own: its bytes end early or are not what they claim
/// (a truncated or corrupt gzip). That is final, and what was read is applied. Any other error
/// is the connection failing (reset, timed out); it must not cost the delivery's remaining lines.
fn the_delivery_is_damaged(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
    )
}

/// Applies one delivery, resuming from its checkpoint.
pub async fn process_delivery(
    ctx: &SyncContext,
    feed: Feed,
    key: &str,
) -> Result<DeliveryReport, SyncError> {
    let started = std::time::Instant::now();
    let mut report = match ledger(ctx, key).await? {
        Some(done) if done.done => {
            return Ok(DeliveryReport {
                skipped: true,
                ..done
            });
        }
        Some(partial) => partial,
        None => DeliveryReport {
            key: key.into(),
            feed,
            counts: Counts::default(),
            lines_done: 0,
            done: false,
            error: None,
            quarantine_objects: Vec::new(),
            marked_left: 0,
            duration_ms: 0,
            skipped: false,
        },
    };
    let resume_after = report.lines_done;
    let mut reader = open(ctx, key).await?;
    let mut buf = Vec::new();
    let mut line_no: u64 = 0;
    let mut chunk: Vec<(u64, Result<Record, Rejection>)> = Vec::with_capacity(CHUNK_LINES);
    // Roster deliveries: the month each enterprise's roster is for (bounded by the number of
    // enterprises, not lines), to find who is missing once the whole delivery is read.
    let mut roster_months: HashMap<crate::ids::Uscc, String> = HashMap::new();
    loop {
        let next = read_line(reader.as_mut(), &mut buf).await;
        let line = match next {
            Ok(Some(too_long)) => too_long,
            Ok(None) => break,
            Err(e) if the_delivery_is_damaged(&e) => {
                report.error = Some(format!(
                    "the delivery could not be read past line {line_no}: {e}"
                ));
                break;
            }
            // The connection failed, not the delivery: the run fails and is started again,
            // resuming after the last checkpoint (this chunk's lines are read again).
            Err(e) => {
                return Err(SyncError::S3(format!(
                    "reading {key} failed after line {line_no}: {e}"
                )));
            }
        };
        line_no += 1;
        if line_no <= resume_after {
            // Already applied before an interruption; a roster line still says which month its
            // enterprise's roster is for.
            if feed == Feed::Roster
                && let Ok(Ok(Record::Roster(entry))) = std::str::from_utf8(&buf).map(|text| {
                    feeds::parse_line(
                        feed,
                        text,
                        &ParseContext {
                            now: ctx.clock.now(),
                            keyer: &ctx.keyer,
                            uscc_policy: &ctx.uscc_policy,
                        },
                    )
                })
            {
                note_month(&mut roster_months, &entry);
            }
            continue;
        }
        let text = std::str::from_utf8(&buf).map(str::trim);
        if matches!(text, Ok("")) {
            // Blank lines (a trailing newline, say) are not records.
            report.lines_done = line_no;
            continue;
        }
        let now = ctx.clock.now();
        let parsed = match (line, text) {
            (true, _) => Err(Rejection(format!(
                "line longer than {MAX_LINE_BYTES} bytes"
            ))),
            (false, Err(_)) => Err(Rejection("line is not UTF-8".into())),
            (false, Ok(text)) => {
                let parse = ParseContext {
                    now,
                    keyer: &ctx.keyer,
                    uscc_policy: &ctx.uscc_policy,
                };
                feeds::parse_line(feed, text, &parse)
            }
        };
        if let Ok(Record::Roster(entry)) = &parsed {
            note_month(&mut roster_months, entry);
        }
        chunk.push((line_no, parsed));
        if chunk.len() >= CHUNK_LINES {
            apply_chunk(ctx, feed, &mut report, std::mem::take(&mut chunk), line_no).await?;
        }
    }
    if !chunk.is_empty() || report.lines_done < line_no {
        apply_chunk(ctx, feed, &mut report, chunk, line_no).await?;
    }
    // A delivery that could not be read to its end does not say who is missing.
    if report.error.is_none() && !roster_months.is_empty() {
        report.marked_left =
            apply::roster_leavers(&ctx.store, &roster_months, ctx.clock.now()).await?;
    }
    // A snapshot replaces the previous one only when it was read to its end.
    let snapshot = match feed {
        Feed::Sites => Some(crate::sites::Kind::Sites),
        Feed::Zones => Some(crate::sites::Kind::Zones),
        _ => None,
    };
    match (snapshot, &report.error) {
        (Some(kind), None) => {
            crate::sites::publish(&ctx.store, kind, key, ctx.clock.now()).await?;
        }
        // A partial snapshot is never shown; its items go.
        (Some(kind), Some(_)) => crate::sites::discard(&ctx.store, kind, key).await?,
        (None, _) => {}
    }
    report.done = true;
    report.duration_ms += started.elapsed().as_millis() as u64;
    checkpoint(ctx, &report).await?;
    tracing::info!(key, feed = %feed, read = report.counts.read, applied = report.counts.applied,
        unchanged = report.counts.unchanged, rejected = report.counts.rejected, "delivery applied");
    Ok(report)
}

fn note_month(months: &mut HashMap<crate::ids::Uscc, String>, entry: &feeds::RosterEntry) {
    let month = months.entry(entry.uscc.clone()).or_default();
    if entry.month > *month {
        *month = entry.month.clone();
    }
}

/// Dedupes, applies, quarantines and checkpoints one chunk ending at line `last_line`.
async fn apply_chunk(
    ctx: &SyncContext,
    feed: Feed,
    report: &mut DeliveryReport,
    chunk: Vec<(u64, Result<Record, Rejection>)>,
    last_line: u64,
) -> Result<(), SyncError> {
    let now = ctx.clock.now();
    let mut counts = Counts {
        read: chunk.len() as u64,
        ..Default::default()
    };
    let mut rejected: Vec<(u64, String)> = Vec::new();
    // Within a delivery the later line wins; the earlier duplicate counts as unchanged.
    let mut latest: HashMap<String, usize> = HashMap::new();
    let mut records: Vec<(u64, Record)> = Vec::new();
    for (line, parsed) in chunk {
        match parsed {
            Err(why) => rejected.push((line, why.0)),
            Ok(record) => match latest.insert(record.dedupe_key(), records.len()) {
                Some(previous) => {
                    counts.unchanged += 1;
                    records[previous] = (line, record);
                    latest.insert(records[previous].1.dedupe_key(), previous);
                }
                None => records.push((line, record)),
            },
        }
    }
    let applied = apply_records(ctx, feed, &report.key, &records, now).await?;
    for (index, why) in &applied.refused {
        rejected.push((records[*index].0, why.clone()));
    }
    counts.applied += applied.applied;
    counts.unchanged += applied.unchanged;
    counts.rejected = rejected.len() as u64;
    debug_assert!(counts.balances(), "{counts:?}");
    if !rejected.is_empty() {
        rejected.sort();
        let object = format!(
            "{QUARANTINE_PREFIX}{}/lines-{:010}.jsonl",
            report.key, rejected[0].0
        );
        let body: String = rejected
            .iter()
            .map(|(line, reason)| {
                serde_json::json!({"line": line, "reason": reason}).to_string() + "\n"
            })
            .collect();
        ctx.s3
            .put_object()
            .bucket(&ctx.bucket)
            .key(&object)
            .content_type("application/x-ndjson")
            .body(body.into_bytes().into())
            .send()
            .await
            .map_err(s3_error)?;
        report.quarantine_objects.push(object);
    }
    report.counts.add(&counts);
    report.lines_done = last_line;
    checkpoint(ctx, report).await?;
    Ok(())
}

async fn apply_records(
    ctx: &SyncContext,
    feed: Feed,
    key: &str,
    records: &[(u64, Record)],
    now: DateTime<Utc>,
) -> Result<apply::Applied, SyncError> {
    let store = &ctx.store;
    let applied = match feed {
        Feed::Registry => {
            let profiles = records
                .iter()
                .filter_map(|(_, r)| match r {
                    Record::Registry(p) => Some((**p).clone()),
                    _ => None,
                })
                .collect();
            apply::registry(store, profiles).await?
        }
        Feed::Roster => {
            let entries = records
                .iter()
                .enumerate()
                .filter_map(|(i, (_, r))| match r {
                    Record::Roster(e) => Some((i, e.clone())),
                    _ => None,
                })
                .collect();
            apply::roster_lines(store, entries, now).await?
        }
        Feed::Pcr => {
            let results = records
                .iter()
                .filter_map(|(_, r)| match r {
                    Record::Pcr(p) => Some(p.clone()),
                    _ => None,
                })
                .collect();
            apply::pcr(store, results, now).await?
        }
        Feed::Vaccination => {
            let doses = records
                .iter()
                .filter_map(|(_, r)| match r {
                    Record::Vaccination(d) => Some(d.clone()),
                    _ => None,
                })
                .collect();
            apply::vaccination(store, doses, now).await?
        }
        Feed::Sites | Feed::Zones => {
            // Written under the delivery's own snapshot partition; readers switch to it only
            // once the whole delivery is in (see `sites::publish`).
            let mut items = Vec::with_capacity(records.len());
            for (_, record) in records {
                match record {
                    Record::Site(site) => items.push(crate::sites::site_item(key, site.clone())?),
                    Record::Zone(zone) => items.push(crate::sites::zone_item(key, zone.clone())?),
                    _ => {}
                }
            }
            let applied = items.len() as u64;
            crate::store::batch_put(store, store.table(), items).await?;
            apply::Applied {
                applied,
                ..Default::default()
            }
        }
    };
    Ok(applied)
}

/// What the sync Lambda is invoked with: by EventBridge Scheduler (`trigger` names the schedule,
/// `scheduled_time` is the scheduler's `<aws.scheduler.scheduled-time>`), or by hand with one
/// delivery's `key`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    pub trigger: String,
    #[serde(default)]
    pub scheduled_time: Option<String>,
    /// Apply only this delivery (`inbound/<feed>/<name>`).
    #[serde(default)]
    pub key: Option<String>,
    /// Only list what is pending, by feed, for the fan-out state machine (`template.yaml`).
    #[serde(default)]
    pub plan: bool,
}

/// The deliveries of one feed still to apply, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPlan {
    pub feed: Feed,
    pub keys: Vec<String>,
}

/// What the sync Lambda answers: a plan (for the state machine) or a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SyncOutput {
    Plan {
        feeds: Vec<FeedPlan>,
    },
    Run(Box<RunRecord>),
    /// The service was sunset ([`crate::sunset`]): nothing is synced any more; or person keys
    /// are being re-keyed ([`crate::rekey`]): deliveries wait for the next run after it.
    Stopped {
        stopped: String,
    },
}

/// Every feed's pending deliveries, in the order they must be applied. The state machine applies
/// feeds one after the other and a feed's deliveries in parallel, one Lambda each: a city-scale
/// PCR delivery arrives as many parts (`…-0001`, `…-0002`, …) and is applied in parallel.
pub async fn plan(ctx: &SyncContext) -> Result<Vec<FeedPlan>, SyncError> {
    let mut feeds = Vec::new();
    for feed in Feed::ALL {
        let keys = pending_deliveries(ctx, feed).await?;
        if !keys.is_empty() {
            feeds.push(FeedPlan { feed, keys });
        }
    }
    Ok(feeds)
}

/// The sync Lambda's handler: plan, one delivery, or everything pending in one invocation
/// (enough for a district-sized deployment; the state machine fans out at city scale).
/// The metric of deliveries applied to their end (`template.yaml`: `SyncLateAlarm`).
pub const DELIVERIES_APPLIED: &str = "DeliveriesApplied";

pub async fn handle(ctx: &SyncContext, request: SyncRequest) -> Result<SyncOutput, SyncError> {
    let trigger = match &request.scheduled_time {
        Some(at) => format!("{} ({at})", request.trigger),
        None => request.trigger.clone(),
    };
    let stopped = if crate::sunset::has_begun(&ctx.store).await? {
        Some("the service was sunset")
    } else {
        None
    };
    let epoch = crate::rekey::epoch::read(&ctx.store).await?;
    if let Some(why) = stopped.or(epoch
        .is_migrating()
        .then_some("person keys are being re-keyed"))
    {
        // Planned as nothing to do, so the state machine ends quietly; deliveries wait.
        return Ok(if request.plan {
            SyncOutput::Plan { feeds: Vec::new() }
        } else {
            SyncOutput::Stopped {
                stopped: why.into(),
            }
        });
    }
    // Keys computed from the deliveries' ID numbers are of the generation in force.
    let ctx = &SyncContext {
        keyer: ctx.keyer.at(epoch.in_force()).ok_or(
            crate::rekey::RekeyError::MissingGeneration(epoch.in_force()),
        )?,
        ..ctx.clone()
    };
    if request.plan {
        return Ok(SyncOutput::Plan {
            feeds: plan(ctx).await?,
        });
    }
    let run = match &request.key {
        Some(key) => run_one(ctx, key, &trigger).await?,
        None => run(ctx, &trigger).await?,
    };
    // The late-sync alarm watches this metric: no delivery applied for 13 hours means a
    // scheduled run (02:30, 14:30) applied nothing.
    let applied = run
        .deliveries
        .iter()
        .filter(|d| d.done && !d.skipped)
        .count();
    if applied > 0 {
        crate::observe::emit_metric("sync", DELIVERIES_APPLIED, applied as f64, "Count");
    }
    Ok(SyncOutput::Run(Box::new(run)))
}

impl SyncContext {
    /// Everything from the environment, as the Lambda's init does it.
    pub async fn from_env(
        aws: &aws_config::SdkConfig,
        env: &dyn crate::config::Vars,
    ) -> Result<Self, crate::app::InitError> {
        use crate::config;
        Ok(Self {
            store: Store::from_env(aws, env)?,
            s3: aws_sdk_s3::Client::new(aws),
            bucket: config::required(env, "DATA_BUCKET")?,
            keyer: crate::app::person_keyer_from_env(aws, env).await?,
            uscc_policy: Arc::new(config::uscc_policy(env)),
            clock: Arc::new(crate::clock::SystemClock),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn gzip(text: &str) -> Vec<u8> {
        let mut encoder = async_compression::tokio::bufread::GzipEncoder::new(text.as_bytes());
        let mut out = Vec::new();
        encoder.read_to_end(&mut out).await.unwrap();
        out
    }

    /// Reads lines until the end or an error.
    async fn read_all(
        mut reader: Box<dyn AsyncBufRead + Send + Unpin>,
    ) -> (u64, Option<std::io::Error>) {
        let mut buf = Vec::new();
        let mut lines = 0;
        loop {
            match read_line(reader.as_mut(), &mut buf).await {
                Ok(Some(_)) => lines += 1,
                Ok(None) => return (lines, None),
                Err(e) => return (lines, Some(e)),
            }
        }
    }

    /// `bytes`, then the connection resets.
    struct ThenReset {
        bytes: Vec<u8>,
        at: usize,
    }

    impl tokio::io::AsyncRead for ThenReset {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if self.at >= self.bytes.len() {
                return std::task::Poll::Ready(Err(std::io::ErrorKind::ConnectionReset.into()));
            }
            let (at, n) = (self.at, buf.remaining().min(self.bytes.len() - self.at));
            buf.put_slice(&self.bytes[at..at + n]);
            self.at += n;
            std::task::Poll::Ready(Ok(()))
        }
    }

    fn then_reset(bytes: Vec<u8>) -> impl AsyncBufRead + Send + Unpin + 'static {
        BufReader::new(ThenReset { bytes, at: 0 })
    }

    #[tokio::test]
    async fn a_truncated_gzip_is_the_deliverys_own_damage() {
        let mut bytes = gzip(&"{}\n".repeat(1_000)).await;
        bytes.truncate(bytes.len() / 2);
        let (_, error) =
            read_all(decoding(BufReader::new(std::io::Cursor::new(bytes)), true)).await;
        assert!(the_delivery_is_damaged(&error.expect("an error")));
    }

    #[tokio::test]
    async fn a_connection_reset_mid_stream_is_not_the_deliverys_damage() {
        let bytes = gzip(&"{}\n".repeat(1_000)).await;
        let half = bytes[..bytes.len() / 2].to_vec();
        for (gzipped, body) in [(true, half), (false, "{}\n{}\n{}".as_bytes().to_vec())] {
            let (_, error) = read_all(decoding(then_reset(body), gzipped)).await;
            let error = error.expect("an error");
            assert!(
                !the_delivery_is_damaged(&error),
                "gzip {gzipped}: {error:?}"
            );
        }
    }
}
