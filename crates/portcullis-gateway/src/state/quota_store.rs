//! Quota counters on the embedded backend: counts per key and period in memory (the key carries
//! the period, so a new period starts at zero), written to the state file (redb) every second
//! and at shutdown, and read back at start: a restart does not reset a quota. A crash loses at
//! most the last second of counts.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

const QUOTAS: TableDefinition<&str, (u64, i64)> = TableDefinition::new("quotas");

/// One counter: used so far, and when its period ends (Unix seconds).
pub type Usage = (u64, i64);

/// Quota counters in memory, persisted when a state file is configured.
pub struct QuotaStore {
    db: Option<Arc<Database>>,
    counts: Mutex<HashMap<String, Usage>>,
    dirty: Mutex<HashSet<String>>,
}

impl QuotaStore {
    /// A store kept only in memory (no state file: quotas restart from zero).
    pub fn in_memory() -> Self {
        Self {
            db: None,
            counts: Mutex::new(HashMap::new()),
            dirty: Mutex::new(HashSet::new()),
        }
    }

    /// A store persisted in `db` (or only in memory), with the counters of unfinished periods
    /// loaded from it.
    pub fn open(db: Option<Arc<Database>>, now: i64) -> Result<Self, String> {
        let mut counts = HashMap::new();
        if let Some(db) = &db {
            let txn = db.begin_read().map_err(|e| e.to_string())?;
            match txn.open_table(QUOTAS) {
                Ok(table) => {
                    for item in table.iter().map_err(|e| e.to_string())? {
                        let (k, v) = item.map_err(|e| e.to_string())?;
                        let (used, end) = v.value();
                        if end > now {
                            counts.insert(k.value().to_owned(), (used, end));
                        }
                    }
                }
                Err(redb::TableError::TableDoesNotExist(_)) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(Self {
            db,
            counts: Mutex::new(counts),
            dirty: Mutex::new(HashSet::new()),
        })
    }

    /// Counts one request against `limit` if there is room: (allowed, used after).
    pub fn take(&self, key: &str, limit: u64, end: i64) -> (bool, u64) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let entry = counts.entry(key.to_owned()).or_insert((0, end));
        if entry.0 >= limit {
            return (false, entry.0);
        }
        entry.0 += 1;
        let used = entry.0;
        drop(counts);
        if self.db.is_some() {
            self.dirty
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key.to_owned());
        }
        (true, used)
    }

    /// One counter's use and end, if it exists.
    pub fn usage(&self, key: &str) -> Option<Usage> {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .copied()
    }

    /// Counters of unfinished periods: (key, used, end).
    pub fn list(&self, now: i64) -> Vec<(String, u64, i64)> {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<_> = counts
            .iter()
            .filter(|(_, (_, end))| *end > now)
            .map(|(k, (u, e))| (k.clone(), *u, *e))
            .collect();
        out.sort();
        out
    }

    /// Resets a counter to zero; false when there was none.
    pub fn reset(&self, key: &str) -> bool {
        let found = self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key)
            .is_some();
        if found && self.db.is_some() {
            self.dirty
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key.to_owned());
        }
        found
    }

    /// Writes changed counters to the state file and drops finished periods from memory.
    pub fn flush(&self, now: i64) -> Result<(), String> {
        let Some(db) = &self.db else {
            return Ok(());
        };
        let dirty = std::mem::take(&mut *self.dirty.lock().unwrap_or_else(|p| p.into_inner()));
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let changes: Vec<(String, Option<Usage>)> = dirty
            .into_iter()
            .map(|k| {
                let v = counts.get(&k).copied();
                (k, v)
            })
            .collect();
        counts.retain(|_, (_, end)| *end > now);
        drop(counts);
        if changes.is_empty() {
            return Ok(());
        }
        let txn = db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = txn.open_table(QUOTAS).map_err(|e| e.to_string())?;
            for (k, v) in &changes {
                match v {
                    Some(usage) => {
                        table
                            .insert(k.as_str(), *usage)
                            .map_err(|e| e.to_string())?;
                    }
                    None => {
                        table.remove(k.as_str()).map_err(|e| e.to_string())?;
                    }
                }
            }
            table
                .retain(|_, (_, end)| end > now)
                .map_err(|e| e.to_string())?;
        }
        txn.commit().map_err(|e| e.to_string())
    }
}

impl Drop for QuotaStore {
    fn drop(&mut self) {
        let now = crate::state::key_store::unix_now() as i64;
        if let Err(e) = self.flush(now) {
            tracing::warn!("quota counters not saved: {e}");
        }
    }
}
