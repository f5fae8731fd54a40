//! An organisation (Servicekonto Business) as stored: its data, its users' memberships, its
//! subscriptions, groups and grants.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ids::{AccountId, ClientId, GroupId, OrgId};

/// An organisation's postal address (R-ORG-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgAddress {
    /// Street, or the town where there is no street.
    pub street: String,
    /// House number: at most 11 characters, no spaces, `0` where there is none.
    pub house_number: String,
    /// Postal code.
    pub postal_code: String,
    /// Town.
    pub city: String,
}

/// An organisation: a company or a public agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    /// Its id, the `org_id` claim.
    pub id: OrgId,
    /// Its name (R-ORG-1), the `org_name` claim.
    pub name: String,
    /// Handelsregisternummer, companies only.
    pub trade_register: Option<String>,
    /// Postal address.
    pub address: Option<OrgAddress>,
    /// A PO box: the preferred postal address when given.
    pub po_box: Option<String>,
    /// Administrators may use online services (R-ORG-8).
    pub admins_use_services: bool,
    /// The ELSTER organisation id of the first link (R-ELS-1).
    pub elster_id: Option<String>,
    /// Registered.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// What a user is in their organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgRole {
    /// Administers the organisation (R-ORG-4): users, groups, services.
    Admin,
    /// Uses the services granted to them.
    Employee,
}

impl OrgRole {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrgRole::Admin => "admin",
            OrgRole::Employee => "employee",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [OrgRole::Admin, OrgRole::Employee].into_iter().find(|r| r.as_str() == s)
    }
}

/// An account's membership in its organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The user's account.
    pub account_id: AccountId,
    /// The organisation.
    pub org_id: OrgId,
    /// Administrator or employee.
    pub role: OrgRole,
}

/// Whether an organisation may use a service it subscribed to (R-ORG-7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionState {
    /// Usable: released at once or approved by the Fachliche Leitstelle.
    Released,
    /// Waiting for the Fachliche Leitstelle.
    Pending,
}

impl SubscriptionState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionState::Released => "released",
            SubscriptionState::Pending => "pending",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [SubscriptionState::Released, SubscriptionState::Pending]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// An organisation's subscription to a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The organisation.
    pub org_id: OrgId,
    /// The service.
    pub client_id: ClientId,
    /// Released or pending.
    pub state: SubscriptionState,
    /// Subscribed.
    pub requested_at: Timestamp,
    /// Released (at once or by the Leitstelle).
    pub decided_at: Option<Timestamp>,
}

/// A group of an organisation's users (R-ORG-9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Its id.
    pub id: GroupId,
    /// The organisation.
    pub org_id: OrgId,
    /// Name (required).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Created.
    pub created_at: Timestamp,
}

/// What the token path reads for one user and one service in one query: the membership and
/// organisation, the subscription's state, and every grant of the service to the user, directly
/// or through a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRows {
    /// The organisation.
    pub org_id: OrgId,
    /// Its name.
    pub org_name: String,
    /// Whether administrators may use services.
    pub admins_use_services: bool,
    /// The user's role.
    pub role: OrgRole,
    /// The subscription's state, if subscribed.
    pub subscription: Option<SubscriptionState>,
    /// The roles of each grant (direct or through a group); empty when there is none.
    pub grants: Vec<Vec<String>>,
}

/// What a registration of an organisation keeps until its link is used (R-ORG-1…3): the
/// organisation's data, what its first administrator gave beyond a citizen's registration, and
/// the services chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgRegistration {
    /// Name (R-ORG-1).
    pub name: String,
    /// Handelsregisternummer (optional).
    pub trade_register: Option<String>,
    /// Postal address (R-ORG-2).
    pub address: OrgAddress,
    /// PO box (optional).
    pub po_box: Option<String>,
    /// The administrator's phone number (R-ORG-4).
    pub phone_number: String,
    /// The administrator's date of birth, `YYYY-MM-DD` (R-ORG-3: adults only).
    pub birthdate: String,
    /// The services to subscribe to once the link is used.
    pub services: Vec<crate::ids::ClientId>,
    /// Registered with ELSTER (R-ELS-4): the ELSTER organisation id and the administrator's
    /// certificate (hash), linked on activation.
    #[serde(default)]
    pub elster: Option<(String, String)>,
}

/// A user's linked ELSTER organisation certificate (R-ELS-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElsterLink {
    /// Keyed hash of the certificate's ELSTER account id.
    pub certificate_hash: String,
    /// The ELSTER organisation the certificate belongs to.
    pub elster_org_id: String,
    /// When it was linked.
    pub linked_at: Timestamp,
}
