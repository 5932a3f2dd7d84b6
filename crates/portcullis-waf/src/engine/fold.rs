//! Constant folding: rules whose outcome is the same for every transaction are decided once,
//! when the rule set is loaded.
//!
//! Every transaction starts with an empty TX, and much of CRS reads only TX values that
//! request data never reaches: the ~40 initialisation rules of 901 (`&TX:inbound_anomaly_score_
//! threshold "@eq 0"` → set the default), the two paranoia-level checks at the head of every
//! rule file and phase (`TX:DETECTION_PARANOIA_LEVEL "@lt 2"` → `skipAfter`), sampling. About
//! a third of the rules a clean request runs at paranoia level 1 are of that kind. Here they
//! are evaluated at load: a folded rule costs a transaction a few instructions (its TX writes,
//! as constants, and its jump) instead of an evaluation.
//!
//! The analysis walks each phase in order, as a transaction would, with the TX values known at
//! each rule: every name starts known (unset); a rule it cannot decide makes the names it may
//! write unknown (its `setvar`s, `capture`'s `TX:0`-`TX:9`, and for a name built by a macro
//! every numbered name with the same literal prefix); where a `skipAfter` joins the flow, a name
//! is known only if both ways agree. A rule is decided when it has no exclusion or `multiMatch` and
//! reads only known TX names; it is then run once, by the engine itself (so its result is the
//! engine's), on the known values. For a chain, only its first link is read: the chain is
//! decided when that link does not match (the usual guard `TX:crs_validate_utf8_encoding "@eq
//! 1"`, say). A decided rule is folded when it does not
//! match, or matches and only sets TX from known values (no log, disruption, `ctl` or
//! `capture`). One that matches and does more still runs, but the analysis knows it matches and
//! what it writes.
//!
//! What a transaction can do that the analysis did not assume turns folding off for the rest of
//! that transaction: removing a decided rule (`ctl:ruleRemoveById`, `...ByTag`, the gateway's
//! exclusions) or a TX target, and a phase skipped or cut short. Removing a rule the analysis
//! did not decide needs nothing: it already allowed for that rule not matching. A rule set in
//! which a chain's first rule reads `MATCHED_VAR(S)` (which a folded rule's match would have
//! set) is not folded at all.

use std::sync::Arc;

use super::actions::{Disruptive, IdRange, SetOp};
use super::request::RequestHead;
use super::rule::{Rule, RuleBits};
use super::template::Macro;
use super::tx::{Tx, TxBytes, TxNames};
use super::variables::{Key, Target, TxSlots, Var};
use super::Waf;

/// A folded rule's effect on a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// Whether it matches (and so jumps to its slot's `next`).
    pub matched: bool,
    /// The TX values it leaves, by number (`None`: unset).
    pub writes: Vec<(u32, Option<TxBytes>)>,
}

/// What the analysis knows of a rule.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// Its outcome depends on the request.
    Unknown,
    /// It matches in every transaction, but must still run (it logs, disrupts or has a
    /// `ctl`); what it writes to TX is known when no `capture` or unknown value is involved.
    Matches,
    /// Decided at load.
    Fold(Fold),
}

/// The folded rules of a rule set.
#[derive(Debug, Clone, Default)]
pub struct Folds {
    /// By phase (index 0 is phase 1), by slot: the slot's fold, if folded.
    phases: [Vec<Option<Fold>>; 5],
    /// The rules whose outcome the analysis relied on, folded or not (indexes into the rule
    /// list): removing one of them ends folding.
    decided: RuleBits,
    /// Their ids.
    ids: Vec<u64>,
}

impl Folds {
    /// The folds of `phase`'s slots (empty when none is folded).
    pub fn phase(&self, phase: u8) -> &[Option<Fold>] {
        &self.phases[usize::from(phase) - 1]
    }

