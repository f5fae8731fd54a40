//! An account and what is stored with it: its eID link and verification, its mailed links, a
//! pending registration.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ids::AccountId;
use crate::secret::Secret;
use crate::trust::TrustLevel;

/// Citizens and organisation users are told apart because services admit one kind or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    /// A person acting for themselves.
    Citizen,
    /// A user of an organisation, acting for it (Servicekonto Business).
    Organisation,
}

impl AccountKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Citizen => "citizen",
            AccountKind::Organisation => "organisation",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [AccountKind::Citizen, AccountKind::Organisation]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A postal address (OIDC `address` claim).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Street name.
    pub street: String,
    /// House number, with suffixes or ranges.
    pub house_number: String,
    /// Postal code.
    pub postal_code: String,
    /// Town.
    pub city: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}

/// One account as stored.
#[derive(Debug, Clone)]
pub struct Account {
    /// Internal id; never shown to services (they see a per-service `sub`).
    pub id: AccountId,
    /// The login name, lower-case.
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: Secret<String>,
    /// Citizen or organisation user.
    pub kind: AccountKind,
    /// How far the identity is verified: `Basic` or `Plus` for citizens.
    pub level: TrustLevel,
    /// Given name(s).
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub birthdate: Option<String>,
    /// Postal address.
    pub address: Option<Address>,
    /// Phone number (E.164), where known.
    pub phone_number: Option<String>,
    /// Whether the email address was confirmed.
    pub email_verified: bool,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Academic title (a locked field for Plus accounts).
    pub title: Option<String>,
    /// When the account was blocked through a block link (R-SES-6); no login until a reset.
    pub blocked_at: Option<Timestamp>,
    /// When the user opened electronic delivery (*Zugangseröffnung*, R-PRO-4), if they did.
    pub delivery_consent_at: Option<Timestamp>,
}

impl Account {
    /// A new basic citizen account with a confirmed email and nothing but names: the starting
    /// point of every way an account comes into being.
    pub fn citizen(email: String, password_hash: Secret<String>, given_name: String, family_name: String, now: Timestamp) -> Account {
        Account {
            id: AccountId::random(),
            email,
            password_hash,
            kind: AccountKind::Citizen,
            level: TrustLevel::Basic,
            given_name,
            family_name,
            birthdate: None,
            address: None,
            phone_number: None,
            email_verified: true,
            created_at: now,
            updated_at: now,
            title: None,
            blocked_at: None,
            delivery_consent_at: None,
        }
    }
}

/// How an identity was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// `eid` or `kundenzentrum`.
    pub method: String,
    /// When.
    pub verified_at: Timestamp,
    /// Birth name.
    pub birth_name: Option<String>,
    /// Place of birth.
    pub place_of_birth: Option<String>,
    /// Nationality (ISO 3166-1 alpha-2).
    pub nationality: Option<String>,
    /// Document type (`ID`, `AR`, …).
    pub document_type: Option<String>,
}

/// An account's eID link.
#[derive(Debug, Clone)]
pub struct EidLink {
    /// Keyed hash of the pseudonym.
    pub pseudonym_hash: String,
    /// Whether eID login is on.
    pub login_enabled: bool,
    /// Linked at.
    pub linked_at: Timestamp,
}

/// The data groups read from the card, as the eID service's claims carry them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EidData {
    /// Restricted identification, when transferred.
    pub pseudonym: Option<String>,
    /// Given names.
    pub given_names: String,
    /// Family names.
    pub family_names: String,
    /// Birth name.
    pub birth_name: Option<String>,
    /// Date of birth.
    pub date_of_birth: String,
    /// Place of birth.
    pub place_of_birth: Option<String>,
    /// Place of residence.
    pub address: Option<Address>,
    /// Nationality.
    pub nationality: Option<String>,
    /// Document type.
    pub document_type: Option<String>,
    /// Academic title.
    pub academic_title: Option<String>,
}

/// What a stored link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Set a new password.
    Reset,
    /// Confirm a new email address (payload: the address).
    EmailChange,
    /// Block the account.
    Block,
}

impl LinkPurpose {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Reset => "reset",
            LinkPurpose::EmailChange => "email_change",
            LinkPurpose::Block => "block",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "reset" => Some(LinkPurpose::Reset),
            "email_change" => Some(LinkPurpose::EmailChange),
            "block" => Some(LinkPurpose::Block),
            _ => None,
        }
    }
}

/// A link as stored.
#[derive(Debug, Clone)]
pub struct StoredLink {
    /// Whose account.
    pub account_id: AccountId,
    /// What it does.
    pub purpose: LinkPurpose,
    /// Extra data (the new address of an email change).
    pub payload: Option<String>,
    /// End of validity.
    pub expires_at: Timestamp,
}

/// A registration waiting for its activation link.
#[derive(Debug, Clone)]
pub struct PendingRegistration {
    /// Row id.
    pub id: String,
    /// Hash of the link's token.
    pub token_hash: String,
    /// Normalised email.
    pub email: String,
    /// argon2id hash of the chosen password.
    pub password_hash: Secret<String>,
    /// Given name(s).
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Language of the pages and mails (`de`, `en`).
    pub locale: String,
    /// R-REG-5: the identity read from the eID, for a registration as Servicekonto Plus.
    pub identity: Option<EidIdentity>,
    /// The organisation this person registers as its first administrator (R-ORG-1…3).
    pub organisation: Option<super::org::OrgRegistration>,
    /// Created.
    pub created_at: Timestamp,
    /// End of the link's validity.
    pub expires_at: Timestamp,
}

/// An identity read from the eID for a registration as Servicekonto Plus (R-REG-5): the card's
/// data (without the pseudonym itself) and the pseudonym's keyed hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EidIdentity {
    /// The card's data; `pseudonym` is always `None` here.
    pub data: EidData,
    /// The stored form of the pseudonym, when it was transferred.
    pub link: Option<String>,
}
