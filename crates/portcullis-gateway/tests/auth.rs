//! Authentication and authorization through real sockets: a real identity provider (discovery,
//! rotating JWKS, introspection) started by the test, real keys of each kind, the demo API as
//! upstream, real TLS with client certificates.

mod support;

use std::time::Duration;

use jsonwebtoken::{Algorithm, Header};
use portcullis_gateway::auth::api_key;
use serde_json::json;
use support::idp::{self, Idp, Signer};
use support::*;

const PEPPER: &str = "pepper-0123456789abcdef0123456789";

/// A declared API key (only its hash is in the config) and its expired twin.
struct Declared {
    key: String,
    expired: String,
}

struct Setup {
    env: Env,
    idp: Idp,
    rsa: Signer,
    ec: Signer,
    ed: Signer,
    declared: Declared,
}

fn routes() -> &'static str {
    "      - { name: open, path: /echo/open/*, auth: { anonymous: true } }
      - { name: admin, path: /echo/admin/*, auth: { roles: [admin] } }
      - { name: mfa, path: /echo/mfa/*, auth: { require_mfa: true } }
      - { name: acr, path: /echo/acr/*, auth: { acr: [gold] } }
      - { name: scoped, path: /echo/scoped/*, auth: { scopes: ['orders:read', 'orders:write'] } }
      - { name: keys, path: /echo/keys/*, auth: { providers: [partners] } }
      - { name: mixed, path: /echo/mixed/*, auth: { providers: [mixed] } }
      - { name: users, path: /echo/users/*, auth: { providers: [users] } }
      - { name: basic, path: /echo/basic/*, auth: { providers: [ops] } }
      - { name: mtls, path: /echo/mtls/*, auth: { providers: [service] } }
      - { name: opaque, path: /echo/opaque/*, auth: { providers: [opaque] } }
      - { name: ipdeny, path: /echo/ipdeny/*, auth: { ip_filter: { deny: [127.0.0.0/8] } } }
      - name: orders
        path: '/users/{user}/orders'
        methods: [GET]
        auth:
          condition: \"request.path.user == principal.sub || 'admin' in principal.roles\"
      - { name: echo, path: /echo/*, methods: [GET, POST] }
"
}

async fn setup() -> Setup {
    setup_with_lockout("{ max_failures: 1000 }").await
}

async fn setup_with_lockout(lockout: &str) -> Setup {
    let demo = demo_api().await;
    let idp = Idp::start().await;
    let (rsa, ec, ed) = (Signer::rsa("rsa-1"), Signer::ec("ec-1"), Signer::ed("ed-1"));
    idp.publish(&[&rsa, &ec, &ed]);
    let (prefix, key) = api_key::generate();
    let (old_prefix, expired) = api_key::generate();
    let alice_hash = portcullis_gateway::auth::basic::hash_password("alice-pass").unwrap();
    let yaml = format!(
        "{listeners}state: {{ path: state.redb }}
security_events: {{ path: events.log }}
upstreams:
  main: {{ targets: [\"http://{demo}\"] }}
apis:
  - name: test
    upstream: main
    auth:
      identity_headers: {{ subject: x-user }}
      lockout: {lockout}
      providers:
        users:
          jwt:
            issuer: {issuer}
            discovery: true
            audiences: [{aud}]
            algorithms: [RS256, ES256, EdDSA]
            required_claims: [sub]
            jwks_min_refresh: 200ms
            cookie: session
        partners:
          api_key:
            pepper: ${{file:pepper}}
            query_param: api_key
            store: true
            keys:
              - {{ prefix: {prefix}, hash: {hash}, owner: acme, scopes: [partner] }}
              - {{ prefix: {old_prefix}, hash: {old_hash}, owner: old, expires: '2020-01-01T00:00:00Z' }}
        mixed:
          jwt:
            issuer: {issuer}/mixed
            jwks_uri: {issuer}/jwks.json
            audiences: [{aud}]
            algorithms: [RS256, HS256]
        ops:
          basic:
            users:
              alice: {{ hash: '{alice_hash}', roles: [ops] }}
        service:
          mtls: {{ roles: [service] }}
        opaque:
          introspection:
            url: {issuer}/introspect
            client_id: {client_id}
            client_secret: ${{file:client-secret}}
    routes:
{routes}",
        listeners = listeners_yaml().replace(
            "tls: { cert: tls/cert.pem, key: tls/key.pem }",
            "tls: { cert: tls/cert.pem, key: tls/key.pem, client_ca: tls/ca.pem }"
        ),
        issuer = idp.issuer(),
        aud = idp::AUDIENCE,
        hash = api_key::hash(PEPPER.as_bytes(), &key),
        old_hash = api_key::hash(PEPPER.as_bytes(), &expired),
        client_id = idp::CLIENT_ID,
        routes = routes(),
    );
    let env = Env::start_with_files(
        &yaml,
        &[("pepper", PEPPER), ("client-secret", idp::CLIENT_SECRET)],
    )
    .await;
    Setup {
        env,
        idp,
        rsa,
        ec,
        ed,
        declared: Declared { key, expired },
    }
}

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}\r\n")
}

impl Setup {
    async fn get(&self, path: &str, headers: &str) -> Response {
        get(self.env.http(), path, headers).await
    }

    async fn events(&self) -> String {
        tokio::time::sleep(Duration::from_millis(250)).await;
        std::fs::read_to_string(self.env.path("events.log")).unwrap_or_default()
    }

    fn token(&self, sub: &str, extra: serde_json::Value) -> String {
        let mut claims = self.idp.claims(sub);
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        self.rsa.sign(&claims)
    }
}

fn assert_401(r: &Response, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.raw);
    assert_eq!(
        r.json()["type"],
        "https://portcullis.dev/problems/unauthenticated",
        "{what}"
    );
    let challenge = r.header("www-authenticate").unwrap_or_default();
    if challenge.starts_with("Bearer") {
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge}"
        );
    } else {
        assert!(!challenge.is_empty(), "{what}: no challenge");
    }
}

#[tokio::test]
async fn valid_tokens_of_each_algorithm_pass_with_identity_headers_and_no_credential_upstream() {
    let s = setup().await;
    for signer in [&s.rsa, &s.ec, &s.ed] {
        let mut claims = s.idp.claims("alice");
        claims["roles"] = json!(["user"]);
        claims["scope"] = json!("orders:read orders:write");
        let token = signer.sign(&claims);
        let r = s
            .get(
                "/echo/x",
                &format!("{}X-User: admin\r\nX-Auth-Roles: admin\r\n", bearer(&token)),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}: {}", signer.alg, r.raw);
        let h = &r.json()["headers"];
        assert_eq!(
            h["x-user"], "alice",
            "spoofed header replaced by the verified subject"
        );
        assert_eq!(h["x-auth-roles"], "user");
        assert_eq!(h["x-auth-scopes"], "orders:read orders:write");
        assert_eq!(h["x-auth-provider"], "users");
        assert!(h.get("authorization").is_none(), "token not forwarded");
    }
    let token = s.token("carol", json!({}));
    let r = s
        .get(
            "/echo/x",
            &format!("Cookie: theme=dark; session={token}\r\n"),
        )
        .await;
    assert_eq!(r.status, 200, "token from the session cookie: {}", r.raw);
    assert_eq!(r.json()["headers"]["x-user"], "carol");
}

#[tokio::test]
async fn forged_expired_and_confused_tokens_are_refused() {
    let s = setup().await;
    let now = idp::now();
    let base = s.idp.claims("alice");
    let with = |k: &str, v: serde_json::Value| {
        let mut c = base.clone();
        c[k] = v;
        c
    };
    let mut no_sub = base.clone();
    no_sub.as_object_mut().unwrap().remove("sub");
    let mut jku = Header::new(Algorithm::RS256);
    jku.kid = Some("rsa-1".into());
    jku.jku = Some("http://127.0.0.1:1/evil.json".into());
    let mut x5u = Header::new(Algorithm::RS256);
    x5u.kid = Some("rsa-1".into());
    x5u.x5u = Some("http://127.0.0.1:1/evil.pem".into());
    let mut jwk = Header::new(Algorithm::RS256);
    jwk.kid = Some("rsa-1".into());
    jwk.jwk = Some(serde_json::from_value(s.rsa.jwk.clone()).unwrap());
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            s.rsa.sign(&with("exp", json!(now - 3600))),
            "expired",
        ),
        (
            "nbf in the future",
            s.rsa.sign(&with("nbf", json!(now + 3600))),
            "not_yet_valid",
        ),
        (
            "wrong issuer",
            s.rsa.sign(&with("iss", json!("http://evil.example"))),
            "wrong_issuer",
        ),
        (
            "wrong audience",
            s.rsa.sign(&with("aud", json!("other-api"))),
            "wrong_audience",
        ),
        ("alg none", idp::unsigned("rsa-1", &base), "malformed"),
        (
            "HS256 signed with the RSA public key",
            idp::hs256("rsa-1", s.rsa.public_pem.as_bytes(), &base),
            "algorithm_not_allowed",
        ),
        (
            "tampered payload",
            idp::tampered(&s.rsa.sign(&base), &with("sub", json!("admin"))),
            "bad_signature",
        ),
        (
            "missing required claim",
            s.rsa.sign(&no_sub),
            "missing_claim",
        ),
        ("jku header", s.rsa.sign_with(jku, &base), "key_in_header"),
        ("x5u header", s.rsa.sign_with(x5u, &base), "key_in_header"),
        ("embedded jwk", s.rsa.sign_with(jwk, &base), "key_in_header"),
        ("garbage", "a.b.c".into(), "malformed"),
    ];
    for (what, token, _) in &cases {
        let r = s.get("/echo/users/x", &bearer(token)).await;
        assert_401(&r, what);
        assert!(
            !r.body.contains("expired") && !r.body.contains("signature"),
            "{what}: body says too much"
        );
    }
    let events = s.events().await;
    for (what, token, reason) in &cases {
        assert!(
            events.contains(&format!("\"reason\":\"{reason}\"")),
            "{what}: no {reason} event in {events}"
        );
        assert!(
            !events.contains(token.as_str()),
            "a token reached the event log"
        );
    }
}

#[tokio::test]
async fn algorithm_confusion_is_refused_even_where_hmac_is_an_allowed_algorithm() {
    // Provider `mixed` allows RS256 and HS256: the header check passes, and the key's pinned
    // algorithm (RSA keys never verify HMAC) is what stops the forgery.
    let s = setup().await;
    let mut claims = s.idp.claims("alice");
    claims["iss"] = json!(format!("{}/mixed", s.idp.issuer()));
    let good = s.rsa.sign(&claims);
    let r = s.get("/echo/mixed/x", &bearer(&good)).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(
        r.json()["headers"]["x-auth-provider"],
        "mixed",
        "routed by issuer"
    );
    let forged = idp::hs256("rsa-1", s.rsa.public_pem.as_bytes(), &claims);
    assert_401(
        &s.get("/echo/mixed/x", &bearer(&forged)).await,
        "hs256 confusion",
    );
    assert!(s
        .events()
        .await
        .contains("\"reason\":\"algorithm_mismatch\""));
}

#[tokio::test]
async fn keys_are_kept_when_the_identity_provider_fails() {
    let s = setup().await;
    let token = s.token("alice", json!({}));
    assert_eq!(s.get("/echo/x", &bearer(&token)).await.status, 200);
    s.idp.set_failing(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // An unknown kid forces a refresh, which fails; the known key still verifies.
    let unknown = Signer::ec("ec-9").sign(&s.idp.claims("alice"));
    assert_401(
        &s.get("/echo/x", &bearer(&unknown)).await,
        "unknown kid during outage",
    );
    let fresh = s.token("alice", json!({"jti": "another"}));
    assert_eq!(
        s.get("/echo/x", &bearer(&fresh)).await.status,
        200,
        "old keys kept"
    );
}

#[tokio::test]
async fn unknown_kid_passes_once_the_rotated_key_is_published_and_refreshes_are_rate_limited() {
    let s = setup().await;
    let warm = s.token("alice", json!({}));
    assert_eq!(s.get("/echo/x", &bearer(&warm)).await.status, 200);
    let fetches = s.idp.jwks_fetches();
    let next = Signer::ec("ec-2");
    let token = next.sign(&s.idp.claims("alice"));
    assert_401(
        &s.get("/echo/x", &bearer(&token)).await,
        "kid not yet published",
    );
    // A burst of unknown kids is single-flight and rate-limited: not one fetch per request.
    let mut burst = Vec::new();
    for i in 0..20 {
        let t = Signer::ec(&format!("random-{i}")).sign(&s.idp.claims("x"));
        let addr = s.env.http();
        burst.push(tokio::spawn(async move {
            get(addr, "/echo/x", &bearer(&t)).await.status
        }));
    }
    for b in burst {
        assert_eq!(b.await.unwrap(), 401);
    }
    assert!(
        s.idp.jwks_fetches() - fetches <= 3,
        "{} fetches for 21 unknown kids",
        s.idp.jwks_fetches() - fetches
    );
    s.idp.publish(&[&s.rsa, &next]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = s.get("/echo/x", &bearer(&token)).await;
    assert_eq!(r.status, 200, "after rotation: {}", r.raw);
    let old = s.token("alice", json!({"jti": "still-rsa"}));
    assert_eq!(
        s.get("/echo/x", &bearer(&old)).await.status,
        200,
        "old key kept"
    );
}

#[tokio::test]
async fn missing_credentials_get_one_challenge_per_provider_and_anonymous_routes_strip_spoofing() {
    let s = setup().await;
    let r = s.get("/echo/x", "").await;
    assert_eq!(r.status, 401);
    let challenges = Env::all_headers(&r, "www-authenticate");
    assert!(
        challenges
            .iter()
            .any(|c| c.starts_with("Bearer realm=\"test\"")),
        "{challenges:?}"
    );
    assert!(
        challenges
            .iter()
            .any(|c| c.starts_with("Basic realm=\"test\"")),
        "{challenges:?}"
    );
    assert!(
        challenges.iter().any(|c| c.starts_with("ApiKey")),
        "{challenges:?}"
    );
    assert!(
        challenges.iter().all(|c| !c.contains("error=")),
        "no error code without a credential"
    );

    let r = s
        .get(
            "/echo/open/x",
            "X-User: admin\r\nX-Auth-Provider: users\r\n",
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.json()["headers"].get("x-user").is_none(),
        "spoofed identity removed"
    );
    assert!(r.json()["headers"].get("x-auth-provider").is_none());
}

#[tokio::test]
async fn roles_scopes_and_step_up_decide_with_the_right_answers() {
    let s = setup().await;
    let user = s.token(
        "alice",
        json!({"roles": ["user"], "scope": "orders:read", "amr": ["pwd"]}),
    );
    let admin = s.token("root", json!({"roles": ["admin"], "scope": "orders:read orders:write", "amr": ["pwd", "otp"], "acr": "gold"}));

    let r = s.get("/echo/admin/x", &bearer(&user)).await;
    assert_eq!(r.status, 403, "{}", r.raw);
    assert_eq!(
        r.json()["type"],
        "https://portcullis.dev/problems/forbidden"
    );
    assert_eq!(s.get("/echo/admin/x", &bearer(&admin)).await.status, 200);

    let r = s.get("/echo/scoped/x", &bearer(&user)).await;
    assert_eq!(r.status, 403);
    let c = r.header("www-authenticate").unwrap();
    assert!(
        c.contains("error=\"insufficient_scope\"") && c.contains("orders:read orders:write"),
        "{c}"
    );
    assert_eq!(s.get("/echo/scoped/x", &bearer(&admin)).await.status, 200);

    let r = s.get("/echo/mfa/x", &bearer(&user)).await;
    assert_eq!(r.status, 401, "{}", r.raw);
    assert_eq!(
        r.json()["type"],
        "https://portcullis.dev/problems/step-up-required"
    );
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("insufficient_user_authentication"));
    assert_eq!(
        s.get("/echo/mfa/x", &bearer(&admin)).await.status,
        200,
        "amr has otp"
    );

    let r = s.get("/echo/acr/x", &bearer(&user)).await;
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("acr_values=\"gold\""));
    assert_eq!(s.get("/echo/acr/x", &bearer(&admin)).await.status, 200);

    let events = s.events().await;
    for reason in [
        "missing_role",
        "missing_scope",
        "mfa_required",
        "acr_insufficient",
    ] {
        assert!(events.contains(reason), "no {reason} event");
    }
    assert!(events.contains("\"principal\":\"alice\""));
}

#[tokio::test]
async fn object_level_rule_lets_owners_and_admins_through_only() {
    let s = setup().await;
    let alice = s.token("alice", json!({}));
    let bob = s.token("bob", json!({}));
    let admin = s.token("admin", json!({"roles": ["admin"]}));
    assert_eq!(
        s.get("/users/alice/orders", &bearer(&alice)).await.status,
        200
    );
    assert_eq!(s.get("/users/bob/orders", &bearer(&bob)).await.status, 200);
    let r = s.get("/users/bob/orders", &bearer(&alice)).await;
    assert_eq!(r.status, 403, "alice reading bob's orders: {}", r.raw);
    assert_eq!(
        s.get("/users/alice/orders", &bearer(&bob)).await.status,
        403
    );
    assert_eq!(
        s.get("/users/bob/orders", &bearer(&admin)).await.status,
        200
    );
    assert!(s.events().await.contains("condition_false"));
}

#[tokio::test]
async fn api_keys_valid_wrong_revoked_expired_and_rotated() {
    let s = setup().await;
    let key = |k: &str| format!("X-Api-Key: {k}\r\n");
    let r = s.get("/echo/keys/x", &key(&s.declared.key)).await;
    assert_eq!(r.status, 200, "declared key: {}", r.raw);
    assert_eq!(r.json()["headers"]["x-user"], "acme");
    assert!(
        r.json()["headers"].get("x-api-key").is_none(),
        "key not forwarded"
    );
    assert_401(
        &s.get("/echo/keys/x", &key(&s.declared.expired)).await,
        "expired declared key",
    );
    let mut wrong = s.declared.key.clone();
    wrong.pop();
    wrong.push(if s.declared.key.ends_with('A') {
        'B'
    } else {
        'A'
    });
    assert_401(&s.get("/echo/keys/x", &key(&wrong)).await, "wrong secret");
    // A JWT is not accepted where only API keys are.
    let jwt = s.token("alice", json!({}));
    assert_eq!(s.get("/echo/keys/x", &bearer(&jwt)).await.status, 401);

    // Stored keys through the admin API.
    let admin = |method: &str, path: &str, body: &str| {
        let addr = s.env.admin();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: admin\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        async move { http_raw(addr, &req).await }
    };
    let created = admin(
        "POST",
        "/keys/test/partners",
        r#"{"owner": "globex", "scopes": ["partner"]}"#,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.raw);
    let stored = created.json()["key"].as_str().unwrap().to_owned();
    let prefix = created.json()["record"]["prefix"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        created.json()["record"].get("hash").is_none(),
        "hash never shown"
    );
    let r = s.get("/echo/keys/x", &key(&stored)).await;
    assert_eq!(r.json()["headers"]["x-user"], "globex");
    let r = s.get(&format!("/echo/keys/x?api_key={stored}"), "").await;
    assert_eq!(
        r.status, 200,
        "key in the enabled query parameter: {}",
        r.raw
    );

    let short = admin(
        "POST",
        "/keys/test/partners",
        r#"{"owner": "brief", "expires_in": "1s"}"#,
    )
    .await;
    let short_key = short.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(s.get("/echo/keys/x", &key(&short_key)).await.status, 200);

    let rotated = admin(
        "POST",
        &format!("/keys/test/partners/{prefix}/rotate"),
        r#"{"overlap": "1s"}"#,
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.raw);
    let new_key = rotated.json()["new"]["key"].as_str().unwrap().to_owned();
    assert_eq!(
        s.get("/echo/keys/x", &key(&stored)).await.status,
        200,
        "old key inside the overlap"
    );
    assert_eq!(
        s.get("/echo/keys/x", &key(&new_key)).await.status,
        200,
        "new key"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_401(
        &s.get("/echo/keys/x", &key(&stored)).await,
        "old key after the overlap",
    );
    assert_401(
        &s.get("/echo/keys/x", &key(&short_key)).await,
        "expired stored key",
    );
    assert_eq!(s.get("/echo/keys/x", &key(&new_key)).await.status, 200);

    let new_prefix = rotated.json()["new"]["record"]["prefix"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = admin(
        "POST",
        &format!("/keys/test/partners/{new_prefix}/revoke"),
        "",
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.raw);
    assert_401(&s.get("/echo/keys/x", &key(&new_key)).await, "revoked key");

    let list = admin("GET", "/keys/test/partners", "").await;
    let keys = list.json()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().any(|k| k["revoked"] == true));
    let used = keys
        .iter()
        .find(|k| k["prefix"] == prefix.as_str())
        .unwrap();
    assert!(
        used["last_used"].as_u64().is_some(),
        "last use recorded: {used}"
    );
    assert!(used["rotated_to"].is_string());
    let unauth = http_raw(
        s.env.admin(),
        "GET /keys/test/partners HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(unauth.status, 401);
    let events = s.events().await;
    for reason in ["revoked", "expired", "bad_secret"] {
        assert!(events.contains(reason), "no {reason} event");
    }
    assert!(
        !events.contains(&stored) && !events.contains(&new_key),
        "key in events"
    );
    assert!(
        !s.env.access_log().await.contains(&new_key),
        "key in access log"
    );
}

#[tokio::test]
async fn basic_auth_right_and_wrong_password() {
    let s = setup().await;
    let basic = |user: &str, pw: &str| {
        use base64::Engine;
        format!(
            "Authorization: Basic {}\r\n",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
        )
    };
    let r = s.get("/echo/basic/x", &basic("alice", "alice-pass")).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.json()["headers"]["x-user"], "alice");
    assert_eq!(r.json()["headers"]["x-auth-roles"], "ops");
    let wrong = s.get("/echo/basic/x", &basic("alice", "nope")).await;
    let unknown = s
        .get("/echo/basic/x", &basic("mallory", "alice-pass"))
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(
        wrong.body.len(),
        unknown.body.len(),
        "same answer for unknown users"
    );
    assert!(wrong
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic realm="));
    assert!(!s.events().await.contains("alice-pass"));
}

#[tokio::test]
async fn mutual_tls_certificate_becomes_the_principal() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let s = setup().await;
    let client = |cert: &std::path::Path, key: &std::path::Path| {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&s.env.pki.ca).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let chain: Vec<_> = CertificateDer::pem_file_iter(cert)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(key).unwrap())
        .unwrap();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        std::sync::Arc::new(cfg)
    };
    let req = "GET /echo/mtls/x HTTP/1.1\r\nHost: localhost\r\nX-User: admin\r\nConnection: close\r\n\r\n";
    let good = client(&s.env.pki.client_cert, &s.env.pki.client_key);
    let tls = tls_connect(s.env.https(), good).await.unwrap();
    let r = exchange(tls, req.as_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.json()["headers"]["x-user"], "client one");
    assert_eq!(r.json()["headers"]["x-auth-roles"], "service");

    let other = portcullis_demo::pki::generate(&s.env.path("other-ca"), "other").unwrap();
    let foreign = client(&other.client_cert, &other.client_key);
    let refused = match tls_connect(s.env.https(), foreign).await {
        Err(_) => true,
        Ok(tls) => {
            let r = exchange(tls, req.as_bytes()).await;
            r.status == 0
        }
    };
    assert!(
        refused,
        "a certificate from another CA must not complete the handshake"
    );

    let r = s.env.https_raw(req).await;
    assert_eq!(r.status, 401, "no certificate: {}", r.raw);
}

#[tokio::test]
async fn opaque_tokens_are_introspected_and_cached() {
    let s = setup().await;
    s.idp.opaque_token(
        "opaque-good-token",
        json!({"active": true, "sub": "svc-7", "scope": "a b", "exp": idp::now() + 600}),
    );
    let r = s.get("/echo/opaque/x", &bearer("opaque-good-token")).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.json()["headers"]["x-user"], "svc-7");
    let calls = s.idp.introspections();
    assert_eq!(
        s.get("/echo/opaque/x", &bearer("opaque-good-token"))
            .await
            .status,
        200
    );
    assert_eq!(
        s.idp.introspections(),
        calls,
        "second request served from the cache"
    );
    assert_401(
        &s.get("/echo/opaque/x", &bearer("opaque-unknown")).await,
        "inactive token",
    );
}

#[tokio::test]
async fn repeated_failures_lock_the_client_out_and_the_lockout_ends() {
    let s =
        setup_with_lockout("{ max_failures: 3, window: 1m, lockout: 1s, max_lockout: 4s }").await;
    let bad = |i: usize| format!("X-Api-Key: pck_aaaaaaaaaaa{i}_{}\r\n", "x".repeat(32));
    for i in 0..3 {
        assert_eq!(s.get("/echo/keys/x", &bad(i)).await.status, 401);
    }
    let r = s
        .get(
            "/echo/keys/x",
            &format!("X-Api-Key: {}\r\n", s.declared.key),
        )
        .await;
    assert_eq!(r.status, 429, "locked out even with a good key: {}", r.raw);
    assert_eq!(
        r.json()["type"],
        "https://portcullis.dev/problems/locked-out"
    );
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=4).contains(&retry), "{retry}");
    assert!(s.events().await.contains("\"event\":\"locked_out\""));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = s
        .get(
            "/echo/keys/x",
            &format!("X-Api-Key: {}\r\n", s.declared.key),
        )
        .await;
    assert_eq!(r.status, 200, "lockout over: {}", r.raw);
}

#[tokio::test]
async fn denied_client_ips_are_refused_before_authentication() {
    let s = setup().await;
    let r = s
        .get("/echo/ipdeny/x", &bearer(&s.token("alice", json!({}))))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["type"],
        "https://portcullis.dev/problems/ip-denied"
    );
}
