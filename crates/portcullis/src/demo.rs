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
use portcullis_gateway::auth::api_key::KeyGrant;
use portcullis_gateway::config::load_str;
use portcullis_gateway::config::model::ProviderConfig;
use portcullis_gateway::Gateway;

/// The demo config, compiled in so `portcullis demo` works from anywhere.
const DEMO_CONFIG: &str = include_str!("../../../examples/demo.yaml");
/// The demo API's spec, written beside the config in the demo's folder.
const DEMO_SPEC: &str = include_str!("../../../examples/demo-openapi.yaml");

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

/// What the tour needs to print.
struct TourContext<'a> {
    ca: &'a str,
    admin_token: &'a str,
    partner_key: &'a str,
    events: &'a str,
}

fn tour(ports: &DemoArgs, t: &TourContext<'_>) -> Vec<TourStep> {
    let gw = format!("https://localhost:{}", ports.https_port);
    let api = format!("http://127.0.0.1:{}", ports.api_port);
    let ca = t.ca;
    let token = t.admin_token;
    let curl = format!("curl -s --cacert {ca}");
    let login = |user: &str, otp: &str| {
        format!(
            "$({curl} -X POST -H 'content-type: application/json' -d '{{\"username\":\"{user}\",\"password\":\"{user}-password\"{otp}}}' {gw}/login | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')"
        )
    };
    let mut steps = base_steps(ports, &gw, &api, &curl, ca);
    steps.extend(vec![
        TourStep {
            title: "No token: 401 with a WWW-Authenticate challenge",
            command: format!("{curl} -i {gw}/users/alice/orders | grep -iE '^HTTP|www-authenticate'"),
            expect: "401, WWW-Authenticate: Bearer realm=\"demo\"",
        },
        TourStep {
            title: "Log in as alice through the gateway and keep her token",
            command: format!("ALICE={}; echo ${{ALICE:0:40}}...", login("alice", "")),
            expect: "an EdDSA JWT issued by the demo API",
        },
        TourStep {
            title: "Through the gateway (logged in): the crash is masked",
            command: format!("{curl} -i -H \"Authorization: Bearer $ALICE\" {gw}/debug/crash"),
            expect: "500 application/problem+json with a request_id; no trace, no Server header; Deprecation: true (the spec marks it deprecated)",
        },
        TourStep {
            title: "Over-sharing: directly, alice's profile carries her password hash, SSN and phone",
            command: format!("curl -s {api}/users/alice"),
            expect: "password_hash, ssn, phone and email in clear",
        },
        TourStep {
            title: "Through the gateway: undeclared fields stripped, email masked",
            command: format!("{curl} -H \"Authorization: Bearer $ALICE\" {gw}/users/alice"),
            expect: "{\"email\":\"a***@example.com\",\"id\":1,\"role\":\"user\",\"username\":\"alice\"}",
        },
        TourStep {
            title: "Mass assignment: a new order that sets its own price, status and owner is refused",
            command: format!(
                "{curl} -X POST -H \"Authorization: Bearer $ALICE\" -H 'content-type: application/json' -d '{{\"item\":\"gizmo\",\"quantity\":1,\"price\":0.01,\"status\":\"refunded\",\"owner\":\"bob\"}}' {gw}/orders"
            ),
            expect: "400 invalid-request listing /body/owner, /body/price and /body/status",
        },
        TourStep {
            title: "Alice reads her own orders, not bob's (object-level rule)",
            command: format!(
                "{curl} -o /dev/null -w '%{{http_code}}\\n' -H \"Authorization: Bearer $ALICE\" {gw}/users/alice/orders; {curl} -i -H \"Authorization: Bearer $ALICE\" {gw}/users/bob/orders | head -n 1"
            ),
            expect: "200, then 403 forbidden (directly, the demo API would hand bob's orders over)",
        },
        TourStep {
            title: "A spoofed X-User is replaced by the verified subject",
            command: format!(
                "{curl} -X POST -H \"Authorization: Bearer $ALICE\" -H 'X-User: bob' -H 'content-type: application/json' -d '{{\"item\":\"gizmo\",\"quantity\":1}}' {gw}/orders"
            ),
            expect: "an order owned by alice, not bob",
        },
        TourStep {
            title: "Admin-only delete: alice is refused; admin needs a second factor",
            command: format!(
                "{curl} -i -X DELETE -H \"Authorization: Bearer $ALICE\" {gw}/orders/1 | head -n 1; ADMIN={}; {curl} -i -X DELETE -H \"Authorization: Bearer $ADMIN\" {gw}/orders/1 | grep -iE '^HTTP|www-authenticate'",
                login("admin", "")
            ),
            expect: "403, then 401 with error=\"insufficient_user_authentication\" (step-up)",
        },
        TourStep {
            title: "Admin with a one-time code (amr: otp) may delete",
            command: format!(
                "ADMIN_MFA={}; {curl} -i -X DELETE -H \"Authorization: Bearer $ADMIN_MFA\" {gw}/orders/1 | head -n 1",
                login("admin", ",\"otp\":\"123456\"")
            ),
            expect: "2xx from the demo API",
        },
        TourStep {
            title: "A forged token (alg: none, sub: admin) is refused",
            command: format!(
                "{curl} -i -H \"Authorization: Bearer $(printf '{{\"alg\":\"none\"}}' | base64 | tr -d '=').$(printf '{{\"sub\":\"admin\",\"roles\":[\"admin\"]}}' | base64 | tr -d '=').\" {gw}/users | grep -iE '^HTTP|www-authenticate'"
            ),
            expect: "401, error=\"invalid_token\"",
        },
        TourStep {
            title: "Partners call /search with an API key (created for this run, shown once)",
            command: format!(
                "{curl} -o /dev/null -w '%{{http_code}}\\n' -H 'X-Api-Key: {}' '{gw}/search?q=gizmo'; {curl} -o /dev/null -w '%{{http_code}}\\n' -H 'X-Api-Key: pck_000000000000_wrongwrongwrongwrongwrongwrongwr' '{gw}/search?q=gizmo'",
                t.partner_key
            ),
            expect: "200, then 401",
        },
        TourStep {
            title: "SQL injection in ?q= is stopped by the parameter's schema (the API would run it)",
            command: format!(
                "{curl} -H 'X-Api-Key: {}' \"{gw}/search?q=%27%20UNION%20SELECT%20id,username,password_hash,0%20FROM%20users--\"",
                t.partner_key
            ),
            expect: "400 invalid-request: /query/q does not match the required pattern",
        },
        TourStep {
            title: "Script injection in a field the schema allows (free text) is stopped by the WAF",
            command: format!(
                "{curl} -i -X POST -H \"Authorization: Bearer $ALICE\" -H 'content-type: application/json' -d '{{\"item\":\"<img src=x onerror=alert(document.cookie)>\",\"quantity\":1}}' {gw}/orders | grep -iE '^HTTP|waf-blocked'"
            ),
            expect: "403 waf-blocked (the matched rules are in the waf_blocked security event, not in the answer)",
        },
        TourStep {
            title: "Login attempts are rate limited per IP (5 per minute): guessing gets 429",
            command: format!(
                "for i in 1 2 3; do {curl} -o /dev/null -w '%{{http_code}} ' -X POST -H 'content-type: application/json' -d '{{\"username\":\"bob\",\"password\":\"guess\"}}' {gw}/login; done; echo; {curl} -i -X POST -H 'content-type: application/json' -d '{{\"username\":\"bob\",\"password\":\"guess\"}}' {gw}/login | grep -iE '^HTTP|retry-after|ratelimit'"
            ),
            expect: "401s (wrong password), then 429 with Retry-After, RateLimit and X-RateLimit-* headers",
        },
        TourStep {
            title: "Every refusal above is a security event (no token or key in it)",
            command: format!("tail -n 5 {}", t.events),
            expect: "JSON lines: authentication_failed / authorization_denied with reason codes",
        },
    ]);
    steps.push(TourStep {
        title: "Admin: metrics need the token, health does not",
        command: format!(
            "curl -s http://127.0.0.1:{p}/healthz; curl -s -H 'Authorization: Bearer {token}' http://127.0.0.1:{p}/metrics | grep portcullis_security_events_total | head",
            p = ports.admin_port
        ),
        expect: "{\"status\":\"ok\"} and security event counters by kind and reason",
    });
    steps
}