    /// How many slots are folded.
    pub fn len(&self) -> usize {
        self.phases.iter().flatten().flatten().count()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether removing these rules (by id) would remove one the analysis decided.
    pub fn ids_unfold(&self, ids: IdRange) -> bool {
        self.ids.iter().any(|id| ids.contains(*id))
    }

    /// Whether removing these rules (by index) would remove one the analysis decided.
    pub fn rules_unfold(&self, rules: &RuleBits) -> bool {
        rules.intersects(&self.decided)
    }

    /// Whether removing this target from rules could change a folded one (only TX targets
    /// can: folded rules read nothing else).
    pub fn target_unfolds(target: &Target) -> bool {
        target.var == Var::Tx
    }

    /// Analyses `waf`'s rules (see the module documentation).
    pub fn analyse(waf: &Arc<Waf>) -> Self {
        let compiled = &waf.compiled;
        let mut folds = Folds::default();
        if compiled.rules.iter().any(reads_earlier_match) {
            return folds;
        }
        let names = &compiled.tx_names;
        let mut probe = waf.transaction(RequestHead {
            method: "GET".into(),
            target: b"/".to_vec(),
            protocol: "HTTP/1.1".into(),
            headers: Vec::new(),
            remote_addr: "127.0.0.1".into(),
        });
        let mut carried = Some(Known::new(names));
        for (phase, slots) in compiled.phases.iter().enumerate() {
            let mut joins: Vec<Option<Known>> = vec![None; slots.len() + 1];
            let mut out = vec![None; slots.len()];
            let mut known = carried.take();
            for (i, slot) in slots.iter().enumerate() {
                known = Known::join(known, joins[i].take());
                // Unreachable while folding holds (every way here was folded away).
                let Some(k) = known.as_mut() else { continue };
                let rule = &compiled.rules[slot.rule];
                let decision = k.decide(&mut probe, slot.rule, rule, names);
                if decision != Decision::Unknown {
                    // The analysis relies on this rule's outcome: removing it unfolds.
                    folds.decided.insert(slot.rule);
                    folds.ids.push(rule.id);
                }
                let may_jump = !matches!(decision, Decision::Fold(Fold { matched: false, .. }));
                let falls_through = !matches!(
                    decision,
                    Decision::Fold(Fold { matched: true, .. }) | Decision::Matches
                );
                if may_jump && slot.next != i + 1 {
                    let at = slot.next.min(slots.len());
                    let here = if falls_through {
                        known.clone()
                    } else {
                        known.take()
                    };
                    joins[at] = Known::join(joins[at].take(), here);
                }
                if let Decision::Fold(f) = decision {
                    out[i] = Some(f);
                }
            }
            carried = Known::join(known, joins[slots.len()].take());
            folds.phases[phase] = out;
        }
        folds
    }
}

/// Whether a chain's first rule reads the match of the rule before it (which a folded rule
/// would not have recorded).
fn reads_earlier_match(rule: &Rule) -> bool {
    let matched = |v: Var| {
        matches!(
            v,
            Var::MatchedVar | Var::MatchedVarName | Var::MatchedVars | Var::MatchedVarsNames
        )
    };
    rule.targets.iter().any(|t| matched(t.var))
        || rule
            .argument
            .iter()
            .flat_map(|a| a.macros())
            .any(|m| matches!(m, Macro::Var(v) if matched(v)))
}

/// The TX values known at a point of the rules: the values themselves, and which numbered
/// names are unknown (their value in `tx` is then meaningless).
#[derive(Clone)]
struct Known {
    tx: Tx,
    unknown: Vec<bool>,
}

impl Known {
    fn new(names: &Arc<TxNames>) -> Self {
        Self {
            tx: Tx::new(names.clone()),
            unknown: vec![false; names.len()],
        }
    }

    /// Where two ways meet: a name is known when both know it with the same value.
    fn join(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        let (mut a, b) = match (a, b) {
            (Some(a), Some(b)) => (a, b),
            (a, b) => return a.or(b),
        };
        for (n, unknown) in (0u32..).zip(a.unknown.iter_mut()) {
            *unknown |= b.unknown[n as usize] || a.tx.at(n) != b.tx.at(n);
        }
        Some(a)
    }

