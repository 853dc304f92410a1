//! query-nucleic (manual §4): the PCR picture of an enterprise's employees for its legal rep and
//! agents. Every route takes a [`crate::tenancy::TenantAccess`]: the tenant guard decides.
//!
//! - the summary: counts per label, in Shenzhen, total, left — one read;
//! - one label's employees, filtered and paged ([`crate::listing`]) — one Query per page;
//! - one employee's detail: latest sampling time, site and result (pending shown as pending),
//!   latest Shenzhen sampling, label, sources — masked ID and phone only.
//!
//! Counts and lists come from the same relabel: it moves a membership and the counters in one
//! transaction, and every answer carries `labels_as_of` and `data_synced_at`.

pub mod routes;
pub mod service;

pub use routes::routes;
