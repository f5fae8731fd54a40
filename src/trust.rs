//! Trust levels and the `acr`/`amr` vocabulary (PRODUCT.md §2, BSI TR-03160-1, TR-03107-1).
//!
//! Levels are ordered on one scale: basic < plus < elster (substanziell) < eid (hoch). Citizens
//! never hold `elster`, organisations never `plus` or `eid`, so one scale serves both kinds.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// How far the state trusts an authentication or an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustLevel {
    /// Email + password, self-entered data.
    Basic,
    /// Identity verified (eID or Kundenzentrum), logged in with password.
    Plus,
    /// Organisation user with an ELSTER certificate (substanziell).
    Elster,
    /// Logged in with the eID in this session (hoch).
    Eid,
}

/// Every `acr` value a request may carry, with the level that satisfies it.
const ACR_TABLE: &[(&str, TrustLevel)] = &[
    ("urn:servicekonto:acr:basic", TrustLevel::Basic),
    ("urn:servicekonto:acr:plus", TrustLevel::Plus),
    ("urn:servicekonto:acr:elster", TrustLevel::Elster),
    ("urn:servicekonto:acr:eid", TrustLevel::Eid),
    ("STORK-QAA-Level-1", TrustLevel::Basic),
    ("STORK-QAA-Level-2", TrustLevel::Basic),
    ("http://eidas.europa.eu/LoA/low", TrustLevel::Basic),
    ("http://bsi.bund.de/eID/LoA/normal", TrustLevel::Basic),
    ("STORK-QAA-Level-3", TrustLevel::Elster),
    ("http://eidas.europa.eu/LoA/substantial", TrustLevel::Elster),
    ("http://bsi.bund.de/eID/LoA/substantiell", TrustLevel::Elster),
    ("STORK-QAA-Level-4", TrustLevel::Eid),
    ("http://eidas.europa.eu/LoA/high", TrustLevel::Eid),
    ("http://bsi.bund.de/eID/LoA/hoch", TrustLevel::Eid),
];

impl TrustLevel {
    /// The product's own `acr` value for this level.
    pub fn acr(self) -> &'static str {
        match self {
            TrustLevel::Basic => "urn:servicekonto:acr:basic",
            TrustLevel::Plus => "urn:servicekonto:acr:plus",
            TrustLevel::Elster => "urn:servicekonto:acr:elster",
            TrustLevel::Eid => "urn:servicekonto:acr:eid",
        }
    }

    /// The short name used in storage and configuration.
    pub fn name(self) -> &'static str {
        match self {
            TrustLevel::Basic => "basic",
            TrustLevel::Plus => "plus",
            TrustLevel::Elster => "elster",
            TrustLevel::Eid => "eid",
        }
    }

    /// Parses the short name or any accepted `acr` value (synonyms included).
    pub fn parse(value: &str) -> Option<TrustLevel> {
        match value {
            "basic" => Some(TrustLevel::Basic),
            "plus" => Some(TrustLevel::Plus),
            "elster" => Some(TrustLevel::Elster),
            "eid" => Some(TrustLevel::Eid),
            other => ACR_TABLE.iter().find(|(v, _)| *v == other).map(|(_, l)| *l),
        }
    }
}

/// An `acr` value we report: one of [`acr_values_supported`] — our own for a level, or the synonym
/// a client asked for (R-ACR-2) — so no other text can reach a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Acr(&'static str);

impl Acr {
    /// Our own value for `level`.
    pub fn of(level: TrustLevel) -> Acr {
        Acr(level.acr())
    }

    /// `value` if it is one of the supported values (not the short level names).
    pub fn parse(value: &str) -> Option<Acr> {
        ACR_TABLE.iter().find(|(v, _)| *v == value).map(|(v, _)| Acr(v))
    }

    /// The value.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// The level it stands for.
    pub fn level(self) -> TrustLevel {
        ACR_TABLE.iter().find(|(v, _)| *v == self.0).map_or(TrustLevel::Basic, |(_, l)| *l)
    }
}

impl Serialize for Acr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Acr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Acr, D::Error> {
        let value = String::deserialize(d)?;
        Acr::parse(&value).ok_or_else(|| serde::de::Error::custom(format!("not a supported acr value: {value}")))
    }
}

