//! Validated newtypes for everything a person types or a feed delivers: an invalid value never
//! becomes one of these types, so nothing downstream re-checks.
//!
//! Raw ID numbers are sensitive personal information (PIPL). An [`IdDocument`] exists only at the
//! edge, long enough to compute a [`PersonKey`] and a masked display form; its `Debug` output is
//! masked so it cannot leak through logs.

mod contact;
mod document;
mod gb11643;
mod mask;
mod name;
mod person_key;
mod pseudonym;
mod uscc;

pub use contact::{Email, EmailError, Phone, PhoneError};
pub use document::{IdDocument, IdError, IdType};
pub use mask::mask_middle;
pub use name::{NameError, PersonName, is_forbidden_in_text};
pub use person_key::{KeyGeneration, PersonKey, PersonKeyError, PersonKeyer};
pub use pseudonym::{AgentId, EmployeeId, PSEUDONYM_PATTERN, is_pseudonym};
pub use uscc::{USCC_PATTERN, Uscc, UsccError, UsccPolicy};

/// GB 11643 check character of 17 leading digits (for generators of synthetic data).
pub use gb11643::check_char as resident_id_check_char;
/// GB 32100 check character of 17 leading characters (for generators of synthetic data).
pub use uscc::check_character as uscc_check_character;
