//! The data subject's rights (PIPL Art. 44–47): a person sees everything this service holds
//! about them, and who viewed their details; and asks for what no legal ground keeps to be
//! deleted.
//!
//! - `GET /me/data`: health facts, memberships and their sources, consents, reports, the
//!   authorisations they hold as an agent, and the newest views of their details — with how long
//!   each record is kept ([`crate::retention`]);
//! - `GET /me/data/views`: the rest of the viewing history, a page at a time;
//! - `POST /me/data/deletion`: withdraws every consent and deletes hand-added and invited
//!   memberships, reports, consents and their own view copies; answers what stays and why.
//!
//! Every read of an employee's detail by an enterprise is recorded twice in one transaction
//! ([`record_view`]): in the enterprise's audit trail, and as the viewed person's own copy
//! (`PER#{person}` / `VIEW#…`), so the history is one Query for them.

pub mod model;
pub mod routes;
pub mod service;

pub use model::Section;
pub use routes::routes;
pub use service::record_view;
