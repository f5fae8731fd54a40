//! The ELSTER simulator (development only): plays ELSTER's login with organisation
//! certificates (*Organisationszertifikate*). Its test organisations hold several certificates
//! each, every certificate with its own account; the tester picks one and whether the
//! organisation's data are released. The answer carries the acting person, the organisation's
//! master data from the tax records, its ELSTER id, and pseudonyms for the account (`sub`) and
//! the organisation, at STORK-QAA-Level-3 (substanziell).

use serde_json::{Map, Value, json};

use super::op::{PageText, Played};
use crate::secret::hmac_b64;

/// The level ELSTER reaches.
pub const ACR_SUBSTANZIELL: &str = "STORK-QAA-Level-3";

/// A test organisation as the tax records know it.
#[derive(Debug, Clone)]
pub struct TestOrganisation {
    /// ELSTER's id of the organisation.
    pub elster_id: &'static str,
    /// Company or agency name.
    pub name: &'static str,
    /// Legal form.
    pub legal_form: &'static str,
    /// Register type (`HRA`, `HRB`), empty without a register entry.
    pub register_type: &'static str,
    /// Register number.
    pub register_number: &'static str,
    /// Register court.
    pub register_court: &'static str,
    /// Street and house number.
    pub street: &'static str,
    /// Postal code.
    pub postal_code: &'static str,
    /// Town.
    pub city: &'static str,
}

/// One organisation certificate: its own ELSTER account, held by one person.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// Key on the selection page.
    pub key: &'static str,
    /// The certificate's ELSTER account id: the pseudonyms derive from it.
    pub account_id: &'static str,
    /// Index into [`ORGANISATIONS`].
    pub organisation: usize,
    /// Given name of the acting person.
    pub given_name: &'static str,
    /// Family name.
    pub family_name: &'static str,
    /// `YYYY-MM-DD`.
    pub birthdate: &'static str,
}

/// The test organisations.
pub const ORGANISATIONS: &[TestOrganisation] = &[
    TestOrganisation {
        elster_id: "EL-4711-0001",
        name: "Musterbau GmbH",
        legal_form: "GmbH",
        register_type: "HRB",
        register_number: "12345",
        register_court: "Amtsgericht Köln",
        street: "Industriestraße 12",
        postal_code: "50667",
        city: "Köln",
    },
    TestOrganisation {
        elster_id: "EL-0815-0002",
        name: "Beispiel Handel KG",
        legal_form: "KG",
        register_type: "HRA",
        register_number: "9876",
        register_court: "Amtsgericht Bonn",
        street: "Marktplatz 3",
        postal_code: "53111",
        city: "Bonn",
    },
    TestOrganisation {
        elster_id: "EL-2000-0003",
        name: "Stadtwerke Musterstadt",
        legal_form: "Anstalt des öffentlichen Rechts",
        register_type: "",
        register_number: "",
        register_court: "",
        street: "Am Wasserwerk 1",
        postal_code: "99084",
        city: "Erfurt",
    },
];

/// The test certificates.
pub const CERTIFICATES: &[Certificate] = &[
    Certificate {
        key: "musterbau-anna",
        account_id: "EA-100001",
        organisation: 0,
        given_name: "Anna",
        family_name: "Schmidt",
        birthdate: "1980-02-14",
    },
    Certificate {
        key: "musterbau-ben",
        account_id: "EA-100002",
        organisation: 0,
        given_name: "Ben",
        family_name: "Keller",
        birthdate: "1975-11-03",
    },
    Certificate {
        key: "musterbau-anna-new",
        account_id: "EA-100009",
        organisation: 0,
        given_name: "Anna",
        family_name: "Schmidt",
        birthdate: "1980-02-14",
    },
    Certificate {
        key: "beispiel-dora",
        account_id: "EA-200001",
        organisation: 1,
        given_name: "Dora",
        family_name: "Beispiel",
        birthdate: "1969-09-09",
    },
    Certificate {
        key: "stadtwerke-emil",
        account_id: "EA-300001",
        organisation: 2,
        given_name: "Emil",
        family_name: "Wagner",
        birthdate: "1988-04-21",
    },
];

/// ELSTER as the simulator plays it.
pub struct Elster;

impl Played for Elster {
    fn text(&self) -> PageText {
        PageText {
            name: "ELSTER-Simulator",
            heading: "Anmelden mit ELSTER (Simulator)",
            legend: "Organisationszertifikat",
            submit: "Anmelden",
            option: Some(("release_org", "Daten der Organisation aus den Steuerdaten freigeben")),
        }
    }

    fn acr(&self) -> &'static str {
        ACR_SUBSTANZIELL
    }

    fn amr(&self) -> &'static str {
        "elster"
    }

    fn claims_supported(&self) -> &'static [&'static str] {
        &[
            "sub",
            "given_name",
            "family_name",
            "birthdate",
            "org_name",
            "legal_form",
            "register_type",
            "register_number",
            "register_court",
            "address",
            "elster_org_id",
            "org_pseudonym",
        ]
    }

    fn choices(&self) -> Vec<(&'static str, String)> {
        CERTIFICATES
            .iter()
            .map(|c| {
                let o = &ORGANISATIONS[c.organisation];
                (
                    c.key,
                    format!("{} — {} {} (Konto {})", o.name, c.given_name, c.family_name, c.account_id),
                )
            })
            .collect()
    }

    fn claims(&self, key: &str, release_org: bool, client_id: &str) -> Option<Map<String, Value>> {
        let c = CERTIFICATES.iter().find(|c| c.key == key)?;
        let o = &ORGANISATIONS[c.organisation];
        // Pseudonyms are stable per account (or organisation) and relying party.
        let pseudonym = |id: &str| hmac_b64(id.as_bytes(), client_id.as_bytes());
        let mut claims = Map::new();
        claims.insert("sub".into(), pseudonym(c.account_id).into());
        claims.insert("given_name".into(), c.given_name.into());
        claims.insert("family_name".into(), c.family_name.into());
        claims.insert("birthdate".into(), c.birthdate.into());
        claims.insert("elster_org_id".into(), o.elster_id.into());
        claims.insert("org_pseudonym".into(), pseudonym(o.elster_id).into());
        if release_org {
            claims.insert("org_name".into(), o.name.into());
            claims.insert("legal_form".into(), o.legal_form.into());
            if !o.register_number.is_empty() {
                claims.insert("register_type".into(), o.register_type.into());
                claims.insert("register_number".into(), o.register_number.into());
                claims.insert("register_court".into(), o.register_court.into());
            }
            claims.insert(
                "address".into(),
                json!({ "street_address": o.street, "postal_code": o.postal_code, "locality": o.city, "country": "DE" }),
            );
        }
        Some(claims)
    }
}
