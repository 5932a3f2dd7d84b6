//! Loading specs from files, and judging requests and responses with them.
//!
//! - every file in tests/fixtures/broken is refused, with the message and line its first line
//!   announces (`# expect: <text> @ <line>`);
//! - v30.yaml and v31.yaml describe the same API in the two dialects and must judge every
//!   sample the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis_openapi::{
    Operation, Options, RequestParts, RequestRefusal, ResponseMode, ResponsePlan, Spec,
    UnknownFields,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn load(name: &str) -> Spec {
    Spec::load(&fixtures().join(name), &Options::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn op(spec: &Spec, id: &str) -> Arc<Operation> {
    spec.operations
        .iter()
        .find(|o| o.id.as_deref() == Some(id))
        .cloned()
        .unwrap()
}

#[test]
fn broken_specs_are_refused_with_their_place() {
    let dir = fixtures().join("broken");
    let mut seen = 0;
    let mut wrong = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} lacks its # expect: line", path.display()));
        let (message, line) = expect.rsplit_once(" @ ").unwrap();
        let err = Spec::load(&path, &Options::default())
            .err()
            .unwrap_or_else(|| panic!("{} was accepted", path.display()));
        let text = err.to_string();
        let first = &err.0[0];
        if !text.contains(message)
            || first.line.to_string() != line
            || !text.contains(path.file_name().unwrap().to_str().unwrap())
        {
            wrong.push(format!("expected {expect:?}, got: {text}"));
        }
        seen += 1;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(seen >= 15, "only {seen} broken fixtures");
}

#[test]
fn refs_to_files_beside_the_spec_are_followed() {
    let spec = load("split/main.yaml");
    let create = op(&spec, "createUser");
    let ok = br#"{"name": "ann", "address": {"city": "Oslo"}}"#;
    assert_eq!(create.check_body(Some("application/json"), ok), Ok(()));
    let bad = br#"{"name": "ann", "address": {"city": 5, "zip": "x"}}"#;
    let Err(RequestRefusal::Invalid { violations, .. }) =
        create.check_body(Some("application/json"), bad)
    else {
        panic!("accepted")
    };
    let pointers: Vec<&str> = violations.iter().map(|v| v.pointer.as_str()).collect();
    assert_eq!(pointers, ["/body/address/city", "/body/address/zip"]);
}

fn no_headers() -> http::HeaderMap {
    http::HeaderMap::new()
}

/// Judges one sample with both dialects and returns the (shared) verdict.
fn both(sample: impl Fn(&Spec) -> Result<(), RequestRefusal>) -> Result<(), RequestRefusal> {
    let a = sample(&load("v30.yaml"));
    let b = sample(&load("v31.yaml"));
    assert_eq!(a, b, "3.0 and 3.1 disagree");
    a
}

fn body(json: &str) -> Result<(), RequestRefusal> {
    both(|s| op(s, "createItem").check_body(Some("application/json"), json.as_bytes()))
}

fn query(q: &str) -> Result<(), RequestRefusal> {
    both(|s| {
        op(s, "listItems").check_parameters(&RequestParts {
            path_params: &[],
            query: Some(q),
            headers: &no_headers(),
        })
    })
}

fn reasons(r: Result<(), RequestRefusal>) -> Vec<String> {
    match r {
        Ok(()) => Vec::new(),
        Err(RequestRefusal::UnsupportedMediaType) => vec!["415".into()],
        Err(RequestRefusal::Invalid { violations, .. }) => violations
            .into_iter()
            .map(|v| format!("{} {}", v.pointer, v.reason))
            .collect(),
    }
}

#[test]
fn bodies_are_judged_the_same_in_both_dialects() {
    assert_eq!(body(r#"{"name": "pen", "price": 1.5}"#), Ok(()));
    assert_eq!(
        body(r#"{"name": "pen", "price": 1.5, "note": null}"#),
        Ok(())
    );
    assert_eq!(
        reasons(body(r#"{"name": "pen", "price": 0}"#)),
        ["/body/price at or below the minimum 0"]
    );
    // Mass assignment: a property the schema does not declare, and a read-only one.
    assert_eq!(
        reasons(body(
            r#"{"name": "pen", "price": 1, "is_admin": true, "id": 7}"#
        )),
        [
            "/body/id read-only property may not be sent",
            "/body/is_admin property not allowed by the schema"
        ]
    );
    assert_eq!(
        reasons(body(
            r#"{"name": "Robert'); DROP TABLE items;--", "price": 1}"#
        )),
        [
            "/body/name longer than 10 characters",
            "/body/name does not match the required pattern"
        ]
    );
    assert_eq!(
        reasons(body(r#"{"price": "1"}"#)),
        [
            "/body missing required property \"name\"",
            "/body/price expected number, got string"
        ]
    );
    // allOf members close over each other's properties, not each on its own.
    assert_eq!(
        body(r#"{"name": "pen", "price": 1, "owner": {"name": "ann", "email": "a@b.io"}}"#),
        Ok(())
    );
    assert_eq!(
        reasons(body(
            r#"{"name": "pen", "price": 1, "owner": {"name": "ann", "role": "admin"}}"#
        )),
        ["/body/owner/role property not allowed by the schema"]
    );
    assert_eq!(
        reasons(body("{not json")),
        ["/body not valid JSON (line 1, column 2)"]
    );
    assert_eq!(reasons(body("")), ["/body request body is required"]);
}

#[test]
fn content_types_are_enforced_and_forms_are_typed() {
    let spec = load("v31.yaml");
    let create = op(&spec, "createItem");
    assert_eq!(
        create.check_body(Some("text/xml"), b"<a/>"),
        Err(RequestRefusal::UnsupportedMediaType)
    );
    assert_eq!(
        create.check_body(None, b"{}"),
        Err(RequestRefusal::UnsupportedMediaType)
    );
    let form = Some("application/x-www-form-urlencoded");
    assert_eq!(create.check_body(form, b"name=pen&price=2.5"), Ok(()));
    assert_eq!(
        reasons(create.check_body(form, b"name=pen&price=free")),
        ["/body/price expected number, got string"]
    );
    // An operation without a request body takes none.
    let list = op(&spec, "listItems");
    assert_eq!(list.check_body(None, b""), Ok(()));
    assert_eq!(
        list.check_body(Some("application/json"), b"{}"),
        Err(RequestRefusal::UnsupportedMediaType)
    );
}

#[test]
fn parameters_are_parsed_by_style_and_validated() {
    assert_eq!(
        query("limit=10&tags=a&tags=b&filter[color]=red&filter[size]=3"),
        Ok(())
    );
    assert_eq!(
        reasons(query("limit=0")),
        ["/query/limit at or below the minimum 0"]
    );
    assert_eq!(
        reasons(query("limit=abc")),
        ["/query/limit expected integer, got string"]
    );
    assert_eq!(
        reasons(query("tags=a&tags=z")),
        ["/query/tags/1 not one of the allowed values"]
    );
    assert_eq!(
        reasons(query("filter[size]=big")),
        ["/query/filter/size expected integer, got string"]
    );
    // Parameter pollution and undocumented parameters.
    assert_eq!(
        reasons(query("limit=1&limit=2")),
        ["/query/limit given more than once"]
    );
    assert_eq!(
        reasons(query("debug=1&%3Cscript%3E=1")),
        [
            "/query/debug query parameter not documented",
            "/query/?script? query parameter not documented"
        ]
    );
    let spec = load("v30.yaml");
    let list = op(&spec, "listItems");
    let mut headers = no_headers();
    headers.insert("x-trace", "not-a-uuid".parse().unwrap());
    headers.insert("cookie", "session=short".parse().unwrap());
    let r = list.check_parameters(&RequestParts {
        path_params: &[],
        query: None,
        headers: &headers,
    });
    assert_eq!(
        reasons(r),
        [
            "/header/x-trace not a valid uuid",
            "/cookie/session shorter than 8 characters"
        ]
    );
    let get = op(&spec, "getItem");
    let path = |id: &str| {
        reasons(get.check_parameters(&RequestParts {
            path_params: &[("id", id)],
            query: None,
            headers: &no_headers(),
        }))
    };
    assert!(path("42").is_empty());
    assert_eq!(path("0"), ["/path/id below the minimum 1"]);
    assert_eq!(
        path("1%20OR%201%3D1"),
        ["/path/id expected integer, got string"]
    );
}

#[test]
fn open_unknown_fields_accept_extra_properties() {
    let options = Options {
        unknown_fields: UnknownFields::Open,
        ..Options::default()
    };
    let spec = Spec::load(&fixtures().join("v31.yaml"), &options).unwrap();
    let create = op(&spec, "createItem");
    let extra = br#"{"name": "pen", "price": 1, "color": "red"}"#;
    assert_eq!(create.check_body(Some("application/json"), extra), Ok(()));
}

#[test]
fn responses_are_stripped_blocked_or_reported() {
    let spec = load("v31.yaml");
    let get = op(&spec, "getItem");
    assert!(get.deprecated);
    assert_eq!(get.sunset.as_deref(), Some("2030-01-01"));
    let ResponsePlan::Json(schema) = get.response_plan(200, Some("application/json")) else {
        panic!("200 is documented as JSON")
    };
    assert_eq!(
        get.response_plan(500, Some("text/plain")),
        ResponsePlan::Undocumented
    );
    assert_eq!(
        get.response_plan(200, Some("text/html")),
        ResponsePlan::Unchecked
    );
    let list = op(&spec, "listItems");
    assert!(matches!(
        list.response_plan(404, None),
        ResponsePlan::Unchecked
    ));

    let leaky = br#"{"id": 1, "name": "pen", "price": 2, "secret": "s3", "password_hash": "$2b$x", "owner": {"name": "ann", "ssn": "1"}}"#;
    let v = get.check_response(schema, leaky, ResponseMode::Strip);
    assert_eq!(v.removed, 3);
    assert!(!v.refuse);
    let body: serde_json::Value = serde_json::from_slice(&v.rewritten.unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"id": 1, "name": "pen", "price": 2, "owner": {"name": "ann"}})
    );
    let v = get.check_response(schema, leaky, ResponseMode::Block);
    assert!(v.refuse && v.rewritten.is_none() && v.violations.len() == 3);
    let v = get.check_response(schema, leaky, ResponseMode::Report);
    assert!(!v.refuse && v.rewritten.is_none() && v.violations.len() == 3);
    let clean = br#"{"id": 1, "name": "pen", "price": 2}"#;
    let v = get.check_response(schema, clean, ResponseMode::Block);
    assert!(!v.refuse && v.violations.is_empty());
    let v = get.check_response(schema, b"<html>", ResponseMode::Strip);
    assert!(v.refuse);
}

#[test]
fn hostile_bodies_are_bounded() {
    let spec = load("v31.yaml");
    let create = op(&spec, "createItem");
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(create
        .check_body(Some("application/json"), deep.as_bytes())
        .is_err());
    // Many violations: the list is capped.
    let many: String = (0..500)
        .map(|i| format!("\"f{i}\": 1"))
        .collect::<Vec<_>>()
        .join(",");
    let Err(RequestRefusal::Invalid {
        violations,
        truncated,
    }) = create.check_body(Some("application/json"), format!("{{{many}}}").as_bytes())
    else {
        panic!("accepted")
    };
    assert_eq!(violations.len(), Options::default().max_errors);
    assert!(truncated);
    // Garbage never panics.
    for junk in [
        &b"\xff\xfe"[..],
        b"null",
        b"[]",
        b"1e999999",
        b"\"\\ud800\"",
    ] {
        let _ = create.check_body(Some("application/json"), junk);
        let _ = create.check_body(Some("application/x-www-form-urlencoded"), junk);
        let _ = create.check_body(Some("multipart/form-data; boundary=x"), junk);
    }
}

#[test]
fn json_specs_load_like_yaml_ones() {
    let yaml: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(fixtures().join("v31.yaml")).unwrap())
            .unwrap();
    let text = serde_json::to_string_pretty(&yaml).unwrap();
    let spec = Spec::parse(&text, Path::new("v31.json"), &Options::default()).unwrap();
    let create = op(&spec, "createItem");
    assert_eq!(
        reasons(create.check_body(Some("application/json"), br#"{"name": "pen", "price": 0}"#)),
        ["/body/price at or below the minimum 0"]
    );
    // Errors in JSON text are placed too.
    let broken = text.replacen("\"integer\"", "\"int\"", 1);
    let err = Spec::parse(&broken, Path::new("v31.json"), &Options::default()).unwrap_err();
    assert!(
        err.0[0].line > 1 && err.to_string().contains("unknown type \"int\""),
        "{err}"
    );
    // A spec given as text may not reference files.
    let err = Spec::parse(
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    $ref: 'other.yaml#/x'\n",
        Path::new("t.yaml"),
        &Options::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("only a spec loaded from a file"),
        "{err}"
    );
}
