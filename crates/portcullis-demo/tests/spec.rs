//! examples/demo-openapi.yaml describes the demo API: every documented operation exists on the
//! running API (a real server on loopback), and the spec is OpenAPI 3.1 with unique operationIds.

use std::io::{Read, Write};
use std::net::TcpStream;

use portcullis_demo::DemoApi;
use serde_json::Value;

fn call(addr: std::net::SocketAddr, method: &str, path: &str) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    let body = if method == "POST" { "{}" } else { "" };
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: demo\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_operation_exists_on_the_demo_api() {
    let text = include_str!("../../../examples/demo-openapi.yaml");
    let spec: Value = serde_saphyr::from_str(text).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    let api = DemoApi::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = api.addr;
    let mut ids = std::collections::HashSet::new();
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() >= 10);
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            assert!(ids.insert(op["operationId"].as_str().unwrap().to_owned()));
            // DELETE takes its own order so the other operations still find order 1.
            let id = if method == "delete" { "4" } else { "1" };
            let concrete = path.replace("{id}", id);
            let m = method.to_uppercase();
            let status = tokio::task::spawn_blocking(move || call(addr, &m, &concrete))
                .await
                .unwrap();
            assert!(
                status != 0 && status != 404 && status != 405,
                "{method} {path} -> {status}"
            );
        }
    }
}
