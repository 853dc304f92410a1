//! Re-keying: rotating the person-key secret without orphaning anyone (`docs/operations.md`).
//!
//! A rotation adds a generation to the secret ([`crate::ids::PersonKeyer`]): the new key of a
//! person is the new secret's HMAC of their old key, so every stored key can be moved without
//! the ID number, which is never stored. An operator starts `RekeyStateMachine`
//! (`template.yaml`), which calls the rekey Lambda for each step:
//!
//! 1. **begin** — records the run (`REKEY` / `RUN`): the epoch is now *migrating* from the
//!    settled generation to the next ([`epoch`]). From then on reads look a person up under both
//!    keys, and nothing but this job writes an item that names a person: the API's writes and
//!    detail views answer 503 `rekeying`, sync and relabel stop at their start, the export
//!    worker leaves its messages queued. The answer says how long to wait before rewriting:
//!    long enough for every execution environment's copy of the epoch to have run out.
//! 2. **rewrite**, one Map iteration per segment of a parallel Scan — rewrites every item that
//!    names a person for the new generation ([`rewrite::plan`]): in place, or moved to its new
//!    key (delete and put in one transaction), a page at a time, saving the segment's position
//!    after each page. A cut loses at most one page's position; the items of that page already
//!    rewritten carry the new generation and are not advanced twice.
//! 3. **finish** — once every segment is done: if the pass rewrote anything, the next pass
//!    starts (the state machine runs the Map again) to prove nothing was left; a pass that
//!    rewrote nothing settles the epoch at the new generation, and writes resume.
//!
//! Counts balance per segment: scanned = rewritten in place + moved + unchanged. The table holds
//! as many items after as before, and every enterprise's counts are untouched (no summary item
//! names a person). Pseudonyms (`employee_id`, `agent_id`) derive from the key, so they change
//! with it: an id an agent bookmarked before the rotation no longer resolves.

pub mod epoch;
pub mod rewrite;

pub use epoch::{EpochCache, KeyEpoch};

use crate::clock::SharedClock;
use crate::ids::{KeyGeneration, PersonKeyer};
use crate::keys;
use crate::store::{
    Condition, Item, ItemUpdate, QuerySpec, ScanPosition, ScanProjection, Store, StoreError, Value,
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use rewrite::{KEY_GENERATION, Rewrite};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Segments of the parallel Scan (Map iterations), unless the first step asks otherwise.
pub const DEFAULT_SEGMENTS: u32 = 16;
/// How long one rewrite invocation works before it hands back (the Lambda's timeout is 15 min).
pub const DEFAULT_BUDGET_SECONDS: u64 = 600;
/// Items per Scan page; the segment's position is saved after each.
pub const PAGE: i32 = 500;
const WRITES_IN_FLIGHT: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum RekeyError {
    #[error(
        "the person-key secret holds no generation after {settled}, the one in force: add the new secret to it first"
    )]
    NoNewGeneration { settled: KeyGeneration },
    #[error("no re-key is under way: run its first step first")]
    NotBegun,
    #[error("rewriting starts at {0}, once every environment has seen the migration")]
    TooEarly(DateTime<Utc>),
    #[error("segment {0} is not below the run's {1} segments")]
    NoSuchSegment(u32, u32),
    #[error("segments {0:?} of this pass are not done")]
    Unfinished(Vec<u32>),
    #[error(
        "this function's person-key secret lacks generation {0}: it was read before the rotation; redeploy"
    )]
    MissingGeneration(KeyGeneration),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RekeyError {
    /// Whether the state machine should call the step again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::TooEarly(_) => true,
            Self::Store(e) => e.is_retryable(),
            Self::NoNewGeneration { .. }
            | Self::NotBegun
            | Self::NoSuchSegment(..)
            | Self::Unfinished(_)
            | Self::MissingGeneration(_) => false,
        }
    }
}

