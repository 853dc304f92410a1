//! Per-enterprise pseudonyms of people: what an enterprise's API shows instead of the person key
//! or the ID number. Each kind has its own scope, so an employee id and an agent id of the same
//! person differ, and two enterprises' ids of the same person cannot be linked.

use super::{PersonKey, Uscc};

/// The form of a pseudonym (`employee_id`, `agent_id`) in a URL.
pub const PSEUDONYM_PATTERN: &str = "^[0-9a-f]{32}$";

/// Whether `raw` has the shape of a [`PersonKey::pseudonym`]: 32 lowercase hex characters.
pub fn is_pseudonym(raw: &str) -> bool {
    raw.len() == 32
        && raw
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Defines one kind of pseudonym: its type, its scope, and the name the API gives it.
macro_rules! pseudonym {
    ($(#[$doc:meta])* $name:ident, scope = $scope:literal, field = $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(try_from = "String", into = "String")]
        #[schema(value_type = String, pattern = "^[0-9a-f]{32}$")]
        pub struct $name(String);

        impl $name {
            pub fn of(uscc: &Uscc, person: &PersonKey) -> Self {
                Self(person.pseudonym(&format!(concat!($scope, ":{}"), uscc)))
            }

            pub fn parse(raw: &str) -> Result<Self, &'static str> {
                if is_pseudonym(raw) {
                    Ok(Self(raw.to_string()))
                } else {
                    Err(concat!("an ", $field, " is 32 lowercase hex characters"))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = &'static str;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pseudonym!(
    /// An employee as one enterprise's API shows them.
    EmployeeId,
    scope = "employee",
    field = "employee_id"
);

pseudonym!(
    /// An agent as one enterprise's API shows them.
    AgentId,
    scope = "agent",
    field = "agent_id"
);
