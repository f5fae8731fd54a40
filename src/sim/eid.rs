//! The eID service simulator (development only): plays the eID-Server of the online ID
//! function. Its page lets the tester pick a test person (in the style of the BSI test cards)
//! and whether the pseudonym (*restricted identification*) is transferred; the ID token and
//! userinfo carry the eID data groups as claims and acr `http://bsi.bund.de/eID/LoA/hoch`.

use serde_json::{Map, Value, json};

use super::op::{PageText, Played};
use crate::secret::{hmac_b64, random_token};

/// The level the eID reaches (BSI TR-03107-1 "hoch").
pub const ACR_HOCH: &str = "http://bsi.bund.de/eID/LoA/hoch";

/// One test person: the data groups of their card.
#[derive(Debug, Clone)]
pub struct Person {
    /// Key on the selection page.
    pub key: &'static str,
    /// Card serial: the pseudonym is derived from it, so a new card gives a new pseudonym.
    pub card: &'static str,
    /// Document type (`ID` identity card, `AR` residence permit).
    pub document_type: &'static str,
    /// Given names.
    pub given_names: &'static str,
    /// Family names.
    pub family_names: &'static str,
    /// Birth name.
    pub birth_name: &'static str,
    /// `YYYY-MM-DD`.
    pub date_of_birth: &'static str,
    /// Place of birth.
    pub place_of_birth: &'static str,
    /// Street and house number.
    pub street: &'static str,
    /// Postal code.
    pub postal_code: &'static str,
    /// Town.
    pub city: &'static str,
    /// Country of residence (ISO 3166-1 alpha-2).
    pub country: &'static str,
    /// Nationality (ISO 3166-1 alpha-2).
    pub nationality: &'static str,
    /// Academic title, if any.
    pub academic_title: &'static str,
    /// What the page says about the person.
    pub note: &'static str,
}

/// The test persons.
pub const PERSONS: &[Person] = &[
    Person {
        key: "erika",
        card: "T22000129",
        document_type: "ID",
        given_names: "Erika",
        family_names: "Mustermann",
        birth_name: "Gabler",
        date_of_birth: "1964-08-12",
        place_of_birth: "Berlin",
        street: "Heidestraße 17",
        postal_code: "51147",
        city: "Köln",
        country: "DE",
        nationality: "DE",
        academic_title: "",
        note: "Personalausweis, volljährig, alle Daten",
    },
    Person {
        key: "ayse",
        card: "T22000301",
        document_type: "AR",
        given_names: "Ayşe",
        family_names: "Yılmaz",
        birth_name: "Yılmaz",
        date_of_birth: "1990-03-01",
        place_of_birth: "İzmir",
        street: "Hauptstraße 5",
        postal_code: "10115",
        city: "Berlin",
        country: "DE",
        nationality: "TR",
        academic_title: "Dr.",
        note: "Elektronischer Aufenthaltstitel",
    },
    Person {
        key: "erika-new-card",
        card: "T22000555",
        document_type: "ID",
        given_names: "Erika",
        family_names: "Mustermann",
        birth_name: "Gabler",
        date_of_birth: "1964-08-12",
        place_of_birth: "Berlin",
        street: "Poppelsdorfer Allee 1",
        postal_code: "53115",
        city: "Bonn",
        country: "DE",
        nationality: "DE",
        academic_title: "",
        note: "Erika Mustermann mit neu ausgestelltem Ausweis: anderes Pseudonym, neue Anschrift",
    },
    Person {
        key: "erika-married",
        card: "T22000777",
        document_type: "ID",
        given_names: "Erika",
        family_names: "Musterfrau",
        birth_name: "Gabler",
        date_of_birth: "1964-08-12",
        place_of_birth: "Berlin",
        street: "Heidestraße 17",
        postal_code: "51147",
        city: "Köln",
        country: "DE",
        nationality: "DE",
        academic_title: "",
        note: "Neuer Ausweis nach Namensänderung: passt nicht zum bisherigen Profil",
    },
];

fn person_claims(p: &Person, pseudonym: Option<String>) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("given_name".into(), p.given_names.into());
    c.insert("family_name".into(), p.family_names.into());
    c.insert("birth_family_name".into(), p.birth_name.into());
    c.insert("birthdate".into(), p.date_of_birth.into());
    c.insert("place_of_birth".into(), json!({ "locality": p.place_of_birth }));
    c.insert(
        "address".into(),
        json!({ "street_address": p.street, "postal_code": p.postal_code, "locality": p.city, "country": p.country }),
    );
    c.insert("nationalities".into(), json!([p.nationality]));
    c.insert("document_type".into(), p.document_type.into());
    if !p.academic_title.is_empty() {
        c.insert("academic_title".into(), p.academic_title.into());
    }
    if let Some(ps) = pseudonym {
        c.insert("restricted_id".into(), ps.into());
    }
    c
}

/// The eID service as the simulator plays it.
pub struct Eid {
    /// Name the data groups as the eID-Server does (`GivenNames`, `FamilyNames`, …) instead of
    /// the OpenID Connect names, to exercise the connector's claim mapping.
    pub eid_server_names: bool,
}

impl Played for Eid {
    fn text(&self) -> PageText {
        PageText {
            name: "eID-Simulator",
            heading: "Online-Ausweis (Simulator)",
            legend: "Testperson",
            submit: "Ausweisen",
            option: Some(("pseudonym", "Pseudonym (Restricted Identification) übermitteln")),
        }
    }

    fn acr(&self) -> &'static str {
        ACR_HOCH
    }

    fn amr(&self) -> &'static str {
        "eid"
    }

    fn claims_supported(&self) -> &'static [&'static str] {
        &[
            "sub",
            "given_name",
            "family_name",
            "birth_family_name",
            "birthdate",
            "place_of_birth",
            "address",
            "nationalities",
            "document_type",
            "academic_title",
            "restricted_id",
        ]
    }

    fn choices(&self) -> Vec<(&'static str, String)> {
        PERSONS
            .iter()
            .map(|p| (p.key, format!("{} {} — {}", p.given_names, p.family_names, p.note)))
            .collect()
    }

    fn claims(&self, key: &str, pseudonym: bool, client_id: &str) -> Option<Map<String, Value>> {
        let p = PERSONS.iter().find(|p| p.key == key)?;
        // Stable per card and per relying party, like the restricted identification.
        let pseudonym = pseudonym.then(|| hmac_b64(p.card.as_bytes(), client_id.as_bytes()));
        let sub = pseudonym.clone().unwrap_or_else(|| random_token(16));
        let mut claims = person_claims(p, pseudonym);
        if self.eid_server_names {
            for (oidc, eid) in [
                ("given_name", "GivenNames"),
                ("family_name", "FamilyNames"),
                ("birthdate", "DateOfBirth"),
            ] {
                if let Some(v) = claims.remove(oidc) {
                    claims.insert(eid.into(), v);
                }
            }
        }
        claims.insert("sub".into(), sub.into());
        Some(claims)
    }
}
