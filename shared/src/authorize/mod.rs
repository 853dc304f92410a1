//! Agent authorisation (manual §2 and §9): who may see an enterprise's employees' health data.
//!
//! - Method 1 — share link: the applicant taps "apply now" and shares a signed, expiring,
//!   single-use link with the legal rep, who opens it and, freshly face-verified, grants or rejects.
//! - Method 2 — application: the applicant finds the enterprise by exact full name and applies
//!   with a reason; the legal rep lists pending applications and decides each.
//! - Offline (§9): an operator grants agents, singly or in batches, on mailed materials; the paper
//!   originals must be recorded within 15 days of the e-mail approval or the grant lapses.
//! - The legal rep lists and revokes agents and reads the audit trail; everyone lists their own
//!   authorisations. Grants may carry an end date.

mod error;
mod link;
mod model;
mod offline;
mod repo;
pub mod routes;
mod service;

pub use error::AuthorizeError;
pub use link::{LinkClaims, LinkError, LinkKind, LinkSigner};
pub use model::{AgentId, Authorization, EffectiveStatus, Materials, Method, OfflineGrant, Status};
pub use offline::*;
pub use service::*;
