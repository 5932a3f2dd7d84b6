//! A compiled rule: targets, transformations, operator and actions, ready to run.

use std::path::PathBuf;
use std::sync::Arc;

use super::actions::{Ctl, Disruptive, SetVar};
use super::chains::ChainId;
use super::template::Template;
use super::tx::TxNames;
use super::variables::{Target, VarSet};
use crate::operator::Operator;
use crate::transform::Transformation;

/// A rule (or one link of a chain).
///
/// Laid out in declaration order (`repr(C)`), what evaluating the rule reads first: a
/// transaction visits hundreds of rules, each a cache miss or more, and with the fields the
/// compiler placed, an evaluation touched most of the rule's 400-odd bytes. Simulated L1 read
/// misses per gateway request with CRS (`valgrind --tool=callgrind --cache-sim=yes`): 3,335 →
/// 3,036.
#[derive(Debug, Clone)]
#[repr(C)]
pub struct Rule {
    /// `id:` (0 for chain links, which have none).
    pub id: u64,
    /// Its slot in that chain's literal filter, when its regex has factors or it is a
    /// phrase list (whose answer is exact, so a negated list has one too).
    pub filter_slot: Option<u32>,
    /// Its transformations' id in [`super::chains::Chains`] (set when the rule set is built).
    pub chain: ChainId,
    /// `SecAction`: matches once, without targets.
    pub always: bool,
    /// `multiMatch`: the operator also runs on every intermediate transformation result.
    pub multi_match: bool,
    /// `!@op`.
    pub negated: bool,
    /// `capture`.
    pub capture: bool,
    /// Values whose [`byte_class`](crate::operator::byte_class) is below this cannot match
    /// (0: every value is tested).
    pub min_class: u8,
    /// Whether a match is logged.
    pub log: bool,
    /// The disruptive action (`block` resolved to the phase's default).
    pub disruptive: Disruptive,
    /// The [summaries](super::summaries) that can pass this rule over without evaluating it
    /// (one per target; `None` when they cannot).
    pub summaries: Option<Box<[u32]>>,
    /// The argument, when it holds macros (expanded per evaluation).
    pub argument: Option<Template>,
    /// What it inspects (empty for `SecAction`).
    pub targets: Vec<Target>,
    /// Targets removed from the list (`!ARGS:x`, `SecRuleUpdateTargetById ... !ARGS:x`).
    pub exclusions: Vec<Target>,
    /// The operator.
    pub operator: Operator,
    /// `setvar` actions.
    pub setvars: Vec<SetVar>,
    /// `ctl` actions.
    pub controls: Vec<Ctl>,
    /// The next link of the chain.
    pub chained: Option<Box<Rule>>,
    // Read by an evaluation only in rarer cases (values that have no id, a match, the log)
    // or not at all.
    /// The variables its targets read values from ([`VarSet::ALL`] when it can match with
    /// none: `SecAction`, a count); set when the rule set is compiled. A transaction in which
    /// none of them holds a value skips the rule.
    pub reads: VarSet,
    /// Transformations, in order.
    pub transformations: Vec<Transformation>,
    /// The phase (1-5).
    pub phase: u8,
    /// `status:`.
    pub status: Option<u16>,
    /// Where it was written.
    pub file: PathBuf,
    /// Its line.
    pub line: usize,
    /// The operator's name, for the log.
    pub operator_name: String,
    /// `skipAfter:` marker.
    pub skip_after: Option<String>,
    /// `msg:`.
    pub msg: Option<Template>,
    /// `logdata:`.
    pub logdata: Option<Template>,
    /// `severity:`.
    pub severity: Option<Arc<str>>,
    /// `tag:`s.
    pub tags: Arc<[String]>,
}

impl Rule {
    /// Whether the rule (chain head) carries `tag` (compared case-insensitively).
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
    }

    /// Numbers in `names` every TX name the rule (and its chained links) spells out: in its
    /// targets, `setvar`s and macros.
    pub fn number_tx(&mut self, names: &mut TxNames) {
        for t in &mut self.targets {
            t.number_tx(names);
        }
        for s in &mut self.setvars {
            s.number_tx(names);
        }
        for t in [&mut self.argument, &mut self.msg, &mut self.logdata]
            .into_iter()
            .flatten()
        {
            t.number_tx(names);
        }
        if let Some(next) = &mut self.chained {
            next.number_tx(names);
        }
    }

    /// Sets [`Self::reads`] from its targets (once they are final).
    pub fn set_reads(&mut self) {
        self.reads = if self.always || self.targets.iter().any(|t| t.count) {
            VarSet::ALL
        } else {
            self.targets
                .iter()
                .fold(VarSet::default(), |set, t| set.with(t.var))
        };
    }

    /// Lists, for its TX targets that select by pattern, the numbered names they select (once
    /// the whole rule set is numbered).
    pub fn select_tx(&mut self, names: &TxNames) {
        for t in &mut self.targets {
            t.select_tx(names);
        }
        if let Some(next) = &mut self.chained {
            next.select_tx(names);
        }
    }
}

/// A set of rules, by index in [`super::compile::Compiled::rules`]: which rules carry a tag,
/// which a transaction removed. One bit test where a tag list was compared string by string.
#[derive(Debug, Clone, Default)]
pub struct RuleBits(Vec<u64>);

impl RuleBits {
    /// Adds rule `i`.
    pub fn insert(&mut self, i: usize) {
        if i / 64 >= self.0.len() {
            self.0.resize(i / 64 + 1, 0);
        }
        self.0[i / 64] |= 1 << (i % 64);
    }

    /// Whether rule `i` is in the set.
    pub fn contains(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Whether the two sets share a rule.
    pub fn intersects(&self, other: &RuleBits) -> bool {
        self.0.iter().zip(&other.0).any(|(a, b)| a & b != 0)
    }

    /// Adds every rule of `other`.
    pub fn union(&mut self, other: &RuleBits) {
        if other.0.len() > self.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (w, o) in self.0.iter_mut().zip(&other.0) {
            *w |= o;
        }
    }
}
