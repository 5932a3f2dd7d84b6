//! The demo's token issuer: an Ed25519 key generated at start, EdDSA JWTs, and a JWKS.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// The demo's signing key and its public JWK.
pub struct DemoKeys {
    encoding: EncodingKey,
    kid: String,
    public_x: String,
}

impl DemoKeys {
    /// A fresh Ed25519 key.
    pub fn generate() -> Result<Self, String> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| "cannot generate demo key".to_owned())?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|_| "cannot load demo key".to_owned())?;
        let public_x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let kid = public_x.chars().take(8).collect();
        Ok(Self {
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            kid,
            public_x,
        })
    }

    /// Signs `claims` as an EdDSA JWT.
    pub fn sign(&self, claims: &Value) -> Result<String, String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| e.to_string())
    }

    /// The JWKS document.
    pub fn jwks(&self) -> Value {
        json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": self.kid,
                "x": self.public_x,
            }]
        })
    }
}
