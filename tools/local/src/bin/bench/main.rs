//! Benchmarks of the data pipeline (`make bench`; figures in docs/bench.md).
//!
//!   bench parse N          parse + validate + dedupe N PCR lines in-process, one core, no I/O
//!   bench sync N           sync a PCR delivery of N records, then the same records again:
//!                          records/s, DynamoDB requests per applied and per unchanged record,
//!                          the sync's own peak RSS
//!   bench relabel N K      relabel with N employees of which K cross a boundary: requests ≈ K
//!   bench pages N          an enterprise of N labelled employees: DynamoDB requests and the
//!                          handler's own time (wall time minus time waiting for DynamoDB) per
//!                          summary, list page, filtered page and detail, through the API router
//!   bench sunset N         the sunset over N employees (a membership and a health item each):
//!                          a pass cut half-way and resumed, then a second pass; time, items/s,
//!                          DynamoDB requests, and what it would cost on AWS
//!   bench rekey N          the re-key over N employees (a membership and a health item each):
//!                          pass 1 cut half-way and resumed, then the pass that proves it; time,
//!                          items/s, DynamoDB requests
//!   bench load [S] [A] [E] [R]  A agents over E enterprises of 1,000 employees for S seconds
//!                          over real HTTP, while a sync of R PCR records and a relabel run:
//!                          latency per route, statuses, throughput, requests; then a check
//!                          that every summary equals its lists (`load.rs`)
//!   bench entities N       the two items every relabel and sync reads and writes (a labelled
//!                          membership, a person's health item) through serde_dynamo N times:
//!                          ns per item written (to_item) and read (from_item), one core, no I/O
//!   bench export N         export the 24 h list of an enterprise of N employees: the worker's
//!                          time and peak RSS (in a child process of its own), the mail
//!
//! Every benchmark runs against the local engine (DynamoDB on dynoxide, in memory, in this
//! process but reached over HTTP; S3/SQS/SES on moto) or the endpoints the standard
//! `AWS_ENDPOINT_URL*` variables name. Requests are counted by an SDK interceptor, by operation;
//! every item here is under 1 KB, so one write request = one write unit.

use chrono::{Duration, Utc};
use fangyitong::app::Core;
use fangyitong::feeds::{self, Feed, ParseContext};
use fangyitong::health::{Health, HealthRules};
use fangyitong::store::Store;
use local::Functions;
use local::demo;
use local::generate::{self, Population};
use local::requests::RequestCounter;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

mod load;

/// A memory figure of this process from /proc/self/status (`VmHWM` peak, `VmRSS` current), in MB.
fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(str::to_string))
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

fn current_rss_mb() -> f64 {
    status_mb("VmRSS:")
}

/// Resets the peak-RSS mark (Linux: writing 5 to clear_refs), so a measurement covers only
/// what follows — not the generated data the benchmark itself holds.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn population_for(records: usize) -> Population {
    // About one employee per record, in enterprises of 100.
    Population::synthetic(42, records.div_ceil(100).max(1), 100, None)
}

fn parse(n: usize) {
    let now = Utc::now();
    let mut population = population_for(n);
    let lines: Vec<String> = population
        .pcr_lines(n, now, Duration::hours(96))
        .into_iter()
        .map(|v| v.to_string())
        .collect();
    let keyer = demo::dev_keyer();
    let policy = fangyitong::ids::UsccPolicy::default();
    let ctx = ParseContext {
        now,
        keyer: &keyer,
        uscc_policy: &policy,
    };
    // Warm up, then measure.
    for line in lines.iter().take(1_000) {
        let _ = feeds::parse_line(Feed::Pcr, line, &ctx);
    }
    let started = Instant::now();
    let mut latest: HashMap<String, usize> = HashMap::with_capacity(lines.len());
    let mut valid = 0usize;
    for (i, line) in lines.iter().enumerate() {
        if let Ok(record) = feeds::parse_line(Feed::Pcr, line, &ctx) {
            valid += 1;
            latest.insert(record.dedupe_key(), i);
        }
    }
    let elapsed = started.elapsed();
    println!(
        "parse: {n} PCR lines ({valid} valid, {} distinct) in {:.3} s = {:.0} records/s on one core; peak RSS {:.1} MB",
        latest.len(),
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        peak_rss_mb()
    );
}

/// The local endpoints (or those the standard variables name) and a fresh table on them.
///
/// The local DynamoDB engine runs in a child process of its own (`bench engine`) on a scratch
/// SQLite file, so this process's CPU and peak RSS are the client's alone: what the benchmark
/// measures is the code under test, not the server standing in for DynamoDB.
struct Stack {
    _engine: Option<local::server_process::ServerProcess>,
    local_aws: local::LocalAws,
}

