//! Re-keying: rotating the person-key secret without orphaning anyone (`docs/operations.md`).
//!
//! A rotation adds a generation to the secret ([`crate::ids::PersonKeyer`]): the new key of a
//! person is the new secret's HMAC of their old key, so every stored key can be moved without
//! the ID number, which is never stored. An operator starts `RekeyStateMachine`
//! (`template.yaml`), which calls the rekey Lambda for each step:
//!
//! 1. **begin** — records the run (`REKEY` / `RUN`): the epoch is now *migrating* from the
//!    settled generation to the next ([`epoch`]). From then on reads look a person up under both
//!    keys; the API's writes answer 503 `rekeying`, and sync and relabel stop at their start.
//!    What reads still write (a detail view's records, an export's sending) names people by the
//!    keys of the item it was made from, with that item's mark ([`rewrite::mark`]), so the job
//!    treats it alike. The answer says how long to wait before rewriting: long enough for every
//!    execution environment's copy of the epoch to have run out.
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

use crate::attr;
use crate::clock::SharedClock;
use crate::ids::{KeyGeneration, PersonKeyer};
use crate::keys;
use crate::keys::ItemKey;
use crate::store::{Condition, Item, ItemUpdate, ScanProjection, Store, StoreError, Value};
pub use crate::sweep::Pace;
use chrono::{DateTime, Utc};
use rewrite::{KEY_GENERATION, Rewrite};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Segments of the parallel Scan (Map iterations), unless the first step asks otherwise.
pub const DEFAULT_SEGMENTS: u32 = 16;
/// Items per Scan page; the segment's position is saved after each.
pub const PAGE: i32 = 500;

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

impl crate::sweep::Progress for RekeyProgress {
    type Outcome = Outcome;

    fn count(&mut self, outcome: Outcome) {
        self.scanned += 1;
        match outcome {
            Outcome::Rewritten => self.rewritten += 1,
            Outcome::Moved => self.moved += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }

    fn page(&mut self, done: bool) {
        self.pages += 1;
        self.done = done;
    }

    fn done(&self) -> bool {
        self.done
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunItem {
    #[serde(flatten)]
    key: ItemKey,
    #[serde(flatten)]
    run: RekeyRun,
}

impl RunItem {
    fn of(run: &RekeyRun) -> Self {
        Self {
            key: ItemKey::new(keys::REKEY, keys::JOB_RUN),
            run: run.clone(),
        }
    }
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
            store: Store::from_env(aws, env)?,
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

/// Every segment's progress in the run's current pass.
async fn progress(store: &Store, run: &RekeyRun) -> Result<Vec<RekeyProgress>, StoreError> {
    crate::sweep::progress(store, keys::REKEY, keys::rekey_pass(run.to, run.pass)).await
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
        } => rewrite_segment(ctx, segment, Pace::pages_of(PAGE).within(budget_seconds)).await,
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
        Some(run) => Condition::equals(attr!(RekeyRun, to), run.to),
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
    let (run, keyer) = migrating(ctx).await?;
    let now = ctx.clock.now();
    if now < run.rewrite_from {
        return Err(RekeyError::TooEarly(run.rewrite_from));
    }
    if segment >= run.segments {
        return Err(RekeyError::NoSuchSegment(segment, run.segments));
    }
    let fresh = RekeyProgress {
        pass: run.pass,
        segment,
        ..Default::default()
    };
    let progress = crate::sweep::segment(
        &ctx.store,
        (keys::REKEY, &keys::rekey_segment(run.to, run.pass, segment)),
        fresh,
        (segment, run.segments),
        pace,
        ScanProjection::Whole,
        |item| {
            matches!(
                crate::sweep::text(item, keys::PK),
                Some(keys::REKEY | keys::SUNSET)
            )
        },
        |item| {
            let keyer = &keyer;
            async move { rewrite_one(&ctx.store, &item, keyer).await }
        },
    )
    .await?;
    Ok(status(&ctx.store, run, now, progress.done).await?)
}

/// What became of one item.
pub enum Outcome {
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
    let (pk, sk) = crate::sweep::key_of(item)?;
    match rewrite::plan(item, keyer) {
        Rewrite::Unchanged => Ok(Outcome::Unchanged),
        Rewrite::InPlace { changed } => {
            let update = changed
                .into_iter()
                .fold(ItemUpdate::at(pk, sk), |update, (name, value)| {
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
                Store::key(pk, sk),
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
    let condition = Condition::equals(attr!(RekeyRun, pass), run.pass)
        .and(Condition::absent(attr!(RekeyRun, settled_at)));
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
