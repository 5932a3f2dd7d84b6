//! TLS through real handshakes: versions, ALPN, HTTP/2, certificate reload.

mod support;

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn env_with(extra: &str) -> Env {
    let api = demo_api().await;
    let yaml = config(api, DEMO_ROUTES, extra);
    Env::start(&yaml).await
}

/// A minimal TLS ClientHello offering only `version` (0x0301 = TLS 1.0, 0x0302 = TLS 1.1) and
/// CBC suites, without a supported_versions extension: what an old client sends.
fn legacy_client_hello(version: u16) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(&[7u8; 32]); // random
    body.push(0); // session id
    let suites: [u16; 4] = [0xc013, 0xc009, 0x002f, 0x0035];
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null
                                     // extensions: supported groups (secp256r1) and ec point formats (uncompressed)
    let exts: Vec<u8> = vec![
        0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17, //
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,
    ];
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut hs = vec![1u8];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    record.extend_from_slice(&hs);
    record
}

#[tokio::test]
async fn tls_1_0_and_1_1_handshakes_are_refused_with_a_fatal_alert() {
    let env = env_with("").await;
    for version in [0x0301u16, 0x0302] {
        let mut tcp = tokio::net::TcpStream::connect(env.https()).await.unwrap();
        tcp.write_all(&legacy_client_hello(version)).await.unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
        assert!(buf.len() >= 7, "no answer for {version:#x}: {buf:?}");
        // A fatal alert (protocol_version or handshake_failure), never a ServerHello.
        assert_eq!(
            buf[0], 0x15,
            "expected an alert record for {version:#x}, got {buf:?}"
        );
        assert_eq!(
            buf[5], 2,
            "expected a fatal alert for {version:#x}, got {buf:?}"
        );
        assert!(
            matches!(buf[6], 40 | 70),
            "unexpected alert for {version:#x}: {buf:?}"
        );
    }
}

#[tokio::test]
async fn tls_1_2_and_1_3_are_accepted() {
    let env = env_with("").await;
    for (version, expected) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let cfg = env.tls_client(&[version], &[b"http/1.1"]);
        let tls = tls_connect(env.https(), cfg).await.unwrap();
        assert_eq!(tls.get_ref().1.protocol_version(), Some(expected));
        let r = exchange(
            tls,
            b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.raw);
    }
}

#[tokio::test]
async fn min_version_1_3_refuses_tls_1_2() {
    let api = demo_api().await;
    let yaml = config(api, DEMO_ROUTES, "").replace(
        "tls: { cert: tls/cert.pem, key: tls/key.pem }",
        "tls: { cert: tls/cert.pem, key: tls/key.pem, min_version: \"1.3\" }",
    );
    let env = Env::start(&yaml).await;
    let cfg = env.tls_client(&[&rustls::version::TLS12], &[b"http/1.1"]);
    assert!(tls_connect(env.https(), cfg).await.is_err());
    let cfg = env.tls_client(&[&rustls::version::TLS13], &[b"http/1.1"]);
    assert!(tls_connect(env.https(), cfg).await.is_ok());
}

#[tokio::test]
async fn h2_is_negotiated_by_alpn_and_serves_requests() {
    let env = env_with("").await;
    let cfg = env.tls_client(&[&rustls::version::TLS13], &[b"h2", b"http/1.1"]);
    let tls = tls_connect(env.https(), cfg).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    for _ in 0..3 {
        let req = http::Request::builder()
            .uri("https://localhost/health")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let resp = send.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), http::Version::HTTP_2);
        assert!(resp.headers().contains_key("strict-transport-security"));
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], br#"{"status":"ok"}"#);
    }
    // And HTTP/1.1 on the same listener.
    let cfg = env.tls_client(&[&rustls::version::TLS13], &[b"http/1.1"]);
    let tls = tls_connect(env.https(), cfg).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
}

#[tokio::test]
async fn certificate_is_reloaded_when_files_change_without_dropping_connections() {
    let env = env_with("").await;
    let old_ca = env.pki.ca.clone();
    let keep_ca = env.path("old-ca.pem");
    std::fs::copy(&old_ca, &keep_ca).unwrap();

    // An open HTTP/1.1 keep-alive connection made with the old certificate.
    let cfg = tls_client_for(&keep_ca, &[&rustls::version::TLS13], &[b"http/1.1"]);
    let mut open = tls_connect(env.https(), cfg.clone()).await.unwrap();
    open.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 2048];
    let n = open.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    // New files: a new CA and leaf.
    tokio::time::sleep(Duration::from_millis(20)).await;
    portcullis_demo::pki::generate(&env.path("tls"), "two").unwrap();
    let new_cfg = tls_client_for(&env.pki.ca, &[&rustls::version::TLS13], &[b"http/1.1"]);
    let switched = eventually(Duration::from_secs(5), || {
        let c = new_cfg.clone();
        let addr = env.https();
        async move { tls_connect(addr, c).await.is_ok() }
    })
    .await;
    assert!(switched, "the new certificate was never served");
    // New full handshakes no longer present the old certificate (a fresh client config, so no
    // TLS 1.3 session resumption skips the certificate).
    let fresh_old = tls_client_for(&keep_ca, &[&rustls::version::TLS13], &[b"http/1.1"]);
    assert!(tls_connect(env.https(), fresh_old).await.is_err());
    drop(cfg);

    // The old connection still works.
    open.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    open.read_to_end(&mut rest).await.unwrap();
    assert!(
        String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&rest)
    );
}

#[tokio::test]
async fn a_broken_certificate_file_keeps_the_old_certificate() {
    let env = env_with("").await;
    std::fs::write(
        env.path("tls/cert.pem"),
        "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    env.gw().reloader().reload_certs(true);
    let cfg = env.tls_client(&[&rustls::version::TLS13], &[b"http/1.1"]);
    let tls = tls_connect(env.https(), cfg).await.unwrap();
    let r = exchange(
        tls,
        b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 200);
}
