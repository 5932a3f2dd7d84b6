//! The API key store: key records in an embedded redb file, mirrored in memory for lookups.
//!
//! Every write goes through this process (the file is locked while the gateway runs, so
//! `portcullis keys` works on a stopped gateway or through the admin API), which keeps the
//! in-memory copy exact. Last-used times are collected in memory and written in batches
//! ([`KeyStore::flush_last_used`]), never one disk write per request.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::auth::api_key::KeyEntry;

const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_keys");

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What is stored for one key. Never the key itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyRecord {
    /// Public prefix (the key's id).
    pub prefix: String,
    /// Which provider the key belongs to: `api/provider`.
    pub namespace: String,
    /// HMAC-SHA256(pepper, key), hex.
    pub hash: String,
    /// Who the key is for.
    pub owner: String,
    /// Scopes granted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Roles granted.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Creation time (Unix seconds).
    pub created: u64,
    /// Expiry (Unix seconds); `None`: never.
    #[serde(default)]
    pub expires: Option<u64>,
    /// Revoked keys fail at once.
    #[serde(default)]
    pub revoked: bool,
    /// Last successful use (Unix seconds), updated in batches.
    #[serde(default)]
    pub last_used: Option<u64>,
    /// Prefix of the key that replaced this one in a rotation.
    #[serde(default)]
    pub rotated_to: Option<String>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file is open in another process (a running gateway).
    #[error("the state file {0} is in use by a running gateway: manage keys through its admin API (/keys) or stop it first")]
    InUse(PathBuf),
    /// The provider keeps no keys in the store.
    #[error("provider {0:?} has no key store: set `store: true` on it and `state.path`")]
    NoStore(String),
    /// The key is revoked (it cannot be rotated).
    #[error("key {0:?} is revoked")]
    Revoked(String),
    /// Reading or writing the file failed.
    #[error("state store {path}: {message}")]
    Io {
        /// File.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// No such key.
    #[error("no key with prefix {0:?}")]
    NotFound(String),
}

/// The key store.
pub struct KeyStore {
    path: PathBuf,
    db: Arc<Database>,
    entries: RwLock<HashMap<String, Arc<KeyEntry>>>,
    used: Mutex<HashMap<String, u64>>,
}

impl KeyStore {
    /// Opens (or creates) the store at `path` and loads every record.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let io = |e: String| StoreError::Io {
            path: path.to_owned(),
            message: e,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io(e.to_string()))?;
        }
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse(path.to_owned()),
            other => io(other.to_string()),
        })?;
        let store = Self {
            path: path.to_owned(),
            db: Arc::new(db),
            entries: RwLock::new(HashMap::new()),
            used: Mutex::new(HashMap::new()),
        };
        let records = store.read_all()?;
        let mut entries = store.entries.write().unwrap_or_else(|p| p.into_inner());
        for r in records {
            entries.insert(r.prefix.clone(), Arc::new(entry(r)));
        }
        drop(entries);
        Ok(store)
    }

    fn io_error(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    fn read_all(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.io_error(e))?;
        let table = match txn.open_table(KEYS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(self.io_error(e)),
        };
        let mut out = Vec::new();
        for item in table.iter().map_err(|e| self.io_error(e))? {
            let (_, value) = item.map_err(|e| self.io_error(e))?;
            match serde_json::from_slice::<KeyRecord>(value.value()) {
                Ok(r) => out.push(r),
                Err(e) => tracing::error!(
                    event = "key_record_unreadable",
                    "skipping a key record: {e}"
                ),
            }
        }
        Ok(out)
    }

    fn write(&self, records: &[&KeyRecord]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.io_error(e))?;
        {
            let mut table = txn.open_table(KEYS).map_err(|e| self.io_error(e))?;
            for r in records {
                let bytes = serde_json::to_vec(r).map_err(|e| self.io_error(e))?;
                table
                    .insert(r.prefix.as_str(), bytes.as_slice())
                    .map_err(|e| self.io_error(e))?;
            }
        }
        txn.commit().map_err(|e| self.io_error(e))?;
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        for r in records {
            entries.insert(r.prefix.clone(), Arc::new(entry((*r).clone())));
        }
        Ok(())
    }

    /// The state file, for the other tables kept in it (quotas).
    pub fn database(&self) -> Arc<Database> {
        self.db.clone()
    }

    /// The entry for `prefix`.
    pub fn get(&self, prefix: &str) -> Option<Arc<KeyEntry>> {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(prefix)
            .cloned()
    }

    /// Stores a new record.
    pub fn insert(&self, record: &KeyRecord) -> Result<(), StoreError> {
        self.write(&[record])
    }

    /// Every record of `namespace` (all when `None`), oldest first, with last-used times flushed.
    pub fn list(&self, namespace: Option<&str>) -> Result<Vec<KeyRecord>, StoreError> {
        self.flush_last_used()?;
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<KeyRecord> = entries
            .values()
            .filter(|e| namespace.is_none_or(|ns| e.record.namespace == ns))
            .map(|e| e.record.clone())
            .collect();
        out.sort_by(|a, b| (a.created, &a.prefix).cmp(&(b.created, &b.prefix)));
        Ok(out)
    }

    /// Revokes a key: it fails from now on.
    pub fn revoke(&self, prefix: &str) -> Result<KeyRecord, StoreError> {
        let mut record = self.record(prefix)?;
        record.revoked = true;
        self.write(&[&record])?;
        Ok(record)
    }

    /// Records a rotation: `old` stays valid until `until` (Unix seconds) and points at `new`,
    /// which is stored in the same transaction.
    pub fn rotate(&self, old: &str, new: &KeyRecord, until: u64) -> Result<KeyRecord, StoreError> {
        let mut record = self.record(old)?;
        record.expires = Some(record.expires.map_or(until, |e| e.min(until)));
        record.rotated_to = Some(new.prefix.clone());
        self.write(&[&record, new])?;
        Ok(record)
    }

    /// The stored record of `prefix`.
    pub fn record(&self, prefix: &str) -> Result<KeyRecord, StoreError> {
        self.get(prefix)
            .map(|e| e.record.clone())
            .ok_or_else(|| StoreError::NotFound(prefix.to_owned()))
    }

    /// Notes a successful use (written by the next flush).
    pub fn touch(&self, prefix: &str) {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = used.get_mut(prefix) {
            *t = unix_now();
        } else if used.len() < 100_000 {
            used.insert(prefix.to_owned(), unix_now());
        }
    }

    /// Writes the collected last-used times in one transaction.
    pub fn flush_last_used(&self) -> Result<(), StoreError> {
        let used = std::mem::take(&mut *self.used.lock().unwrap_or_else(|p| p.into_inner()));
        if used.is_empty() {
            return Ok(());
        }
        let records: Vec<KeyRecord> = used
            .into_iter()
            .filter_map(|(prefix, t)| {
                let mut r = self.get(&prefix)?.record.clone();
                r.last_used = Some(t);
                Some(r)
            })
            .collect();
        self.write(&records.iter().collect::<Vec<_>>())
    }
}