    fn known(&self, n: u32) -> bool {
        !self.unknown[n as usize]
    }

    /// Whether `rule` reads only known TX names, so that its outcome is decided at load.
    fn reads_known(&self, rule: &Rule) -> bool {
        let target_known = |t: &Target| {
            t.var == Var::Tx
                && matches!(t.key, Key::Name(_))
                && matches!(t.tx, Some(TxSlots::One(n)) if self.known(n))
        };
        let macros_known = |m: Macro| matches!(m, Macro::Tx(n) if self.known(n));
        rule.exclusions.is_empty()
            && !rule.multi_match
            && rule.targets.iter().all(target_known)
            && rule
                .argument
                .iter()
                .flat_map(|a| a.macros())
                .all(macros_known)
    }

    /// Decides `rule` (slot `index`) on the known values, and moves them past it.
    fn decide(
        &mut self,
        probe: &mut super::Transaction,
        index: usize,
        rule: &Rule,
        names: &TxNames,
    ) -> Decision {
        if !self.reads_known(rule) {
            self.forget_writes(rule, names);
            return Decision::Unknown;
        }
        let mut tx = self.tx.clone();
        if !probe.probe(index, rule, &mut tx) {
            // No action runs: whatever the rule would do on a match does not matter. A chain
            // whose first link does not match goes no further.
            return Decision::Fold(Fold {
                matched: false,
                writes: Vec::new(),
            });
        }
        if rule.chained.is_some() {
            // The rest of the chain reads the request.
            self.forget_writes(rule, names);
            return Decision::Unknown;
        }
        let value_known = |m: Macro| match m {
            Macro::Tx(n) => self.known(n),
            // Set from this rule's own match before its actions run.
            Macro::Var(v) => matches!(v, Var::MatchedVar | Var::MatchedVarName),
        };
        let writes_known = !rule.capture
            && rule.setvars.iter().all(|s| {
                let reads_name = matches!(s.op, SetOp::Add | SetOp::Subtract);
                s.number.is_some_and(|n| !reads_name || self.known(n))
                    && s.value.macros().all(value_known)
            });
        if !writes_known {
            self.forget_writes(rule, names);
            return Decision::Matches;
        }
        let mut writes: Vec<(u32, Option<TxBytes>)> = Vec::new();
        for n in rule.setvars.iter().filter_map(|s| s.number) {
            if writes.iter().all(|(w, _)| *w != n) {
                writes.push((n, tx.at(n).cloned()));
                self.unknown[n as usize] = false;
            }
        }
        self.tx = tx;
        // A rule that logs, disrupts or has `ctl`s still runs: its match is known, and
        // what it writes.
        if rule.disruptive != Disruptive::Pass || rule.log || !rule.controls.is_empty() {
            return Decision::Matches;
        }
        Decision::Fold(Fold {
            matched: true,
            writes,
        })
    }

    /// Makes unknown every name `rule` (and its chained links) may write.
    fn forget_writes(&mut self, rule: &Rule, names: &TxNames) {
        let mut link = Some(rule);
        while let Some(r) = link {
            for s in &r.setvars {
                match s.number {
                    Some(n) => self.unknown[n as usize] = true,
                    None => self.forget_prefixed(s.name.literal_prefix(), names),
                }
            }
            if r.capture {
                for digit in b'0'..=b'9' {
                    if let Some(n) = names.number(&[digit]) {
                        self.unknown[n as usize] = true;
                    }
                }
            }
            link = r.chained.as_deref();
        }
    }

    /// Makes unknown every numbered name starting with `prefix` (a name a macro builds).
    fn forget_prefixed(&mut self, prefix: &[u8], names: &TxNames) {
        let prefix = prefix.to_ascii_lowercase();
        for (name, n) in names.iter() {
            if name.starts_with(&prefix) {
                self.unknown[n as usize] = true;
            }
        }
    }
}
