//! The ids of the aggregates, one type each, so an account id is never passed where a client or
//! grant id belongs. All are opaque text as stored and as sent (`sub` is derived, never one of
//! these); serde, sqlx and `Display` see the bare text.

use serde::{Deserialize, Serialize};

use crate::secret::random_token;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident, $bytes:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            /// An id as stored or received; its form is not checked, an unknown one finds nothing.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// A fresh random id.
            pub fn random() -> Self {
                Self(random_token($bytes))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        // Hash and Eq agree with the text's, so a map keyed by the id can be asked with a `&str`.
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self::new(id)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }
    };
}

id!(
    /// An account's internal id; services see a per-service `sub` instead.
    AccountId,
    16
);
id!(
    /// A registered client's `client_id`.
    ClientId,
    16
);
id!(
    /// A grant's id (the `gid` claim of its access tokens).
    GrantId,
    16
);
id!(
    /// A login session's id (the ID token's `sid`); not the cookie value.
    SessionId,
    16
);
id!(
    /// A staff member's id.
    StaffId,
    12
);
id!(
    /// An organisation's id (Servicekonto Business), the `org_id` claim.
    OrgId,
    12
);
id!(
    /// A group's id within an organisation.
    GroupId,
    12
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_bare_text_in_json_and_display() {
        let id = AccountId::new("abc");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"abc\"");
        assert_eq!(serde_json::from_str::<AccountId>("\"abc\"").unwrap(), id);
        assert_eq!(id.to_string(), "abc");
        assert_ne!(AccountId::random(), AccountId::random());
        assert_eq!(AccountId::random().as_str().len(), 22);
    }
}