async fn stack(counter: &RequestCounter) -> (Stack, Functions, aws_config::SdkConfig) {
    let (engine, dynamodb) = match local::named_endpoint("AWS_ENDPOINT_URL_DYNAMODB") {
        Some(endpoint) => (None, endpoint),
        None => {
            let mut command = std::process::Command::new(std::env::current_exe().unwrap());
            command.arg("engine");
            let engine =
                local::server_process::ServerProcess::spawn(command).expect("the local engine");
            let endpoint = engine.endpoint.clone();
            (Some(engine), endpoint)
        }
    };
    let local_aws = local::LocalAws::start_with_dynamodb(dynamodb, 0).expect("local endpoints");
    let aws = local_aws.sdk_config().await;
    let dynamodb = counter.client(&aws);
    let table = format!("bench-{}", ulid::Ulid::new());
    local::ensure_table(&dynamodb, &table).await.expect("table");
    let core = Core::new(
        dynamodb,
        table,
        Default::default(),
        Arc::new(fangyitong::clock::SystemClock),
    );
    let bucket = format!(
        "bench-exports-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    local::s3_client(&aws)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let services = local::exports::setup(&aws, &bucket, &bucket).await.unwrap();
    let state = Functions::start(core, services, &aws)
        .await
        .expect("the functions start on the local stack");
    (
        Stack {
            _engine: engine,
            local_aws,
        },
        state,
        aws,
    )
}

/// `bench engine`: the local DynamoDB engine on a scratch file, for the other benchmarks to
/// use from outside its process. Prints its endpoint, serves until stdin closes, then removes
/// the file.
fn engine() {
    let dir = std::env::temp_dir().join(format!("fangyitong-bench-{}", ulid::Ulid::new()));
    let server =
        local::dynamo::LocalDynamo::start(&local::dynamo::Storage::File(dir.join("bench.sqlite")))
            .expect("start the local engine");
    println!("{}", server.endpoint);
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn sync(n: usize) {
    let counter = RequestCounter::default();
    let (_stack, state, aws) = stack(&counter).await;
    let s3 = local::s3_client(&aws);
    let bucket = format!("bench-{}", ulid::Ulid::new()).to_lowercase();
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let ctx = fangyitong::sync::SyncContext {
        store: state.core.store.clone(),
        s3: s3.clone(),
        bucket: bucket.clone(),
        keyer: state.keyer.clone(),
        uscc_policy: state.core.uscc_policy.clone(),
        clock: state.core.clock.clone(),
    };
    let now = state.core.clock.now();
    let population = population_for(n);
    // One sampling per person, so every record is a change the first time; gzip'd, as the
    // platform delivers big files (a million lines is ≈ 250 MB of JSON, ≈ 15 MB gzip'd).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let at = now - Duration::hours(3);
    for p in population
        .enterprises
        .iter()
        .flat_map(|e| e.employees.iter())
        .take(n)
    {
        use std::io::Write;
        let line = serde_json::json!({"id_type": "resident_id", "id_number": p.id_number, "sampled_at": at,
            "result_at": at + Duration::hours(1), "result": "negative", "site": "福田区华富街道便民采样点", "city": "深圳市"});
        writeln!(gz, "{line}").unwrap();
    }
    let body = gz.finish().unwrap();
    drop(population);
    for (round, key) in [
        (1, "inbound/pcr/20220401T020000Z-0001.jsonl.gz"),
        (2, "inbound/pcr/20220401T140000Z-0001.jsonl.gz"),
    ] {
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        counter.reset();
        let before = current_rss_mb();
        reset_peak_rss();
        let started = Instant::now();
        let run = fangyitong::sync::run(&ctx, "bench").await.unwrap();
        let elapsed = started.elapsed();
        let requests = counter.snapshot();
        let writes: u64 = ["PutItem", "UpdateItem", "TransactWriteItems"]
            .iter()
            .map(|op| requests.get(*op).copied().unwrap_or(0))
            .sum();
        let batch_writes = requests.get("BatchWriteItem").copied().unwrap_or(0);
        let t = &run.totals;
        println!(
            "sync round {round}: {} records (applied {}, unchanged {}, rejected {}) in {:.1} s ({:.0} records/s); DynamoDB requests {:?}; \
             writes per applied record {:.3} (item writes {writes}, batch writes {batch_writes}, ledger/run writes included); \
             RSS before {before:.1} MB, peak during the sync {:.1} MB (+{:.1} MB)",
            t.read,
            t.applied,
            t.unchanged,
            t.rejected,
            elapsed.as_secs_f64(),
            t.read as f64 / elapsed.as_secs_f64(),
            requests,
            if t.applied > 0 {
                writes as f64 / t.applied as f64
            } else {
                0.0
            },
            peak_rss_mb(),
            peak_rss_mb() - before
        );
    }
}

/// The first `n` people of a population, in order.
fn first_people(population: &Population, n: usize) -> Vec<&generate::Person> {
    population
        .enterprises
        .iter()
        .flat_map(|e| e.employees.iter())
        .take(n)
        .collect()
}

/// Writes the items `item_of(i, person)` makes for every one of `people`, 1,000 at a time with
/// 4 batch writers in flight, so the benchmark's own memory stays small at a million people.
/// Returns how long it took.
async fn seed_people<P: Sync>(
    store: &Store,
    people: &[P],
    item_of: impl Fn(usize, &P) -> Vec<fangyitong::store::Item>,
) -> std::time::Duration {
    use futures::StreamExt;
    let started = Instant::now();
    let batches = people.chunks(1_000).enumerate().map(|(c, chunk)| {
        let items: Vec<_> = chunk
            .iter()
            .enumerate()
            .flat_map(|(j, p)| item_of(c * 1_000 + j, p))
            .collect();
        async move {
            fangyitong::store::batch_put(store, store.table(), items)
                .await
                .unwrap()
        }
    });
    futures::stream::iter(batches)
        .buffer_unordered(4)
        .for_each(|_| async {})
        .await;
    let elapsed = started.elapsed();
    eprintln!(
        "seeded {} people in {:.0} s",
        people.len(),
        elapsed.as_secs_f64()
    );
    elapsed
}

/// The summary counters of seeded memberships, per enterprise, written once seeding is done
/// (the seed writes memberships directly, not through the relabel that keeps them in step).
#[derive(Default)]
struct SeededCounts(std::cell::RefCell<HashMap<fangyitong::ids::Uscc, fangyitong::summary::Delta>>);

impl SeededCounts {
    /// One more current employee of `uscc`, labelled `derived`.
    fn count(&self, uscc: &fangyitong::ids::Uscc, derived: &fangyitong::health::Derived) {
        let mut deltas = self.0.borrow_mut();
        let delta = deltas.entry(uscc.clone()).or_default();
        delta.add(fangyitong::summary::TOTAL, 1);
        delta.absorb(&fangyitong::summary::Delta::relabel(None, derived));
    }

    /// Writes every enterprise's counters, and marks the data synced and labelled as of `now`.
    async fn write(self, store: &Store, now: chrono::DateTime<Utc>) {
        for (uscc, delta) in self.0.into_inner() {
            store.update(delta.item_update(&uscc, now)).await.unwrap();
        }
        fangyitong::freshness::record_sync(store, now)
            .await
            .unwrap();
        fangyitong::freshness::record_relabel(store, now)
            .await
            .unwrap();
    }
}

/// Person `i`'s PCR label in a population spread like a working week: most tested within
/// 48 h, some lapsed, a few never.
fn spread_label(i: usize) -> fangyitong::health::PcrLabel {
    fangyitong::health::PcrLabel::ALL[[0, 0, 0, 0, 1, 1, 1, 2, 3, 4][i % 10]]
}

/// How long before now person `i` with `label` was sampled (none when never tested).
fn hours_since_sampling(label: fangyitong::health::PcrLabel, i: usize) -> Option<i64> {
    use fangyitong::health::PcrLabel;
    match label {
        PcrLabel::Within24h => Some(2 + (i % 20) as i64),
        PcrLabel::Within48h => Some(30),
        PcrLabel::Within72h => Some(54),
        PcrLabel::Never => None,
        _ => Some(100),
    }
}

/// Person `i`'s vaccination state in the same spread: most vaccinated.
fn spread_vax(i: usize) -> fangyitong::health::VaxState {
    fangyitong::health::VaxState::ALL[[4, 4, 4, 3, 3, 2, 1, 0][i % 8]]
}

/// `person` on the roster of `uscc` since `now`.
fn roster_member(
    state: &Functions,
    uscc: &fangyitong::ids::Uscc,
    person: &generate::Person,
    phone: Option<fangyitong::ids::Phone>,
    now: chrono::DateTime<Utc>,
) -> fangyitong::roster::Membership {
    let record = fangyitong::roster::MemberRecord {
        document: fangyitong::ids::IdDocument::parse(
            fangyitong::ids::IdType::ResidentId,
            &person.id_number,
        )
        .unwrap(),
        name: person.name.clone(),
        phone,
    };
    fangyitong::roster::Membership::new(
        uscc,
        &record,
        &state.keyer,
        fangyitong::roster::Source::Roster,
        now,
    )
}

async fn relabel(n: usize, k: usize) {
    let counter = RequestCounter::default();
    let (_stack, state, _aws) = stack(&counter).await;
    let now = state.core.clock.now();
    let rules = HealthRules::default();
    let uscc = demo::demo_uscc();
    // N employees labelled as of now; K of them sampled 23 h 30 min ago, the rest 2 h ago.
    let population = population_for(n);
    seed_people(&state.core.store, &first_people(&population, n), |i, p| {
        let mut m = roster_member(&state, &uscc, p, None, now);
        let mut h = Health::new(m.person.clone());
        let sampled = if i < k {
            now - Duration::minutes(23 * 60 + 30)
        } else {
            now - Duration::hours(2)
        };
        h.merge_pcr(&fangyitong::feeds::PcrResult {
            person: m.person.clone(),
            sampled_at: sampled,
            result_at: Some(sampled),
            result: fangyitong::feeds::PcrOutcome::Negative,
            site: "site".into(),
            in_shenzhen: true,
        });
        let (derived, next) = h.derive(now, &rules);
        h.derived = Some(derived);
        h.derived_at = Some(now);
        h.set_due(next);
        h.set_employers(std::collections::BTreeSet::from([uscc.clone()]));
        h.version = 1;
        m.set_derived(derived, now);
        vec![Store::to_item(&m).unwrap(), Store::to_item(&h).unwrap()]
    })
    .await;
    counter.reset();
    let started = Instant::now();
    let report = fangyitong::relabel::run(&state.core.store, now + Duration::hours(1), &rules)
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let requests = counter.snapshot();
    println!(
        "relabel: {n} employees, {k} crossing 24 h: persons due {}, memberships changed {}, {} DynamoDB requests {:?} \
         ({:.2} per transition), summary updates {} ({:.1} per 1,000 transitions) in {:.1} s; peak RSS {:.1} MB",
        report.persons_due,
        report.memberships_changed,
        counter.total(),
        requests,
        counter.total() as f64 / k.max(1) as f64,
        report.summary_updates,
        report.summary_updates as f64 * 1_000.0 / k.max(1) as f64,
        elapsed.as_secs_f64(),
        peak_rss_mb()
    );
}

/// How many items the table holds, the jobs' own excepted.
async fn count_items(store: &Store) -> u64 {
    let text = |s: &str| aws_sdk_dynamodb::types::AttributeValue::S(s.into());
    let mut pages = store
        .client()
        .scan()
        .table_name(store.table())
        .select(aws_sdk_dynamodb::types::Select::Count)
        .filter_expression("PK <> :sunset AND PK <> :rekey")
        .expression_attribute_values(":sunset", text(fangyitong::keys::SUNSET))
        .expression_attribute_values(":rekey", text(fangyitong::keys::REKEY))
        .into_paginator()
        .send();
    let mut count = 0;
    while let Some(page) = pages.next().await {
        count += page.unwrap().count as u64;
    }
    count
}

/// Every segment of the current pass stamped at once (the state machine's Map, 16 wide), each
/// at `pace`; answers the pass's status once all have stopped.
async fn stamp_all(
    ctx: &fangyitong::sunset::SunsetContext,
    segments: u32,
    pace: fangyitong::sunset::Pace,
) -> fangyitong::sunset::SunsetStatus {
    for stamped in futures::future::join_all(
        (0..segments).map(|segment| fangyitong::sunset::stamp(ctx, segment, pace)),
    )
    .await
    {
        stamped.expect("stamp");
    }
    fangyitong::sunset::current(&ctx.store)
        .await
        .unwrap()
        .expect("begun")
}

async fn sunset(n: usize) {
    use fangyitong::sunset::{self, Pace, SunsetContext, SunsetOptions, SunsetRequest};
    let counter = RequestCounter::default();
    let (stack, state, aws) = stack(&counter).await;
    let now = state.core.clock.now();
    let uscc = demo::demo_uscc();
    let rules = HealthRules::default();
    let population = population_for(n);
    seed_people(&state.core.store, &first_people(&population, n), |_, p| {
        let mut m = roster_member(&state, &uscc, p, None, now);
        let mut h = Health::new(m.person.clone());
        h.facts_changed(now);
        let (derived, _) = h.derive(now, &rules);
        m.set_derived(derived, now);
        vec![Store::to_item(&m).unwrap(), Store::to_item(&h).unwrap()]
    })
    .await;
    let bucket = format!(
        "bench-data-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let s3 = local::s3_client(&aws);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let ctx = SunsetContext {
        store: state.core.store.clone(),
        s3,
        bucket,
        clock: state.core.clock.clone(),
    };
    let segments = sunset::DEFAULT_SEGMENTS;
    let begin = || SunsetRequest::Begin {
        options: SunsetOptions {
            grace_days: Some(30),
            segments: Some(segments),
        },
    };
    // Counted apart from the job (a plain COUNT Scan): generated people may share an ID.
    let items = count_items(&state.core.store).await;
    println!("sunset: {n} employees ({items} items), {segments} segments in parallel");
    println!(
        "| pass | items scanned | stamped | already leaving | time | items/s | DynamoDB requests |"
    );
    println!("|---|---|---|---|---|---|---|");
    let report = |pass: &str, status: &sunset::SunsetStatus, elapsed: std::time::Duration| {
        let t = &status.totals;
        println!(
            "| {pass} | {} | {} | {} | {:.1} s | {:.0} | {:?} |",
            t.scanned,
            t.stamped,
            t.already,
            elapsed.as_secs_f64(),
            t.scanned as f64 / elapsed.as_secs_f64(),
            counter.snapshot()
        );
    };
    // Pass 1, cut: every segment stops after half its pages; a new execution resumes it.
    counter.reset();
    let started = Instant::now();
    sunset::handle(&ctx, begin()).await.unwrap();
    let half = (2 * n)
        .div_ceil(segments as usize * sunset::PAGE as usize * 2)
        .max(1);
    let cut = stamp_all(
        &ctx,
        segments,
        Pace {
            max_pages: half,
            ..Pace::pages_of(sunset::PAGE)
        },
    )
    .await;
    report("1, cut after half the pages", &cut, started.elapsed());
    sunset::handle(&ctx, begin()).await.unwrap();
    stamp_all(&ctx, segments, Pace::pages_of(sunset::PAGE)).await;
    sunset::handle(&ctx, SunsetRequest::EmptyInbound)
        .await
        .unwrap();
    let first = sunset::handle(&ctx, SunsetRequest::Finish).await.unwrap();
    report("1, resumed to the end", &first, started.elapsed());
    assert_eq!(first.totals.scanned, items, "every item once");
    assert_eq!(
        first.totals.stamped + first.totals.already,
        first.totals.scanned
    );
    // Pass 2: nothing left to stamp.
    counter.reset();
    let started = Instant::now();
    sunset::handle(&ctx, begin()).await.unwrap();
    stamp_all(&ctx, segments, Pace::pages_of(sunset::PAGE)).await;
    let second = sunset::handle(&ctx, SunsetRequest::Finish).await.unwrap();
    report("2 (again)", &second, started.elapsed());
    assert_eq!(second.totals.stamped, 0);
    println!("peak RSS {:.1} MB", peak_rss_mb());
    drop(stack);
}

/// Every segment of the current pass rewritten at once (the state machine's Map, 16 wide), each
/// at `pace`, a step that fails retryably called again as the state machine's Retry does;
/// answers the pass's status once all have stopped, and how many steps were retried.
async fn rewrite_all(
    ctx: &fangyitong::rekey::RekeyContext,
    segments: u32,
    pace: fangyitong::rekey::Pace,
) -> (fangyitong::rekey::RekeyStatus, usize) {
    let retried = futures::future::join_all((0..segments).map(|segment| async move {
        let mut retried = 0;
        loop {
            match fangyitong::rekey::rewrite_segment(ctx, segment, pace).await {
                // Called again until done, as the state machine's Choice does (a step stops
                // after its budget), unless this is a cut.
                Ok(status) if status.done || pace.max_pages != usize::MAX => break retried,
                Ok(_) => {}
                Err(e) if e.is_retryable() && retried < 10 => retried += 1,
                Err(e) => panic!("rewrite: {e}"),
            }
        }
    }))
    .await
    .into_iter()
    .sum();
    let status = fangyitong::rekey::current(&ctx.store, ctx.clock.now())
        .await
        .unwrap()
        .expect("begun");
    (status, retried)
}

/// The re-key over N employees (a membership and a health item each), as its state machine
/// runs it: begin, the wait, pass 1 cut after half its pages and resumed, finish, pass 2, finish.
async fn rekey(n: usize) {
    use fangyitong::rekey::{self, Pace, RekeyContext, RekeyOptions, RekeyRequest};
    let counter = RequestCounter::default();
    let (stack, state, _aws) = stack(&counter).await;
    let now = state.core.clock.now();
    let uscc = demo::demo_uscc();
    let rules = HealthRules::default();
    let population = population_for(n);
    seed_people(&state.core.store, &first_people(&population, n), |_, p| {
        let mut m = roster_member(&state, &uscc, p, None, now);
        let mut h = Health::new(m.person.clone());
        h.facts_changed(now);
        let (derived, _) = h.derive(now, &rules);
        m.set_derived(derived, now);
        vec![Store::to_item(&m).unwrap(), Store::to_item(&h).unwrap()]
    })
    .await;
    let secrets = serde_json::json!([
        demo::DEV_PERSON_KEY_SECRET,
        "the-second-generation-of-the-person-key-secret"
    ]);
    let clock = fangyitong::clock::ManualClock::new(now);
    let ctx = RekeyContext {
        store: state.core.store.clone(),
        keyer: fangyitong::ids::PersonKeyer::from_secret(&secrets.to_string()).unwrap(),
        clock: Arc::new(clock.clone()),
    };
    let segments = rekey::DEFAULT_SEGMENTS;
    let items = count_items(&state.core.store).await;
    println!("rekey: {n} employees ({items} items), {segments} segments in parallel");
    println!(
        "| pass | items scanned | rewritten in place | moved | unchanged | time | items/s | DynamoDB requests |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let report = |pass: &str, t: &rekey::RekeyTotals, elapsed: std::time::Duration| {
        println!(
            "| {pass} | {} | {} | {} | {} | {:.1} s | {:.0} | {:?} |",
            t.scanned,
            t.rewritten,
            t.moved,
            t.unchanged,
            elapsed.as_secs_f64(),
            t.scanned as f64 / elapsed.as_secs_f64(),
            counter.snapshot()
        );
    };
    let begin = || RekeyRequest::Begin {
        options: RekeyOptions {
            segments: Some(segments),
        },
    };
    rekey::handle(&ctx, begin()).await.unwrap();
    clock.advance(rekey::epoch::CACHE_TTL * 2);
    // Pass 1, cut: every segment stops after half its pages; a new execution resumes it.
    counter.reset();
    let started = Instant::now();
    let half = (2 * n)
        .div_ceil(segments as usize * rekey::PAGE as usize * 2)
        .max(1);
    let pace = Pace {
        max_pages: half,
        ..Pace::pages_of(rekey::PAGE)
    };
    let (cut, retried) = rewrite_all(&ctx, segments, pace).await;
    report(
        "1, cut after half the pages",
        &cut.totals,
        started.elapsed(),
    );
    rekey::handle(&ctx, begin()).await.unwrap();
    let (_, retried_too) = rewrite_all(&ctx, segments, Pace::pages_of(rekey::PAGE)).await;
    let first = rekey::handle(&ctx, RekeyRequest::Finish { pass: Some(1) })
        .await
        .unwrap();
    report("1, resumed to the end", &first.totals, started.elapsed());
    println!(
        "steps retried (timeouts of the local engine, retried as the state machine does): {}",
        retried + retried_too
    );
    assert!(!first.done, "a pass that moved keys is followed by another");
    // Every item names a person and moves once; a moved item read again at its new key (in a
    // segment not yet scanned) counts as unchanged.
    assert_eq!(first.totals.moved, items, "every item moved once");
    assert_eq!(
        first.totals.scanned,
        first.totals.moved + first.totals.rewritten + first.totals.unchanged
    );
    // Pass 2: nothing left to rewrite; the new generation settles.
    counter.reset();
    let started = Instant::now();
    rewrite_all(&ctx, segments, Pace::pages_of(rekey::PAGE)).await;
    let second = rekey::handle(&ctx, RekeyRequest::Finish { pass: Some(2) })
        .await
        .unwrap();
    report("2 (proof)", &second.totals, started.elapsed());
    assert!(second.done, "settled");
    assert_eq!(second.totals.rewritten + second.totals.moved, 0);
    assert_eq!(
        count_items(&state.core.store).await,
        items,
        "as many items as before"
    );
    println!("peak RSS {:.1} MB", peak_rss_mb());
    drop(stack);
}

/// One API call through the local router: status, DynamoDB requests, wall and own time.
async fn timed_call(
    router: &axum::Router,
    counter: &RequestCounter,
    token: &str,
    path: &str,
) -> (
    serde_json::Value,
    u64,
    std::time::Duration,
    std::time::Duration,
) {
    use tower::ServiceExt;
    let request = axum::http::Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    counter.reset();
    let started = Instant::now();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let wall = started.elapsed();
    assert!(
        status.is_success(),
        "{path}: {status} {}",
        String::from_utf8_lossy(&bytes)
    );
    let body = serde_json::from_slice(&bytes).unwrap();
    (
        body,
        counter.total(),
        wall,
        wall.saturating_sub(counter.waited()),
    )
}

/// The demo enterprise with `n` labelled employees and its counters, written in chunks so the
/// benchmark's own memory stays small. With `spread`, labels spread like a working week;
/// without, everyone is in the 24 h list (an export of all of them).
async fn seed_labelled_enterprise(state: &Functions, n: usize, spread: bool) {
    use fangyitong::health::{Derived, PcrLabel};
    let now = state.core.clock.now();
    let uscc = demo::demo_uscc();
    let counts = SeededCounts::default();
    let population = population_for(n);
    seed_people(&state.core.store, &first_people(&population, n), |i, p| {
        let phone = fangyitong::ids::Phone::parse(&format!("139{i:08}")).ok();
        let mut m = roster_member(state, &uscc, p, phone, now);
        let label = if spread {
            spread_label(i)
        } else {
            PcrLabel::Within24h
        };
        let derived = Derived {
            label,
            in_shenzhen: i % 7 != 0,
            vax: spread_vax(i),
            sampled_at: hours_since_sampling(label, i).map(|h| now - Duration::hours(h)),
            result_pending: false,
        };
        m.set_derived(derived, now);
        counts.count(&uscc, &derived);
        vec![Store::to_item(&m).unwrap()]
    })
    .await;
    counts.write(&state.core.store, now).await;
}

/// An export of the 24 h list of an enterprise of `n` employees. The worker runs in a child
/// process (`bench export-worker`), so its peak RSS is its own, not the seeding's.
async fn export(n: usize) {
    use tower::ServiceExt;
    let counter = RequestCounter::default();
    let (stack, state, _aws) = stack(&counter).await;
    let endpoints = stack.local_aws.endpoints.clone();
    let now = state.core.clock.now();
    let cast = demo::Cast::new(now);
    demo::seed_registry(&state, &cast).await.unwrap();
    demo::seed_agent(&state, &cast).await.unwrap();
    seed_labelled_enterprise(&state, n, false).await;
    let services = state.exports.clone();
    let bucket = services.mail.bucket.clone();
    let router = local::api(&state);
    let token = demo::minter().mint(&cast.agent, now, Duration::hours(1));
    let recipient = format!("{bucket}@example.cn");
    let body = serde_json::json!({"list": "nucleic", "group": "24h", "email": recipient, "idempotency_key": "bench"});
    let request =
        axum::http::Request::post(format!("/export/enterprises/{}/exports", demo::demo_uscc()))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), axum::http::StatusCode::ACCEPTED);
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("export-worker")
        .env("AWS_ENDPOINT_URL_DYNAMODB", &endpoints.dynamodb)
        .env("AWS_ENDPOINT_URL", &endpoints.others)
        .env("BENCH_TABLE", state.core.store.table())
        .env("EXPORT_BUCKET", &bucket)
        .env("EXPORT_QUEUE_URL", &services.queue.queue_url)
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&child.stdout));
    eprint!("{}", String::from_utf8_lossy(&child.stderr));
    let mails = local::exports::sent_mails(&endpoints.others).await.unwrap();
    let mail = mails
        .iter()
        .find(|m| m.to.contains(&recipient))
        .expect("the mail");
    println!(
        "mail: {:?}, {} attachments; body:\n{}",
        mail.subject,
        mail.attachments.len(),
        mail.text
    );
}

