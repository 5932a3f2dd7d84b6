//! Test harness: a real demo API upstream, a real gateway on loopback ports chosen by the OS,
//! real TLS with a generated CA, and small raw clients that let tests send exactly the bytes
//! they want.

#![allow(dead_code)]

pub mod idp;
pub mod redis;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use portcullis_demo::pki::DemoPki;
use portcullis_demo::DemoApi;
use portcullis_gateway::config::load_file;
use portcullis_gateway::Gateway;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A running demo API on a free port.
pub async fn demo_api() -> SocketAddr {
    let api = DemoApi::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    api.addr
}

/// A test environment: temp folder with certificates, a config file, and the gateway.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub pki: DemoPki,
    pub gateway: Option<Gateway>,
    pub config_path: PathBuf,
}

/// The standard listeners block: `https` (TLS), `http` (plain), `redirect`.
pub fn listeners_yaml() -> String {
    "listeners:
  - name: https
    bind: 127.0.0.1:0
    tls: { cert: tls/cert.pem, key: tls/key.pem }
  - name: http
    bind: 127.0.0.1:0
  - name: redirect
    bind: 127.0.0.1:0
    redirect_https: { port: 8443 }
admin:
  bind: 127.0.0.1:0
  token: ${file:admin-token}
access_log:
  path: access.log
"
    .to_owned()
}

