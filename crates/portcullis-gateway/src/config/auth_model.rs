//! The config's authentication and authorization shape: an API's `auth` block (identity
//! providers, identity headers, lockout) and the access rule of a route. Like every config
//! type, unknown keys are errors and defaults are the secure ones.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use super::secret::SecretRef;
use super::units::DurationValue;

/// An API's authentication: its identity providers and what routes require by default.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Identity providers by name; each has exactly one kind (`jwt`, `introspection`,
    /// `api_key`, `basic`, `mtls`).
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Headers sent upstream with the principal; client-sent headers with these names are
    /// always removed.
    #[serde(default)]
    pub identity_headers: IdentityHeadersConfig,
    /// Send the client's credential (Authorization, API key header) upstream too.
    #[serde(default)]
    pub forward_token: bool,
    /// Brute-force protection.
    #[serde(default)]
    pub lockout: LockoutConfig,
    /// `amr` values that count as multi-factor for `require_mfa`.
    #[serde(default = "defaults::mfa_factors")]
    pub mfa_factors: Vec<String>,
    /// Rule for routes that have no `auth` of their own.
    #[serde(default)]
    pub default: RuleConfig,
}

/// One identity provider.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum ProviderConfig {
    /// OAuth 2.0 / OIDC access tokens as JWTs.
    Jwt(JwtConfig),
    /// Opaque tokens checked with RFC 7662 introspection.
    Introspection(IntrospectionConfig),
    /// API keys.
    ApiKey(ApiKeyConfig),
    /// HTTP Basic with argon2id hashes.
    Basic(BasicConfig),
    /// Client certificates (needs a listener with `client_ca`).
    Mtls(MtlsConfig),
}

/// JWT provider.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// Expected `iss`.
    pub issuer: String,
    /// Find the JWKS through `{issuer}/.well-known/openid-configuration`.
    #[serde(default)]
    pub discovery: bool,
    /// JWKS URL.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// JWKS file (relative to the config file).
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// CA bundle for an https JWKS or discovery URL (default: web roots).
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Accepted audiences (the token's `aud` must contain one).
    pub audiences: Vec<String>,
    /// Algorithms tokens may use.
    #[serde(default = "defaults::jwt_algorithms")]
    pub algorithms: Vec<String>,
    /// Clock skew tolerated on `exp` and `nbf`.
    #[serde(default = "defaults::leeway")]
    pub leeway: DurationValue,
    /// Claims that must be present.
    #[serde(default)]
    pub required_claims: Vec<String>,
    /// Cookie that may carry the token.
    #[serde(default)]
    pub cookie: Option<String>,
    /// Claim with roles (dots for nesting, e.g. `realm_access.roles`).
    #[serde(default = "defaults::roles_claim")]
    pub roles_claim: String,
    /// Claim with scopes.
    #[serde(default = "defaults::scopes_claim")]
    pub scopes_claim: String,
    /// JWKS cache lifetime when the server sends no `max-age`.
    #[serde(default = "defaults::jwks_max_age")]
    pub jwks_max_age: DurationValue,
    /// Least time between two JWKS fetches (unknown `kid` refreshes are rate-limited by it).
    #[serde(default = "defaults::jwks_min_refresh")]
    pub jwks_min_refresh: DurationValue,
    /// Timeout of a JWKS or discovery fetch.
    #[serde(default = "defaults::outbound_timeout")]
    pub timeout: DurationValue,
    /// Verified tokens kept in memory.
    #[serde(default = "defaults::token_cache")]
    pub cache_entries: usize,
}

/// Token introspection provider.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionConfig {
    /// Introspection endpoint.
    pub url: String,
    /// Client id of the gateway at the authorization server.
    pub client_id: String,
    /// Client secret (a `${env:}` or `${file:}` reference).
    pub client_secret: SecretRef,
    /// CA bundle for an https endpoint.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Timeout of one call.
    #[serde(default = "defaults::outbound_timeout")]
    pub timeout: DurationValue,
    /// Longest time an answer is cached (never beyond the token's `exp`).
    #[serde(default = "defaults::introspection_cache_ttl")]
    pub cache_ttl: DurationValue,
    /// Answers kept in memory.
    #[serde(default = "defaults::token_cache")]
    pub cache_entries: usize,
    /// Field with roles.
    #[serde(default = "defaults::roles_claim")]
    pub roles_claim: String,
}

/// API key provider.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// Header carrying the key.
    #[serde(default = "defaults::api_key_header")]
    pub header: String,
    /// Query parameter carrying the key. Off by default: URLs end up in logs and histories.
    #[serde(default)]
    pub query_param: Option<String>,
    /// Server-side secret mixed into key hashes (a `${env:}` or `${file:}` reference).
    pub pepper: SecretRef,
    /// Keys are also looked up in the state store (`state.path`), managed with
    /// `portcullis keys` and the admin API.
    #[serde(default)]
    pub store: bool,
    /// Keys declared here, as hashes.
    #[serde(default)]
    pub keys: Vec<DeclaredKeyConfig>,
}