/// The export worker alone, in its own process: drains the queue once, reports time and peak RSS.
async fn export_worker() {
    // The parent's endpoints, named by the standard variables.
    let local_aws =
        local::LocalAws::start(&local::dynamo::Storage::Memory, 0).expect("local endpoints");
    let aws = local_aws.sdk_config().await;
    let counter = RequestCounter::default();
    let core = Core::new(
        counter.client(&aws),
        std::env::var("BENCH_TABLE").unwrap(),
        Default::default(),
        Arc::new(fangyitong::clock::SystemClock),
    );
    let bucket = std::env::var("EXPORT_BUCKET").unwrap();
    let mut services = local::exports::setup(&aws, &bucket, "bench-unused")
        .await
        .unwrap();
    services.queue.queue_url = std::env::var("EXPORT_QUEUE_URL").unwrap();
    let state = Functions::start(core, services, &aws)
        .await
        .expect("the functions start on the local stack");
    let started = Instant::now();
    let handled = local::exports::drain(&state).await.unwrap();
    let elapsed = started.elapsed();
    println!(
        "export worker: {handled} job(s) in {:.1} s ({:.1} s waiting for DynamoDB), {} DynamoDB requests {:?}; peak RSS {:.1} MB",
        elapsed.as_secs_f64(),
        counter.waited().as_secs_f64(),
        counter.total(),
        counter.snapshot(),
        peak_rss_mb()
    );
}

