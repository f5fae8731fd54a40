//! Scopes (RFC 6749 §3.3): a set of tokens, kept sorted so equal sets compare equal.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The scopes this provider knows.
pub const SUPPORTED: &[&str] = &[
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "delivery",
    "offline_access",
    "account",
    "org:admin",
];

/// The scope of `GET /api/v1/me`: the account as the API shows it; asked with consent.
pub const ACCOUNT: &str = "account";

/// The scope of the organisation administration under `/api/v1/orgs`: effective only for an
/// administrator of the organisation named in the path (R-ORG-4); asked with consent.
pub const ORG_ADMIN: &str = "org:admin";

/// The scope whose refresh tokens outlive the login session (OIDC Core §11); asked with consent.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Claims each scope releases (OIDC Core §5.4, and our `delivery`).
pub const SCOPE_CLAIMS: &[(&str, &[&str])] = &[
    ("profile", &["name", "given_name", "family_name", "birthdate", "updated_at"]),
    ("email", &["email", "email_verified"]),
    ("address", &["address"]),
    ("phone", &["phone_number", "phone_number_verified"]),
    // Whether the user opened electronic delivery (Zugangseröffnung, R-PRO-4), and since when.
    ("delivery", &["delivery_consent", "delivery_consent_at"]),
];

/// The scope that releases the user claim `name`; `None` for a name no scope releases
/// (protocol claims such as `acr`, or unknown names).
pub fn scope_of_claim(name: &str) -> Option<&'static str> {
    SCOPE_CLAIMS.iter().find(|(_, claims)| claims.contains(&name)).map(|(s, _)| *s)
}

/// A set of scope tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Scopes(BTreeSet<String>);

impl Scopes {
    /// Parses a space-separated list; refuses characters outside RFC 6749's `scope-token`.
    pub fn parse(s: &str) -> Result<Scopes, String> {
        let mut set = BTreeSet::new();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            if !token
                .chars()
                .all(|c| c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c))
            {
                return Err(format!("invalid scope token {token:?}"));
            }
            set.insert(token.to_string());
        }
        Ok(Scopes(set))
    }

    /// Whether `scope` is in the set.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The scopes also in `allowed`.
    pub fn intersect(&self, allowed: &Scopes) -> Scopes {
        Scopes(self.0.intersection(&allowed.0).cloned().collect())
    }

    /// Both sets together.
    pub fn union(&self, other: &Scopes) -> Scopes {
        Scopes(self.0.union(&other.0).cloned().collect())
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scope tokens in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v: Vec<&str> = self.iter().collect();
        f.write_str(&v.join(" "))
    }
}

impl From<Scopes> for String {
    fn from(s: Scopes) -> String {
        s.to_string()
    }
}

impl TryFrom<String> for Scopes {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Scopes::parse(&s)
    }
}

impl<'a> FromIterator<&'a str> for Scopes {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        Scopes(iter.into_iter().map(str::to_owned).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sets_and_refuses_bad_characters() {
        let s = Scopes::parse("openid  email openid").unwrap();
        assert_eq!(s.to_string(), "email openid");
        assert!(Scopes::parse("open\"id").is_err());
        assert!(Scopes::parse("a\\b").is_err());
        assert!(Scopes::parse("email").unwrap().is_subset(&s));
    }
}