impl std::fmt::Display for Acr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Every value discovery advertises in `acr_values_supported`.
pub fn acr_values_supported() -> Vec<&'static str> {
    ACR_TABLE.iter().map(|(v, _)| *v).collect()
}

/// An authentication method, as reported in `amr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Password.
    Pwd,
    /// Online ID function of the ID card.
    Eid,
    /// ELSTER organisation certificate.
    Elster,
    /// Another Land's Servicekonto.
    Fed,
}

impl Method {
    /// The highest level this method can reach on its own (R-ACR-1 takes the weaker of this
    /// and the account's verified level).
    pub fn ceiling(self) -> TrustLevel {
        match self {
            Method::Pwd => TrustLevel::Plus,
            Method::Eid => TrustLevel::Eid,
            Method::Elster => TrustLevel::Elster,
            Method::Fed => TrustLevel::Eid,
        }
    }

    /// The `amr` string.
    pub fn amr(self) -> &'static str {
        match self {
            Method::Pwd => "pwd",
            Method::Eid => "eid",
            Method::Elster => "elster",
            Method::Fed => "fed",
        }
    }
}

/// R-ACR-1: what a login achieves is the weaker of the account's level and the method's.
pub fn achieved_level(account_level: TrustLevel, method: Method) -> TrustLevel {
    account_level.min(method.ceiling())
}

/// R-ACR-6 (TR-03160-1 table 2): the level a session still counts at. An `eid` or `elster`
/// authentication counts for `total` seconds after it happened and `idle` seconds without
/// activity; afterwards the session lives on one level lower (`eid` → `plus`, `elster` →
/// `basic`), so a request for the higher level triggers a step-up.
pub fn decayed(
    level: TrustLevel,
    auth_time: Timestamp,
    last_seen: Timestamp,
    now: Timestamp,
    limits: [(TrustLevel, i64, i64); 2],
) -> TrustLevel {
    for (high, total, idle) in limits {
        if level == high && (now - auth_time > total || now - last_seen > idle) {
            return match high {
                TrustLevel::Eid => TrustLevel::Plus,
                _ => TrustLevel::Basic,
            };
        }
    }
    level
}

/// What a request asks of the session's level (R-ACR-2): from `acr_values` (voluntary) or from
/// the claims parameter's `acr` member (essential when marked so).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcrRequest {
    /// The requested values, in request order.
    pub values: Vec<String>,
    /// Whether the claims parameter marked `acr` essential.
    pub essential: bool,
}

impl AcrRequest {
    /// The lowest level that satisfies the request (any one listed value is enough); `None`
    /// when no value is known to us.
    pub fn required_level(&self) -> Option<TrustLevel> {
        self.values.iter().filter_map(|v| TrustLevel::parse(v)).min()
    }

