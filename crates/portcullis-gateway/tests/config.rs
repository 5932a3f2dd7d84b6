//! Every bad config gives its clear, located error; examples load; secrets never print.

use std::path::Path;

use portcullis_gateway::config::validate::check;
use portcullis_gateway::config::{load_str, Severity};

const BASE: &str = "listeners:
  - name: main
    bind: 127.0.0.1:0
upstreams:
  up:
    targets: [\"http://127.0.0.1:9\"]
apis:
  - name: a
    upstream: up
    public: true
    routes:
      - path: /x
";

/// Errors of `yaml` as `line:col: message` strings.
fn errors(yaml: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = Path::new("c.yaml");
    let loaded = match load_str(yaml, file, dir.path()) {
        Ok(l) => l,
        Err(e) => {
            return e
                .diagnostics
                .iter()
                .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
                .collect()
        }
    };
    let report = check(&loaded);
    loaded
        .diagnose(&report.findings)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
        .collect()
}

fn assert_error(yaml: &str, line: usize, needle: &str) {
    let errs = errors(yaml);
    assert!(
        errs.iter()
            .any(|e| e.starts_with(&format!("{line}:")) && e.contains(needle)),
        "expected an error at line {line} containing {needle:?}, got {errs:#?}\n---\n{yaml}"
    );
}

#[test]
fn the_base_config_is_valid() {
    assert_eq!(errors(BASE), Vec::<String>::new());
}

#[test]
fn unknown_keys_are_errors_with_their_line() {
    assert_error(
        &BASE.replace("    public: true", "    publc: true"),
        10,
        "publc",
    );
    assert_error(&format!("{BASE}limits:\n  max_body: 1\n"), 14, "max_body");
    assert_error(
        &BASE.replace(
            "      - path: /x",
            "      - path: /x\n        method: [GET]",
        ),
        13,
        "method",
    );
}

#[test]
fn wrong_types_and_values_are_errors() {
    assert_error(
        &format!("{BASE}limits:\n  request_timeout: soon\n"),
        14,
        "invalid duration",
    );
    assert_error(
        &format!("{BASE}limits:\n  max_body_bytes: 12XB\n"),
        14,
        "invalid byte size",
    );
    assert_error(
        &format!("{BASE}limits:\n  max_header_bytes: 100\n"),
        14,
        "at least 8KiB",
    );
    assert_error(
        &BASE.replace("bind: 127.0.0.1:0", "bind: localhost"),
        3,
        "invalid bind address",
    );
    assert_error(
        &format!("{BASE}trusted_proxies: [10.0.0.0/8, nope]\n"),
        13,
        "invalid CIDR",
    );
}

#[test]
fn references_to_missing_things_are_errors() {
    assert_error(
        &BASE.replace("    upstream: up", "    upstream: upp"),
        9,
        "unknown upstream \"upp\"",
    );
    assert_error(
        &BASE.replace("      - path: /x", "      - path: x"),
        12,
        "must start with '/'",
    );
    assert_error(
        &BASE.replace(
            "      - path: /x",
            "      - path: /x\n        methods: [GET]\n      - path: /x\n        methods: [GET]",
        ),
        14,
        "already routed",
    );
    assert_error(
        &BASE.replace(
            "targets: [\"http://127.0.0.1:9\"]",
            "targets: [\"ftp://h\"]",
        ),
        5,
        "scheme must be http or https",
    );
    assert_error(
        &BASE.replace("targets: [\"http://127.0.0.1:9\"]", "targets: []"),
        5,
        "at least one target",
    );
}

#[test]
fn tls_files_are_checked() {
    let yaml = BASE.replace(
        "    bind: 127.0.0.1:0",
        "    bind: 127.0.0.1:0\n    tls: { cert: missing.pem, key: missing.key }",
    );
    assert_error(&yaml, 4, "cannot read certificate");
}

#[test]
fn every_error_is_reported_not_only_the_first() {
    let yaml = BASE
        .replace("    upstream: up", "    upstream: nope")
        .replace("bind: 127.0.0.1:0", "bind: 300.0.0.1:1");
    let errs = errors(&yaml);
    assert!(errs.len() >= 2, "{errs:#?}");
}

#[test]
fn syntax_errors_and_garbage_do_not_panic() {
    for yaml in [
        "",
        "listeners: [",
        "\u{0}",
        "apis: 5",
        "listeners:\n  - name: [a\n",
        "---\n- a\n- b\n",
    ] {
        let errs = errors(yaml);
        assert!(!errs.is_empty(), "{yaml:?} was accepted");
    }
}

#[test]
fn admin_token_references_are_resolved_and_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tok"), "planted-secret-value-1234").unwrap();
    let yaml = format!("{BASE}admin:\n  bind: 127.0.0.1:0\n  token: ${{file:tok}}\n");
    let loaded = load_str(&yaml, Path::new("c.yaml"), dir.path()).unwrap();
    assert!(check(&loaded).is_ok());
    let debug = format!("{:?}", loaded.config);
    assert!(!debug.contains("planted-secret"), "{debug}");

    let inline = format!("{BASE}admin:\n  bind: 127.0.0.1:0\n  token: planted-inline-secret-99\n");
    let loaded = load_str(&inline, Path::new("c.yaml"), dir.path()).unwrap();
    let report = check(&loaded);
    assert!(report.is_ok());
    assert!(report
        .findings
        .iter()
        .any(|f| f.message.contains("written in clear")));
    assert!(!format!("{:?}", loaded.config).contains("planted-inline"));
    for f in &report.findings {
        assert!(!f.message.contains("planted-inline"));
    }

    let missing =
        format!("{BASE}admin:\n  bind: 127.0.0.1:0\n  token: ${{env:PORTCULLIS_TEST_NEVER_SET}}\n");
    assert_error(
        &missing,
        15,
        "environment variable PORTCULLIS_TEST_NEVER_SET is not set",
    );
}