/// A key declared in the config (only its hash; `portcullis keys create --declare` prints one).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclaredKeyConfig {
    /// The key's public prefix.
    pub prefix: String,
    /// HMAC-SHA256(pepper, key), hex.
    pub hash: String,
    /// Who the key is for.
    pub owner: String,
    /// Scopes granted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Roles granted.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Expiry, RFC 3339 (e.g. `2027-01-01T00:00:00Z`).
    #[serde(default)]
    pub expires: Option<String>,
}

/// Basic provider.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicConfig {
    /// Realm in the challenge (default: the API name).
    #[serde(default)]
    pub realm: Option<String>,
    /// Users by name.
    pub users: BTreeMap<String, BasicUserConfig>,
}

/// A Basic user.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicUserConfig {
    /// argon2id PHC hash (`portcullis hash-password`).
    pub hash: String,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// mTLS provider.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MtlsConfig {
    /// Certificate field used as the principal id.
    #[serde(default)]
    pub identity: CertIdentityField,
    /// Roles every certificate principal gets.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Certificate field naming the principal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CertIdentityField {
    /// Subject common name.
    #[default]
    CommonName,
    /// First SAN DNS name.
    Dns,
    /// First SAN URI (SPIFFE ids).
    Uri,
}

/// Identity headers sent upstream; an empty name turns one off.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityHeadersConfig {
    /// Principal id.
    pub subject: String,
    /// Provider name.
    pub provider: String,
    /// Roles, comma-separated.
    pub roles: String,
    /// Scopes, space-separated.
    pub scopes: String,
}

impl Default for IdentityHeadersConfig {
    fn default() -> Self {
        Self {
            subject: "x-auth-subject".into(),
            provider: "x-auth-provider".into(),
            roles: "x-auth-roles".into(),
            scopes: "x-auth-scopes".into(),
        }
    }
}

/// Brute-force protection: failures per client IP and per claimed identity.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LockoutConfig {
    /// Failed authentications allowed within `window`.
    pub max_failures: u32,
    /// Counting window.
    pub window: DurationValue,
    /// First lockout; each further one doubles, up to `max_lockout`.
    pub lockout: DurationValue,
    /// Longest lockout.
    pub max_lockout: DurationValue,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        Self {
            max_failures: 10,
            window: DurationValue::secs(300),
            lockout: DurationValue::secs(60),
            max_lockout: DurationValue::secs(3600),
        }
    }
}

/// Who may call a route and under which conditions.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RuleConfig {
    /// No credential needed (e.g. a login route). Identity headers are still stripped.
    pub anonymous: bool,
    /// Providers accepted here (default: all of the API's).
    pub providers: Vec<String>,
    /// Scopes required.
    pub scopes: Vec<String>,
    /// `all` (default) or `any` of `scopes`.
    pub scopes_match: MatchMode,
    /// Roles required.
    pub roles: Vec<String>,
    /// `any` (default) or `all` of `roles`.
    pub roles_match: MatchModeAny,
    /// CEL condition over `request` and `principal` that must be true.
    pub condition: Option<String>,
    /// The principal's `amr` must contain a multi-factor method (`mfa_factors`).
    pub require_mfa: bool,
    /// The principal's `acr` must be one of these.
    pub acr: Vec<String>,
    /// Client IP lists for this route (on top of the global ones).
    pub ip_filter: IpFilterConfig,
}

/// Client IP lists (CIDR or single addresses). Deny wins; a non-empty allow list refuses every
/// address it does not contain.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct IpFilterConfig {
    /// Only these clients may pass (empty: everyone).
    pub allow: Vec<String>,
    /// These clients are refused.
    pub deny: Vec<String>,
}

/// How a list of requirements combines (default `all`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MatchMode {
    /// Every item.
    #[default]
    All,
    /// At least one.
    Any,
}

/// How a list of requirements combines (default `any`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MatchModeAny {
    /// At least one.
    #[default]
    Any,
    /// Every item.
    All,
}

mod defaults {
    use super::DurationValue;

    pub fn mfa_factors() -> Vec<String> {
        [
            "mfa", "otp", "hwk", "swk", "sms", "fpt", "face", "iris", "retina",
        ]
        .map(String::from)
        .to_vec()
    }
    pub fn jwt_algorithms() -> Vec<String> {
        ["RS256", "PS256", "ES256", "EdDSA"]
            .map(String::from)
            .to_vec()
    }
    pub fn leeway() -> DurationValue {
        DurationValue::secs(30)
    }
    pub fn roles_claim() -> String {
        "roles".into()
    }
    pub fn scopes_claim() -> String {
        "scope".into()
    }
    pub fn jwks_max_age() -> DurationValue {
        DurationValue::secs(300)
    }
    pub fn jwks_min_refresh() -> DurationValue {
        DurationValue::secs(10)
    }
    pub fn outbound_timeout() -> DurationValue {
        DurationValue::secs(5)
    }
    pub fn introspection_cache_ttl() -> DurationValue {
        DurationValue::secs(60)
    }
    pub fn token_cache() -> usize {
        10_000
    }
    pub fn api_key_header() -> String {
        "x-api-key".into()
    }
}