/// What the state machine asks the rekey Lambda (`{"step": "begin", …}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum RekeyRequest {
    Begin {
        #[serde(default)]
        options: RekeyOptions,
    },
    Rewrite {
        segment: u32,
        #[serde(default)]
        budget_seconds: Option<u64>,
    },
    /// `pass`: the pass the Map just ran (a retried finish of an earlier pass answers the run
    /// as it is).
    Finish {
        #[serde(default)]
        pass: Option<u32>,
    },
}

/// What an operator may set when starting the re-key.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RekeyOptions {
    /// Segments of the parallel Scan ([`DEFAULT_SEGMENTS`]).
    #[serde(default)]
    pub segments: Option<u32>,
}

/// The run, as operators read it (stored under `REKEY` / `RUN`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RekeyRun {
    pub from: KeyGeneration,
    pub to: KeyGeneration,
    pub begun_at: DateTime<Utc>,
    /// When rewriting may start: every execution environment knows of the migration by then.
    pub rewrite_from: DateTime<Utc>,
    pub segments: u32,
    pub pass: u32,
    pub pass_started_at: DateTime<Utc>,
    /// When a pass found nothing left to rewrite: the new generation is in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<DateTime<Utc>>,
}

/// One segment's progress in one pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RekeyProgress {
    pub pass: u32,
    pub segment: u32,
    pub pages: u64,
    /// Items read (the job's own excepted) = rewritten + moved + unchanged.
    pub scanned: u64,
    /// Rewritten where they are.
    pub rewritten: u64,
    /// Moved to a new key.
    pub moved: u64,
    /// Naming nobody, or already of the new generation.
    pub unchanged: u64,
    pub done: bool,
}

impl RekeyProgress {
    pub fn balances(&self) -> bool {
        self.scanned == self.rewritten + self.moved + self.unchanged
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(flatten)]
    run: RekeyRun,
}

impl RunItem {
    fn of(run: &RekeyRun) -> Self {
        Self {
            pk: keys::REKEY.into(),
            sk: keys::JOB_RUN.into(),
            run: run.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SegmentItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(flatten)]
    progress: RekeyProgress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start_after: Option<ScanPosition>,
}

/// A pass's totals over its segments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RekeyTotals {
    pub segments_done: u32,
    pub scanned: u64,
    pub rewritten: u64,
    pub moved: u64,
    pub unchanged: u64,
}

/// What each step answers (the state machine reads `wait_seconds`, `segments` and `done`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RekeyStatus {
    pub run: RekeyRun,
    /// Seconds until rewriting may start (the state machine's Wait after begin).
    pub wait_seconds: i64,
    /// The segments to rewrite (the Map's items).
    pub segments: Vec<u32>,
    pub progress: Vec<RekeyProgress>,
    pub totals: RekeyTotals,
    /// For a rewrite step: whether its segment is done; for finish: whether the epoch settled
    /// (then `run` is the next pass, and `progress` and `totals` those of the pass it finished).
    pub done: bool,
}

/// What the rekey Lambda works with: the table, the clock, and every generation of the secret.
#[derive(Clone)]
pub struct RekeyContext {
    pub store: Store,
    pub keyer: PersonKeyer,
    pub clock: SharedClock,
}

impl RekeyContext {
    /// Everything from the environment, as the Lambda's init does it (the person-key secret with
    /// every generation it holds).
    pub async fn from_env(
        aws: &aws_config::SdkConfig,
        env: &dyn crate::config::Vars,
    ) -> Result<Self, crate::app::InitError> {
        Ok(Self {
            store: Store::new(
                aws_sdk_dynamodb::Client::new(aws),
                crate::config::required(env, "TABLE_NAME")?,
            ),
            keyer: crate::app::person_keyer_from_env(aws, env).await?,
            clock: std::sync::Arc::new(crate::clock::SystemClock),
        })
    }
}

