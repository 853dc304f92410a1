//! query-vaccine (manual §5 and §6): the vaccination picture of an enterprise's employees for its
//! legal rep and agents, and every person's own record.
//!
//! - the overview: employees per vaccination state — one read;
//! - one state's employees, filtered and paged ([`crate::listing`]) — one Query per page;
//! - one employee's doses: the official record (health commission) and, kept apart and marked,
//!   what the employee reported or an agent of this enterprise entered;
//! - an agent enters doses on an employee's behalf: recorded as agent-entered, with who and when,
//!   and audited;
//! - the personal check: a person reads their own official record and reports, and submits a
//!   correction request, stored beside the official record, never over it.
//!
//! The states come from the official record only; reports are shown, never counted.

pub mod routes;
pub mod service;

pub use routes::routes;