/// A config with the standard listeners and one public API to `upstream` with `routes`
/// (YAML list items indented by 6 spaces) and extra top-level YAML.
pub fn config(upstream: SocketAddr, routes: &str, extra: &str) -> String {
    format!(
        "{}{extra}
upstreams:
  main:
    targets: [\"http://{upstream}\"]
    response_timeout: 2s
    connect_timeout: 1s
apis:
  - name: test
    upstream: main
    public: true
    routes:
{routes}",
        listeners_yaml()
    )
}

/// Routes covering the demo API.
pub const DEMO_ROUTES: &str = "      - { name: health, path: /health, methods: [GET] }
      - { name: users, path: /users, methods: [GET] }
      - { name: user, path: '/users/{id}', methods: [GET] }
      - { name: order, path: '/orders/{id}', methods: [GET, DELETE] }
      - { name: crash, path: /debug/crash, methods: [GET] }
      - { name: slow, path: /slow, methods: [GET] }
      - { name: echo, path: /echo/*, methods: [GET, POST, PUT, DELETE] }
      - { name: upload, path: /upload, methods: [POST], max_body_bytes: 1KiB }
      - { name: trace, path: /echo-trace, methods: [TRACE] }
";

impl Env {
    /// Writes certificates, the admin token and `yaml`; does not start the gateway.
    pub fn prepare(yaml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = portcullis_demo::pki::generate(&dir.path().join("tls"), "one").unwrap();
        std::fs::write(dir.path().join("admin-token"), ADMIN_TOKEN).unwrap();
        let config_path = dir.path().join("portcullis.yaml");
        std::fs::write(&config_path, yaml).unwrap();
        Self {
            dir,
            pki,
            gateway: None,
            config_path,
        }
    }

    /// Prepares and starts.
    pub async fn start(yaml: &str) -> Self {
        Self::start_with_files(yaml, &[]).await
    }

    /// Prepares, writes extra files (secrets, key sets) beside the config, and starts.
    pub async fn start_with_files(yaml: &str, files: &[(&str, &str)]) -> Self {
        let mut env = Self::prepare(yaml);
        for (name, content) in files {
            std::fs::write(env.path(name), content).unwrap();
        }
        let loaded = load_file(&env.config_path).unwrap();
        env.gateway = Some(Gateway::start(loaded, true).await.unwrap());
        env
    }

    /// Every value of a response header, from the raw text.
    pub fn all_headers<'a>(r: &'a Response, name: &str) -> Vec<&'a str> {
        r.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn gw(&self) -> &Gateway {
        self.gateway.as_ref().unwrap()
    }

    pub fn https(&self) -> SocketAddr {
        self.gw().listener_addr("https").unwrap()
    }

    pub fn http(&self) -> SocketAddr {
        self.gw().listener_addr("http").unwrap()
    }

    pub fn admin(&self) -> SocketAddr {
        self.gw().admin_addr().unwrap()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A TLS client config trusting this environment's CA.
    pub fn tls_client(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
        alpn: &[&[u8]],
    ) -> Arc<ClientConfig> {
        tls_client_for(&self.pki.ca, versions, alpn)
    }

    /// Sends raw bytes over TLS (HTTP/1.1 ALPN) and reads the whole answer.
    pub async fn https_raw(&self, request: &str) -> Response {
        let cfg = self.tls_client(
            &[&rustls::version::TLS13, &rustls::version::TLS12],
            &[b"http/1.1"],
        );
        let tls = tls_connect(self.https(), cfg).await.unwrap();
        exchange(tls, request.as_bytes()).await
    }

    /// Reads the access log (waiting briefly for the writer thread).
    pub async fn access_log(&self) -> String {
        tokio::time::sleep(Duration::from_millis(150)).await;
        std::fs::read_to_string(self.path("access.log")).unwrap_or_default()
    }
}

pub fn tls_client_for(
    ca: &Path,
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> Arc<ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let mut cfg = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
    Arc::new(cfg)
}

pub async fn tls_connect(
    addr: SocketAddr,
    cfg: Arc<ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    TlsConnector::from(cfg)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// A parsed HTTP/1.x response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub raw: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.raw))
    }
}

/// Sends raw bytes to a plain-HTTP listener and reads the answer until the server closes.
pub async fn http_raw(addr: SocketAddr, request: &str) -> Response {
    let tcp = TcpStream::connect(addr).await.unwrap();
    exchange(tcp, request.as_bytes()).await
}

/// A simple request with `Connection: close`.
pub async fn get(addr: SocketAddr, path: &str, extra_headers: &str) -> Response {
    http_raw(
        addr,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra_headers}Connection: close\r\n\r\n"
        ),
    )
    .await
}

pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, request: &[u8]) -> Response {
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    parse(&buf)
}

pub fn parse(buf: &[u8]) -> Response {
    let raw = String::from_utf8_lossy(buf).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Response {
        status,
        headers,
        body,
        raw,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// GET on the admin listener with an optional bearer token.
pub async fn admin_get(env: &Env, path: &str, token: Option<&str>) -> Response {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    http_raw(
        env.admin(),
        &format!("GET {path} HTTP/1.1\r\nHost: admin\r\n{auth}Connection: close\r\n\r\n"),
    )
    .await
}

pub async fn admin_post(env: &Env, path: &str, token: &str) -> Response {
    http_raw(
        env.admin(),
        &format!("POST {path} HTTP/1.1\r\nHost: admin\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    )
    .await
}

/// Polls `f` until it returns true or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A TCP port with nothing listening (bound, never listening, for the whole test process).
pub async fn dead_port() -> SocketAddr {
    // Bound but never listening: connections are refused, and the port stays taken for the
    // whole test process (a port merely released could be given to another test's server,
    // which then answered in place of the dead target).
    static HELD: std::sync::Mutex<Vec<tokio::net::TcpSocket>> = std::sync::Mutex::new(Vec::new());
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let a = socket.local_addr().unwrap();
    HELD.lock().unwrap().push(socket);
    a
}

/// Sends one request with a body over plain HTTP (`headers` are complete lines, Host included).
pub async fn send_with_body(
    env: &Env,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> Response {
    http_raw(
        env.http(),
        &format!(
            "{method} {path} HTTP/1.1\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await
}

/// The security events written to `events.log` so far, once they contain `needle` (events are
/// written by a background writer).
pub async fn events_with(env: &Env, needle: &str) -> String {
    let path = env.path("events.log");
    eventually(Duration::from_secs(5), || {
        let path = path.clone();
        async move { std::fs::read_to_string(&path).is_ok_and(|t| t.contains(needle)) }
    })
    .await;
    std::fs::read_to_string(&path).unwrap_or_default()
}