/// The transport and baseline steps (gateway core).
fn base_steps(ports: &DemoArgs, gw: &str, api: &str, curl: &str, ca: &str) -> Vec<TourStep> {
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
    write_private(&dir.join("api-key-pepper"), &random_token()?)?;

    let api = DemoApi::start(SocketAddr::from(([127, 0, 0, 1], args.api_port)))
        .await
        .with_context(|| format!("starting the demo API on port {}", args.api_port))?;

    std::fs::write(dir.join("demo-openapi.yaml"), DEMO_SPEC)
        .with_context(|| format!("writing the demo spec into {}", dir.display()))?;
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
    for a in cfg.apis.iter_mut().filter_map(|a| a.auth.as_mut()) {
        for p in a.providers.values_mut() {
            if let ProviderConfig::Jwt(j) = p {
                j.issuer = format!("http://{}", api.addr);
                j.jwks_uri = Some(format!("http://{}/.well-known/jwks.json", api.addr));
            }
        }
    }
    cfg.access_log.path = dir.join("access.log").display().to_string();

    let gateway = Gateway::start(loaded, false).await?;
    let partner_key = gateway
        .reloader()
        .runtime()
        .api_key_provider("demo", "partners")
        .context("examples/demo.yaml has no partners API key provider")?
        .create(&KeyGrant {
            owner: "acme-partner".into(),
            scopes: vec!["search".into()],
            ..KeyGrant::default()
        })?
        .key;
    print_banner(&args, &dir, &pki.ca, &token, &partner_key);
    crate::wait_for_stop().await;
    println!("\nstopping: draining connections...");
    gateway.shutdown().await;
    api.task.abort();
    Ok(())
}

fn print_banner(
    args: &DemoArgs,
    dir: &std::path::Path,
    ca: &std::path::Path,
    token: &str,
    partner_key: &str,
) {
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
    println!("  partner API key          {partner_key}");
    println!("  users                    alice, bob, admin (password: <name>-password)");
    println!(
        "  access log               {}",
        dir.join("access.log").display()
    );
    println!("\nA short tour (copy a command into another terminal):\n");
    let events = dir.join("events.log").display().to_string();
    let context = TourContext {
        ca: &ca_text,
        admin_token: token,
        partner_key,
        events: &events,
    };
    for (i, step) in tour(args, &context).iter().enumerate() {
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
