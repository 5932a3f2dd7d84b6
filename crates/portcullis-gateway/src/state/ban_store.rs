//! Bans written to the state file (redb), so a restart does not lift them: each ban is stored
//! with its end (Unix seconds) when it starts and removed when an operator lifts it; bans still
//! running are read back at start. Bans are rare, so each is one small write, done off the
//! request path.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::lockout::Lockout;

const BANS: TableDefinition<&str, i64> = TableDefinition::new("bans");

/// The persisted bans.
pub struct BanStore {
    db: Arc<Database>,
}

impl BanStore {
    /// Opens the table in `db` and applies the bans still running to `bans`.
    pub fn open(db: Arc<Database>, bans: &Lockout<IpAddr>, now: i64) -> Result<Self, String> {
        let txn = db.begin_read().map_err(|e| e.to_string())?;
        match txn.open_table(BANS) {
            Ok(table) => {
                for item in table.iter().map_err(|e| e.to_string())? {
                    let (ip, until) = item.map_err(|e| e.to_string())?;
                    let until = until.value();
                    if let (Ok(ip), true) = (ip.value().parse::<IpAddr>(), until > now) {
                        bans.ban(&ip, Duration::from_secs((until - now) as u64));
                    }
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.to_string()),
        }
        Ok(Self { db })
    }

    /// Records a ban of `ip` until `until` (Unix seconds); finished bans are pruned.
    pub fn save(&self, ip: IpAddr, until: i64, now: i64) -> Result<(), String> {
        let txn = self.db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = txn.open_table(BANS).map_err(|e| e.to_string())?;
            table
                .insert(ip.to_string().as_str(), until)
                .map_err(|e| e.to_string())?;
            table.retain(|_, u| u > now).map_err(|e| e.to_string())?;
        }
        txn.commit().map_err(|e| e.to_string())
    }

    /// Forgets the ban of `ip`.
    pub fn remove(&self, ip: IpAddr) -> Result<(), String> {
        let txn = self.db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = txn.open_table(BANS).map_err(|e| e.to_string())?;
            table
                .remove(ip.to_string().as_str())
                .map_err(|e| e.to_string())?;
        }
        txn.commit().map_err(|e| e.to_string())
    }
}

/// Persists a ban off the request path (no-op without a state file); the handle says when it
/// is written.
pub fn persist_ban(
    store: Option<&Arc<BanStore>>,
    ip: IpAddr,
    duration: Duration,
) -> Option<tokio::task::JoinHandle<()>> {
    let store = store.cloned()?;
    let now = crate::state::key_store::unix_now() as i64;
    let until = now + duration.as_secs() as i64 + 1;
    Some(tokio::task::spawn_blocking(move || {
        if let Err(e) = store.save(ip, until, now) {
            tracing::warn!(event = "ban_not_saved", "{e}");
        }
    }))
}
