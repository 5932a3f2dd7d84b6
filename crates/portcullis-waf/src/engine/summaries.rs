//! Target summaries: whether a response rule can match any value of its targets, answered
//! before the rule runs. A summary is the union of a chain's [filter](super::chains) results
//! over every value of one target; a rule with a filter slot whose bit is in none of its
//! targets' summaries cannot match, and is passed over without walking its targets.
//!
//! CRS's ~45 outbound rules read `RESPONSE_BODY` through one chain (`t:none`): each asked the
//! memo for the body's filter result and found its bit unset. With a summary the first rule
//! computes it and the others pay a few loads each (the gateway benchmark's exchange, a 1 KB
//! JSON response: 164,937 → 158,680 instructions). Request rules read many small values
//! through many chains, with selectors and exclusions; there summaries cost more than the
//! evaluations they spared (GET +3.3%, the gateway exchange +1.9%, the JSON POST −0.5%), so
//! only response rules (phases 3-5) have them.
//!
//! A summary covers every value of its target (of any byte class, exclusions not applied: a
//! superset of what each rule reads, which only makes it say "may match" more often), and is
//! shared by the rules reading that target through that chain. It is computed when a rule
//! first asks for it and holds while the transaction has handed out no new value id (values
//! never change in place: a new value gets a new id, see [`super::collections::ValueId`]).
//! What a transaction removes at run time (`ctl:ruleRemoveTargetById`) only narrows what a
//! rule reads. A value without an id (never memoised) makes its summary say "may match".

use super::chains::{ChainId, Chains};
use super::collections::Collections;
use super::memo::Memo;
use super::rule::Rule;
use super::variables::{Target, Var, VarSet};

/// What one summary covers: every value of `target`, transformed by `chain`.
#[derive(Debug, Clone)]
struct Covered {
    target: Target,
    chain: ChainId,
    /// Where its words start in [`Summarised::bits`].
    offset: usize,
    /// How many (the chain's filter words).
    words: usize,
}

impl Covered {
    fn is(&self, target: &Target, rule: &Rule) -> bool {
        self.chain == rule.chain && self.target.same(target)
    }
}

/// The summaries of a rule set, made at load.
#[derive(Debug, Clone, Default)]
pub struct Summaries {
    covered: Vec<Covered>,
    /// Words of every summary together.
    words: usize,
}

impl Summaries {
    /// Gives each rule (and chained link) that a summary can pass over the summaries of its
    /// targets (`Rule::summaries`); the others get none. Needs the chains' filter slots.
    pub fn assign(rules: &mut [Rule], chains: &Chains) -> Self {
        let mut s = Self::default();
        for rule in rules {
            let mut link = Some(rule);
            while let Some(r) = link {
                r.summaries = s.summaries_of(r, chains);
                link = r.chained.as_deref_mut();
            }
        }
        s
    }

    /// The summaries `rule` is passed over by, when it can be: a response rule whose operator
    /// is answered by the filter (a slot, not negated, no `multiMatch`), and each target's
    /// values have ids (no counts, TX or earlier matches).
    fn summaries_of(&mut self, rule: &Rule, chains: &Chains) -> Option<Box<[u32]>> {
        rule.filter_slot?;
        if rule.phase < 3 || rule.negated || rule.multi_match || rule.targets.is_empty() {
            return None;
        }
        let kept = |t: &Target| {
            !t.count
                && !matches!(
                    t.var,
                    Var::Tx
                        | Var::MatchedVar
                        | Var::MatchedVarName
                        | Var::MatchedVars
                        | Var::MatchedVarsNames
                )
        };
        if !rule.targets.iter().all(kept) {
            return None;
        }
        let ids = rule.targets.iter().map(|t| {
            let found = self.covered.iter().position(|c| c.is(t, rule));
            let i = found.unwrap_or_else(|| {
                let words = chains.get(rule.chain).words();
                self.covered.push(Covered {
                    target: t.clone(),
                    chain: rule.chain,
                    offset: self.words,
                    words,
                });
                self.words += words;
                self.covered.len() - 1
            });
            // Far fewer than u32::MAX targets fit in memory.
            i as u32
        });
        Some(ids.collect())
    }
}

/// A transaction's summaries, each computed when first asked for.
#[derive(Debug, Default)]
pub struct Summarised {
    /// By summary: the number of value ids handed out when it was computed, plus one (zero:
    /// not computed).
    valid: Vec<u64>,
    bits: Vec<u64>,
}

impl Summarised {
    /// Forgets every summary (for the next transaction), keeping the memory.
    pub fn clear(&mut self) {
        self.valid.clear();
    }

    /// Whether the rule in filter slot `slot` may match a value covered by one of
    /// `summaries` (the rule's).
    pub fn may_match(
        &mut self,
        summaries: &[u32],
        slot: u32,
        c: &Collections,
        present: VarSet,
        memo: &mut Memo,
        chains: &Chains,
    ) -> bool {
        let all = &chains.summaries;
        let generation = c.ids_issued() + 1;
        if self.valid.len() < all.covered.len() {
            self.valid.resize(all.covered.len(), 0);
            self.bits.resize(all.words, 0);
        }
        let (word, bit) = (slot as usize / 64, 1u64 << (slot % 64));
        summaries.iter().any(|&s| {
            let covered = &all.covered[s as usize];
            if !present.contains(covered.target.var) {
                return false;
            }
            let bits = &mut self.bits[covered.offset..covered.offset + covered.words];
            if self.valid[s as usize] != generation {
                summarise(covered, bits, c, memo, chains);
                self.valid[s as usize] = generation;
            }
            bits.get(word).is_none_or(|w| w & bit != 0)
        })
    }
}

/// Writes into `bits` the union of the filter results of `covered`'s values.
fn summarise(
    covered: &Covered,
    bits: &mut [u64],
    c: &Collections,
    memo: &mut Memo,
    chains: &Chains,
) {
    bits.fill(0);
    let chain = chains.get(covered.chain);
    let mut unknown = false;
    c.each(&covered.target, 0, None, &mut |_, value, id| {
        let Some(id) = id else {
            unknown = true;
            return;
        };
        let found = memo.entry(id, chains.len(), covered.chain, chain, value);
        for (b, f) in bits.iter_mut().zip(memo.bits(found, chain, value)) {
            *b |= f;
        }
    });
    if unknown {
        bits.fill(u64::MAX);
    }
}
