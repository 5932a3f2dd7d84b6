//! The rule engine: a compiled rule set ([`Waf`]) and the per-request [`Transaction`] that
//! runs it through phases 1-5.

pub mod actions;
pub mod chains;
pub mod collections;
pub mod compile;
pub mod fold;
pub mod memo;
pub mod request;
pub mod rule;
pub mod settings;
pub mod summaries;
pub mod template;
pub mod transaction;
pub mod tx;
pub mod variables;
mod workspace;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use actions::EngineMode;
pub use request::RequestHead;
pub use settings::Settings;
pub use transaction::{Interruption, Logged, Transaction};

use crate::operator::{InjectionDetector, Libinjection};
use crate::seclang::{self, LoadErrors, RuleSet};

/// A compiled rule set, shared by every transaction.
pub struct Waf {
    compiled: compile::Compiled,
    /// Rules decided at load (see [`fold`]).
    folds: fold::Folds,
    detector: Box<dyn InjectionDetector>,
    next_id: AtomicU64,
    /// The first 16 characters of every UNIQUE_ID: a random seed in hex.
    id_prefix: [u8; 16],
    /// Memory of finished transactions, for the next ones.
    workspaces: workspace::Workspaces,
}

impl std::fmt::Debug for Waf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waf")
            .field("rules", &self.compiled.rules.len())
            .field("settings", &self.compiled.settings)
            .finish_non_exhaustive()
    }
}

impl Waf {
    /// Loads and compiles rule files in order (globs allowed).
    pub fn load(files: &[PathBuf]) -> Result<Self, LoadErrors> {
        Self::compile(&seclang::load(files)?)
    }

    /// Compiles a parsed rule set.
    pub fn compile(set: &RuleSet) -> Result<Self, LoadErrors> {
        let mut seed = [0u8; 8];
        // A seed only makes UNIQUE_ID values differ between processes; zero is a fine fallback.
        let _ = aws_lc_rs::rand::fill(&mut seed);
        let waf = Arc::new(Self {
            compiled: compile::compile(set)?,
            folds: fold::Folds::default(),
            detector: Box::new(Libinjection),
            next_id: AtomicU64::new(0),
            id_prefix: hex_digits(u64::from_le_bytes(seed)),
            workspaces: workspace::Workspaces::default(),
        });
        let folds = fold::Folds::analyse(&waf);
        let mut waf =
            Arc::into_inner(waf).expect("the fold analysis keeps no reference to the rule set");
        waf.folds = folds;
        Ok(waf)
    }

    /// Drops the folded rules (see [`fold`]): every rule is evaluated in every transaction.
    /// Slower, and the same results; the differential test runs CRS's suite both ways.
    pub fn unfold(&mut self) {
        self.folds = fold::Folds::default();
    }

    /// How many rules (and chained links) [target summaries](summaries) can pass over.
    pub fn summarised_count(&self) -> usize {
        self.compiled
            .rules
            .iter()
            .flat_map(|r| std::iter::successors(Some(r), |r| r.chained.as_deref()))
            .filter(|r| r.summaries.is_some())
            .count()
    }

    /// How many rules are folded.
    pub fn folded_count(&self) -> usize {
        self.folds.len()
    }

    /// The engine settings (from `SecRuleEngine` and friends).
    pub fn settings(&self) -> &Settings {
        &self.compiled.settings
    }

    /// Overrides the engine mode (the gateway's `mode: block|detect`).
    pub fn set_mode(&mut self, mode: EngineMode) {
        self.compiled.settings.mode = mode;
    }

    /// Turns the literal filters (see [`chains`]) on or off. Off, every rule runs its regex on
    /// every value: slower, and the same matches; the differential test runs CRS's suite both
    /// ways.
    pub fn set_literal_filters(&mut self, on: bool) {
        self.compiled.chains = chains::Chains::build(&mut self.compiled.rules, on);
    }

    /// How many rules (chain heads) are active.
    pub fn rule_count(&self) -> usize {
        self.compiled.phases.iter().map(Vec::len).sum()
    }

    pub(crate) fn detector(&self) -> &dyn InjectionDetector {
        self.detector.as_ref()
    }

    /// Starts a transaction for a request head (its headers move into the transaction).
    pub fn transaction(self: &Arc<Self>, head: RequestHead) -> Transaction {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        // 16 hex digits of seed, 8 decimal digits of count: written in place, not allocated.
        let mut id = [b'0'; 24];
        id[..16].copy_from_slice(&self.id_prefix);
        let mut count = n % 100_000_000;
        for digit in id[16..].iter_mut().rev() {
            *digit = b'0' + (count % 10) as u8;
            count /= 10;
        }
        Transaction::new(self.clone(), head, &id)
    }
}

/// `n` as 16 lowercase hex digits.
fn hex_digits(n: u64) -> [u8; 16] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    std::array::from_fn(|i| HEX[((n >> (60 - 4 * i)) & 0xf) as usize])
}
