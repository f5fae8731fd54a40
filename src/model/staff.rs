//! A staff member of the Servicekonto and a citizen's request for an in-person check.

use serde::{Deserialize, Serialize};

use super::account::Address;
use crate::clock::Timestamp;
use crate::ids::{AccountId, StaffId};
use crate::secret::Secret;

/// What a staff member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Confirms identities in person (R-EID-2).
    Kundenzentrum,
    /// Releases services for organisations (R-ORG-7).
    Leitstelle,
}

impl Role {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Kundenzentrum => "kundenzentrum",
            Role::Leitstelle => "leitstelle",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "kundenzentrum" => Some(Role::Kundenzentrum),
            "leitstelle" => Some(Role::Leitstelle),
            _ => None,
        }
    }
}

/// A staff member.
#[derive(Debug, Clone)]
pub struct Staff {
    /// Id.
    pub id: StaffId,
    /// Login name.
    pub username: String,
    /// argon2id hash.
    pub password_hash: Secret<String>,
    /// Full name (shown in the audit trail).
    pub name: String,
    /// Role.
    pub role: Role,
    /// Created.
    pub created_at: Timestamp,
    /// The TOTP seed, sealed with `staff_totp_key` (R-SEC-4); `None` for a member created before
    /// the second factor, who cannot log in until an operator enrols one.
    pub totp_secret: Option<String>,
}

/// A citizen's request for an in-person check, with the data to check.
#[derive(Debug, Clone)]
pub struct UpgradeRequest {
    /// The account.
    pub account_id: AccountId,
    /// Date of birth as entered.
    pub birthdate: String,
    /// Address as entered.
    pub address: Address,
    /// When.
    pub requested_at: Timestamp,
}
