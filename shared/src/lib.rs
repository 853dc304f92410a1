//! fangyitong's domain crate.
//!
//! Every rule of the service lives here, one module per capability; the crates under
//! `functions/` only read configuration, build their state ([`app`]) once and hand a router or a
//! handler to the Lambda runtime. The same routers are merged by `tools/local` into one local API.
//!
//! | module | what it owns |
//! |---|---|
//! | [`ids`] | validated newtypes: ID documents, USCC, phone, e-mail, the keyed person hash |
//! | [`keys`] | the single-table design: every key format, index, TTL and access pattern |
//! | [`table`] | the table definition shared by the local stack, the tests and `template.yaml` |
//! | [`store`] | DynamoDB access behind the domain's own functions |
//! | [`identity`] | bearer JWT verification into a typed [`identity::Identity`]; the provider's keys, followed through rotations |
//! | [`secrets`] | the person-key and link-signing secrets, read from Secrets Manager at init |
//! | [`tenancy`] | the one guard deciding who may act for an enterprise |
//! | [`listing`] | paged, filtered employee lists from the list indexes, with bound cursors |
//! | [`query_nucleic`] | PCR-test recency of an enterprise's employees (manual §4) |
//! | [`query_vaccine`] | vaccination status of an enterprise's employees, agent-entered doses, the personal check (manual §5-6) |
//! | [`vaccination`] | vaccination reports kept beside the official record |
//! | [`query_sites`] | sampling sites and control zones for anyone verified (manual §7-8) |
//! | [`invite`] | invitations and posters, joining with consent, hand-added and removed employees |
//! | [`registry`] | the enterprise registry (written by sync, read by the guard) |
//! | [`export`] | PCR and vaccination lists mailed as CSV and XLSX: jobs, queue worker, mail |
//! | [`feeds`] | upstream dataset lines → validated records or rejection reasons |
//! | [`health`] | a person's PCR and vaccination facts and what is derived from them |
//! | [`sync`] | applying upstream deliveries from S3: streaming, validation, quarantine, resumable |
//! | [`summary`] | per-enterprise counters, one read per overview |
//! | [`sunset`] | ending the service: the schedules stop, every item gets its deadline, the inbound deliveries go |
//! | [`relabel`] | recomputing labels at cost proportional to what changes |
//! | [`retention`] | how long each kind of record is kept: the one policy every `expires_at` comes from |
//! | [`sites`] | sampling-site and control-zone snapshots, switched atomically |
//! | [`subject`] | the data subject's rights: everything held about a person, who viewed it, deletion |
//! | [`roster`] | employees of an enterprise and where they came from |
//! | [`authorize`] | agent authorisation: share links, applications, offline grants, audit |
//! | [`ops`] | operator routes: sync runs and freshness |
//! | [`observe`] | the access-log line of each request and the metrics the alarms watch |
//! | [`http`] | JSON errors, the JSON body extractor, the panic-free edge, the request deadline |
//! | [`aws`] | the SDK configuration every function loads, with its timeouts |
//! | [`path`] | typed path parameters: a malformed one is a 400 before the handler runs |
//! | [`clock`] | injected time; business time in Asia/Shanghai |

pub mod app;
pub mod audit;
pub mod authorize;
pub mod aws;
pub mod cache;
pub mod clock;
pub mod config;
pub mod export;
pub mod feeds;
pub mod freshness;
pub mod health;
pub mod http;
pub mod identity;
pub mod ids;
pub mod invite;
pub mod keys;
pub mod listing;
pub mod observe;
pub mod openapi;
pub mod ops;
pub mod path;
pub mod query_nucleic;
pub mod query_sites;
pub mod query_vaccine;
pub mod read_model;
pub mod registry;
pub mod rekey;
pub mod relabel;
pub mod retention;
pub mod roster;
pub mod secrets;
pub mod sites;
pub mod store;
pub mod subject;
pub mod summary;
pub mod sunset;
pub mod sweep;
pub mod sync;
pub mod table;
pub mod tenancy;
pub mod vaccination;
