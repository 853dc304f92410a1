//! `bench load [SECONDS] [AGENTS] [ENTERPRISES] [PCR_RECORDS]`: agents of a city's enterprises
//! use the API over real HTTP while a PCR delivery is synced and then relabelled; then every
//! enterprise's summaries are checked against its lists.
//!
//! The API is the router `make dev` serves, behind a TCP listener on loopback, so every request
//! pays HTTP parsing and connection handling; the agents are a connection-pooling HTTP/1 client
//! in the same process. Each agent loops without think time (a closed loop: the figures are
//! what the machine sustains, not a target rate). The load lasts SECONDS, or until the sync and
//! the relabel have finished if they take longer, so both run under load from start to end.

use super::{
    SeededCounts, hours_since_sampling, peak_rss_mb, reset_peak_rss, roster_member, seed_people,
    spread_label, spread_vax, stack,
};
use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use chrono::{DateTime, Duration, Utc};
use fangyitong::feeds::{Dose, PcrOutcome, PcrResult};
use fangyitong::health::{Health, HealthRules, PcrLabel, VaxState};
use fangyitong::ids::{IdType, Uscc};
use fangyitong::store::Store;
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use local::Functions;
use local::demo;
use local::generate::{self, Population};
use local::requests::RequestCounter;
use local::tokens::Persona;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// What `bench load` runs.
pub struct Size {
    pub seconds: u64,
    pub agents: usize,
    pub enterprises: usize,
    pub pcr_records: usize,
}

const EMPLOYEES_PER_ENTERPRISE: usize = 1_000;
/// Agents authorised per enterprise at most: the virtual agents of one enterprise take turns
/// with these identities.
const IDENTITIES_PER_ENTERPRISE: usize = 5;
/// Rows per list page, the API's largest.
const PAGE_SIZE: usize = 50;

const NUCLEIC_SUMMARY: &str = "GET /nucleic/enterprises/{uscc}/summary";
const NUCLEIC_LIST: &str = "GET /nucleic/enterprises/{uscc}/labels/{label}/employees";
const NUCLEIC_DETAIL: &str = "GET /nucleic/enterprises/{uscc}/employees/{employee_id}";
const VACCINE_SUMMARY: &str = "GET /vaccine/enterprises/{uscc}/summary";
const VACCINE_LIST: &str = "GET /vaccine/enterprises/{uscc}/states/{state}/employees";
const VACCINE_DETAIL: &str = "GET /vaccine/enterprises/{uscc}/employees/{employee_id}";
const EXPORT_REQUEST: &str = "POST /export/enterprises/{uscc}/exports";

type HttpClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

/// An enterprise of the city and the tokens of its authorised agents.
struct Tenant {
    uscc: Uscc,
    tokens: Vec<String>,
}

