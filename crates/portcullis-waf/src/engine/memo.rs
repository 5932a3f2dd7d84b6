//! What a transaction has already worked out about a value, kept for the next rule that asks:
//! the value as a [chain](super::chains) transforms it, and which of that chain's rules could
//! match it (the literal filter's result). CRS runs dozens of rules over each argument and
//! header with the same few chains; without this each rule transformed the value again.
//!
//! Entries are found by [`ValueId`] (never reused within a transaction, so an entry cannot
//! outlive its value) and chain id, in a table of one row per value and one column per chain.

use std::borrow::Cow;

use super::chains::{Chain, ChainId};
use super::collections::ValueId;
use crate::transform::{apply_triggered, Triggers};

/// No entry / not computed.
const NONE: u32 = u32::MAX;

/// A table cell holds its transaction's generation in the top byte and the entry's index in
/// the rest: a cell of another generation is empty. Forgetting the table is then a new
/// generation, not a fill of every cell (21 KB per CRS transaction with a JSON body), and a
/// full fill only every 255 transactions, when the generation wraps.
const GENERATION_SHIFT: u32 = 24;
/// Entries past this index are computed but not kept in the table.
const MAX_INDEX: usize = (1 << GENERATION_SHIFT) - 1;

/// The largest table [`Memo::clear`] keeps for reuse: a few hundred values times the chains
/// of CRS (a request with thousands of arguments frees its memo instead).
const KEPT_CELLS: usize = 1 << 16;

/// One (value, chain) pair.
#[derive(Debug)]
struct Entry {
    /// The transformed value; `None` when the chain left it unchanged.
    value: Option<Vec<u8>>,
    /// Where its filter bits start in [`Memo::bits`] (`NONE` until asked for).
    bits: u32,
}

/// A transaction's memo (see the module documentation).
#[derive(Debug)]
pub struct Memo {
    /// Row `id`, column `chain`: the generation and the entry's index (see
    /// [`GENERATION_SHIFT`]); zero, or another generation, when empty.
    table: Vec<u32>,
    /// This transaction's generation, 1 to 255.
    generation: u32,
    /// By value id: its [`Triggers`], once computed.
    triggers: Vec<Option<Triggers>>,
    entries: Vec<Entry>,
    bits: Vec<u64>,
}

/// An entry of the memo.
#[derive(Debug, Clone, Copy)]
pub struct Found(usize);

impl Default for Memo {
    fn default() -> Self {
        Self {
            table: Vec::new(),
            generation: 1,
            triggers: Vec::new(),
            entries: Vec::new(),
            bits: Vec::new(),
        }
    }
}

impl Memo {
    /// Forgets every entry for the next transaction, keeping the tables' memory unless they
    /// grew past [`KEPT_CELLS`] cells.
    pub fn clear(&mut self) {
        if self.table.capacity() > KEPT_CELLS || self.bits.capacity() > KEPT_CELLS {
            *self = Self::default();
            return;
        }
        self.generation += 1;
        if self.generation > 0xFF {
            self.table.fill(0);
            self.generation = 1;
        }
        self.triggers.clear();
        self.entries.clear();
        self.bits.clear();
    }

    /// Makes room for `ids` values and `chains` chains at once (the table would otherwise
    /// grow, copying itself, as values are first asked for).
    pub fn reserve(&mut self, ids: u64, chains: usize) {
        let Some(cells) = usize::try_from(ids)
            .ok()
            .and_then(|ids| ids.checked_mul(chains))
        else {
            return;
        };
        if cells > self.table.len() {
            self.table.resize(cells, 0);
        }
    }

    /// The entry for `raw` (the value `id`) transformed by `chain` (one of `chains` chains),
    /// computing it on first use.
    // Always inlined: it is the hot path of every rule's values, and with a second caller
    // (target summaries) the compiler stopped inlining it (+4% instructions on CRS's POST).
    #[inline(always)]
    pub fn entry(
        &mut self,
        id: ValueId,
        chains: usize,
        chain_id: ChainId,
        chain: &Chain,
        raw: &[u8],
    ) -> Found {
        let row = usize::try_from(id.0).ok();
        let cell = row
            .and_then(|row| row.checked_mul(chains))
            .and_then(|at| at.checked_add(chain_id as usize));
        let (Some(row), Some(cell)) = (row, cell) else {
            return self.push(chain, raw, Triggers::of(raw));
        };
        if cell >= self.table.len() {
            // Whole rows at a time.
            let rows = cell / chains + 1;
            self.table.resize(rows * chains, 0);
        }
        let held = self.table[cell];
        if held >> GENERATION_SHIFT == self.generation {
            return Found((held & MAX_INDEX as u32) as usize);
        }
        if row >= self.triggers.len() {
            self.triggers.resize(row + 1, None);
        }
        let triggers = *self.triggers[row].get_or_insert_with(|| Triggers::of(raw));
        let found = self.push(chain, raw, triggers);
        // Past MAX_INDEX entries, new ones are computed but not kept.
        if found.0 <= MAX_INDEX {
            self.table[cell] = self.generation << GENERATION_SHIFT | found.0 as u32;
        }
        found
    }

