//! API keys: `pck_<prefix>_<secret>`. The prefix is public (it names the key in logs, lists and
//! lockouts); the secret is 32 random characters. Only HMAC-SHA256(pepper, key) is stored, so a
//! stolen store or config cannot be replayed, and the comparison is constant-time.
//!
//! Keys come from the config (declared as hashes) or from the state store (created with
//! `portcullis keys create` or the admin API); a rotated key stays valid until the end of its
//! overlap, then fails like an expired one.

use std::collections::HashMap;
use std::sync::Arc;

use rand::Rng;
use subtle::ConstantTimeEq;

use super::{Failure, Principal};
use crate::state::key_store::{unix_now, KeyRecord, KeyStore, StoreError};

/// Every key starts with this.
pub const KEY_PREFIX: &str = "pck_";
/// Length of the public prefix.
pub const PREFIX_LEN: usize = 12;
/// Length of the secret part.
pub const SECRET_LEN: usize = 32;

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const PREFIX_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A new random key: `(prefix, full key)`.
pub fn generate() -> (String, String) {
    let mut rng = rand::rng();
    let mut pick = |alphabet: &[u8], n: usize| -> String {
        (0..n)
            .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
            .collect()
    };
    let prefix = pick(PREFIX_ALPHABET, PREFIX_LEN);
    let secret = pick(ALPHABET, SECRET_LEN);
    let key = format!("{KEY_PREFIX}{prefix}_{secret}");
    (prefix, key)
}

/// The public prefix of a well-formed key.
pub fn prefix_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (prefix, secret) = rest.split_once('_')?;
    let ok = prefix.len() == PREFIX_LEN
        && secret.len() == SECRET_LEN
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && secret.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then_some(prefix)
}

/// HMAC-SHA256(pepper, key), hex.
pub fn hash(pepper: &[u8], key: &str) -> String {
    hash_with(&Pepper::new(pepper), key)
}

/// A pepper ready for HMAC (the key schedule is computed once, not per request).
pub struct Pepper(Box<aws_lc_rs::hmac::Key>);

impl Pepper {
    /// Prepares `secret`.
    pub fn new(secret: &[u8]) -> Self {
        Self(Box::new(aws_lc_rs::hmac::Key::new(
            aws_lc_rs::hmac::HMAC_SHA256,
            secret,
        )))
    }
}

