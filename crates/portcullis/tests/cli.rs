//! The command line, run as a user runs it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn portcullis() -> Command {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
}

/// Runs `portcullis check --config PATH`: (exit code, stdout, stderr).
fn check(path: &std::path::Path) -> (Option<i32>, String, String) {
    let out = portcullis()
        .args(["check", "--config"])
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn check_prints_the_api_inventory_as_a_table_and_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let spec =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo-openapi.yaml");
    std::fs::copy(&spec, dir.path().join("spec.yaml")).unwrap();
    let cfg = dir.path().join("api.yaml");
    std::fs::write(
        &cfg,
        "listeners:\n  - { name: web, bind: 127.0.0.1:0 }\nupstreams:\n  u: { targets: [\"http://127.0.0.1:9\"] }\napis:\n  - name: shop\n    upstream: u\n    public: true\n    openapi: { spec: spec.yaml }\n    operations:\n      searchProducts:\n        rate_limits: [{ name: search-per-ip, key: [ip], rate: 10/s }]\n",
    )
    .unwrap();
    let (code, stdout, stderr) = check(&cfg);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("API inventory:"), "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.contains("searchProducts"))
        .unwrap_or_else(|| panic!("{stdout}"));
    for cell in [
        "shop",
        "GET",
        "/search",
        "public",
        "search-per-ip 10/s",
        "yes",
    ] {
        assert!(row.contains(cell), "{row}");
    }
    assert!(
        stdout.contains("have no authentication (public: true)"),
        "{stdout}"
    );

    let out = portcullis()
        .args(["check", "--format", "json", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let inventory = json["inventory"].as_array().unwrap();
    assert_eq!(inventory.len(), 12);
    let crash = inventory
        .iter()
        .find(|e| e["operation"] == "debugCrash")
        .unwrap();
    assert_eq!(crash["deprecated"], true);
    assert_eq!(crash["methods"], serde_json::json!(["GET"]));

    // A broken spec: the error points into the spec file.
    std::fs::write(
        dir.path().join("spec.yaml"),
        "openapi: 3.1.0\ninfo: { title: t, version: '1' }\npaths:\n  /a:\n    get:\n      responses: { '200': { $ref: 'https://evil.example/r.yaml' } }\n",
    )
    .unwrap();
    let (code, _, stderr) = check(&cfg);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("spec.yaml:6:") && stderr.contains("remote $ref"),
        "{stderr}"
    );
}

#[test]
fn check_accepts_a_valid_config_with_a_summary_and_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ok.yaml");
    std::fs::write(
        &cfg,
        "listeners:\n  - { name: web, bind: 127.0.0.1:0 }\nupstreams:\n  u: { targets: [\"http://127.0.0.1:9\"] }\napis:\n  - name: a\n    upstream: u\n    public: true\n    routes:\n      - { name: r, path: /x }\n",
    )
    .unwrap();
    let (code, stdout, stderr) = check(&cfg);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("config OK"), "{stdout}");
    assert!(
        stdout.contains("1 API(s), 1 route(s), 1 upstream(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok.yaml:2:5: warning: listener \"web\" serves plain HTTP"),
        "{stdout}"
    );
    assert!(
        stdout.contains("route \"r\" of API \"a\" has no authentication"),
        "{stdout}"
    );
}

#[test]
fn check_refuses_a_bad_config_with_every_error_located() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.yaml");
    std::fs::write(
        &cfg,
        "listeners:\n  - { name: web, bind: nowhere }\napis:\n  - name: a\n    upstream: ghost\n    public: true\n    routes:\n      - { path: /x }\n",
    )
    .unwrap();
    let (code, _, stderr) = check(&cfg);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("bad.yaml:2:24: invalid bind address"),
        "{stderr}"
    );
    assert!(
        stderr.contains("bad.yaml:5:15: unknown upstream \"ghost\""),
        "{stderr}"
    );
    assert!(stderr.contains("2 error(s); config refused"), "{stderr}");

    std::fs::write(&cfg, "listeners: []\nlimits:\n  max_body_bites: 3\n").unwrap();
    let (code, _, stderr) = check(&cfg);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("bad.yaml:3:") && stderr.contains("max_body_bites"),
        "{stderr}"
    );

    let (code, _, stderr) = check(std::path::Path::new("/nonexistent/x.yaml"));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("cannot read config"), "{stderr}");
}

#[test]
fn config_schema_is_json_schema_of_the_config() {
    let out = portcullis().args(["config", "schema"]).output().unwrap();
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["title"], "Config");
    assert!(schema["properties"]["listeners"].is_object());
    assert!(schema["properties"]["apis"].is_object());
}

