//! Working memory handed from one finished transaction to the next: the collections (TX keeps
//! its vector and map, single-valued variables their buffers), the memo's tables and the hit
//! slots. CRS fills the same ~100 TX
//! variables and the same memo rows on every request; without reuse each transaction grew
//! those tables from nothing (a TX map of that size alone cost ~17,000 instructions to
//! allocate and rehash, and its large allocation made glibc consolidate its free lists).
//!
//! A workspace is cleared before it is kept, so nothing of one request is visible to the next;
//! tables that grew past a bound (a request with thousands of arguments) are dropped instead,
//! so one large request does not pin its memory for good.

use std::sync::{Arc, Mutex};

use super::collections::Collections;
use super::transaction::Scratch;
use super::tx::{Tx, TxNames};

/// How many cleared workspaces a rule set keeps (beyond that they are freed): about the
/// transactions a busy gateway has in flight at once.
const KEPT: usize = 64;

/// A transaction's reusable memory.
pub(super) struct Workspace {
    /// The collections (empty, TX with its capacity).
    pub c: Collections,
    /// Hits and memo.
    pub scratch: Scratch,
}

/// Cleared workspaces waiting for a transaction.
#[derive(Default)]
pub(super) struct Workspaces {
    free: Mutex<Vec<Workspace>>,
}

impl Workspaces {
    /// A cleared workspace (a new one, whose TX numbers `names`, when none is kept).
    pub fn take(&self, names: &Arc<TxNames>) -> Workspace {
        self.free
            .lock()
            .ok()
            .and_then(|mut free| free.pop())
            .unwrap_or_else(|| Workspace {
                c: Collections::with_tx(Tx::new(names.clone())),
                scratch: Scratch::default(),
            })
    }

    /// Clears `w` and keeps it for the next transaction (frees it when enough are kept).
    pub fn give(&self, mut w: Workspace) {
        w.c.clear();
        w.scratch.clear();
        if let Ok(mut free) = self.free.lock() {
            if free.len() < KEPT {
                free.push(w);
            }
        }
    }
}
