//! query-sites (manual §7 and §8): sampling sites with their live status, by district and street
//! or nearest to a point, and the current control zones with each level's rules. Any verified
//! person may read them; no enterprise is involved, so there is no tenant guard here — only the
//! identity check. Answers say which snapshot they come from.

pub mod routes;
pub mod service;

pub use routes::routes;