/// HMAC-SHA256 with a prepared pepper, hex.
pub fn hash_with(pepper: &Pepper, key: &str) -> String {
    hex(aws_lc_rs::hmac::sign(&pepper.0, key.as_bytes()).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// A key's record and the principal it authenticates as, built once.
pub struct KeyEntry {
    /// What is stored.
    pub record: KeyRecord,
    /// The principal for this key.
    pub principal: Arc<Principal>,
}

impl KeyEntry {
    /// Builds the entry of `record` for provider `provider`.
    pub fn new(record: KeyRecord, provider: Arc<str>) -> Self {
        let mut claims = serde_json::Map::new();
        claims.insert("key_prefix".into(), record.prefix.clone().into());
        claims.insert("owner".into(), record.owner.clone().into());
        let principal = Arc::new(Principal {
            id: record.owner.clone(),
            provider,
            roles: record.roles.clone(),
            scopes: record.scopes.clone(),
            claims,
            ..Principal::default()
        });
        Self { record, principal }
    }
}

/// Verifies API keys for one provider.
pub struct ApiKeyProvider {
    /// Provider name.
    pub name: Arc<str>,
    /// Header carrying the key.
    pub header: http::HeaderName,
    /// Query parameter carrying the key (only when explicitly enabled).
    pub query_param: Option<String>,
    /// Server-side secret mixed into every hash.
    pub pepper: Pepper,
    /// Keys declared in the config, by prefix.
    pub declared: HashMap<String, Arc<KeyEntry>>,
    /// The state store and this provider's namespace in it (`api/provider`).
    pub store: Option<(Arc<KeyStore>, String)>,
}

impl ApiKeyProvider {
    /// Verifies `key`.
    pub fn verify(&self, key: &str) -> Result<Arc<Principal>, Failure> {
        let expected = hash_with(&self.pepper, key);
        let Some(prefix) = prefix_of(key) else {
            return Err(Failure::invalid("malformed"));
        };
        let entry = match self.declared.get(prefix) {
            Some(e) => Some(e.clone()),
            None => self
                .store
                .as_ref()
                .and_then(|(store, ns)| store.get(prefix).filter(|e| e.record.namespace == *ns)),
        };
        let Some(entry) = entry else {
            return Err(Failure::invalid("unknown_key"));
        };
        if !bool::from(expected.as_bytes().ct_eq(entry.record.hash.as_bytes())) {
            return Err(Failure::invalid("bad_secret"));
        }
        if entry.record.revoked {
            return Err(Failure::invalid("revoked"));
        }
        if entry.record.expires.is_some_and(|t| t <= unix_now()) {
            return Err(Failure::invalid("expired"));
        }
        if let Some((store, _)) = &self.store {
            store.touch(prefix);
        }
        Ok(entry.principal.clone())
    }
}

/// A key just issued: the full key (shown once, never stored) and its record.
pub struct IssuedKey {
    /// The key to hand to the client.
    pub key: String,
    /// What was stored.
    pub record: KeyRecord,
}

/// What a new key grants.
#[derive(Debug, Clone, Default)]
pub struct KeyGrant {
    /// Owner.
    pub owner: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// Lifetime; `None`: no expiry.
    pub ttl: Option<std::time::Duration>,
}

impl ApiKeyProvider {
    /// The store and namespace, or an error saying the provider has no store.
    fn store(&self) -> Result<(&Arc<KeyStore>, &str), StoreError> {
        self.store
            .as_ref()
            .map(|(s, ns)| (s, ns.as_str()))
            .ok_or_else(|| StoreError::NoStore(self.name.to_string()))
    }

    /// A new key and its record (not stored): what `create` stores and `--declare` prints.
    pub fn mint(&self, namespace: &str, grant: &KeyGrant) -> IssuedKey {
        let (prefix, key) = generate();
        let now = unix_now();
        let record = KeyRecord {
            prefix,
            namespace: namespace.to_owned(),
            hash: hash_with(&self.pepper, &key),
            owner: grant.owner.clone(),
            scopes: grant.scopes.clone(),
            roles: grant.roles.clone(),
            created: now,
            expires: grant.ttl.map(|t| now.saturating_add(t.as_secs())),
            revoked: false,
            last_used: None,
            rotated_to: None,
        };
        IssuedKey { key, record }
    }

    /// Creates and stores a key.
    pub fn create(&self, grant: &KeyGrant) -> Result<IssuedKey, StoreError> {
        let (store, ns) = self.store()?;
        let issued = self.mint(ns, grant);
        store.insert(&issued.record)?;
        Ok(issued)
    }

    /// This provider's stored keys.
    pub fn list(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let (store, ns) = self.store()?;
        store.list(Some(ns))
    }

    /// Revokes a stored key of this provider.
    pub fn revoke(&self, prefix: &str) -> Result<KeyRecord, StoreError> {
        let (store, ns) = self.store()?;
        self.owned_record(store, ns, prefix)?;
        store.revoke(prefix)
    }

    /// Issues a replacement for `prefix` with the same grant; the old key stays valid for
    /// `overlap`, then fails as expired.
    pub fn rotate(
        &self,
        prefix: &str,
        overlap: std::time::Duration,
    ) -> Result<(IssuedKey, KeyRecord), StoreError> {
        let (store, ns) = self.store()?;
        let old = self.owned_record(store, ns, prefix)?;
        if old.revoked {
            return Err(StoreError::Revoked(prefix.to_owned()));
        }
        let now = unix_now();
        let grant = KeyGrant {
            owner: old.owner.clone(),
            scopes: old.scopes.clone(),
            roles: old.roles.clone(),
            ttl: old
                .expires
                .map(|e| std::time::Duration::from_secs(e.saturating_sub(now))),
        };
        let issued = self.mint(ns, &grant);
        let old = store.rotate(
            prefix,
            &issued.record,
            now.saturating_add(overlap.as_secs()),
        )?;
        Ok((issued, old))
    }

    fn owned_record(
        &self,
        store: &KeyStore,
        ns: &str,
        prefix: &str,
    ) -> Result<KeyRecord, StoreError> {
        store
            .record(prefix)
            .ok()
            .filter(|r| r.namespace == ns)
            .ok_or_else(|| StoreError::NotFound(prefix.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_others_do_not() {
        let (prefix, key) = generate();
        assert_eq!(prefix_of(&key), Some(prefix.as_str()));
        for bad in [
            "",
            "pck_",
            "pck_short_x",
            "sk_abcdefghijkl_abcdefghijklmnopqrstuvwxyzABCDEF",
            &format!("{key}x"),
            &key.replace('_', "-"),
        ] {
            assert_eq!(prefix_of(bad), None, "{bad}");
        }
        assert_ne!(hash(b"pepper", &key), hash(b"other", &key));
        assert_eq!(hash(b"pepper", &key).len(), 64);
    }
}