async fn pages(n: usize) {
    let counter = RequestCounter::default();
    let (_stack, state, _aws) = stack(&counter).await;
    let now = state.core.clock.now();
    let cast = demo::Cast::new(now);
    demo::seed_registry(&state, &cast).await.unwrap();
    demo::seed_agent(&state, &cast).await.unwrap();
    seed_labelled_enterprise(&state, n, true).await;
    let uscc = demo::demo_uscc();

    let router = local::api(&state);
    let token = demo::minter().mint(&cast.agent, now, Duration::hours(1));
    let base = format!("/nucleic/enterprises/{uscc}");
    let (first, ..) = timed_call(
        &router,
        &counter,
        &token,
        &format!("{base}/labels/24h/employees?limit=50"),
    )
    .await;
    let employee = first["items"][0]["employee_id"]
        .as_str()
        .unwrap()
        .to_string();
    let surname: String = first["items"][0]["name"]
        .as_str()
        .unwrap()
        .chars()
        .take(1)
        .collect();
    let mut calls: Vec<(String, String)> = vec![
        ("nucleic summary".into(), format!("{base}/summary")),
        (
            "24h, first page of 50".into(),
            format!("{base}/labels/24h/employees?limit=50"),
        ),
        (
            "24h, in Shenzhen, page of 50".into(),
            format!("{base}/labels/24h/employees?limit=50&in_shenzhen=true"),
        ),
        (
            "24h, by surname (two segments)".into(),
            format!("{base}/labels/24h/employees?limit=50&name={surname}"),
        ),
        (
            "48h, source=roster (filtered)".into(),
            format!("{base}/labels/48h/employees?limit=50&source=roster"),
        ),
        (
            "employee detail".into(),
            format!("{base}/employees/{employee}"),
        ),
        (
            "vaccine summary".into(),
            format!("/vaccine/enterprises/{uscc}/summary"),
        ),
        (
            "boosted, first page of 50".into(),
            format!("/vaccine/enterprises/{uscc}/states/boosted/employees?limit=50"),
        ),
    ];
    // A page deep in the list: follow the cursor up to 20 pages (1,000 rows) in.
    let mut cursor = first["next_cursor"].as_str().map(str::to_string);
    let mut page_number = 2;
    while page_number < 20 {
        let Some(c) = cursor.clone() else { break };
        let (page, ..) = timed_call(
            &router,
            &counter,
            &token,
            &format!("{base}/labels/24h/employees?limit=50&cursor={c}"),
        )
        .await;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        page_number += 1;
    }
    if let Some(c) = cursor {
        calls.push((
            format!("24h, page {page_number} (by cursor)"),
            format!("{base}/labels/24h/employees?limit=50&cursor={c}"),
        ));
    }
    println!("pages: an enterprise of {n} employees (median of 5 calls each)");
    println!("| call | rows | DynamoDB requests | handler's own time | wall time |");
    println!("|---|---|---|---|---|");
    for (what, path) in calls {
        let mut runs = Vec::new();
        for _ in 0..5 {
            runs.push(timed_call(&router, &counter, &token, &path).await);
        }
        runs.sort_by_key(|r| r.3);
        let (body, requests, wall, own) = &runs[2];
        let rows = body["items"].as_array().map_or(1, Vec::len);
        println!(
            "| {what} | {rows} | {requests} | {:.2} ms | {:.0} ms |",
            own.as_secs_f64() * 1e3,
            wall.as_secs_f64() * 1e3
        );
    }
    println!("peak RSS {:.1} MB", peak_rss_mb());
}

