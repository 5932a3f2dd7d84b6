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