pub async fn run(size: Size) {
    let counter = RequestCounter::default();
    let (_stack, state, aws) = stack(&counter).await;
    let started = Instant::now();
    let (tenants, employees, delivery) = seed_city(&state, &size).await;
    eprintln!(
        "city seeded in {:.0} s: {} enterprises, {employees} employees, {} agents authorised",
        started.elapsed().as_secs_f64(),
        tenants.len(),
        tenants.iter().map(|t| t.tokens.len()).sum::<usize>()
    );

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = local::api(&state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http: HttpClient =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();

    reset_peak_rss();
    counter.reset();
    let load_started = Instant::now();
    let jobs_done = Arc::new(AtomicBool::new(false));
    let jobs = {
        let (state, aws, jobs_done) = (state.clone(), aws.clone(), jobs_done.clone());
        tokio::spawn(async move {
            let runs = run_jobs(&state, &aws, delivery, load_started).await;
            jobs_done.store(true, Ordering::Relaxed);
            runs
        })
    };
    let until = std::time::Duration::from_secs(size.seconds);
    let agents: Vec<_> =
        (0..size.agents)
            .map(|n| {
                let tenant = &tenants[n % tenants.len()];
                let token = tenant.tokens[(n / tenants.len()) % tenant.tokens.len()].clone();
                let agent = Agent {
                    number: n,
                    http: http.clone(),
                    base: base.clone(),
                    token,
                    uscc: tenant.uscc.to_string(),
                    rng: StdRng::seed_from_u64(n as u64),
                    employee_ids: Vec::new(),
                    surname: None,
                    stats: Stats::default(),
                };
                let jobs_done = jobs_done.clone();
                tokio::spawn(agent.run(move || {
                    load_started.elapsed() >= until && jobs_done.load(Ordering::Relaxed)
                }))
            })
            .collect();
    let mut stats = Stats::default();
    for agent in agents {
        stats.absorb(agent.await.unwrap());
    }
    let load_took = load_started.elapsed();
    let api_requests = counter.snapshot();
    let jobs = jobs.await.unwrap();
    let peak = peak_rss_mb();

    print_report(
        &size,
        employees,
        &stats,
        load_took,
        &api_requests,
        &jobs,
        peak,
    );
    check_consistency(&state, &http, &base, &tenants).await;
}

/// The city: `size.enterprises` enterprises of [`EMPLOYEES_PER_ENTERPRISE`] labelled employees
/// (each with the health item their label derives from), their agents, and a PCR delivery of
/// `size.pcr_records` samplings of those employees (JSON Lines, gzip'd). Returns the tenants,
/// the number of employees and the delivery.
async fn seed_city(state: &Functions, size: &Size) -> (Vec<Tenant>, usize, Vec<u8>) {
    let now = state.core.clock.now();
    let mut population =
        Population::synthetic(20_220_401, size.enterprises, EMPLOYEES_PER_ENTERPRISE, None);
    // Generated IDs collide now and then: one person in two enterprises would need one health
    // item listing both, so each person is kept once, in the first enterprise that drew them.
    let mut seen = HashSet::new();
    for enterprise in &mut population.enterprises {
        enterprise
            .employees
            .retain(|p| seen.insert(p.id_number.clone()));
    }
    for enterprise in &population.enterprises {
        let record = fangyitong::registry::EnterpriseRecord {
            uscc: enterprise.uscc.clone(),
            name: enterprise.name.clone(),
            legal_rep: demo::document(&resident(&enterprise.legal_rep, now)),
            legal_rep_name: enterprise.legal_rep.name.clone(),
            district: enterprise.district.into(),
        };
        fangyitong::registry::apply_enterprise(&state.core.store, &state.keyer, &record, now)
            .await
            .unwrap();
    }
    let rules = HealthRules::default();
    let counts = SeededCounts::default();
    let people: Vec<(&Uscc, &generate::Person)> = population
        .enterprises
        .iter()
        .flat_map(|e| e.employees.iter().map(move |p| (&e.uscc, p)))
        .collect();
    seed_people(&state.core.store, &people, |i, (uscc, p)| {
        let phone = fangyitong::ids::Phone::parse(&p.phone).ok();
        let mut member = roster_member(state, uscc, p, phone, now);
        let health = labelled_health(member.person.clone(), uscc, i, now, &rules);
        let derived = health.derived.expect("labelled");
        member.set_derived(derived, now);
        counts.count(uscc, &derived);
        vec![
            Store::to_item(&member).unwrap(),
            Store::to_item(&health).unwrap(),
        ]
    })
    .await;
    counts.write(&state.core.store, now).await;
    let employees = people.len();
    drop(people);

    let identities = size
        .agents
        .div_ceil(size.enterprises)
        .clamp(1, IDENTITIES_PER_ENTERPRISE);
    let minter = demo::minter();
    let mut tenants = Vec::new();
    for enterprise in &population.enterprises {
        let legal_rep = resident(&enterprise.legal_rep, now);
        let mut tokens = Vec::new();
        for employee in enterprise.employees.iter().take(identities) {
            let agent = resident(employee, now);
            demo::authorize_agent(state, &enterprise.uscc, &agent, &legal_rep)
                .await
                .unwrap();
            tokens.push(minter.mint(&agent, now, Duration::hours(6)));
        }
        tenants.push(Tenant {
            uscc: enterprise.uscc.clone(),
            tokens,
        });
    }

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(
        &mut gz,
        &generate::jsonl(population.pcr_lines(size.pcr_records, now, Duration::hours(48))),
    )
    .unwrap();
    (tenants, employees, gz.finish().unwrap())
}

/// A generated person as a persona of the identity provider, face-verified at `now`.
fn resident(person: &generate::Person, now: DateTime<Utc>) -> Persona {
    Persona {
        name: person.name.clone(),
        id_type: IdType::ResidentId,
        id_number: person.id_number.clone(),
        face_verified_at: Some(now),
        operator: false,
    }
}

/// Person `i`'s health item, employed by `uscc`, with the PCR sampling and doses that put them
/// in the spread's label and vaccination state, labelled as of `now` and due at their next
/// boundary, as a relabel would leave it.
fn labelled_health(
    person: fangyitong::ids::PersonKey,
    uscc: &Uscc,
    i: usize,
    now: DateTime<Utc>,
    rules: &HealthRules,
) -> Health {
    let mut health = Health::new(person.clone());
    if let Some(hours) = hours_since_sampling(spread_label(i), i) {
        let sampled_at = now - Duration::hours(hours);
        health.merge_pcr(&PcrResult {
            person,
            sampled_at,
            result_at: Some(sampled_at + Duration::hours(1)),
            result: PcrOutcome::Negative,
            site: "福田区华富街道便民采样点".into(),
            in_shenzhen: !i.is_multiple_of(7),
        });
    }
    // Days before now of each dose of a two-dose inactivated vaccine (then a booster).
    let dose_days: &[i64] = match spread_vax(i) {
        VaxState::Unvaccinated => &[],
        VaxState::Partial => &[30],
        VaxState::PrimaryComplete => &[120, 90],
        VaxState::BoosterEligible => &[400, 370],
        VaxState::Boosted => &[400, 370, 100],
    };
    for (n, days) in dose_days.iter().enumerate() {
        health.merge_dose(&Dose {
            dose: n as u8 + 1,
            date: (now - Duration::days(*days)).date_naive(),
            product: "科兴 克尔来福".into(),
        });
    }
    let (derived, next) = health.derive(now, rules);
    health.derived = Some(derived);
    health.derived_at = Some(now);
    health.set_due(next);
    health.set_employers(std::collections::BTreeSet::from([uscc.clone()]));
    health.version = 1;
    health
}

/// A background job's run during the load.
struct JobRun {
    name: &'static str,
    /// When it started, from the start of the load.
    started: std::time::Duration,
    took: std::time::Duration,
    outcome: String,
    requests: BTreeMap<String, u64>,
}

/// The sync of `delivery`, as the sync function runs it, then a relabel; each on a DynamoDB
/// client of its own, so their requests are counted apart from the API's.
async fn run_jobs(
    state: &Functions,
    aws: &aws_config::SdkConfig,
    delivery: Vec<u8>,
    load_started: Instant,
) -> Vec<JobRun> {
    let s3 = local::s3_client(aws);
    let bucket = format!("bench-{}", ulid::Ulid::new()).to_lowercase();
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let now = state.core.clock.now();
    let key = format!("inbound/pcr/{}-0001.jsonl.gz", now.format("%Y%m%dT%H%M%SZ"));
    s3.put_object()
        .bucket(&bucket)
        .key(key)
        .body(delivery.into())
        .send()
        .await
        .unwrap();
    let job_store = |counter: &RequestCounter| {
        Store::new(counter.client(aws), state.core.store.table().to_string())
    };

    let sync_counter = RequestCounter::default();
    let ctx = fangyitong::sync::SyncContext {
        store: job_store(&sync_counter),
        s3,
        bucket,
        keyer: state.keyer.clone(),
        uscc_policy: state.core.uscc_policy.clone(),
        clock: state.core.clock.clone(),
    };
    let sync_started = load_started.elapsed();
    let sync = fangyitong::sync::run(&ctx, "bench-load").await.unwrap();
    let t = &sync.totals;
    let sync_run = JobRun {
        name: "sync",
        started: sync_started,
        took: load_started.elapsed() - sync_started,
        outcome: format!(
            "{} records: {} applied, {} unchanged, {} rejected",
            t.read, t.applied, t.unchanged, t.rejected
        ),
        requests: sync_counter.snapshot(),
    };

    // Progress on stderr: under load, the jobs take minutes.
    eprintln!("sync done in {:.0} s", sync_run.took.as_secs_f64());

    let relabel_counter = RequestCounter::default();
    let relabel_started = load_started.elapsed();
    let report = fangyitong::relabel::run(
        &job_store(&relabel_counter),
        state.core.clock.now(),
        &HealthRules::default(),
    )
    .await
    .unwrap();
    let relabel_run = JobRun {
        name: "relabel",
        started: relabel_started,
        took: load_started.elapsed() - relabel_started,
        outcome: relabel_outcome(&report),
        requests: relabel_counter.snapshot(),
    };
    eprintln!("relabel done in {:.0} s", relabel_run.took.as_secs_f64());
    vec![sync_run, relabel_run]
}

fn relabel_outcome(report: &fangyitong::relabel::RelabelReport) -> String {
    format!(
        "{} persons due, {} memberships changed, {} deferred, {} summary updates",
        report.persons_due,
        report.memberships_changed,
        report.persons_deferred,
        report.summary_updates
    )
}

/// What the agents saw.
#[derive(Default)]
struct Stats {
    latencies: HashMap<&'static str, Vec<std::time::Duration>>,
    statuses: BTreeMap<u16, u64>,
    server_errors: Vec<ServerError>,
    /// Requests that got no response (connection refused or reset).
    transport_errors: Vec<String>,
}

/// A 5xx answer, kept whole for the report.
struct ServerError {
    route: &'static str,
    path: String,
    status: StatusCode,
    body: String,
}

impl Stats {
    fn absorb(&mut self, other: Stats) {
        for (route, mut latencies) in other.latencies {
            self.latencies
                .entry(route)
                .or_default()
                .append(&mut latencies);
        }
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.server_errors.extend(other.server_errors);
        self.transport_errors.extend(other.transport_errors);
    }

    fn requests(&self) -> usize {
        self.latencies.values().map(Vec::len).sum()
    }
}

/// One virtual agent: a person authorised for one enterprise, clicking through its pages.
struct Agent {
    number: usize,
    http: HttpClient,
    base: String,
    token: String,
    uscc: String,
    rng: StdRng,
    /// Employees of the last page seen, for a detail now and then.
    employee_ids: Vec<String>,
    /// A surname of the last page seen, for a name filter.
    surname: Option<String>,
    stats: Stats,
}

#[derive(Debug, Clone, Copy)]
enum Action {
    NucleicSummary,
    VaccineSummary,
    NucleicList,
    VaccineList,
    NucleicDetail,
    VaccineDetail,
    Export,
}

/// What an agent does next, with weights out of 100: mostly lists (the pages agents work
/// from), a summary when one opens, details when one looks closer, an export now and then.
const MIX: [(Action, u32); 7] = [
    (Action::NucleicSummary, 12),
    (Action::VaccineSummary, 8),
    (Action::NucleicList, 35),
    (Action::VaccineList, 20),
    (Action::NucleicDetail, 12),
    (Action::VaccineDetail, 10),
    (Action::Export, 3),
];

impl Agent {
    async fn run(mut self, finished: impl Fn() -> bool) -> Stats {
        while !finished() {
            let mut pick = self
                .rng
                .random_range(0..MIX.iter().map(|(_, w)| w).sum::<u32>());
            let action = MIX
                .iter()
                .find(|(_, weight)| {
                    let hit = pick < *weight;
                    pick = pick.saturating_sub(*weight);
                    hit
                })
                .map_or(Action::NucleicList, |(action, _)| *action);
            self.act(action).await;
        }
        self.stats
    }

    async fn act(&mut self, action: Action) {
        let uscc = self.uscc.clone();
        match action {
            Action::NucleicSummary => {
                self.get(
                    NUCLEIC_SUMMARY,
                    format!("/nucleic/enterprises/{uscc}/summary"),
                )
                .await;
            }
            Action::VaccineSummary => {
                self.get(
                    VACCINE_SUMMARY,
                    format!("/vaccine/enterprises/{uscc}/summary"),
                )
                .await;
            }
            Action::NucleicList => {
                let label = PcrLabel::ALL[self.rng.random_range(0..PcrLabel::ALL.len())];
                let filter = self.filter(true);
                self.browse(
                    NUCLEIC_LIST,
                    format!(
                        "/nucleic/enterprises/{uscc}/labels/{}/employees",
                        label.as_str()
                    ),
                    filter,
                )
                .await;
            }
            Action::VaccineList => {
                let state = VaxState::ALL[self.rng.random_range(0..VaxState::ALL.len())];
                let filter = self.filter(false);
                self.browse(
                    VACCINE_LIST,
                    format!(
                        "/vaccine/enterprises/{uscc}/states/{}/employees",
                        state.as_str()
                    ),
                    filter,
                )
                .await;
            }
            Action::NucleicDetail | Action::VaccineDetail => {
                if self.employee_ids.is_empty() {
                    let path = format!("/nucleic/enterprises/{uscc}/labels/24h/employees");
                    self.browse(NUCLEIC_LIST, path, String::new()).await;
                }
                let Some(employee) = self.any_employee() else {
                    return;
                };
                if matches!(action, Action::NucleicDetail) {
                    let path = format!("/nucleic/enterprises/{uscc}/employees/{employee}");
                    self.get(NUCLEIC_DETAIL, path).await;
                } else {
                    let path = format!("/vaccine/enterprises/{uscc}/employees/{employee}");
                    self.get(VACCINE_DETAIL, path).await;
                }
            }
            Action::Export => {
                let (list, group) = if self.rng.random_bool(0.5) {
                    ("nucleic", "24h")
                } else {
                    ("vaccine", "booster_eligible")
                };
                let body = json!({"list": list, "group": group, "email": format!("agent-{}@example.cn", self.number),
                    "idempotency_key": ulid::Ulid::new().to_string()});
                let path = format!("/export/enterprises/{uscc}/exports");
                self.call(EXPORT_REQUEST, Method::POST, path, Some(body.to_string()))
                    .await;
            }
        }
    }

    /// A list's query filter: none half the time, else one of those the list takes.
    fn filter(&mut self, pcr_list: bool) -> String {
        match self.rng.random_range(0..if pcr_list { 10 } else { 6 }) {
            0 => "&source=roster".into(),
            1 => match &self.surname {
                Some(surname) => format!("&name={}", percent_encoded(surname)),
                None => String::new(),
            },
            2 => "&status=left".into(),
            6 => "&in_shenzhen=true".into(),
            7 => "&in_shenzhen=false".into(),
            _ => String::new(),
        }
    }

    /// The first page of a list, then the next ones by cursor: one to four pages in all.
    async fn browse(&mut self, route: &'static str, path: String, filter: String) {
        let pages = self.rng.random_range(1..=4);
        let mut cursor = String::new();
        for _ in 0..pages {
            let Some(page) = self
                .get(route, format!("{path}?limit={PAGE_SIZE}{filter}{cursor}"))
                .await
            else {
                return;
            };
            let items = page["items"].as_array().map_or(&[][..], Vec::as_slice);
            if !items.is_empty() {
                self.employee_ids = items
                    .iter()
                    .filter_map(|row| row["employee_id"].as_str().map(str::to_string))
                    .collect();
                self.surname = items[0]["name"]
                    .as_str()
                    .and_then(|name| name.chars().next())
                    .map(String::from);
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={}", percent_encoded(next)),
                None => return,
            }
        }
    }

    fn any_employee(&mut self) -> Option<String> {
        if self.employee_ids.is_empty() {
            return None;
        }
        let i = self.rng.random_range(0..self.employee_ids.len());
        Some(self.employee_ids[i].clone())
    }

    async fn get(&mut self, route: &'static str, path: String) -> Option<Value> {
        self.call(route, Method::GET, path, None).await
    }

    /// One request, timed and recorded under its route; the body when it succeeded.
    async fn call(
        &mut self,
        route: &'static str,
        method: Method,
        path: String,
        body: Option<String>,
    ) -> Option<Value> {
        let started = Instant::now();
        let answer = send(&self.http, &self.base, &self.token, method, &path, body).await;
        let took = started.elapsed();
        let (status, bytes) = match answer {
            Ok(answer) => answer,
            Err(e) => {
                self.stats.transport_errors.push(format!("{route}: {e}"));
                return None;
            }
        };
        self.stats.latencies.entry(route).or_default().push(took);
        *self.stats.statuses.entry(status.as_u16()).or_default() += 1;
        if status.is_server_error() {
            self.stats.server_errors.push(ServerError {
                route,
                path,
                status,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        if status.is_success() {
            serde_json::from_slice(&bytes).ok()
        } else {
            None
        }
    }
}

/// Sends one request with the agent's token; the status and the whole body.
async fn send(
    http: &HttpClient,
    base: &str,
    token: &str,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<(StatusCode, Bytes), String> {
    let mut request = axum::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("authorization", format!("Bearer {token}"));
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| e.to_string())?;
    let response = http.request(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, bytes))
}

/// `value` for a query string: unreserved characters as they are, every other byte as %XX.
fn percent_encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `q` quantile of sorted latencies (nearest rank), in ms.
fn quantile_ms(sorted: &[std::time::Duration], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

fn print_report(
    size: &Size,
    employees: usize,
    stats: &Stats,
    load_took: std::time::Duration,
    api_requests: &BTreeMap<String, u64>,
    jobs: &[JobRun],
    peak_rss: f64,
) {
    let requests = stats.requests();
    let extended = load_took.as_secs() > size.seconds;
    println!(
        "load: {} agents over {} enterprises ({employees} employees), {} s asked, {:.1} s run{}; \
         a sync of {} PCR records, then a relabel",
        size.agents,
        size.enterprises,
        size.seconds,
        load_took.as_secs_f64(),
        if extended {
            " (until the jobs ended)"
        } else {
            ""
        },
        size.pcr_records
    );
    println!();
    println!("| route | requests | p50 | p95 | p99 | max |");
    println!("|---|---|---|---|---|---|");
    let mut routes: Vec<_> = stats.latencies.iter().collect();
    routes.sort_by_key(|(route, _)| *route);
    for (route, latencies) in routes {
        let mut sorted = latencies.clone();
        sorted.sort();
        println!(
            "| `{route}` | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.0} ms |",
            sorted.len(),
            quantile_ms(&sorted, 0.50),
            quantile_ms(&sorted, 0.95),
            quantile_ms(&sorted, 0.99),
            quantile_ms(&sorted, 1.0)
        );
    }
    println!(
        "| all | {requests} | throughput {:.0} requests/s | | | |",
        requests as f64 / load_took.as_secs_f64()
    );
    println!();
    println!("| class | status | responses |");
    println!("|---|---|---|");
    for (status, n) in &stats.statuses {
        println!("| {}xx | {status} | {n} |", status / 100);
    }
    println!("| no response | — | {} |", stats.transport_errors.len());
    let server_errors = stats.server_errors.len();
    println!();
    println!("5xx answers: {server_errors}");
    let mut distinct: BTreeMap<(&str, u16, &str), (usize, &str)> = BTreeMap::new();
    for e in &stats.server_errors {
        let entry = distinct
            .entry((e.route, e.status.as_u16(), e.body.as_str()))
            .or_insert((0, e.path.as_str()));
        entry.0 += 1;
    }
    for ((route, status, body), (n, path)) in distinct {
        println!("- {n} × {status} on `{route}` (e.g. {path}): {body}");
    }
    for e in stats.transport_errors.iter().take(20) {
        println!("- no response: {e}");
    }
    println!();
    println!("| job | started (s into the load) | took | outcome |");
    println!("|---|---|---|---|");
    for job in jobs {
        println!(
            "| {} | {:.1} | {:.1} s | {} |",
            job.name,
            job.started.as_secs_f64(),
            job.took.as_secs_f64(),
            job.outcome
        );
    }
    println!();
    let mut operations: Vec<&String> = api_requests
        .keys()
        .chain(jobs.iter().flat_map(|j| j.requests.keys()))
        .collect();
    operations.sort();
    operations.dedup();
    let of = |requests: &BTreeMap<String, u64>, op: &str| requests.get(op).copied().unwrap_or(0);
    println!(
        "| DynamoDB operation | API | {} | total |",
        jobs.iter().map(|j| j.name).collect::<Vec<_>>().join(" | ")
    );
    println!("|---|---|{}---|", "---|".repeat(jobs.len()));
    for op in operations {
        let by_job: Vec<u64> = jobs.iter().map(|j| of(&j.requests, op)).collect();
        println!(
            "| {op} | {} | {} | {} |",
            of(api_requests, op),
            by_job
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(" | "),
            of(api_requests, op) + by_job.iter().sum::<u64>()
        );
    }
    println!(
        "\nDynamoDB requests per API request: {:.2}",
        api_requests.values().sum::<u64>() as f64 / requests.max(1) as f64
    );
    println!(
        "peak RSS during the load: {peak_rss:.1} MB (the API server, the agents and the jobs: one process)"
    );
}

/// After a last relabel, every enterprise's summary counts per label and per vaccination state
/// against the rows of the matching list, paged to its end.
async fn check_consistency(state: &Functions, http: &HttpClient, base: &str, tenants: &[Tenant]) {
    let report = fangyitong::relabel::run(
        &state.core.store,
        state.core.clock.now(),
        &HealthRules::default(),
    )
    .await
    .unwrap();
    println!(
        "\nlast relabel before the check: {}",
        relabel_outcome(&report)
    );
    let started = Instant::now();
    let checks = futures::stream::iter(
        tenants
            .iter()
            .map(|tenant| check_tenant(http, base, tenant)),
    )
    .buffer_unordered(4)
    .collect::<Vec<_>>()
    .await;
    let (mut rows, mut mismatches) = (0, Vec::new());
    for (tenant_rows, tenant_mismatches) in checks {
        rows += tenant_rows;
        mismatches.extend(tenant_mismatches);
    }
    for mismatch in &mismatches {
        println!("mismatch: {mismatch}");
    }
    println!(
        "checked {} enterprises, {rows} list rows against their summaries in {:.1} s",
        tenants.len(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "consistent: {}",
        if mismatches.is_empty() { "yes" } else { "no" }
    );
}

/// One enterprise's rows listed and its mismatches.
async fn check_tenant(http: &HttpClient, base: &str, tenant: &Tenant) -> (usize, Vec<String>) {
    let token = &tenant.tokens[0];
    let uscc = &tenant.uscc;
    let mut rows = 0;
    let mut mismatches = Vec::new();
    let groups: [(&str, &str, Vec<&str>, &str); 2] = [
        (
            "nucleic",
            "labels",
            PcrLabel::ALL.iter().map(|l| l.as_str()).collect(),
            "labels",
        ),
        (
            "vaccine",
            "states",
            VaxState::ALL.iter().map(|s| s.as_str()).collect(),
            "states",
        ),
    ];
    for (list, segment, groups, summary_field) in groups {
        let summary = match get_json(
            http,
            base,
            token,
            &format!("/{list}/enterprises/{uscc}/summary"),
        )
        .await
        {
            Ok(summary) => summary,
            Err(e) => {
                mismatches.push(format!("{uscc} {list} summary: {e}"));
                continue;
            }
        };
        for group in groups {
            let counted = summary[summary_field][group].as_i64().unwrap_or(0);
            let path = format!("/{list}/enterprises/{uscc}/{segment}/{group}/employees");
            match count_rows(http, base, token, &path).await {
                Ok(listed) => {
                    rows += listed;
                    if counted != listed as i64 {
                        mismatches.push(format!(
                            "{uscc} {list} {group}: summary {counted}, list {listed}"
                        ));
                    }
                }
                Err(e) => mismatches.push(format!("{uscc} {list} {group}: {e}")),
            }
        }
    }
    (rows, mismatches)
}

/// The rows of a list, every page followed to the end.
async fn count_rows(
    http: &HttpClient,
    base: &str,
    token: &str,
    path: &str,
) -> Result<usize, String> {
    let mut rows = 0;
    let mut cursor = String::new();
    loop {
        let page = get_json(
            http,
            base,
            token,
            &format!("{path}?limit={PAGE_SIZE}{cursor}"),
        )
        .await?;
        rows += page["items"].as_array().map_or(0, Vec::len);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={}", percent_encoded(next)),
            None => return Ok(rows),
        }
    }
}

async fn get_json(http: &HttpClient, base: &str, token: &str, path: &str) -> Result<Value, String> {
    let (status, bytes) = send(http, base, token, Method::GET, path, None).await?;
    if !status.is_success() {
        return Err(format!(
            "{path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("{path}: {e}"))
}