/// Serde cost of the hot path's items, per item: what a change of their layout (such as how the
/// key attributes are declared) costs relabel and sync in CPU, apart from any I/O.
fn entities(n: usize) {
    use fangyitong::feeds::PcrOutcome;
    use fangyitong::health::{Derived, PcrLabel, VaxState};
    use fangyitong::ids::{IdDocument, IdType, PersonKeyer, Phone};
    use fangyitong::roster::{MemberRecord, Membership, Source};
    use std::hint::black_box;

    let now = Utc::now();
    let keyer = PersonKeyer::new(&[7u8; 32]).expect("a 32-byte secret");
    let birth = chrono::NaiveDate::from_ymd_opt(1990, 3, 7).expect("a date");
    let document = IdDocument::parse(IdType::ResidentId, &demo::resident_id("440305", birth, 447))
        .expect("a computed check character is valid");
    let uscc = demo::uscc("MA5EXAMPL");
    let derived = Derived {
        label: PcrLabel::Within48h,
        in_shenzhen: true,
        vax: VaxState::Boosted,
        sampled_at: Some(now - Duration::hours(30)),
        result_pending: false,
    };
    let mut member = Membership::new(
        &uscc,
        &MemberRecord {
            document: document.clone(),
            name: "张三丰".into(),
            phone: Some(Phone::parse("13800138000").expect("valid")),
        },
        &keyer,
        Source::Roster,
        now,
    );
    member.set_derived(derived, now);
    let mut health = Health::new(keyer.key(&document));
    health.pcr_sampled_at = Some(now - Duration::hours(30));
    health.pcr_result = Some(PcrOutcome::Negative);
    health.pcr_result_at = Some(now - Duration::hours(20));
    health.pcr_site = Some("福田区莲花街道核酸采样点".into());
    health.derived = Some(derived);
    health.derived_at = Some(now);

    fn time<T: serde::Serialize + serde::de::DeserializeOwned>(what: &str, value: &T, n: usize) {
        let item = Store::to_item(value).expect("serialises");
        let started = Instant::now();
        for _ in 0..n {
            black_box(Store::to_item(black_box(value)).expect("serialises"));
        }
        let write = started.elapsed().as_nanos() as f64 / n as f64;
        let started = Instant::now();
        for _ in 0..n {
            black_box(Store::from_item::<T>(black_box(item.clone())).expect("deserialises"));
        }
        let clone_started = Instant::now();
        for _ in 0..n {
            black_box(black_box(&item).clone());
        }
        let cloning = clone_started.elapsed();
        let read = (clone_started - started).saturating_sub(cloning).as_nanos() as f64 / n as f64;
        println!(
            "{what:<11} {} attributes: to_item {write:>6.0} ns, from_item {read:>6.0} ns",
            item.len()
        );
    }
    println!("{n} times each, one core");
    time("membership", &member, n);
    time("health", &health, n);
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg =
        |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.get(1).map(String::as_str) {
        Some("parse") => parse(arg(2, 1_000_000)),
        Some("sync") => sync(arg(2, 10_000)).await,
        Some("relabel") => relabel(arg(2, 100_000), arg(3, 1_000)).await,
        Some("pages") => pages(arg(2, 100_000)).await,
        Some("export") => export(arg(2, 100_000)).await,
        Some("sunset") => sunset(arg(2, 100_000)).await,
        Some("rekey") => rekey(arg(2, 100_000)).await,
        Some("entities") => entities(arg(2, 1_000_000)),
        Some("export-worker") => export_worker().await,
        Some("load") => {
            load::run(load::Size {
                seconds: arg(2, 60) as u64,
                agents: arg(3, 200),
                enterprises: arg(4, 100),
                pcr_records: arg(5, 100_000),
            })
            .await
        }
        Some("engine") => engine(),
        _ => eprintln!(
            "usage: bench parse N | bench sync N | bench relabel N K | bench pages N | bench export N \
             | bench entities N | bench sunset N | bench rekey N | bench load [SECONDS] [AGENTS] [ENTERPRISES] [PCR_RECORDS]"
        ),
    }
}