#[test]
fn check_warns_about_weak_settings() {
    let loaded = load_str(BASE, Path::new("c.yaml"), Path::new(".")).unwrap();
    let report = check(&loaded);
    let warnings: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .collect();
    assert!(warnings.iter().any(|w| w.message.contains("plain HTTP")));
    assert!(warnings
        .iter()
        .any(|w| w.message.contains("has no authentication")));
    let closed = BASE.replace("    public: true\n", "");
    let loaded = load_str(&closed, Path::new("c.yaml"), Path::new(".")).unwrap();
    assert!(check(&loaded)
        .findings
        .iter()
        .any(|w| w.message.contains("default deny")));
}

/// Checks `examples/NAME` with `base` as its folder: (error messages, report).
fn check_example(
    root: &Path,
    base: &Path,
    name: &str,
) -> (Vec<String>, portcullis_gateway::config::validate::Report) {
    let text = std::fs::read_to_string(root.join(name)).unwrap();
    let loaded = load_str(&text, &Path::new("examples").join(name), base).unwrap();
    let report = check(&loaded);
    let errs = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.message.clone())
        .collect();
    (errs, report)
}

#[test]
fn examples_load_and_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let dir = tempfile::tempdir().unwrap();
    portcullis_demo::pki::generate(&dir.path().join("tls"), "ex").unwrap();
    std::fs::write(dir.path().join("admin-token"), "example-admin-token-123456").unwrap();
    for secret in ["api-key-pepper", "introspection-secret"] {
        std::fs::write(dir.path().join(secret), "example-secret-0123456789").unwrap();
    }
    std::fs::copy(
        root.join("demo-openapi.yaml"),
        dir.path().join("demo-openapi.yaml"),
    )
    .unwrap();

    let (errs, report) = check_example(&root, dir.path(), "demo.yaml");
    assert!(errs.is_empty(), "{errs:#?}");
    assert!(report.summary.unwrap().routes >= 10);

    // minimal.yaml reads the admin token from the environment, which tests do not set: that is
    // its only error.
    let (errs, _) = check_example(&root, dir.path(), "minimal.yaml");
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].contains("PORTCULLIS_ADMIN_TOKEN"));

    // One example per identity provider; their secrets are read from files.
    for name in [
        "auth-jwt.yaml",
        "auth-api-keys.yaml",
        "auth-basic.yaml",
        "auth-mtls.yaml",
        "auth-introspection.yaml",
    ] {
        let (errs, report) = check_example(&root, dir.path(), name);
        assert!(errs.is_empty(), "{name}: {errs:#?}");
        assert!(
            !report
                .findings
                .iter()
                .any(|f| f.message.contains("default deny")),
            "{name} is protected"
        );
    }
}

