//! invite-join (manual §4.2, §5.2, §6): how people become and stop being an enterprise's
//! employees outside the social-insurance roster.
//!
//! - An agent (or the legal rep) makes an invitation: a signed, expiring link, and a poster with
//!   its QR code. Invitations are listed with who made them and how often they were used, and can
//!   be revoked.
//! - An employee opens the link with a verified identity, sees which enterprise asks and what it
//!   will see, consents, and joins: the consent is recorded (what, when, which notice version)
//!   and their official health record is attached at once. They can withdraw the consent later.
//! - An agent adds an employee by hand (validated name, ID and phone) or removes one (kept as
//!   left, with who and when). The same person from several sources is one employee.

pub mod model;
pub mod poster;
mod repo;
pub mod routes;
pub mod service;

pub use repo::Consents;
pub use routes::routes;
