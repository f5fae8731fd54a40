//! The `claims` request parameter (OIDC Core §5.5): which claims go into the ID token and the
//! userinfo response, essential or voluntary, with requested values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::scope::{Scopes, scope_of_claim};
use crate::trust::AcrRequest;

/// How one claim is requested; `null` in the request means "voluntary, any value".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClaimSpec {
    /// Marked essential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub essential: Option<bool>,
    /// One requested value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Several acceptable values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Value>>,
}

/// The parsed `claims` parameter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClaimsRequest {
    /// Claims requested in the ID token.
    #[serde(default)]
    pub id_token: BTreeMap<String, Option<ClaimSpec>>,
    /// Claims requested from the userinfo endpoint.
    #[serde(default)]
    pub userinfo: BTreeMap<String, Option<ClaimSpec>>,
}

impl ClaimsRequest {
    /// Parses the JSON object; anything else is an error message for `invalid_request`.
    pub fn parse(json: &str) -> Result<ClaimsRequest, String> {
        let value: Value = serde_json::from_str(json).map_err(|_| "claims is not valid JSON".to_string())?;
        if !value.is_object() {
            return Err("claims must be a JSON object".into());
        }
        serde_json::from_value(value).map_err(|e| format!("claims: {e}"))
    }

    /// Whether nothing was requested.
    pub fn is_empty(&self) -> bool {
        self.id_token.is_empty() && self.userinfo.is_empty()
    }

    /// The `acr` request carried in the ID-token member (or, failing that, the userinfo member).
    pub fn acr(&self) -> Option<AcrRequest> {
        let spec = self.id_token.get("acr").or_else(|| self.userinfo.get("acr"))?;
        let spec = spec.clone().unwrap_or_default();
        let mut values: Vec<String> = Vec::new();
        if let Some(Value::String(v)) = &spec.value {
            values.push(v.clone());
        }
        for v in spec.values.iter().flatten() {
            if let Value::String(v) = v {
                values.push(v.clone());
            }
        }
        Some(AcrRequest {
            values,
            essential: spec.essential.unwrap_or(false),
        })
    }

    /// Keeps only what `allowed` covers (R-SVC-1): a user claim whose scope the client may not
    /// ask for is dropped, so the claims parameter cannot reach data the scopes would not.
    /// Claims no scope releases (`acr`, `auth_time`, …) stay; they are not account data.
    pub fn within(mut self, allowed: &Scopes) -> ClaimsRequest {
        let keep = |name: &String, _: &mut Option<ClaimSpec>| scope_of_claim(name).is_none_or(|s| allowed.contains(s));
        self.id_token.retain(keep);
        self.userinfo.retain(keep);
        self
    }

    /// Names of all claims asked for, in either member.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.id_token.keys().chain(self.userinfo.keys()).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_svc_1_the_claims_parameter_stays_inside_the_clients_scopes() {
        let c = ClaimsRequest::parse(
            r#"{"id_token":{"acr":{"essential":true},"address":null,"birthdate":null,"email":null},
                "userinfo":{"phone_number":null,"verified_claims":null,"given_name":null}}"#,
        )
        .unwrap()
        .within(&Scopes::parse("openid email").unwrap());
        assert_eq!(c.id_token.keys().collect::<Vec<_>>(), ["acr", "email"]);
        assert_eq!(c.userinfo.keys().collect::<Vec<_>>(), ["verified_claims"]);
    }

    #[test]
    fn parses_members_essential_and_values() {
        let c = ClaimsRequest::parse(
            r#"{"id_token":{"acr":{"essential":true,"values":["urn:servicekonto:acr:plus"]},"email":null},"userinfo":{"name":{"essential":true}}}"#,
        )
        .unwrap();
        assert_eq!(
            c.acr().unwrap(),
            AcrRequest {
                values: vec!["urn:servicekonto:acr:plus".into()],
                essential: true
            }
        );
        assert!(c.id_token.contains_key("email"));
        assert_eq!(c.userinfo["name"].as_ref().unwrap().essential, Some(true));
        assert!(ClaimsRequest::parse("[1]").is_err());
        assert!(ClaimsRequest::parse("{").is_err());
        assert!(ClaimsRequest::parse(r#"{"id_token":5}"#).is_err());
    }
}