#[test]
fn the_schema_names_every_documented_key() {
    let schema =
        serde_json::to_value(schemars::schema_for!(portcullis_gateway::config::Config)).unwrap();
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md"),
    )
    .unwrap();
    let mut keys = Vec::new();
    collect_keys(&schema, &mut keys);
    assert!(keys.len() > 40, "{keys:?}");
    for k in keys {
        assert!(
            docs.contains(&format!("`{k}`")),
            "docs/configuration.md does not document `{k}`"
        );
    }
}

fn collect_keys(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Object(props)) = map.get("properties") {
                for k in props.keys() {
                    if !out.contains(k) {
                        out.push(k.clone());
                    }
                }
            }
            for val in map.values() {
                collect_keys(val, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_keys(x, out)),
        _ => {}
    }
}

const AUTH: &str = "listeners:
  - name: main
    bind: 127.0.0.1:0
upstreams:
  up:
    targets: [\"http://127.0.0.1:9\"]
apis:
  - name: a
    upstream: up
    auth:
      providers:
        users:
          jwt:
            issuer: https://idp.example
            jwks_uri: https://idp.example/jwks
            audiences: [api]
    routes:
      - path: /x
";

#[test]
fn auth_mistakes_are_located_errors() {
    assert_eq!(errors(AUTH), Vec::<String>::new());
    // A typo in a provider or rule key must not switch a protection off.
    assert_error(
        &AUTH.replace("audiences: [api]", "audience: [api]"),
        16,
        "unknown field",
    );
    assert_error(&AUTH.replace("jwt:", "jwtt:"), 13, "unknown variant");
    let route_rule = |rule: &str| {
        AUTH.replace(
            "      - path: /x\n",
            &format!("      - path: /x\n        auth: {rule}\n"),
        )
    };
    assert_error(
        &route_rule("{ roles_requried: [admin] }"),
        19,
        "unknown field",
    );
    assert_error(
        &route_rule("{ providers: [nobody] }"),
        19,
        "unknown provider \"nobody\"",
    );
    assert_error(
        &route_rule("{ condition: \"request.path.id ==\" }"),
        19,
        "invalid condition",
    );
    assert_error(
        &route_rule("{ ip_filter: { allow: [10.0.0.300/8] } }"),
        19,
        "not an IP address",
    );
    assert_error(
        &AUTH.replace("audiences: [api]", "audiences: []"),
        16,
        "accepted audiences",
    );
    assert_error(
        &AUTH.replace("            jwks_uri: https://idp.example/jwks\n", ""),
        13,
        "exactly one key source",
    );
    assert_error(
        &AUTH.replace("jwks_uri: https://idp.example/jwks", "jwks_uri: ftp://x"),
        15,
        "absolute http(s) URL",
    );
    assert_error(
        &AUTH.replace(
            "audiences: [api]",
            "audiences: [api]\n            algorithms: [RS256, none]",
        ),
        17,
        "unknown algorithm",
    );
    assert_error(
        &AUTH.replace("    auth:\n", "    public: true\n    auth:\n"),
        10,
        "either `public: true` or has an `auth` block",
    );
    let no_auth = BASE.replace(
        "      - path: /x\n",
        "      - path: /x\n        auth: { roles: [a] }\n",
    );
    assert_error(&no_auth, 13, "has no `auth` block");
    let keys = AUTH.replace(
        "        users:\n",
        "        partners:\n          api_key:\n            pepper: short\n            store: true\n        users:\n",
    );
    let errs = errors(&keys);
    assert!(
        errs.iter().any(|e| e.contains("at least 16 characters")),
        "{errs:#?}"
    );
    assert!(
        !errs.iter().any(|e| e.contains("short")),
        "the pepper is never printed: {errs:#?}"
    );
    let basic = AUTH.replace(
        "        users:\n",
        "        ops:\n          basic:\n            users:\n              alice: { hash: plaintext }\n        users:\n",
    );
    assert_error(&basic, 14, "not a PHC password hash");
}

#[test]
fn auth_warnings_point_at_weak_settings() {
    let yaml = AUTH.replace(
        "        users:\n",
        "        partners:\n          api_key:\n            pepper: '0123456789abcdef0123'\n            query_param: key\n        certs:\n          mtls: {}\n        users:\n",
    )
    .replace("      - path: /x\n", "      - path: /x\n        auth: { anonymous: true }\n");
    let loaded = load_str(&yaml, Path::new("c.yaml"), Path::new(".")).unwrap();
    let report = check(&loaded);
    let warnings: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .map(|f| f.message.clone())
        .collect();
    for needle in [
        "query string",
        "pepper is written in clear",
        "no TLS listener has client_ca",
        "anonymous: true",
    ] {
        assert!(
            warnings.iter().any(|w| w.contains(needle)),
            "{needle}: {warnings:#?}"
        );
    }
    assert!(!warnings.iter().any(|w| w.contains("default deny")));
}

#[test]
fn rate_limit_and_quota_mistakes_are_located_errors() {
    let route = |extra: &str| {
        BASE.replace(
            "      - path: /x\n",
            &format!("      - path: /x\n        {extra}\n"),
        )
    };
    assert_error(
        &route("rate_limits: [{ key: [ip], rate: 10/w }]"),
        13,
        "rate \"10/w\"",
    );
    assert_error(
        &route("rate_limits: [{ key: [cookie], rate: 10/s }]"),
        13,
        "unknown part",
    );
    assert_error(
        &route("rate_limits: [{ key: [ip], rate: 10/s, burts: 5 }]"),
        13,
        "unknown field",
    );
    assert_error(
        &route("quotas: [{ key: [ip], limit: 5, per: day, time_zone: Mars/Olympus }]"),
        13,
        "known IANA time zone",
    );
    assert_error(
        &route("quotas: [{ key: [ip], limit: 5, per: fortnight }]"),
        13,
        "unknown variant",
    );
    assert_error(
        &BASE.replace("listeners:", "state: { backend: redis }\nlisteners:"),
        1,
        "needs state.redis",
    );
}

#[test]
fn waf_mistakes_are_located_errors() {
    let waf = |block: &str| format!("{BASE}    waf:\n{block}");
    assert_error(
        &waf("      paranoia: 5\n"),
        14,
        "paranoia is a level from 1 to 4",
    );
    assert_error(
        &waf("      ruleset: no/such/dir\n"),
        14,
        "is not a CRS directory",
    );
    assert_error(&waf("      mode: loud\n"), 14, "loud");
    let exclusions =
        "      exclusions:\n        - rule_ids: [\"942100\"]\n          routes: [nope]\n";
    assert_error(&waf(exclusions), 16, "no route named \"nope\"");
    let bad_target =
        "      exclusions:\n        - rule_ids: [\"942100\"]\n          targets: [\"NOPE:x\"]\n";
    assert_error(&waf(bad_target), 15, "unsupported variable");
    let nothing = "      exclusions:\n        - targets: [\"ARGS:x\"]\n";
    assert_error(&waf(nothing), 15, "names rule_ids or tags");
    assert!(errors(&waf("      paranoia: 2\n")).is_empty());
}