    /// The `acr` to report for a session at `level`. OIDC Core §5.5.1.1 demands a requested
    /// value when `acr` is essential with values; we then name the strongest requested value
    /// the session meets, preferring our own URN at the session's level. Otherwise the session's
    /// own level is named (R-ACR-1).
    pub fn reported_acr(&self, level: TrustLevel) -> Acr {
        if self.essential {
            let met = self
                .values
                .iter()
                .filter_map(|v| Acr::parse(v))
                .filter(|a| a.level() <= level)
                .max_by_key(|a| (a.level(), a.as_str() == level.acr()));
            if let Some(a) = met {
                return a;
            }
        }
        Acr::of(level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_acr_2_only_supported_acr_values_synonyms_included_can_be_reported_or_read_back() {
        let alias = Acr::parse("http://eidas.europa.eu/LoA/substantial").unwrap();
        assert_eq!(alias.level(), TrustLevel::Elster);
        assert_eq!(Acr::of(TrustLevel::Plus).as_str(), "urn:servicekonto:acr:plus");
        assert_eq!(Acr::parse("plus"), None, "short names are configuration, not acr values");
        assert_eq!(Acr::parse("urn:other:acr"), None);
        let json = serde_json::to_string(&alias).unwrap();
        assert_eq!(json, "\"http://eidas.europa.eu/LoA/substantial\"");
        assert_eq!(serde_json::from_str::<Acr>(&json).unwrap(), alias);
        assert!(serde_json::from_str::<Acr>("\"urn:other:acr\"").is_err());
    }

    #[test]
    fn r_acr_6_eid_counts_thirty_minutes_and_five_idle_then_one_level_lower() {
        let limits = [(TrustLevel::Eid, 1800, 300), (TrustLevel::Elster, 7200, 1800)];
        let eid = TrustLevel::Eid;
        assert_eq!(
            decayed(eid, Timestamp(0), Timestamp(1500), Timestamp(1790), limits),
            eid,
            "active within both limits"
        );
        assert_eq!(
            decayed(eid, Timestamp(0), Timestamp(1500), Timestamp(1801), limits),
            TrustLevel::Plus,
            "30 minutes in total"
        );
        assert_eq!(
            decayed(eid, Timestamp(0), Timestamp(0), Timestamp(301), limits),
            TrustLevel::Plus,
            "5 minutes without activity"
        );
        assert_eq!(
            decayed(TrustLevel::Elster, Timestamp(0), Timestamp(6000), Timestamp(7000), limits),
            TrustLevel::Elster
        );
        assert_eq!(
            decayed(TrustLevel::Elster, Timestamp(0), Timestamp(0), Timestamp(1801), limits),
            TrustLevel::Basic
        );
        assert_eq!(
            decayed(TrustLevel::Plus, Timestamp(0), Timestamp(0), Timestamp(40000), limits),
            TrustLevel::Plus,
            "password levels do not decay"
        );
    }

    #[test]
    fn r_acr_1_password_login_reaches_at_most_plus() {
        assert_eq!(achieved_level(TrustLevel::Basic, Method::Pwd), TrustLevel::Basic);
        assert_eq!(achieved_level(TrustLevel::Plus, Method::Pwd), TrustLevel::Plus);
        assert_eq!(achieved_level(TrustLevel::Eid, Method::Pwd), TrustLevel::Plus);
        assert_eq!(achieved_level(TrustLevel::Plus, Method::Eid), TrustLevel::Plus);
    }

    #[test]
    fn r_acr_2_synonyms_map_to_levels() {
        for (value, level) in [
            ("STORK-QAA-Level-1", TrustLevel::Basic),
            ("http://eidas.europa.eu/LoA/low", TrustLevel::Basic),
            ("http://bsi.bund.de/eID/LoA/normal", TrustLevel::Basic),
            ("STORK-QAA-Level-3", TrustLevel::Elster),
            ("http://eidas.europa.eu/LoA/substantial", TrustLevel::Elster),
            ("STORK-QAA-Level-4", TrustLevel::Eid),
            ("http://bsi.bund.de/eID/LoA/hoch", TrustLevel::Eid),
            ("urn:servicekonto:acr:plus", TrustLevel::Plus),
        ] {
            assert_eq!(TrustLevel::parse(value), Some(level), "{value}");
        }
        assert_eq!(TrustLevel::parse("urn:unknown"), None);
    }

    #[test]
    fn r_acr_2_any_listed_value_satisfies() {
        let req = AcrRequest {
            values: vec!["urn:servicekonto:acr:eid".into(), "urn:servicekonto:acr:plus".into()],
            essential: true,
        };
        assert_eq!(req.required_level(), Some(TrustLevel::Plus));
        assert_eq!(req.reported_acr(TrustLevel::Plus).as_str(), "urn:servicekonto:acr:plus");
    }

    #[test]
    fn r_acr_1_reported_acr_names_the_session_level_unless_essential() {
        let voluntary = AcrRequest {
            values: vec!["STORK-QAA-Level-1".into()],
            essential: false,
        };
        assert_eq!(voluntary.reported_acr(TrustLevel::Plus).as_str(), "urn:servicekonto:acr:plus");
        let essential = AcrRequest {
            values: vec!["STORK-QAA-Level-1".into()],
            essential: true,
        };
        assert_eq!(essential.reported_acr(TrustLevel::Basic).as_str(), "STORK-QAA-Level-1");
    }

    #[test]
    fn discovery_lists_every_accepted_value() {
        let all = acr_values_supported();
        assert!(all.contains(&"urn:servicekonto:acr:basic"));
        assert!(all.contains(&"http://bsi.bund.de/eID/LoA/substantiell"));
        assert_eq!(all.len(), ACR_TABLE.len());
    }
}
