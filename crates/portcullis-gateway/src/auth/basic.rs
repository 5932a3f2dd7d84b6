//! HTTP Basic authentication against argon2id password hashes.
//!
//! argon2 is deliberately slow, so paying it on every request would be a denial of service:
//! a successful check is cached (keyed by a salted hash of user and password, never the
//! password) for a short time. An unknown user is checked against a dummy hash so both answers
//! take the same time and say the same thing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

use super::token_cache::{self, TokenCache};
use super::{Failure, Principal};

/// How long a verified user/password pair is served from the cache.
pub const CACHE_TTL: Duration = Duration::from_secs(300);

/// One user.
pub struct BasicUser {
    hash: String,
    principal: Arc<Principal>,
}

/// Verifies Basic credentials.
pub struct BasicProvider {
    /// Provider name.
    pub name: Arc<str>,
    /// Realm in the challenge.
    pub realm: String,
    users: HashMap<String, BasicUser>,
    dummy: String,
    salt: [u8; 16],
    cache: TokenCache<Arc<Principal>>,
}

/// Hashes a password as an argon2id PHC string (`portcullis hash-password`).
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash password: {e}"))
}

impl BasicProvider {
    /// A provider for `users` (name → (PHC hash, roles, scopes)). Hashes are checked here.
    pub fn new(
        name: Arc<str>,
        realm: String,
        users: Vec<(String, String, Vec<String>, Vec<String>)>,
    ) -> Result<Self, String> {
        let mut map = HashMap::new();
        for (user, hash, roles, scopes) in users {
            let parsed = PasswordHash::new(&hash)
                .map_err(|e| format!("user {user:?}: not a PHC password hash: {e}"))?;
            if !parsed.algorithm.as_str().starts_with("argon2") {
                return Err(format!(
                    "user {user:?}: use an argon2id hash (portcullis hash-password)"
                ));
            }
            let principal = Arc::new(Principal {
                id: user.clone(),
                provider: name.clone(),
                roles,
                scopes,
                amr: vec!["pwd".into()],
                ..Principal::default()
            });
            map.insert(user, BasicUser { hash, principal });
        }
        let dummy = hash_password(&uuid::Uuid::new_v4().to_string())?;
        let mut salt = [0u8; 16];
        rand::Rng::fill(&mut rand::rng(), &mut salt);
        Ok(Self {
            name,
            realm,
            users: map,
            dummy,
            salt,
            cache: TokenCache::new(10_000),
        })
    }

    /// Verifies `user`/`password`; argon2 runs on the blocking pool.
    pub async fn verify(&self, user: &str, password: &str) -> Result<Arc<Principal>, Failure> {
        let mut material = Vec::with_capacity(16 + user.len() + password.len() + 1);
        material.extend_from_slice(&self.salt);
        material.extend_from_slice(user.as_bytes());
        material.push(0);
        material.extend_from_slice(password.as_bytes());
        let key = token_cache::hash(&material);
        if let Some(p) = self.cache.get(&key) {
            return Ok(p);
        }
        let found = self.users.get(user);
        let hash = found.map_or(self.dummy.clone(), |u| u.hash.clone());
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|h| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &h)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        match found {
            Some(u) if ok => {
                self.cache.insert(key, u.principal.clone(), CACHE_TTL);
                Ok(u.principal.clone())
            }
            _ => Err(Failure::invalid("bad_credentials")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn right_password_passes_wrong_and_unknown_fail_alike() {
        let hash = hash_password("s3cret").unwrap();
        let p = BasicProvider::new(
            Arc::from("ops"),
            "api".into(),
            vec![("alice".into(), hash, vec!["admin".into()], vec![])],
        )
        .unwrap();
        assert_eq!(p.verify("alice", "s3cret").await.unwrap().id, "alice");
        assert_eq!(p.verify("alice", "s3cret").await.unwrap().roles, ["admin"]);
        let wrong = p.verify("alice", "nope").await.unwrap_err();
        let unknown = p.verify("mallory", "s3cret").await.unwrap_err();
        assert_eq!(wrong.reason, unknown.reason);
        assert!(BasicProvider::new(
            Arc::from("ops"),
            "api".into(),
            vec![("bob".into(), "plain".into(), vec![], vec![])]
        )
        .is_err());
    }
}
