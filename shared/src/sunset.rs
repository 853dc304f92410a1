//! The sunset: carrying out the city's decision to end the service (`docs/privacy.md`).
//!
//! An operator starts `SunsetStateMachine` (`template.yaml`), which calls the sunset Lambda for
//! each step:
//!
//! 1. **begin** — records the run (`SUNSET` / `RUN`): from then on every sync and relabel run
//!    stops at its start ([`has_begun`]), and the deadline is fixed: now + grace. A later
//!    execution starts a new *pass* with the same deadline; one cut half-way resumes its pass.
//! 2. **stamp**, one Map iteration per segment of a parallel Scan — sets `expires_at` =
//!    deadline on every item not already leaving by then, a page at a time, saving the segment's
//!    position after each page, so a cut loses at most one page of work and nothing is stamped
//!    twice. DynamoDB's TTL then deletes the whole data set within days of the deadline, without
//!    anyone deleting by hand.
//! 3. **empty_inbound** — deletes the deliveries waiting under `inbound/` (they hold raw ID
//!    numbers).
//! 4. **finish** — checks every segment of the pass is done and records the totals.
//!
//! Running it again stamps only what was written since (nothing, once the API is gone); its
//! counts balance: per pass, items scanned = stamped + already leaving by the deadline. The
//! sunset's own items carry no TTL, so the schedules stay stopped after the data is gone.
//! Progress is visible to operators at `GET /ops/sunset`.

use crate::clock::SharedClock;
use crate::keys;
use crate::keys::ItemKey;
use crate::store::{Applied, Condition, Item, ItemUpdate, ScanProjection, Store, StoreError};
pub use crate::sweep::Pace;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Segments of the parallel Scan (Map iterations), unless the first step asks otherwise.
pub const DEFAULT_SEGMENTS: u32 = 16;
/// Days between the sunset and the deadline every item is stamped with.
pub const DEFAULT_GRACE_DAYS: i64 = 30;
/// Items per Scan page; the segment's position is saved after each.
pub const PAGE: i32 = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum SunsetError {
    #[error("the sunset has not begun: run its first step first")]
    NotBegun,
    #[error("segment {0} is not below the run's {1} segments")]
    NoSuchSegment(u32, u32),
    #[error("segments {0:?} of this pass are not done")]
    Unfinished(Vec<u32>),
    #[error("S3: {0}")]
    S3(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SunsetError {
    /// Whether the state machine should call the step again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::S3(_) => true,
            Self::Store(e) => e.is_retryable(),
            Self::NotBegun | Self::NoSuchSegment(..) | Self::Unfinished(_) => false,
        }
    }
}

/// What the state machine asks the sunset Lambda (`{"step": "begin", …}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum SunsetRequest {
    /// `options` is the execution's input, as the operator started it.
    Begin {
        #[serde(default)]
        options: SunsetOptions,
    },
    Stamp {
        segment: u32,
        #[serde(default)]
        budget_seconds: Option<u64>,
    },
    EmptyInbound,
    Finish,
}

/// What an operator may set when starting the sunset (its first execution fixes them).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SunsetOptions {
    /// Days from now to the deadline ([`DEFAULT_GRACE_DAYS`]).
    #[serde(default)]
    pub grace_days: Option<i64>,
    /// Segments of the parallel Scan ([`DEFAULT_SEGMENTS`]).
    #[serde(default)]
    pub segments: Option<u32>,
}

/// The run, as operators read it (stored as [`RunItem`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SunsetRun {
    pub begun_at: DateTime<Utc>,
    /// Every item leaves the table by then (DynamoDB deletes expired items within days).
    pub deadline: DateTime<Utc>,
    pub segments: u32,
    /// Executions so far; the current one is `pass`.
    pub pass: u32,
    pub pass_started_at: DateTime<Utc>,
    pub pass_finished_at: Option<DateTime<Utc>>,
    /// Deliveries deleted from `inbound/`, over every pass.
    pub inbound_deleted: u64,
}

/// One segment's progress in one pass, as operators read it (stored under `SUNSET` /
/// `SEGMENT#{pass}#{segment}` by [`crate::sweep`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SegmentProgress {
    pub pass: u32,
    pub segment: u32,
    pub pages: u64,
    /// Items read (the sunset's own excepted) = stamped + already leaving by the deadline.
    pub scanned: u64,
    pub stamped: u64,
    pub already: u64,
    pub done: bool,
}

/// The stored run (`SUNSET` / `RUN`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunItem {
    #[serde(flatten)]
    key: ItemKey,
    #[serde(flatten)]
    run: SunsetRun,
}

impl RunItem {
    fn of(run: &SunsetRun) -> Self {
        Self {
            key: ItemKey::new(keys::SUNSET, keys::JOB_RUN),
            run: run.clone(),
        }
    }
}

impl SegmentProgress {
    pub fn balances(&self) -> bool {
        self.scanned == self.stamped + self.already
    }
}