async fn run(store: &Store) -> Result<Option<RekeyRun>, StoreError> {
    Ok(store
        .get::<RunItem>(keys::REKEY, keys::JOB_RUN)
        .await?
        .map(|item| item.run))
}

async fn progress(store: &Store, run: &RekeyRun) -> Result<Vec<RekeyProgress>, StoreError> {
    let spec = QuerySpec::table(keys::REKEY.into())
        .prefix(keys::rekey_pass(run.to, run.pass))
        .limit(1_000);
    Ok(store
        .query_all::<SegmentItem>(&spec, 10_000)
        .await?
        .into_iter()
        .map(|item| item.progress)
        .collect())
}

async fn status(
    store: &Store,
    run: RekeyRun,
    now: DateTime<Utc>,
    done: bool,
) -> Result<RekeyStatus, StoreError> {
    let progress = progress(store, &run).await?;
    Ok(status_of(run, progress, now, done))
}

/// The status of `run` with `progress` (its pass's, or for finish the pass it finished).
fn status_of(
    run: RekeyRun,
    progress: Vec<RekeyProgress>,
    now: DateTime<Utc>,
    done: bool,
) -> RekeyStatus {
    let totals = progress.iter().fold(RekeyTotals::default(), |mut t, p| {
        t.segments_done += u32::from(p.done);
        t.scanned += p.scanned;
        t.rewritten += p.rewritten;
        t.moved += p.moved;
        t.unchanged += p.unchanged;
        t
    });
    RekeyStatus {
        wait_seconds: (run.rewrite_from - now).num_seconds().max(0),
        segments: (0..run.segments).collect(),
        run,
        progress,
        totals,
        done,
    }
}

/// The latest run, for operators (`None`: the first generation was never rotated).
pub async fn current(store: &Store, now: DateTime<Utc>) -> Result<Option<RekeyStatus>, StoreError> {
    match run(store).await? {
        Some(run) => {
            let settled = run.settled_at.is_some();
            Ok(Some(status(store, run, now, settled).await?))
        }
        None => Ok(None),
    }
}

/// The rekey Lambda's handler.
pub async fn handle(ctx: &RekeyContext, request: RekeyRequest) -> Result<RekeyStatus, RekeyError> {
    match request {
        RekeyRequest::Begin { options } => begin(ctx, options).await,
        RekeyRequest::Rewrite {
            segment,
            budget_seconds,
        } => {
            let pace = Pace {
                budget: std::time::Duration::from_secs(
                    budget_seconds.unwrap_or(DEFAULT_BUDGET_SECONDS),
                ),
                ..Pace::default()
            };
            rewrite_segment(ctx, segment, pace).await
        }
        RekeyRequest::Finish { pass } => finish(ctx, pass).await,
    }
}