fn http(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn demo_starts_prints_its_tour_and_stops_on_sigterm() {
    let (api, https, http_port, admin) = (free_port(), free_port(), free_port(), free_port());
    let mut child = portcullis()
        .args([
            "demo",
            "--api-port",
            &api.to_string(),
            "--https-port",
            &https.to_string(),
        ])
        .args([
            "--http-port",
            &http_port.to_string(),
            "--admin-port",
            &admin.to_string(),
        ])
        .env("PORTCULLIS_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    for line in lines.by_ref() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("Press Ctrl-C") || Instant::now() > deadline {
            break;
        }
    }
    assert!(banner.contains("CA certificate"), "{banner}");
    assert!(banner.contains("admin token"), "{banner}");
    assert!(
        banner.contains(&format!("https://localhost:{https}")),
        "{banner}"
    );

    let redirect = http(
        http_port,
        "GET /search?q=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(redirect.starts_with("HTTP/1.1 308"), "{redirect}");
    assert!(
        redirect.contains(&format!("location: https://localhost:{https}/search?q=1")),
        "{redirect}"
    );
    let health = http(
        admin,
        "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let direct = http(
        api,
        "GET /debug/crash HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(
        direct.contains("panicked"),
        "the demo API should leak its stack trace directly"
    );

    // The printed tour is a script: run it, and check that each protection answered as the
    // tour says it does.
    let script: String = banner
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("$ "))
        .map(|l| format!("{l}\n"))
        .collect();
    let tour = Command::new("bash")
        .args(["-c", &script])
        .output()
        .expect("bash runs the tour");
    let out = String::from_utf8_lossy(&tour.stdout);
    for expected in [
        "HTTP/1.1 308",
        "HTTP/1.1 400 Bad Request",
        "HTTP/2 413",
        "www-authenticate: Bearer realm=\"demo\"",
        "https://portcullis.dev/problems/upstream-error",
        "HTTP/2 403",
        "\"owner\":\"alice\"",
        "error=\"insufficient_user_authentication\"",
        "HTTP/2 204",
        "error=\"invalid_token\"",
        "\"event\":\"authorization_denied\"",
        "HTTP/2 429",
        "x-ratelimit-remaining: 0",
        "\"login-per-ip\";q=5;w=60",
        "ratelimit: \"login-per-ip\";r=0;t=",
        "portcullis_security_events_total",
        "deprecation: true",
        "\"password_hash\"",
        "\"email\":\"a***@example.com\"",
        "\"pointer\":\"/body/price\"",
        "\"pointer\":\"/query/q\"",
        "https://portcullis.dev/problems/waf-blocked",
    ] {
        assert!(
            out.contains(expected),
            "tour output lacks {expected:?}:\n{out}\n---\n{script}"
        );
    }
    assert!(
        !out.contains("\"owner\":\"bob\""),
        "spoofed X-User reached the API:\n{out}"
    );
    assert!(
        out.contains("200\n401\n"),
        "partner key accepted, wrong key refused:\n{out}"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(code) = child.try_wait().unwrap() {
            assert!(code.success(), "demo exited with {code}");
            break;
        }
        assert!(Instant::now() < deadline, "demo did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `portcullis ARGS` with `stdin`: (success, stdout, stderr).
fn run(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = portcullis()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn field<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in {out}"))
}

#[test]
fn keys_created_by_the_cli_authenticate_at_the_gateway_and_hash_password_works() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, hash, err) = run(&["hash-password"], "s3cret-pass\n");
    assert!(ok, "{err}");
    let hash = hash.trim().to_owned();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("s3cret-pass"));
    assert!(!run(&["hash-password"], "\n").0, "empty password refused");

    let (upstream, web, admin_port) = (free_port(), free_port(), free_port());
    std::fs::write(dir.path().join("admin-token"), "cli-test-admin-token-0123").unwrap();
    let echo = std::net::TcpListener::bind(("127.0.0.1", upstream)).unwrap();
    std::thread::spawn(move || {
        for s in echo.incoming().flatten() {
            let mut s = s;
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    std::fs::write(dir.path().join("pepper"), "pepper-for-the-cli-test-0123").unwrap();
    let cfg = dir.path().join("keys.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listeners:\n  - {{ name: web, bind: 127.0.0.1:{web} }}
admin: {{ bind: 127.0.0.1:{admin_port}, token: '${{file:admin-token}}' }}
state: {{ path: state.redb }}
security_events: {{ enabled: false }}
access_log: {{ enabled: false }}
upstreams:\n  u: {{ targets: [\"http://127.0.0.1:{upstream}\"] }}
apis:
  - name: api
    upstream: u
    auth:
      providers:
        partners:
          api_key: {{ pepper: '${{file:pepper}}', store: true }}
        ops:
          basic:
            users:
              alice: {{ hash: '{hash}' }}
    routes:
      - {{ name: r, path: /x, quotas: [{{ name: daily, key: [ip], limit: 1000, per: day }}] }}
"
        ),
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    let target = ["--config", c, "--api", "api", "--provider", "partners"];
    let args = |cmd: &[&'static str], extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["keys".into()];
        v.extend(cmd.iter().map(|s| s.to_string()));
        v.extend(target.iter().map(|s| s.to_string()));
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let call = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        run(&refs, "")
    };
    let (ok, out, err) = call(args(&["create"], &["--owner", "acme", "--scope", "read"]));
    assert!(ok, "{err}");
    let key = field(&out, "key:").to_owned();
    let prefix = field(&out, "prefix:").to_owned();
    assert!(out.contains("only time the key is shown"));
    let (ok, out, _) = call(args(&["create"], &["--owner", "gone"]));
    assert!(ok);
    let revoked_prefix = field(&out, "prefix:").to_owned();
    let revoked_key = field(&out, "key:").to_owned();
    let (ok, _, err) = call(args(&["revoke"], &[&revoked_prefix]));
    assert!(ok, "{err}");
    let (ok, out, _) = call(args(&["list"], &[]));
    assert!(ok);
    assert!(out.contains(&prefix) && out.contains("active"), "{out}");
    assert!(out.contains("revoked"), "{out}");
    assert!(!out.contains(&key), "list never shows a key");
    let (ok, out, _) = call(args(&["create"], &["--owner", "decl", "--declare"]));
    assert!(ok);
    assert!(
        out.contains("    hash: ") && out.contains("add under the provider"),
        "{out}"
    );
    let (ok, _, err) = call(args(&["revoke"], &["nosuchprefix"]));
    assert!(!ok && err.contains("no key with prefix"), "{err}");

    let mut gateway = portcullis()
        .args(["serve", "--config", c])
        .env("PORTCULLIS_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ask = |headers: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", web)) {
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let _ = s.write_all(
                    format!("GET /x HTTP/1.1\r\nHost: a\r\n{headers}Connection: close\r\n\r\n")
                        .as_bytes(),
                );
                let mut out = String::new();
                let _ = s.read_to_string(&mut out);
                return out;
            }
            assert!(Instant::now() < deadline, "gateway did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let good = ask(&format!("X-Api-Key: {key}\r\n"));
    let revoked = ask(&format!("X-Api-Key: {revoked_key}\r\n"));
    let basic = ask("Authorization: Basic YWxpY2U6czNjcmV0LXBhc3M=\r\n");
    // While the gateway runs, the CLI is told to use the admin API.
    let (ok, _, err) = call(args(&["list"], &[]));
    // Bans go through the admin API of the running gateway.
    let token_file = dir.path().join("admin-token");
    let admin_addr = format!("127.0.0.1:{admin_port}");
    let bans = |cmd: &[&str]| {
        let mut a = vec!["bans"];
        a.extend_from_slice(cmd);
        a.extend_from_slice(&[
            "--admin",
            &admin_addr,
            "--token-file",
            token_file.to_str().unwrap(),
        ]);
        run(&a, "")
    };
    let (banned_ok, _, banned_err) = bans(&["add", "127.0.0.1", "--duration", "10m"]);
    let refused = ask(&format!("X-Api-Key: {key}\r\n"));
    let (_, listed, _) = bans(&["list"]);
    let (lifted_ok, _, _) = bans(&["remove", "127.0.0.1"]);
    let again = ask(&format!("X-Api-Key: {key}\r\n"));
    let (bad_ok, _, bad_err) = bans(&["add", "not-an-ip"]);
    let quotas = |cmd: &[&str]| {
        let mut a = vec!["quotas"];
        a.extend_from_slice(cmd);
        a.extend_from_slice(&[
            "--admin",
            &admin_addr,
            "--token-file",
            token_file.to_str().unwrap(),
        ]);
        run(&a, "")
    };
    let (quota_ok, quota_list, quota_err) = quotas(&["list"]);
    let _ = gateway.kill();
    let _ = gateway.wait();
    assert!(good.starts_with("HTTP/1.1 200"), "{good}");
    assert!(revoked.starts_with("HTTP/1.1 401"), "{revoked}");
    assert!(
        basic.starts_with("HTTP/1.1 200"),
        "hash-password output works: {basic}"
    );
    assert!(!ok && err.contains("in use by a running gateway"), "{err}");
    assert!(banned_ok, "{banned_err}");
    assert!(refused.starts_with("HTTP/1.1 403"), "banned: {refused}");
    assert!(listed.contains("127.0.0.1"), "{listed}");
    assert!(lifted_ok);
    assert!(again.starts_with("HTTP/1.1 200"), "unbanned: {again}");
    assert!(
        !bad_ok && bad_err.contains("not an IP address"),
        "{bad_err}"
    );
    assert!(quota_ok, "{quota_err}");
    assert!(
        quota_list.contains("q:api:r:daily|127.0.0.1|"),
        "{quota_list}"
    );
}

#[test]
fn waf_lint_reports_rule_errors_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.conf");
    std::fs::write(
        &good,
        "SecRuleEngine On\nSecRule ARGS \"@rx <script\" \\\n    \"id:1,phase:2,deny,t:lowercase\"\n",
    )
    .unwrap();
    let out = portcullis()
        .args(["waf", "lint"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 rules"));
    let bad = dir.path().join("bad.conf");
    std::fs::write(
        &bad,
        "SecRuleEngine Maybe\nSecRule ARGS \"@rx a\" \"id:2,t:rot13\"\n",
    )
    .unwrap();
    let out = portcullis()
        .args(["waf", "lint"])
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("bad.conf:1: SecRuleEngine takes one of On, Off, DetectionOnly"),
        "{err}"
    );
    assert!(
        err.contains("bad.conf:2: unsupported transformation \"rot13\""),
        "{err}"
    );
}