impl crate::sweep::Progress for SegmentProgress {
    /// Stamped now, or already leaving by the deadline.
    type Outcome = Applied;

    fn count(&mut self, outcome: Applied) {
        self.scanned += 1;
        match outcome {
            Applied::Yes => self.stamped += 1,
            Applied::ConditionFailed => self.already += 1,
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

/// A pass's totals over its segments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SunsetTotals {
    pub segments_done: u32,
    pub scanned: u64,
    pub stamped: u64,
    pub already: u64,
}

/// What each step answers (the state machine reads `segments` and `done`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SunsetStatus {
    pub run: SunsetRun,
    /// The segments to stamp (the Map's items).
    pub segments: Vec<u32>,
    pub progress: Vec<SegmentProgress>,
    pub totals: SunsetTotals,
    /// For a stamp step: whether its segment is done.
    pub done: bool,
}

/// What the sunset Lambda works with.
#[derive(Clone)]
pub struct SunsetContext {
    pub store: Store,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub clock: SharedClock,
}

impl SunsetContext {
    pub fn from_env(
        aws: &aws_config::SdkConfig,
        env: &dyn crate::config::Vars,
    ) -> Result<Self, crate::config::ConfigError> {
        use crate::config;
        Ok(Self {
            store: Store::from_env(aws, env)?,
            s3: aws_sdk_s3::Client::new(aws),
            bucket: config::required(env, "DATA_BUCKET")?,
            clock: std::sync::Arc::new(crate::clock::SystemClock),
        })
    }
}

/// Whether the sunset has begun: the scheduled jobs stop at their start. One GetItem.
pub async fn has_begun(store: &Store) -> Result<bool, StoreError> {
    Ok(run(store).await?.is_some())
}

async fn run(store: &Store) -> Result<Option<SunsetRun>, StoreError> {
    Ok(store
        .get::<RunItem>(keys::SUNSET, keys::JOB_RUN)
        .await?
        .map(|item| item.run))
}

/// Every segment's progress in `pass`.
async fn progress(store: &Store, pass: u32) -> Result<Vec<SegmentProgress>, StoreError> {
    crate::sweep::progress(store, keys::SUNSET, keys::sunset_pass(pass)).await
}

async fn status(store: &Store, run: SunsetRun, done: bool) -> Result<SunsetStatus, StoreError> {
    let progress = progress(store, run.pass).await?;
    let totals = progress.iter().fold(SunsetTotals::default(), |mut t, p| {
        t.segments_done += u32::from(p.done);
        t.scanned += p.scanned;
        t.stamped += p.stamped;
        t.already += p.already;
        t
    });
    Ok(SunsetStatus {
        segments: (0..run.segments).collect(),
        run,
        progress,
        totals,
        done,
    })
}

/// The run and its current pass, for operators (`None`: the service runs).
pub async fn current(store: &Store) -> Result<Option<SunsetStatus>, StoreError> {
    match run(store).await? {
        Some(run) => Ok(Some(status(store, run, false).await?)),
        None => Ok(None),
    }
}

/// The sunset Lambda's handler.
pub async fn handle(
    ctx: &SunsetContext,
    request: SunsetRequest,
) -> Result<SunsetStatus, SunsetError> {
    match request {
        SunsetRequest::Begin { options } => begin(ctx, options).await,
        SunsetRequest::Stamp {
            segment,
            budget_seconds,
        } => stamp(ctx, segment, Pace::pages_of(PAGE).within(budget_seconds)).await,
        SunsetRequest::EmptyInbound => empty_inbound(ctx).await,
        SunsetRequest::Finish => finish(ctx).await,
    }
}

/// Records the run (the first time) or starts the next pass (after a finished one); a pass cut
/// half-way is resumed as it is.
async fn begin(ctx: &SunsetContext, options: SunsetOptions) -> Result<SunsetStatus, SunsetError> {
    let now = ctx.clock.now();
    let (next, condition) = match run(&ctx.store).await? {
        None => (
            SunsetRun {
                begun_at: now,
                deadline: now
                    + Duration::days(options.grace_days.unwrap_or(DEFAULT_GRACE_DAYS).max(0)),
                segments: options.segments.unwrap_or(DEFAULT_SEGMENTS).clamp(1, 1_000),
                pass: 1,
                pass_started_at: now,
                pass_finished_at: None,
                inbound_deleted: 0,
            },
            Condition::ItemAbsent,
        ),
        Some(run) if run.pass_finished_at.is_none() => {
            return Ok(status(&ctx.store, run, false).await?);
        }
        Some(run) => (
            SunsetRun {
                pass: run.pass + 1,
                pass_started_at: now,
                pass_finished_at: None,
                ..run.clone()
            },
            Condition::equals(crate::attr!(SunsetRun, pass), run.pass),
        ),
    };
    let item = Store::to_item(&RunItem::of(&next))?;
    match ctx
        .store
        .transact(vec![crate::store::put_when(
            ctx.store.table(),
            item,
            condition,
        )?])
        .await
    {
        Ok(()) => Ok(status(&ctx.store, next, false).await?),
        // Two executions began at once: the other one's pass is this one's too.
        Err(StoreError::ConditionFailed) => {
            let run = run(&ctx.store).await?.ok_or(SunsetError::NotBegun)?;
            Ok(status(&ctx.store, run, false).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Stamps one segment from where it stopped, a page at a time, until it is done or `pace` says
/// stop.
pub async fn stamp(
    ctx: &SunsetContext,
    segment: u32,
    pace: Pace,
) -> Result<SunsetStatus, SunsetError> {
    let run = run(&ctx.store).await?.ok_or(SunsetError::NotBegun)?;
    if segment >= run.segments {
        return Err(SunsetError::NoSuchSegment(segment, run.segments));
    }
    let deadline = run.deadline.timestamp();
    let fresh = SegmentProgress {
        pass: run.pass,
        segment,
        ..Default::default()
    };
    let progress = crate::sweep::segment(
        &ctx.store,
        (keys::SUNSET, &keys::sunset_segment(run.pass, segment)),
        fresh,
        (segment, run.segments),
        pace,
        ScanProjection::KeysAndTtl,
        |item| crate::sweep::text(item, keys::PK) == Some(keys::SUNSET),
        |item| async move { stamp_one(&ctx.store, &item, deadline).await },
    )
    .await?;
    Ok(status(&ctx.store, run, progress.done).await?)
}

/// Sets the item's TTL to the deadline unless it leaves earlier already (or is gone): one
/// conditional UpdateItem, whose failed condition means "already leaving by then".
async fn stamp_one(store: &Store, item: &Item, deadline: i64) -> Result<Applied, StoreError> {
    let already = item
        .get(keys::TTL)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<i64>().ok())
        .is_some_and(|ttl| ttl <= deadline);
    if already {
        return Ok(Applied::ConditionFailed);
    }
    let (pk, sk) = crate::sweep::key_of(item)?;
    store
        .update(
            ItemUpdate::at(pk, sk).set(keys::TTL, deadline).when(
                Condition::ItemExists
                    .and(Condition::absent(keys::TTL).or(Condition::above(keys::TTL, deadline))),
            ),
        )
        .await
}

/// Deletes every delivery waiting under `inbound/`, 1,000 keys a request.
async fn empty_inbound(ctx: &SunsetContext) -> Result<SunsetStatus, SunsetError> {
    let run = run(&ctx.store).await?.ok_or(SunsetError::NotBegun)?;
    let s3_error = |e: &dyn std::fmt::Display| SunsetError::S3(e.to_string());
    let mut deleted = 0u64;
    loop {
        // Listed afresh each round: what was deleted is gone from the listing.
        let listed = ctx
            .s3
            .list_objects_v2()
            .bucket(&ctx.bucket)
            .prefix(crate::sync::INBOUND_PREFIX)
            .max_keys(1_000)
            .send()
            .await
            .map_err(|e| s3_error(&aws_sdk_s3::error::DisplayErrorContext(e)))?;
        let objects: Vec<_> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .filter_map(|k| {
                aws_sdk_s3::types::ObjectIdentifier::builder()
                    .key(k)
                    .build()
                    .ok()
            })
            .collect();
        if objects.is_empty() {
            break;
        }
        let count = objects.len() as u64;
        let delete = aws_sdk_s3::types::Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| s3_error(&e))?;
        ctx.s3
            .delete_objects()
            .bucket(&ctx.bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| s3_error(&aws_sdk_s3::error::DisplayErrorContext(e)))?;
        deleted += count;
    }
    if deleted > 0 {
        ctx.store
            .update(
                ItemUpdate::at(keys::SUNSET, keys::JOB_RUN).add("inbound_deleted", deleted as i64),
            )
            .await?;
    }
    let run = SunsetRun {
        inbound_deleted: run.inbound_deleted + deleted,
        ..run
    };
    Ok(status(&ctx.store, run, true).await?)
}

/// Ends the pass once every segment is done.
async fn finish(ctx: &SunsetContext) -> Result<SunsetStatus, SunsetError> {
    let run = run(&ctx.store).await?.ok_or(SunsetError::NotBegun)?;
    let progress = progress(&ctx.store, run.pass).await?;
    let unfinished: Vec<u32> = (0..run.segments)
        .filter(|s| !progress.iter().any(|p| p.segment == *s && p.done))
        .collect();
    if !unfinished.is_empty() {
        return Err(SunsetError::Unfinished(unfinished));
    }
    let finished = SunsetRun {
        pass_finished_at: Some(run.pass_finished_at.unwrap_or_else(|| ctx.clock.now())),
        ..run
    };
    ctx.store.put(&RunItem::of(&finished)).await?;
    Ok(status(&ctx.store, finished, true).await?)
}
