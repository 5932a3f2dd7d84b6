//! `portcullis demo`: the demo API, the gateway in front of it with `examples/demo.yaml`, and a
//! short tour printed as curl commands.
//!
//! Everything the demo needs (certificates, the admin token, the access log) is generated into a
//! fresh temporary folder whose path is printed. The tour is a list of [`TourStep`]s so that each
//! protection added later appends its own steps.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use portcullis_demo::DemoApi;
use portcullis_gateway::config::load_str;
use portcullis_gateway::Gateway;

/// The demo config, compiled in so `portcullis demo` works from anywhere.
const DEMO_CONFIG: &str = include_str!("../../../examples/demo.yaml");

/// Ports of the demo.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Port of the demo API (the weak service, called directly).
    #[arg(long, default_value_t = 9000)]
    api_port: u16,
    /// HTTPS port of the gateway.
    #[arg(long, default_value_t = 8443)]
    https_port: u16,
    /// Plain-HTTP port (redirects to HTTPS).
    #[arg(long, default_value_t = 8080)]
    http_port: u16,
    /// Admin port.
    #[arg(long, default_value_t = 9901)]
    admin_port: u16,
}

/// One step of the printed tour.
struct TourStep {
    title: &'static str,
    command: String,
    expect: &'static str,
}

fn tour(ports: &DemoArgs, ca: &str, token: &str) -> Vec<TourStep> {
    let gw = format!("https://localhost:{}", ports.https_port);
    let api = format!("http://127.0.0.1:{}", ports.api_port);
    let curl = format!("curl -s --cacert {ca}");
    vec![
        TourStep {
            title: "Plain HTTP is redirected to HTTPS (path and query kept)",
            command: format!("curl -si 'http://localhost:{}/search?q=gizmo' | head -n 3", ports.http_port),
            expect: "308 Permanent Redirect, Location: https://localhost:...",
        },
        TourStep {
            title: "Through the gateway: TLS, HSTS and security headers, Server header gone",
            command: format!("{curl} -D - -o /dev/null {gw}/health"),
            expect: "strict-transport-security, x-content-type-options, x-request-id; no server",
        },
        TourStep {
            title: "Directly: the demo API leaks a stack trace and its software versions",
            command: format!("curl -si {api}/debug/crash"),
            expect: "500 with a panic backtrace, Server: DemoServer/1.0, X-Powered-By: Express",
        },
        TourStep {
            title: "Through the gateway: the same error, masked",
            command: format!("{curl} -i {gw}/debug/crash"),
            expect: "500 application/problem+json with a request_id; no trace",
        },
        TourStep {
            title: "Undocumented path and method are refused",
            command: format!("{curl} -i -X TRACE {gw}/users; {curl} -i {gw}/.env"),
            expect: "405 with Allow: GET, HEAD; then 404 problem+json",
        },
        TourStep {
            title: "Request smuggling attempt (Content-Length with Transfer-Encoding)",
            command: format!(
                "printf 'POST /login HTTP/1.1\\r\\nHost: localhost\\r\\nContent-Length: 4\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n' | openssl s_client -quiet -connect 127.0.0.1:{} -CAfile {ca} 2>/dev/null | head -n 1",
                ports.https_port
            ),
            expect: "HTTP/1.1 400 Bad Request",
        },
        TourStep {
            title: "Oversized body on the login route (limit 4KiB)",
            command: format!("head -c 10000 /dev/zero | {curl} -i -X POST --data-binary @- {gw}/login"),
            expect: "413 problem+json",
        },
        TourStep {
            title: "Log in through the gateway (the JWT is checked by the auth issue's protection)",
            command: format!(
                "{curl} -X POST -H 'content-type: application/json' -d '{{\"username\":\"alice\",\"password\":\"alice-password\"}}' {gw}/login"
            ),
            expect: "{\"access_token\": ...}",
        },
        TourStep {
            title: "Admin: metrics need the token, health does not",
            command: format!(
                "curl -s http://127.0.0.1:{p}/healthz; curl -s -H 'Authorization: Bearer {token}' http://127.0.0.1:{p}/metrics | grep portcullis_requests_total | head",
                p = ports.admin_port
            ),
            expect: "{\"status\":\"ok\"} and request counters by route and status class",
        },
    ]
}

/// Runs the demo until Ctrl-C.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("portcullis-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let pki = portcullis_demo::pki::generate(&dir.join("tls"), "demo")
        .map_err(|e| anyhow::anyhow!("generating demo certificates: {e}"))?;
    let token = random_token()?;
    write_private(&dir.join("admin-token"), &token)?;

    let api = DemoApi::start(SocketAddr::from(([127, 0, 0, 1], args.api_port)))
        .await
        .with_context(|| format!("starting the demo API on port {}", args.api_port))?;

    let mut loaded = load_str(DEMO_CONFIG, &PathBuf::from("examples/demo.yaml"), &dir)?;
    let cfg = &mut loaded.config;
    for l in &mut cfg.listeners {
        match l.name.as_str() {
            "https" => l.bind = format!("127.0.0.1:{}", args.https_port),
            "http" => {
                l.bind = format!("127.0.0.1:{}", args.http_port);
                if let Some(r) = &mut l.redirect_https {
                    r.port = args.https_port;
                }
            }
            _ => {}
        }
    }
    if let Some(admin) = &mut cfg.admin {
        admin.bind = format!("127.0.0.1:{}", args.admin_port);
    }
    for up in cfg.upstreams.values_mut() {
        up.targets = vec![format!("http://{}", api.addr)];
    }
    cfg.access_log.path = dir.join("access.log").display().to_string();

    let gateway = Gateway::start(loaded, false).await?;
    print_banner(&args, &dir, &pki.ca, &token);
    crate::wait_for_stop().await;
    println!("\nstopping: draining connections...");
    gateway.shutdown().await;
    api.task.abort();
    Ok(())
}

fn print_banner(args: &DemoArgs, dir: &std::path::Path, ca: &std::path::Path, token: &str) {
    let ca_text = ca.display().to_string();
    println!("Portcullis demo is running.\n");
    println!(
        "  demo API (weak, direct)  http://127.0.0.1:{}",
        args.api_port
    );
    println!(
        "  gateway HTTPS            https://localhost:{}",
        args.https_port
    );
    println!(
        "  gateway HTTP (redirect)  http://localhost:{}",
        args.http_port
    );
    println!(
        "  admin                    http://127.0.0.1:{}",
        args.admin_port
    );
    println!("  CA certificate           {ca_text}");
    println!("  admin token              {token}");
    println!(
        "  access log               {}",
        dir.join("access.log").display()
    );
    println!("\nA short tour (copy a command into another terminal):\n");
    for (i, step) in tour(args, &ca_text, token).iter().enumerate() {
        println!("{}. {}", i + 1, step.title);
        println!("   $ {}", step.command);
        println!("   expect: {}\n", step.expect);
    }
    println!("Press Ctrl-C to stop.");
}

fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 24];
    rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn write_private(path: &std::path::Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(content.as_bytes())?;
    Ok(())
}