    fn push(&mut self, chain: &Chain, raw: &[u8], triggers: Triggers) -> Found {
        let value = match apply_triggered(&chain.transformations, raw, triggers) {
            Cow::Borrowed(_) => None,
            Cow::Owned(v) => Some(v),
        };
        self.entries.push(Entry { value, bits: NONE });
        Found(self.entries.len() - 1)
    }

    /// The transformed value of an entry (`raw` when the chain changed nothing).
    pub fn value<'a>(&'a self, found: Found, raw: &'a [u8]) -> &'a [u8] {
        self.entries[found.0].value.as_deref().unwrap_or(raw)
    }

    /// Whether the rule in filter slot `slot` of `chain` could match the entry's value.
    pub fn may_match(&mut self, found: Found, chain: &Chain, raw: &[u8], slot: u32) -> bool {
        let start = self.filtered(found, chain, raw);
        self.bits
            .get(start + slot as usize / 64)
            .is_none_or(|w| w & (1 << (slot % 64)) != 0)
    }

    /// Where the entry's filter result starts in `bits` (computed on first use).
    // Always inlined, as `entry`.
    #[inline(always)]
    fn filtered(&mut self, found: Found, chain: &Chain, raw: &[u8]) -> usize {
        let e = found.0;
        match self.entries[e].bits {
            NONE => {
                let start = self.bits.len();
                self.bits.resize(start + chain.words(), 0);
                let value = self.entries[e].value.as_deref().unwrap_or(raw);
                chain.filter(value, &mut self.bits[start..]);
                // Past u32::MAX words, the bits are recomputed each time.
                self.entries[e].bits = u32::try_from(start).unwrap_or(NONE);
                start
            }
            b => b as usize,
        }
    }

    /// The filter result of the entry's value: one bit per slot of `chain`, set when the rule
    /// in that slot could match (computed on first use).
    pub fn bits(&mut self, found: Found, chain: &Chain, raw: &[u8]) -> &[u64] {
        let start = self.filtered(found, chain, raw);
        &self.bits[start..start + chain.words()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::chains::Chains;
    use crate::engine::collections::{Collections, ValueId};
    use crate::transform::Transformation;

    /// The chains of two rules: `t:lowercase` (chain 0), then none (chain 1).
    fn chains() -> Chains {
        let text = "SecRule ARGS \"@rx a\" \"id:1,t:lowercase\"\nSecRule ARGS \"@rx b\" \"id:2\"\n";
        let set = crate::seclang::parse_str(text, std::path::Path::new("t.conf")).unwrap();
        let mut compiled = crate::engine::compile::compile(&set).unwrap();
        Chains::build(&mut compiled.rules, true)
    }

    #[test]
    fn a_cleared_memo_forgets_every_entry_across_generations() {
        // The same value id names a new value in each transaction; clearing is a new
        // generation, and the generations wrap: 255 clears later a generation comes back.
        let chains = chains();
        let lower = chains.get(0);
        let mut memo = Memo::default();
        let lowered = |memo: &mut Memo, id: u64, raw: &str| {
            let found = memo.entry(ValueId(id), chains.len(), 0, lower, raw.as_bytes());
            assert_eq!(
                memo.value(found, raw.as_bytes()),
                raw.to_lowercase().as_bytes()
            );
        };
        for i in 0..600 {
            memo.clear();
            memo.reserve(4, chains.len());
            lowered(&mut memo, 2, &format!("Value{i}"));
            // A cell written once and not again until the generation has come round.
            if i == 0 || i == 255 {
                lowered(&mut memo, 3, &format!("Other{i}"));
            }
        }
    }

    #[test]
    fn a_value_is_transformed_once_per_chain_and_never_confused_with_another() {
        let chains = chains();
        assert_eq!(chains.get(0).transformations, [Transformation::Lowercase]);
        let mut c = Collections::default();
        let first = c.table(vec![(b"Q".to_vec(), b"ABC".to_vec())]);
        // The same bytes under a new table (a replaced collection) get a new id.
        let second = c.table(vec![(b"Q".to_vec(), b"XYZ".to_vec())]);
        let mut ids = Vec::new();
        let target = crate::engine::variables::Target::parse("ARGS").unwrap();
        for t in [&first, &second] {
            let mut tmp = Collections::default();
            tmp.args_get = t.clone();
            tmp.each(&target, 0, None, &mut |_, _, id| ids.push(id.unwrap()));
        }
        assert_ne!(ids[0], ids[1]);
        let mut memo = Memo::default();
        let lower = chains.get(0);
        let a = memo.entry(ids[0], chains.len(), 0, lower, b"ABC");
        assert_eq!(memo.value(a, b"ABC"), b"abc");
        let again = memo.entry(ids[0], chains.len(), 0, lower, b"ABC");
        assert_eq!(again.0, a.0, "kept, not recomputed");
        let b = memo.entry(ids[1], chains.len(), 0, lower, b"XYZ");
        assert_eq!(memo.value(b, b"XYZ"), b"xyz");
        let raw = memo.entry(ids[0], chains.len(), 1, chains.get(1), b"ABC");
        assert_eq!(
            memo.value(raw, b"ABC"),
            b"ABC",
            "the other chain sees its own result"
        );
    }
}
