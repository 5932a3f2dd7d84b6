//! Routing: host, then path (exact, template such as `/users/{id}`, or prefix `/static/*`),
//! then method.
//!
//! Refuses by default: no matching host or path is 404; a path without the method is 405 with
//! `Allow`. TRACE, CONNECT and non-standard methods only route where a route names them.

use std::sync::Arc;

use http::{HeaderValue, Method};

/// Methods a route accepts when it lists none.
pub const DEFAULT_METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// Which hosts a table answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// One host name (lowercase, no port).
    Exact(String),
    /// `*.example.com`: any name ending in `.example.com` (stored with the leading dot).
    Suffix(String),
    /// `*`: any host.
    Any,
}

impl HostPattern {
    /// Parses a configured host pattern.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim().to_ascii_lowercase();
        if t == "*" {
            return Ok(Self::Any);
        }
        let (suffix, name) = match t.strip_prefix("*.") {
            Some(rest) => (true, rest.to_owned()),
            None => (false, t.clone()),
        };
        let valid = !name.is_empty()
            && name.len() <= 253
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && !name.starts_with('.')
            && !name.ends_with('.');
        if !valid {
            return Err(format!(
                "invalid host {text:?}: use a name such as api.example.com, *.example.com or *"
            ));
        }
        Ok(if suffix {
            Self::Suffix(format!(".{name}"))
        } else {
            Self::Exact(name)
        })
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(h) => h == host,
            Self::Suffix(s) => host.len() > s.len() && host.ends_with(s.as_str()),
            Self::Any => true,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Self::Exact(_) => 0,
            Self::Suffix(_) => 1,
            Self::Any => 2,
        }
    }
}