impl Drop for KeyStore {
    fn drop(&mut self) {
        if let Err(e) = self.flush_last_used() {
            tracing::warn!("last-used times not saved: {e}");
        }
    }
}

/// Entries are built for the provider named in the namespace (`api/provider`).
fn entry(record: KeyRecord) -> KeyEntry {
    let provider = record
        .namespace
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    KeyEntry::new(record, Arc::from(provider))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(prefix: &str) -> KeyRecord {
        KeyRecord {
            prefix: prefix.into(),
            namespace: "api/keys".into(),
            hash: "00".into(),
            owner: "acme".into(),
            scopes: vec!["read".into()],
            roles: vec![],
            created: unix_now(),
            expires: None,
            revoked: false,
            last_used: None,
            rotated_to: None,
        }
    }

    #[test]
    fn records_survive_reopen_and_the_file_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            let store = KeyStore::open(&path).unwrap();
            store.insert(&record("aaaa")).unwrap();
            store.insert(&record("bbbb")).unwrap();
            store.revoke("aaaa").unwrap();
            store.touch("bbbb");
            assert!(matches!(KeyStore::open(&path), Err(StoreError::InUse(_))));
            assert!(matches!(store.revoke("zzzz"), Err(StoreError::NotFound(_))));
        }
        let store = KeyStore::open(&path).unwrap();
        let all = store.list(Some("api/keys")).unwrap();
        assert_eq!(all.len(), 2);
        assert!(store.get("aaaa").unwrap().record.revoked);
        assert!(store.list(Some("other/x")).unwrap().is_empty());
    }
}
