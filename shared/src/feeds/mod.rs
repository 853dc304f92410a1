//! Upstream datasets as the city's data-sharing platform delivers them into the S3 inbound
//! prefix: one JSON Lines object (gzip allowed) per delivery. Formats are documented in
//! `docs/feeds.md`; this module turns one line into a validated record or a rejection reason.
//!
//! Raw ID numbers exist only inside [`parse_line`]: every record leaves it keyed by
//! [`PersonKey`] with a masked display form.

mod records;

pub use records::*;

use std::fmt;

/// The feeds, in the order a sync applies them (a roster needs its enterprise registered first).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Feed {
    Registry,
    Roster,
    Pcr,
    Vaccination,
    Sites,
    Zones,
}

impl Feed {
    pub const ALL: [Feed; 6] = [
        Feed::Registry,
        Feed::Roster,
        Feed::Pcr,
        Feed::Vaccination,
        Feed::Sites,
        Feed::Zones,
    ];

    /// The folder under the inbound prefix.
    pub const fn folder(self) -> &'static str {
        match self {
            Self::Registry => "registry",
            Self::Roster => "roster",
            Self::Pcr => "pcr",
            Self::Vaccination => "vaccination",
            Self::Sites => "sites",
            Self::Zones => "zones",
        }
    }

    pub fn from_folder(folder: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.folder() == folder)
    }
}

impl fmt::Display for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.folder())
    }
}