/// The outcome of routing a request.
pub enum RouteMatch<'a, R> {
    /// A route takes it.
    Found(&'a Arc<R>),
    /// The path exists, the method does not: the `Allow` value to send.
    MethodNotAllowed(&'a HeaderValue),
    /// Nothing matches.
    NotFound,
}

struct PathEntry<R> {
    methods: Vec<(Method, Arc<R>)>,
    allow: HeaderValue,
}

struct HostTable<R> {
    pattern: HostPattern,
    paths: matchit::Router<usize>,
    entries: Vec<PathEntry<R>>,
    /// matchit path -> entry index, to merge routes that share a path.
    index: Vec<(String, usize)>,
}

/// Routes requests to values of type `R` (compiled routes).
pub struct Router<R> {
    tables: Vec<HostTable<R>>,
}

impl<R> Default for Router<R> {
    fn default() -> Self {
        Self { tables: Vec::new() }
    }
}

impl<R> Router<R> {
    /// Adds `route` for `methods` on `path` under `host`. Errors name the conflict.
    pub fn insert(
        &mut self,
        host: &HostPattern,
        path: &str,
        methods: &[Method],
        route: Arc<R>,
    ) -> Result<(), String> {
        let table_idx = match self.tables.iter().position(|t| &t.pattern == host) {
            Some(i) => i,
            None => {
                self.tables.push(HostTable {
                    pattern: host.clone(),
                    paths: matchit::Router::new(),
                    entries: Vec::new(),
                    index: Vec::new(),
                });
                self.tables.sort_by_key(|t| t.pattern.rank());
                self.tables
                    .iter()
                    .position(|t| &t.pattern == host)
                    .unwrap_or_default()
            }
        };
        let table = &mut self.tables[table_idx];
        for matchit_path in matchit_paths(path)? {
            let entry = match table.index.iter().find(|(p, _)| *p == matchit_path) {
                Some((_, i)) => *i,
                None => {
                    let i = table.entries.len();
                    table
                        .paths
                        .insert(matchit_path.clone(), i)
                        .map_err(|e| format!("path {path:?} conflicts with another route: {e}"))?;
                    table.entries.push(PathEntry {
                        methods: Vec::new(),
                        allow: HeaderValue::from_static(""),
                    });
                    table.index.push((matchit_path, i));
                    i
                }
            };
            let entry = &mut table.entries[entry];
            for m in methods {
                if entry.methods.iter().any(|(em, _)| em == m) {
                    return Err(format!("{m} {path} is already routed by another route"));
                }
                entry.methods.push((m.clone(), route.clone()));
            }
            let allow = entry
                .methods
                .iter()
                .map(|(m, _)| m.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            entry.allow = HeaderValue::from_str(&allow).map_err(|_| "invalid method name")?;
        }
        Ok(())
    }

    /// Finds the route for a request. `host` is lowercase without a port.
    pub fn find(&self, host: &str, path: &str, method: &Method) -> RouteMatch<'_, R> {
        let mut allow = None;
        for table in self.tables.iter().filter(|t| t.pattern.matches(host)) {
            let Ok(m) = table.paths.at(path) else {
                continue;
            };
            let entry = &table.entries[*m.value];
            if let Some((_, route)) = entry.methods.iter().find(|(em, _)| em == method) {
                return RouteMatch::Found(route);
            }
            allow.get_or_insert(&entry.allow);
        }
        match allow {
            Some(a) => RouteMatch::MethodNotAllowed(a),
            None => RouteMatch::NotFound,
        }
    }
}

/// The matchit paths a configured path expands to. `/a/*` is a prefix: `/a` and `/a/{*rest}`.
pub(crate) fn matchit_paths(path: &str) -> Result<Vec<String>, String> {
    if !path.starts_with('/') {
        return Err(format!("path {path:?} must start with '/'"));
    }
    if path.contains("{*") {
        return Err(format!(
            "path {path:?}: write a prefix as '/prefix/*' rather than a catch-all parameter"
        ));
    }
    match path.strip_suffix("/*") {
        Some("") => Ok(vec!["/".into(), "/{*rest}".into()]),
        Some(base) => Ok(vec![base.to_owned(), format!("{base}/{{*rest}}")]),
        None if path.contains('*') => Err(format!(
            "path {path:?}: '*' is only allowed as a final '/*' (prefix route)"
        )),
        None => Ok(vec![path.to_owned()]),
    }
}

/// Parses a configured method list (empty: the defaults). GET implies HEAD.
pub fn parse_methods(names: &[String]) -> Result<Vec<Method>, String> {
    if names.is_empty() {
        return Ok(DEFAULT_METHODS.to_vec());
    }
    let mut out: Vec<Method> = Vec::new();
    for name in names {
        let upper = name.trim().to_ascii_uppercase();
        let m =
            Method::from_bytes(upper.as_bytes()).map_err(|_| format!("invalid method {name:?}"))?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    if out.contains(&Method::GET) && !out.contains(&Method::HEAD) {
        out.push(Method::HEAD);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router<&'static str> {
        let mut r = Router::default();
        let any = HostPattern::Any;
        let get = parse_methods(&["GET".into()]).unwrap();
        r.insert(&any, "/users/{id}", &get, Arc::new("user"))
            .unwrap();
        r.insert(&any, "/users/{id}", &[Method::DELETE], Arc::new("del"))
            .unwrap();
        r.insert(&any, "/static/*", &get, Arc::new("static"))
            .unwrap();
        r.insert(
            &HostPattern::parse("admin.example.com").unwrap(),
            "/users/{id}",
            &[Method::PUT],
            Arc::new("admin-put"),
        )
        .unwrap();
        r
    }

    fn found(m: RouteMatch<'_, &'static str>) -> Option<&'static str> {
        match m {
            RouteMatch::Found(r) => Some(**r),
            _ => None,
        }
    }

    #[test]
    fn routes_by_template_prefix_and_method() {
        let r = router();
        assert_eq!(found(r.find("x", "/users/7", &Method::GET)), Some("user"));
        assert_eq!(found(r.find("x", "/users/7", &Method::HEAD)), Some("user"));
        assert_eq!(found(r.find("x", "/users/7", &Method::DELETE)), Some("del"));
        assert_eq!(found(r.find("x", "/static", &Method::GET)), Some("static"));
        assert_eq!(
            found(r.find("x", "/static/a/b.css", &Method::GET)),
            Some("static")
        );
        assert!(matches!(
            r.find("x", "/nope", &Method::GET),
            RouteMatch::NotFound
        ));
        assert!(matches!(
            r.find("x", "/users", &Method::GET),
            RouteMatch::NotFound
        ));
    }

    #[test]
    fn wrong_method_gives_allow_list() {
        let r = router();
        match r.find("x", "/users/7", &Method::POST) {
            RouteMatch::MethodNotAllowed(a) => assert_eq!(a, "GET, HEAD, DELETE"),
            _ => panic!("expected 405"),
        }
        match r.find("x", "/users/7", &Method::TRACE) {
            RouteMatch::MethodNotAllowed(_) => {}
            _ => panic!("TRACE must not route"),
        }
    }

    #[test]
    fn exact_host_wins_over_any() {
        let r = router();
        assert_eq!(
            found(r.find("admin.example.com", "/users/1", &Method::PUT)),
            Some("admin-put")
        );
        // The exact host table lacks GET, the catch-all has it.
        assert_eq!(
            found(r.find("admin.example.com", "/users/1", &Method::GET)),
            Some("user")
        );
    }

    #[test]
    fn conflicts_and_bad_paths_are_errors() {
        let mut r = router();
        let any = HostPattern::Any;
        assert!(r
            .insert(&any, "/users/{id}", &[Method::GET], Arc::new("dup"))
            .unwrap_err()
            .contains("already routed"));
        assert!(r
            .insert(&any, "/users/{name}", &[Method::POST], Arc::new("x"))
            .is_err());
        assert!(r
            .insert(&any, "users", &[Method::GET], Arc::new("x"))
            .is_err());
        assert!(r
            .insert(&any, "/a*b", &[Method::GET], Arc::new("x"))
            .is_err());
        assert!(HostPattern::parse("bad host").is_err());
        assert!(HostPattern::parse("*.").is_err());
        assert!(parse_methods(&["G T".into()]).is_err());
    }

    #[test]
    fn suffix_host_does_not_match_the_bare_domain() {
        let p = HostPattern::parse("*.example.com").unwrap();
        assert!(p.matches("a.example.com"));
        assert!(!p.matches("example.com"));
        assert!(!p.matches("evilexample.com"));
    }
}
