//! Who made a request, as every provider reports it.

use std::sync::Arc;

use super::mtls::ClientCert;

/// An authenticated caller.
#[derive(Debug, Clone, Default)]
pub struct Principal {
    /// Stable id: the token's `sub`, the key's owner, the user name, the certificate subject.
    pub id: String,
    /// Name of the identity provider that authenticated it.
    pub provider: Arc<str>,
    /// Roles.
    pub roles: Vec<String>,
    /// Scopes (OAuth) or permissions.
    pub scopes: Vec<String>,
    /// All claims, for conditions (JWT claims, introspection fields, key facts).
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Authentication methods (`amr`), e.g. `pwd`, `otp`, `mfa`.
    pub amr: Vec<String>,
    /// Authentication context class (`acr`).
    pub acr: Option<String>,
    /// The client certificate, when the connection presented one.
    pub cert: Option<Arc<ClientCert>>,
    /// Identity header values, built on first use and reused while the principal is cached.
    pub header_values: std::sync::OnceLock<IdentityValues>,
}

/// The values of the identity headers for one principal (`None`: not representable as a header
/// value, e.g. a subject with control characters; the header is then not sent).
#[derive(Debug, Clone)]
pub struct IdentityValues {
    /// Principal id.
    pub subject: Option<http::HeaderValue>,
    /// Provider name.
    pub provider: Option<http::HeaderValue>,
    /// Roles, comma-separated.
    pub roles: Option<http::HeaderValue>,
    /// Scopes, space-separated.
    pub scopes: Option<http::HeaderValue>,
}

impl Principal {
    /// The identity header values (computed once per principal).
    pub fn identity_values(&self) -> &IdentityValues {
        self.header_values.get_or_init(|| {
            let value = |s: &str| http::HeaderValue::from_str(s).ok();
            IdentityValues {
                subject: value(&self.id),
                provider: value(&self.provider),
                roles: value(&self.roles.join(",")),
                scopes: value(&self.scopes.join(" ")),
            }
        })
    }

    /// Reads roles or scopes from a claim that is either a list of strings or one string of
    /// space-separated values (the OAuth `scope` form). Nested claims use dots (`realm.roles`).
    pub fn strings_claim(
        claims: &serde_json::Map<String, serde_json::Value>,
        path: &str,
    ) -> Vec<String> {
        let mut parts = path.split('.');
        let Some(first) = parts.next() else {
            return Vec::new();
        };
        let mut value = claims.get(first);
        for p in parts {
            value = value.and_then(|v| v.get(p));
        }
        match value {
            Some(serde_json::Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_claim_reads_lists_strings_and_nested_paths() {
        let claims = serde_json::json!({
            "scope": "orders:read orders:write",
            "roles": ["admin", 3, "user"],
            "realm": {"roles": ["ops"]},
        });
        let map = claims.as_object().unwrap();
        assert_eq!(
            Principal::strings_claim(map, "scope"),
            ["orders:read", "orders:write"]
        );
        assert_eq!(Principal::strings_claim(map, "roles"), ["admin", "user"]);
        assert_eq!(Principal::strings_claim(map, "realm.roles"), ["ops"]);
        assert!(Principal::strings_claim(map, "missing.x").is_empty());
    }
}