/// Starts the migration to the generation after the settled one (a migration under way is
/// resumed as it is).
async fn begin(ctx: &RekeyContext, options: RekeyOptions) -> Result<RekeyStatus, RekeyError> {
    let now = ctx.clock.now();
    let previous = run(&ctx.store).await?;
    let settled = match &previous {
        Some(run) if run.settled_at.is_none() => {
            return Ok(status(&ctx.store, run.clone(), now, false).await?);
        }
        Some(run) => run.to,
        None => 1,
    };
    if ctx.keyer.newest() <= settled {
        return Err(RekeyError::NoNewGeneration { settled });
    }
    let next = RekeyRun {
        from: settled,
        to: settled + 1,
        begun_at: now,
        // Twice the copies' age: a copy read just before begin has run out by then, with room
        // for a request that read it and is still running.
        rewrite_from: now + epoch::CACHE_TTL * 2,
        segments: options.segments.unwrap_or(DEFAULT_SEGMENTS).clamp(1, 1_000),
        pass: 1,
        pass_started_at: now,
        settled_at: None,
    };
    let condition = match &previous {
        None => Condition::ItemAbsent,
        Some(run) => Condition::equals("to", run.to),
    };
    let item = Store::to_item(&RunItem::of(&next))?;
    match ctx.store.put_item_when(item, condition).await {
        Ok(()) => Ok(status(&ctx.store, next, now, false).await?),
        // Two executions began at once: the other one's run is this one's too.
        Err(StoreError::ConditionFailed) => {
            let run = run(&ctx.store).await?.ok_or(RekeyError::NotBegun)?;
            Ok(status(&ctx.store, run, now, false).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// How one rewrite invocation works: for how long, how many pages at most (a test's cut), how
/// large a page.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub budget: std::time::Duration,
    pub max_pages: usize,
    pub page_size: i32,
}

impl Default for Pace {
    fn default() -> Self {
        Self {
            budget: std::time::Duration::from_secs(DEFAULT_BUDGET_SECONDS),
            max_pages: usize::MAX,
            page_size: PAGE,
        }
    }
}

/// The run under way, and the keyer in force at its target generation.
async fn migrating(ctx: &RekeyContext) -> Result<(RekeyRun, PersonKeyer), RekeyError> {
    let run = run(&ctx.store)
        .await?
        .filter(|run| run.settled_at.is_none())
        .ok_or(RekeyError::NotBegun)?;
    let keyer = ctx
        .keyer
        .at(run.to)
        .ok_or(RekeyError::MissingGeneration(run.to))?;
    Ok((run, keyer))
}

/// Rewrites one segment from where it stopped, a page at a time, until it is done or `pace`
/// says stop.
pub async fn rewrite_segment(
    ctx: &RekeyContext,
    segment: u32,
    pace: Pace,
) -> Result<RekeyStatus, RekeyError> {
    let started = std::time::Instant::now();
    let (run, keyer) = migrating(ctx).await?;
    let now = ctx.clock.now();
    if now < run.rewrite_from {
        return Err(RekeyError::TooEarly(run.rewrite_from));
    }
    if segment >= run.segments {
        return Err(RekeyError::NoSuchSegment(segment, run.segments));
    }
    let sk = keys::rekey_segment(run.to, run.pass, segment);
    let mut item = ctx
        .store
        .get::<SegmentItem>(keys::REKEY, &sk)
        .await?
        .unwrap_or_else(|| SegmentItem {
            pk: keys::REKEY.into(),
            sk: sk.clone(),
            progress: RekeyProgress {
                pass: run.pass,
                segment,
                ..Default::default()
            },
            start_after: None,
        });
    let mut pages = 0;
    while !item.progress.done && started.elapsed() < pace.budget && pages < pace.max_pages {
        let (items, last) = ctx
            .store
            .scan_page(
                segment,
                run.segments,
                item.start_after.as_ref(),
                pace.page_size,
                ScanProjection::Whole,
            )
            .await?;
        let outcomes: Vec<Result<Outcome, StoreError>> =
            futures::stream::iter(items.iter().filter(|item| !is_job_item(item)))
                .map(|item| rewrite_one(&ctx.store, item, &keyer))
                .buffer_unordered(WRITES_IN_FLIGHT)
                .collect()
                .await;
        let at = &mut item.progress;
        for outcome in outcomes {
            at.scanned += 1;
            match outcome? {
                Outcome::Rewritten => at.rewritten += 1,
                Outcome::Moved => at.moved += 1,
                Outcome::Unchanged => at.unchanged += 1,
            }
        }
        at.pages += 1;
        item.start_after = last;
        item.progress.done = item.start_after.is_none();
        ctx.store.put(&item).await?;
        pages += 1;
    }
    let done = item.progress.done;
    Ok(status(&ctx.store, run, now, done).await?)
}

/// The jobs' own items (runs and progress) name nobody.
fn is_job_item(item: &Item) -> bool {
    matches!(
        item.get(keys::PK)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str),
        Some(keys::REKEY | keys::SUNSET)
    )
}

enum Outcome {
    Rewritten,
    Moved,
    Unchanged,
}

/// Rewrites one item, unless it was rewritten meanwhile (a resumed page) or is gone.
async fn rewrite_one(
    store: &Store,
    item: &Item,
    keyer: &PersonKeyer,
) -> Result<Outcome, StoreError> {
    let generation = keyer.in_force();
    let not_yet =
        || Condition::absent(KEY_GENERATION).or(Condition::differs(KEY_GENERATION, generation));
    let key_of = |item: &Item| -> Result<(String, String), StoreError> {
        let text = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .ok_or_else(|| StoreError::Malformed("a scanned item without its key".into()))
        };
        Ok((text(keys::PK)?, text(keys::SK)?))
    };
    let (pk, sk) = key_of(item)?;
    match rewrite::plan(item, keyer) {
        Rewrite::Unchanged => Ok(Outcome::Unchanged),
        Rewrite::InPlace { changed } => {
            let update = changed
                .into_iter()
                .fold(ItemUpdate::at(&pk, &sk), |update, (name, value)| {
                    update.set_value(&name, Value::raw(value))
                })
                .when(Condition::ItemExists.and(not_yet()));
            Ok(match store.update(update).await? {
                crate::store::Applied::Yes => Outcome::Rewritten,
                crate::store::Applied::ConditionFailed => Outcome::Unchanged,
            })
        }
        Rewrite::Moved { item: moved } => {
            let delete = crate::store::delete_when(
                store.table(),
                Store::key(&pk, &sk),
                Condition::ItemExists.and(not_yet()),
            )?;
            let put = crate::store::put_when(store.table(), moved, Condition::ItemAbsent)?;
            match store.transact(vec![delete, put]).await {
                Ok(()) => Ok(Outcome::Moved),
                // Moved by a cut run whose page is read again: nothing left to do.
                Err(StoreError::ConditionFailed) => Ok(Outcome::Unchanged),
                Err(e) => Err(e),
            }
        }
    }
}

/// Ends the pass once every segment is done: settles the epoch if the pass rewrote nothing,
/// else starts the next pass.
async fn finish(ctx: &RekeyContext, pass: Option<u32>) -> Result<RekeyStatus, RekeyError> {
    let now = ctx.clock.now();
    let run = run(&ctx.store).await?.ok_or(RekeyError::NotBegun)?;
    if run.settled_at.is_some() || pass.is_some_and(|pass| pass < run.pass) {
        // Finished already (a retried step): that answer stands.
        let settled = run.settled_at.is_some();
        return Ok(status(&ctx.store, run, now, settled).await?);
    }
    let progress = progress(&ctx.store, &run).await?;
    let unfinished: Vec<u32> = (0..run.segments)
        .filter(|s| !progress.iter().any(|p| p.segment == *s && p.done))
        .collect();
    if !unfinished.is_empty() {
        return Err(RekeyError::Unfinished(unfinished));
    }
    let changed: u64 = progress.iter().map(|p| p.rewritten + p.moved).sum();
    let next = if changed == 0 {
        RekeyRun {
            settled_at: Some(now),
            ..run.clone()
        }
    } else {
        RekeyRun {
            pass: run.pass + 1,
            pass_started_at: now,
            ..run.clone()
        }
    };
    let item = Store::to_item(&RunItem::of(&next))?;
    let condition = Condition::equals("pass", run.pass).and(Condition::absent("settled_at"));
    let next = match ctx.store.put_item_when(item, condition).await {
        Ok(()) => next,
        // Finished at once by a retried step: the other one's answer stands.
        Err(StoreError::ConditionFailed) => {
            self::run(&ctx.store).await?.ok_or(RekeyError::NotBegun)?
        }
        Err(e) => return Err(e.into()),
    };
    let settled = next.settled_at.is_some();
    Ok(status_of(next, progress, now, settled))
}
