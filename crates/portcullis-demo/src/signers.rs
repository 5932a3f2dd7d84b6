//! Signing keys of each kind a JWT provider meets (RSA, P-256, Ed25519) with their public JWKs,
//! and hostile token shapes (unsigned, HMAC with a public key as secret, tampered payloads).
//! Used by tests, benchmarks and the benchmark token generator; never by the gateway.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// A signing key with its public JWK.
pub struct Signer {
    /// Key id.
    pub kid: String,
    /// Algorithm tokens are signed with.
    pub alg: Algorithm,
    key: EncodingKey,
    /// The public JWK.
    pub jwk: Value,
    /// PEM of the public key (what an algorithm-confusion attacker uses as an HMAC secret).
    pub public_pem: String,
}

impl Signer {
    /// A 2048-bit RSA key (RS256).
    pub fn rsa(kid: &str) -> Self {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .expect("key generation and signing work");
        let pkcs8 = pair.as_der().expect("key generation and signing work");
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        let spki = public.as_der().expect("key generation and signing work");
        Self {
            kid: kid.into(),
            alg: Algorithm::RS256,
            key: EncodingKey::from_rsa_der(&pkcs1_from_pkcs8(pkcs8.as_ref())),
            jwk: json!({"kty": "RSA", "kid": kid, "use": "sig", "n": n, "e": e}),
            public_pem: pem("PUBLIC KEY", spki.as_ref()),
        }
    }

    /// A P-256 key (ES256).
    pub fn ec(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("key generation and signing work");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("key generation and signing work");
        let point = pair.public_key().as_ref();
        Self {
            kid: kid.into(),
            alg: Algorithm::ES256,
            key: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])}),
            public_pem: String::new(),
        }
    }

    /// An Ed25519 key (EdDSA).
    pub fn ed(kid: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .expect("key generation and signing work");
        let pair =
            Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key generation and signing work");
        Self {
            kid: kid.into(),
            alg: Algorithm::EdDSA,
            key: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())}),
            public_pem: String::new(),
        }
    }

    /// The same RSA key signing with another RSA algorithm (e.g. PS256).
    pub fn with_alg(mut self, alg: Algorithm) -> Self {
        self.alg = alg;
        self
    }

    /// Signs `claims` with this key's algorithm and kid.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        self.sign_with(header, claims)
    }

    /// Signs `claims` with a caller-built header.
    pub fn sign_with(&self, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.key).expect("key generation and signing work")
    }
}

/// A token signed with HS256 using `secret`, naming `kid`.
pub fn hs256(kid: &str, secret: &[u8], claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret))
        .expect("key generation and signing work")
}

/// An unsigned `alg: none` token.
pub fn unsigned(kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// `token` with its payload replaced (signature kept).
pub fn tampered(token: &str, claims: &Value) -> String {
    let mut parts = token.split('.');
    let header = parts.next().expect("key generation and signing work");
    parts.next();
    let sig = parts.next().expect("key generation and signing work");
    format!(
        "{header}.{}.{sig}",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("key generation and signing work"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The PKCS#1 RSAPrivateKey inside a PKCS#8 PrivateKeyInfo
/// (SEQUENCE { INTEGER version, SEQUENCE algorithm, OCTET STRING key }).
fn pkcs1_from_pkcs8(der: &[u8]) -> Vec<u8> {
    fn tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
        let tag = input[0];
        let (len, head) = if input[1] < 0x80 {
            (usize::from(input[1]), 2)
        } else {
            let n = usize::from(input[1] & 0x7f);
            let len = input[2..2 + n]
                .iter()
                .fold(0usize, |a, b| (a << 8) | usize::from(*b));
            (len, 2 + n)
        };
        (tag, &input[head..head + len], &input[head + len..])
    }
    let (_, body, _) = tlv(der);
    let (_, _, rest) = tlv(body); // version
    let (_, _, rest) = tlv(rest); // algorithm
    let (tag, key, _) = tlv(rest);
    assert_eq!(tag, 0x04, "PKCS#8 key is an OCTET STRING");
    key.to_vec()
}
