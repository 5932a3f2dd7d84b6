//! Writes what `bench/auth.sh` needs into a folder: `jwks.json` (an RSA and a P-256 key) and an
//! RS256 and an ES256 token for it (issuer `bench`, audience `bench`, valid for a day).
//!
//!     cargo run --release -p portcullis-demo --example bench_tokens -- OUT_DIR

use portcullis_demo::signers::Signer;
use serde_json::json;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: bench_tokens OUT_DIR");
    let dir = std::path::Path::new(&dir);
    let (rsa, ec) = (Signer::rsa("bench-rsa"), Signer::ec("bench-ec"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let claims = json!({"iss": "bench", "aud": "bench", "sub": "bench-user", "exp": now + 86_400,
        "roles": ["user"], "scope": "bench:read"});
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).expect("output folder is writable");
    };
    write("jwks.json", json!({"keys": [rsa.jwk, ec.jwk]}).to_string());
    write("rs256.token", rsa.sign(&claims));
    write("es256.token", ec.sign(&claims));
}
