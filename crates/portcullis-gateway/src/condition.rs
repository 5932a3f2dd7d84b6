//! Authorization conditions written in CEL (the language Envoy and Kubernetes use for policy),
//! evaluated over the request and the principal:
//!
//! - `request.method`, `request.path` (the route's path parameters, e.g. `request.path.id`),
//!   `request.url_path`, `request.query` (first value per name), `request.headers` (lowercase
//!   names), `request.ip`;
//! - `principal.sub` (= `principal.id`), `principal.provider`, `principal.roles`,
//!   `principal.scopes`, `principal.claims`, `principal.amr`, `principal.acr`, `principal.cert`.
//!
//! Conditions compile once per config load. An evaluation error or a non-boolean result denies
//! (fail closed).

use std::collections::HashMap;
use std::sync::Arc;

use cel::objects::{Key, Map};
use cel::{Context, Env, Program, Value};

use crate::auth::Principal;

/// A compiled condition.
pub struct Condition {
    program: Program,
    env: Arc<Env>,
    source: String,
}

/// The request facts a condition sees.
pub struct RequestFacts<'a> {
    /// Method.
    pub method: &'a str,
    /// Path parameters of the route template.
    pub path_params: Vec<(String, String)>,
    /// The request path.
    pub url_path: &'a str,
    /// Query string.
    pub query: Option<&'a str>,
    /// Headers.
    pub headers: &'a http::HeaderMap,
    /// Client IP.
    pub ip: std::net::IpAddr,
}

impl Condition {
    /// Compiles `source`. Unknown variables are caught at evaluation (and deny).
    pub fn compile(source: &str) -> Result<Self, String> {
        let env = Arc::new(Env::stdlib());
        let program = env
            .compile(source)
            .map_err(|e| format!("invalid condition: {}", first_line(&e.to_string())))?;
        let refs = program.references();
        if !refs.has_variable("request") && !refs.has_variable("principal") {
            return Err(
                "invalid condition: it reads neither request.* nor principal.*, so it cannot decide anything"
                    .into(),
            );
        }
        Ok(Self {
            program,
            env,
            source: source.to_owned(),
        })
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the condition: `Ok(true)` allows.
    pub fn evaluate(
        &self,
        request: &RequestFacts<'_>,
        principal: &Principal,
    ) -> Result<bool, String> {
        let mut ctx = Context::with_env(self.env.clone());
        ctx.add_variable_from_value("request", request_value(request));
        ctx.add_variable_from_value("principal", principal_value(principal));
        match self.program.execute(&ctx) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("condition returned {other:?}, not a boolean")),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().take(3).collect::<Vec<_>>().join(" ")
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    let m: HashMap<Key, Value> = entries
        .into_iter()
        .map(|(k, v)| (Key::from(k.to_owned()), v))
        .collect();
    Value::Map(Map { map: Arc::new(m) })
}

fn strings(items: &[String]) -> Value {
    Value::List(Arc::new(
        items.iter().map(|s| Value::from(s.as_str())).collect(),
    ))
}

fn request_value(r: &RequestFacts<'_>) -> Value {
    let params: HashMap<Key, Value> = r
        .path_params
        .iter()
        .map(|(k, v)| (Key::from(k.clone()), Value::from(v.as_str())))
        .collect();
    let mut query: HashMap<Key, Value> = HashMap::new();
    for pair in r.query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if let (Some(k), Some(v)) = (
            crate::auth::percent_decode(k),
            crate::auth::percent_decode(v),
        ) {
            query.entry(Key::from(k)).or_insert(Value::from(v));
        }
    }
    let mut headers: HashMap<Key, Value> = HashMap::new();
    for name in r.headers.keys() {
        let joined = r
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(",");
        headers.insert(Key::from(name.as_str().to_owned()), Value::from(joined));
    }
    map(vec![
        ("method", Value::from(r.method)),
        (
            "path",
            Value::Map(Map {
                map: Arc::new(params),
            }),
        ),
        ("url_path", Value::from(r.url_path)),
        (
            "query",
            Value::Map(Map {
                map: Arc::new(query),
            }),
        ),
        (
            "headers",
            Value::Map(Map {
                map: Arc::new(headers),
            }),
        ),
        ("ip", Value::from(r.ip.to_string())),
    ])
}

fn json_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::UInt(u),
            _ => Value::Float(n.as_f64().unwrap_or_default()),
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => {
            Value::List(Arc::new(items.iter().map(json_value).collect()))
        }
        serde_json::Value::Object(o) => {
            let m: HashMap<Key, Value> = o
                .iter()
                .map(|(k, v)| (Key::from(k.clone()), json_value(v)))
                .collect();
            Value::Map(Map { map: Arc::new(m) })
        }
    }
}

fn principal_value(p: &Principal) -> Value {
    let cert = match &p.cert {
        Some(c) => map(vec![
            (
                "common_name",
                c.common_name.as_deref().map_or(Value::Null, Value::from),
            ),
            ("subject", Value::from(c.subject.as_str())),
            ("dns", strings(&c.dns_names)),
            ("uris", strings(&c.uris)),
            ("fingerprint", Value::from(c.fingerprint.as_str())),
        ]),
        None => Value::Null,
    };
    let claims = p
        .claims
        .iter()
        .map(|(k, v)| (Key::from(k.clone()), json_value(v)))
        .collect::<HashMap<_, _>>();
    map(vec![
        ("sub", Value::from(p.id.as_str())),
        ("id", Value::from(p.id.as_str())),
        ("provider", Value::from(&*p.provider)),
        ("roles", strings(&p.roles)),
        ("scopes", strings(&p.scopes)),
        ("amr", strings(&p.amr)),
        ("acr", p.acr.as_deref().map_or(Value::Null, Value::from)),
        (
            "claims",
            Value::Map(Map {
                map: Arc::new(claims),
            }),
        ),
        ("cert", cert),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(headers: &'a http::HeaderMap, user: &str) -> RequestFacts<'a> {
        RequestFacts {
            method: "GET",
            path_params: vec![("user".into(), user.into())],
            url_path: "/users/x",
            query: Some("a=1&b=%41"),
            headers,
            ip: "127.0.0.1".parse().unwrap(),
        }
    }

    #[test]
    fn object_level_rule_allows_owner_and_admin_only() {
        let c =
            Condition::compile("request.path.user == principal.sub || 'admin' in principal.roles")
                .unwrap();
        let h = http::HeaderMap::new();
        let alice = Principal {
            id: "alice".into(),
            ..Principal::default()
        };
        let admin = Principal {
            id: "root".into(),
            roles: vec!["admin".into()],
            ..Principal::default()
        };
        assert_eq!(c.evaluate(&facts(&h, "alice"), &alice), Ok(true));
        assert_eq!(c.evaluate(&facts(&h, "bob"), &alice), Ok(false));
        assert_eq!(c.evaluate(&facts(&h, "bob"), &admin), Ok(true));
    }

    #[test]
    fn bad_conditions_are_refused_and_errors_deny() {
        assert!(Condition::compile("request.path.user ==").is_err());
        assert!(Condition::compile("1 == 1").is_err());
        assert!(Condition::compile("principal.roles.exists(r, r == 'admin')").is_ok());
        let c = Condition::compile("request.query.b == 'A' && principal.claims.level > 2").unwrap();
        let h = http::HeaderMap::new();
        let p = Principal::default();
        assert!(
            c.evaluate(&facts(&h, "x"), &p).is_err(),
            "missing claim is an error"
        );
        let c = Condition::compile("request.method").unwrap();
        assert!(c.evaluate(&facts(&h, "x"), &p).is_err(), "non-boolean");
    }
}
