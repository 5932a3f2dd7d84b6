//! What the `seclang` fuzz target does, on a stable toolchain: mutated rule text never panics
//! the parser (deterministic pseudo-random mutations of CRS-shaped rules).

use std::path::Path;

const SEED: &str = r#"SecRuleEngine DetectionOnly
SecRule REQUEST_COOKIES|!REQUEST_COOKIES:/__utm/|&ARGS|XML:/* "@detectSQLi" \
    "id:942100,\
    phase:2,\
    block,\
    t:none,t:utf8toUnicode,t:urlDecodeUni,\
    msg:'SQL Injection, via libinjection',\
    logdata:'Matched Data: %{TX.0} found within %{MATCHED_VAR_NAME}',\
    setvar:'tx.inbound_anomaly_score_pl1=+%{tx.critical_anomaly_score}',\
    chain"
    SecRule TX:x "!@rx ^(?:a|b)\d+$" "t:none,ctl:ruleRemoveTargetById=942100;ARGS:pwd"
SecMarker "END-REQUEST-942"
SecRuleUpdateTargetById 942100 "!ARGS:password"
SecRuleRemoveById 920100 920200-920299
"#;

/// A deterministic pseudo-random sequence (xorshift64) for reproducible mutations.
fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

#[test]
fn mutated_rule_text_never_panics() {
    let mut next = xorshift(0x2545_f491_4f6c_dd1du64);
    let spice = [
        "\"", "'", "\\", "\n", "|", ":", "/", "!", "&", ",", "@", " ", "%{", "}",
    ];
    assert!(portcullis_waf::seclang::parse_str(SEED, Path::new("/nonexistent/seed.conf")).is_ok());
    for _ in 0..20_000 {
        let mut text: Vec<char> = SEED.chars().collect();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % (text.len() + 1);
            match next() % 3 {
                0 if at < text.len() => {
                    text.remove(at);
                }
                1 => {
                    let s = spice[(next() as usize) % spice.len()];
                    for (i, c) in s.chars().enumerate() {
                        text.insert(at + i, c);
                    }
                }
                _ => {}
            }
        }
        let text: String = text.into_iter().collect();
        let _ = portcullis_waf::seclang::parse_str(&text, Path::new("/nonexistent/m.conf"));
    }
}

#[test]
fn transformations_take_any_bytes() {
    use portcullis_waf::transform::Transformation;
    let names = portcullis_waf::seclang::vocabulary::TRANSFORMATIONS;
    let mut next = xorshift(0x9e37_79b9_7f4a_7c15u64);
    let alphabet = b"%u+\\x0123456789abcdefABCDEF&#;/.*-<>!'\"^ \t\n\xa0\xc3\xa9\xff\0";
    for _ in 0..20_000 {
        let len = (next() % 24) as usize;
        let input: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() as usize) % alphabet.len()])
            .collect();
        for name in names.iter().filter(|n| **n != "none") {
            let t = Transformation::parse(name).unwrap();
            let once = t.apply(&input).into_owned();
            // Decoding never grows the value, except the encoders and `utf8toUnicode`.
            if !matches!(*name, "hexEncode" | "sha1" | "length" | "utf8toUnicode") {
                assert!(
                    once.len() <= input.len().max(1),
                    "{name}: {input:?} -> {once:?}"
                );
            }
        }
    }
}

/// What the `waf_engine` fuzz target does, on a stable toolchain: pseudo-random requests
/// (targets, headers, JSON, form, multipart and XML bodies built from attack-shaped fragments)
/// through the built-in rules and every phase never panic, and large inputs stay bounded.
#[test]
fn random_requests_never_panic_the_engine() {
    use portcullis_waf::engine::RequestHead;
    use portcullis_waf::ruleset::{self, Profile, Source};
    let waf = ruleset::load(&Source::Baseline, &Profile::default()).unwrap();
    let mut next = xorshift(0x9e37_79b9_7f4a_7c15u64);
    let pieces: &[&[u8]] = &[
        b"%",
        b"%2",
        b"%u00",
        b"&#",
        b"&#x",
        b"\\x",
        b"\\",
        b"'",
        b"\"",
        b"<",
        b"script",
        b"--",
        b"/*",
        b"*/",
        b"../",
        b"{",
        b"}",
        b"[",
        b"]",
        b":",
        b",",
        b"=",
        b"&",
        b";",
        b"\0",
        b"\xff",
        b"\xc3",
        b"\r\n",
        b"--b",
        b"Content-Disposition: form-data; name=\"a\"",
        b"<a x='1'>",
        b"</a>",
        b"<!DOCTYPE a [<!ENTITY e \"x\">]>",
        b"&e;",
        b"select",
        b"union",
        b"1=1",
    ];
    let content_types: &[&[u8]] = &[
        b"application/json",
        b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=b",
        b"multipart/form-data; boundary=\"b\"",
        b"text/xml",
        b"text/plain",
    ];
    for _ in 0..3_000 {
        let mut make = |max: u64| {
            let mut v = Vec::new();
            for _ in 0..next() % max {
                v.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            v
        };
        let mut target = b"/a?".to_vec();
        target.extend(make(8));
        let header = make(6);
        let body = make(40);
        let ct = content_types[(next() % content_types.len() as u64) as usize];
        let head = RequestHead {
            method: "POST".into(),
            target,
            protocol: "HTTP/1.1".into(),
            headers: vec![
                (b"Host".to_vec(), b"x".to_vec()),
                (b"Content-Type".to_vec(), ct.to_vec()),
                (b"Cookie".to_vec(), header.clone()),
                (b"X-Any".to_vec(), header),
            ],
            remote_addr: "127.0.0.1".into(),
        };
        let mut tx = waf.transaction(head);
        tx.request_headers();
        tx.request_body(&body);
        tx.response_headers(200, vec![(b"Content-Type".to_vec(), b"text/html".to_vec())]);
        tx.response_body(&body);
        tx.logging();
    }
    // Deep JSON and many arguments are refused as body errors, not followed without bound.
    let deep = "[".repeat(100_000);
    let mut tx = waf.transaction(RequestHead {
        method: "POST".into(),
        target: b"/".to_vec(),
        protocol: "HTTP/1.1".into(),
        headers: vec![(b"Content-Type".to_vec(), b"application/json".to_vec())],
        remote_addr: "127.0.0.1".into(),
    });
    tx.request_headers();
    assert_eq!(
        tx.request_body(deep.as_bytes()).map(|i| i.status),
        Some(400)
    );
    let many = "a=1&".repeat(10_000);
    let mut tx = waf.transaction(RequestHead {
        method: "POST".into(),
        target: b"/".to_vec(),
        protocol: "HTTP/1.1".into(),
        headers: vec![(
            b"Content-Type".to_vec(),
            b"application/x-www-form-urlencoded".to_vec(),
        )],
        remote_addr: "127.0.0.1".into(),
    });
    tx.request_headers();
    assert_eq!(
        tx.request_body(many.as_bytes()).map(|i| i.status),
        Some(400)
    );
}
