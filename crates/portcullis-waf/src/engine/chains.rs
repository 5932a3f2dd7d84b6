//! Transformation chains, interned at load: every rule names its list of transformations by
//! id, so a transaction transforms a value once per chain rather than once per rule (see
//! [`super::memo`]). Each chain also carries the literal filter of the rules that run after
//! it: one Aho-Corasick automaton over the [factors](crate::operator::factors) of every such
//! regex and the phrases of every `@pm` list, which a single pass over a transformed value
//! turns into the set of rules that could match it (for a phrase list the answer is exact).
//! Request rules (phases 1-2) and response rules (3-5) get separate chains: they see different
//! values, and the response's phrase lists (error messages, thousands of them) would swell the
//! request filters. CRS has ~40 chains; most rules share a handful.

use std::collections::HashMap;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::nfa::contiguous;
use aho_corasick::{Anchored, MatchKind, StartKind};

use super::rule::Rule;
use super::summaries::Summaries;
use crate::operator::Operator;
use crate::transform::Transformation;

/// A chain's index in [`Chains`].
pub type ChainId = u32;

/// One list of transformations and the filter of its rules' regexes.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    /// The transformations, in order.
    pub transformations: Vec<Transformation>,
    filter: Option<Filter>,
    /// How many rules have a slot in the filter.
    slots: u32,
}

/// A chain filters its values only when at least this many of its rules would use the
/// result. One is enough: a filter pass over a short value costs less than running a regex
/// on it (on CRS's 1 KB JSON POST, requiring three measured 0.5% more instructions than one).
const MIN_SLOTS: u32 = 1;

/// Filters whose patterns total at most this many bytes are DFAs over the whole patterns (a
/// table lookup per byte); larger ones, such as the response chain holding CRS's error-message
/// lists, are DFAs over the patterns' prefixes ([`Prefixes`]).
const MAX_DFA_BYTES: usize = 4096;

/// Which rules' factors occur in a value.
#[derive(Debug, Clone)]
struct Filter {
    /// Every factor, ASCII case-insensitive, with Standard semantics: a match state lists
    /// every pattern ending there, so one pass finds them all (overlapping).
    scanner: Scanner,
    /// For each pattern, the slots of the rules it is a factor of.
    slots_of: Vec<Vec<u32>>,
}

#[derive(Debug, Clone)]
enum Scanner {
    /// Every pattern in one DFA, and the longest pattern's length.
    Dfa(DFA, StateID, usize),
    /// For large sets: a DFA over the patterns' first [`PREFIX`] bytes; each prefix found is
    /// then checked against the whole patterns it begins.
    Prefixes(Prefixes),
    /// Every pattern in one NFA, when the prefix DFA could not be built, and the longest
    /// pattern's length.
    Nfa(contiguous::NFA, StateID, usize),
}

/// How many leading bytes of each pattern a [`Prefixes`] DFA holds. A DFA over CRS's whole
/// response filter (2,246 error messages and web-shell markers plus regex factors) would take
/// 31 MB and the NFA costs 20-50 instructions per byte; over five-byte prefixes the DFA is a
/// fraction of a megabyte and a table lookup per byte, and prefixes are rare in ordinary text.
const PREFIX: usize = 5;

/// A DFA over the distinct (lowercase) prefixes of a pattern set, and for each prefix the
/// patterns that begin with it.
#[derive(Debug, Clone)]
struct Prefixes {
    dfa: DFA,
    start: StateID,
    /// By prefix: the patterns beginning with it.
    whole: Vec<Begun>,
}

/// A prefix's length, and the patterns (index, lowercase bytes) that begin with it.
type Begun = (usize, Vec<(usize, Vec<u8>)>);

impl Prefixes {
    fn new(words: &[Vec<u8>]) -> Option<Self> {
        let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut prefixes: Vec<Vec<u8>> = Vec::new();
        let mut whole: Vec<Begun> = Vec::new();
        for (i, w) in words.iter().enumerate() {
            let lower = w.to_ascii_lowercase();
            let prefix = lower[..lower.len().min(PREFIX)].to_vec();
            let at = *index.entry(prefix.clone()).or_insert_with(|| {
                whole.push((prefix.len(), Vec::new()));
                prefixes.push(prefix);
                whole.len() - 1
            });
            whole[at].1.push((i, lower));
        }
        let dfa = dfa_over(&prefixes)?;
        let start = dfa.start_state(Anchored::No).ok()?;
        Some(Self { dfa, start, whole })
    }

    /// Calls `found` with every pattern that occurs in `value`.
    fn scan(&self, value: &[u8], mut found: impl FnMut(usize)) {
        let (a, start) = (&self.dfa, self.start);
        // Two closures: one used twice stopped being inlined into the short values' walk.
        if in_pieces(value, PREFIX) {
            let mut check = |sid, end| self.check(value, sid, end, &mut found);
            each_match_in_pieces(a, start, PREFIX, value, &mut check);
        } else {
            each_match(a, start, value, |sid, end| {
                self.check(value, sid, end, &mut found)
            });
        }
    }

    /// Calls `found` with the patterns that begin with the prefixes of match state `sid`,
    /// ending at `end` in `value`, and occur there whole.
    #[inline(always)]
    fn check(&self, value: &[u8], sid: StateID, end: usize, found: &mut impl FnMut(usize)) {
        let a = &self.dfa;
        for m in 0..a.match_len(sid) {
            let (len, patterns) = &self.whole[a.match_pattern(sid, m).as_usize()];
            // The prefix (its first `len` bytes) ends at `end`: the rest follows it.
            let rest = &value[end + 1..];
            for (i, p) in patterns {
                let tail = &p[*len..];
                if rest.len() >= tail.len() && rest[..tail.len()].eq_ignore_ascii_case(tail) {
                    found(*i);
                }
            }
        }
    }
}

/// Runs automaton `a` over `value` from state `start`, calling `at(state, position)` at every
/// byte where it is in a match state.
fn each_match<A: Automaton>(
    a: &A,
    start: StateID,
    value: &[u8],
    mut at: impl FnMut(StateID, usize),
) {
    walk(a, start, value, 0, &mut at);
}

/// Whether `value` is long enough for [`each_match_in_pieces`] (with patterns of at most
/// `longest` bytes).
fn in_pieces(value: &[u8], longest: usize) -> bool {
    value.len() >= STREAMS * MIN_PIECE && longest <= MIN_PIECE
}

/// [`each_match`] for a value [`in_pieces`] accepts (`a`'s patterns are at most `longest`
/// bytes).
///
/// The value is read as [`STREAMS`] pieces in turn, a byte of each per step: one walk waits
/// on each transition it loads, several independent walks overlap those waits (a 1 KB
/// response body took ~4,700 cycles as one walk). Each piece's walk starts from `start`
/// `longest - 1` bytes before the piece, so it is in the same state as a walk over the whole
/// value by the piece's first byte (an automaton's state is the longest suffix read that
/// begins a pattern), and reports only the matches ending inside its piece.
#[inline(never)]
fn each_match_in_pieces<A: Automaton>(
    a: &A,
    start: StateID,
    longest: usize,
    value: &[u8],
    at: &mut dyn FnMut(StateID, usize),
) {
    let piece = value.len() / STREAMS;
    let warm_up = longest.saturating_sub(1);
    // Piece `k` is `[k * piece, (k + 1) * piece)`, the last one running to the end; its walk
    // starts `warm_up` bytes earlier. The walks take `piece` steps together, then each
    // finishes alone.
    let begins: [usize; STREAMS] = std::array::from_fn(|k| (k * piece).saturating_sub(warm_up));
    let mut sids = [start; STREAMS];
    let pieces = begins.map(|b| &value[b..b + piece]);
    for step in 0..piece {
        for (k, bytes) in pieces.iter().enumerate() {
            let sid = a.next_state(Anchored::No, sids[k], bytes[step]);
            sids[k] = sid;
            if a.is_special(sid) {
                let position = begins[k] + step;
                if a.is_match(sid) && position >= k * piece {
                    at(sid, position);
                }
            }
        }
    }
    for (k, sid) in sids.into_iter().enumerate() {
        let end = if k + 1 == STREAMS {
            value.len()
        } else {
            (k + 1) * piece
        };
        let from = begins[k] + piece;
        walk(a, sid, &value[from..end], from, at);
    }
}

/// How many pieces [`each_match_in_pieces`] reads a value as (the gateway's exchange, with a
/// 1 KB response body: 9.4 µs with one walk, 8.4 µs with four, 8.3 µs with eight).
const STREAMS: usize = 8;

/// The shortest piece worth a walk of its own.
const MIN_PIECE: usize = 64;

/// Runs `a` over `value` from `sid`, calling `at(state, offset + position)` at every match.
#[inline]
fn walk<A: Automaton, F: FnMut(StateID, usize) + ?Sized>(
    a: &A,
    mut sid: StateID,
    value: &[u8],
    offset: usize,
    at: &mut F,
) {
    let mut from = 0;
    while let Some((state, end)) = next_special(a, sid, &value[from..]) {
        sid = state;
        if a.is_match(sid) {
            at(sid, offset + from + end);
        }
        from += end + 1;
    }
}

/// The state and position of the first byte of `value` that leaves `a` in a special state
/// (a match, nearly always). Kept out of line: inside the caller the state did not stay in
/// a register, and the loop ran at half speed. Two bytes per turn: ~2% fewer instructions
/// per transaction.
#[inline(never)]
fn next_special<A: Automaton>(a: &A, mut sid: StateID, value: &[u8]) -> Option<(StateID, usize)> {
    let mut pairs = value.chunks_exact(2);
    let mut i = 0;
    for pair in &mut pairs {
        sid = a.next_state(Anchored::No, sid, pair[0]);
        if a.is_special(sid) {
            return Some((sid, i));
        }
        sid = a.next_state(Anchored::No, sid, pair[1]);
        if a.is_special(sid) {
            return Some((sid, i + 1));
        }
        i += 2;
    }
    for b in pairs.remainder() {
        sid = a.next_state(Anchored::No, sid, *b);
        if a.is_special(sid) {
            return Some((sid, i));
        }
    }
    None
}

/// An ASCII case-insensitive DFA reporting every pattern that ends at each byte.
fn dfa_over(words: &[Vec<u8>]) -> Option<DFA> {
    DFA::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .start_kind(StartKind::Unanchored)
        .prefilter(false)
        .build(words)
        .ok()
}

impl Filter {
    fn new(patterns: Vec<(Vec<u8>, Vec<u32>)>) -> Option<Self> {
        let (words, slots_of): (Vec<Vec<u8>>, Vec<Vec<u32>>) = patterns.into_iter().unzip();
        let bytes: usize = words.iter().map(Vec::len).sum();
        let longest = words.iter().map(Vec::len).max().unwrap_or(0);
        let scanner = if bytes <= MAX_DFA_BYTES {
            let dfa = dfa_over(&words)?;
            let start = dfa.start_state(Anchored::No).ok()?;
            Scanner::Dfa(dfa, start, longest)
        } else if let Some(p) = Prefixes::new(&words) {
            Scanner::Prefixes(p)
        } else {
            let nfa = contiguous::NFA::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(&words)
                .ok()?;
            let start = nfa.start_state(Anchored::No).ok()?;
            Scanner::Nfa(nfa, start, longest)
        };
        Some(Self { scanner, slots_of })
    }

    /// Sets the slots of every pattern that occurs in `value`.
    fn scan(&self, value: &[u8], bits: &mut [u64]) {
        let mut set = |pattern: usize| {
            for slot in &self.slots_of[pattern] {
                bits[*slot as usize / 64] |= 1 << (slot % 64);
            }
        };
        match &self.scanner {
            Scanner::Dfa(a, start, longest) => scan_with(a, *start, *longest, value, set),
            Scanner::Prefixes(p) => p.scan(value, &mut set),
            Scanner::Nfa(a, start, longest) => scan_with(a, *start, *longest, value, set),
        }
    }
}

/// Calls `found` with every pattern of automaton `a` that occurs in `value`.
fn scan_with(
    a: &impl Automaton,
    start: StateID,
    longest: usize,
    value: &[u8],
    mut found: impl FnMut(usize),
) {
    if in_pieces(value, longest) {
        each_match_in_pieces(a, start, longest, value, &mut |sid, _| {
            each_pattern(a, sid, &mut found)
        });
    } else {
        each_match(a, start, value, |sid, _| each_pattern(a, sid, &mut found));
    }
}

/// Calls `found` with every pattern of match state `sid`.
#[inline(always)]
fn each_pattern(a: &impl Automaton, sid: StateID, found: &mut impl FnMut(usize)) {
    for i in 0..a.match_len(sid) {
        found(a.match_pattern(sid, i).as_usize());
    }
}

impl Chain {
    /// Words (of 64 slots) in the filter's result.
    pub fn words(&self) -> usize {
        (self.slots as usize).div_ceil(64)
    }

    /// Sets in `bits` (of [`Self::words`] words, cleared) the slots of the rules whose
    /// factors occur in `value` (already transformed by this chain).
    pub fn filter(&self, value: &[u8], bits: &mut [u64]) {
        let Some(f) = &self.filter else {
            // No filter: every slot may match.
            bits.fill(u64::MAX);
            return;
        };
        f.scan(value, bits);
    }

    /// Whether rules of this chain have filter slots.
    pub fn filters(&self) -> bool {
        self.filter.is_some()
    }
}

/// Every chain of a rule set.
#[derive(Debug, Clone, Default)]
pub struct Chains {
    list: Vec<Chain>,
    /// The target summaries of the rules' filter slots.
    pub summaries: Summaries,
}

impl Chains {
    /// Interns the chains of `rules` (and of their chained links), setting each rule's
    /// `chain` and `filter_slot`, and builds the filters (unless `filters` is off: then every
    /// rule runs its regex). A filter that cannot be built is left out, with the same effect.
    pub fn build(rules: &mut [Rule], filters: bool) -> Self {
        let mut b = Builder::default();
        each_link(rules, |r| b.add(r));
        let mut chains = b.finish(filters);
        // Slots of chains too small to filter are dropped: those rules run their regex.
        each_link(rules, |r| {
            if !chains.get(r.chain).filters() {
                r.filter_slot = None;
            }
        });
        chains.summaries = Summaries::assign(rules, &chains);
        chains
    }

    /// The chain with this id.
    pub fn get(&self, id: ChainId) -> &Chain {
        &self.list[id as usize]
    }

    /// How many chains there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Calls `f` with every rule and chained link.
fn each_link(rules: &mut [Rule], mut f: impl FnMut(&mut Rule)) {
    for rule in rules {
        let mut link = Some(rule);
        while let Some(r) = link {
            f(r);
            link = r.chained.as_deref_mut();
        }
    }
}

#[derive(Default)]
struct Builder {
    /// By (transformations, response phase).
    ids: HashMap<(Vec<Transformation>, bool), ChainId>,
    chains: Vec<Chain>,
    /// For each chain: its factor strings, and the slots each belongs to.
    patterns: Vec<Vec<(Vec<u8>, Vec<u32>)>>,
    index: Vec<HashMap<Vec<u8>, usize>>,
}

impl Builder {
    fn add(&mut self, rule: &mut Rule) {
        let next = self.chains.len() as ChainId;
        let key = (rule.transformations.clone(), rule.phase >= 3);
        let id = *self.ids.entry(key).or_insert(next);
        if id == next {
            self.chains.push(Chain {
                transformations: rule.transformations.clone(),
                ..Chain::default()
            });
            self.patterns.push(Vec::new());
            self.index.push(HashMap::new());
        }
        rule.chain = id;
        rule.filter_slot = None;
        // `multiMatch` tests values the chain does not produce. A regex's factors only say
        // where it may match, which tells a negated regex nothing; a phrase list's answer is
        // exact, so a negated list (`!@pmFromFile sql-errors.data`, which skips the SQL error
        // rules when the body has none) is answered by the filter too. Phrase lists make
        // their chain's filter a prefix DFA (CRS's lists run to thousands of phrases), which
        // spares each list its own scan of every value: on CRS's
        // 1 KB JSON POST, ~400 list scans (measured 2% less CPU; memory about the same).
        let filterable = match rule.operator {
            Operator::Rx(..) => !rule.negated,
            Operator::Pm(..) => true,
            _ => false,
        };
        if rule.multi_match || !filterable {
            return;
        }
        let Some(set) = rule.operator.factors() else {
            return;
        };
        let i = id as usize;
        let slot = self.chains[i].slots;
        self.chains[i].slots += 1;
        rule.filter_slot = Some(slot);
        for s in set {
            let at = *self.index[i].entry(s.clone()).or_insert_with(|| {
                self.patterns[i].push((s, Vec::new()));
                self.patterns[i].len() - 1
            });
            self.patterns[i][at].1.push(slot);
        }
    }

    fn finish(mut self, filters: bool) -> Chains {
        for (chain, patterns) in self.chains.iter_mut().zip(self.patterns) {
            if filters && chain.slots >= MIN_SLOTS {
                chain.filter = Filter::new(patterns);
            }
        }
        Chains {
            list: self.chains,
            summaries: Summaries::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random text of `len` bytes over a small alphabet, so that patterns occur often.
    fn text(next: &mut impl FnMut() -> u64, len: usize) -> Vec<u8> {
        const ALPHABET: &[u8] = b"abcAB-";
        (0..len)
            .map(|_| ALPHABET[next() as usize % ALPHABET.len()])
            .collect()
    }

    /// Scans 400 random values with a filter over `count` random words and compares every
    /// answer with a naive search.
    fn filter_finds_what_a_naive_search_finds(count: usize, dfa: bool) {
        // Patterns shorter than, as long as and longer than a prefix, in any case,
        // overlapping, cut off at the end; values of odd and even lengths.
        let mut next = crate::xorshift(0x9e37_79b9_7f4a_7c15);
        let words: Vec<Vec<u8>> = (0..count)
            .map(|_| {
                let len = 1 + next() as usize % 12;
                text(&mut next, len)
            })
            .collect();
        let patterns = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), vec![i as u32]))
            .collect();
        let filter = Filter::new(patterns).expect("builds");
        if dfa {
            assert!(matches!(filter.scanner, Scanner::Dfa(..)));
        } else {
            assert!(matches!(filter.scanner, Scanner::Prefixes(_)));
        }
        let word_count = words.len().div_ceil(64);
        for round in 0..400 {
            // One value in ten is long enough to be read as several pieces.
            let len = if round % 10 == 0 {
                256 + next() as usize % 1300
            } else {
                next() as usize % 80
            };
            let value = text(&mut next, len);
            let mut bits = vec![0u64; word_count];
            filter.scan(&value, &mut bits);
            let lower = value.to_ascii_lowercase();
            for (i, w) in words.iter().enumerate() {
                let w = w.to_ascii_lowercase();
                let naive = lower.windows(w.len()).any(|x| x == w.as_slice());
                let found = bits[i / 64] & (1 << (i % 64)) != 0;
                assert_eq!(
                    found,
                    naive,
                    "{:?} in {:?}",
                    String::from_utf8_lossy(&w),
                    String::from_utf8_lossy(&value)
                );
            }
        }
    }

    #[test]
    fn next_special_stops_where_a_byte_by_byte_walk_stops() {
        let mut next = crate::xorshift(0x2545_f491_4f6c_dd1d);
        let words: Vec<Vec<u8>> = (0..30)
            .map(|_| {
                let len = 2 + next() as usize % 5;
                text(&mut next, len)
            })
            .collect();
        let a = dfa_over(&words).expect("builds");
        let start = a.start_state(Anchored::No).expect("unanchored");
        for _ in 0..2000 {
            let len = next() as usize % 24;
            let value = text(&mut next, len);
            let mut sid = start;
            let walked = value.iter().enumerate().find_map(|(i, b)| {
                sid = a.next_state(Anchored::No, sid, *b);
                a.is_special(sid).then_some((sid, i))
            });
            assert_eq!(next_special(&a, start, &value), walked, "{value:?}");
        }
    }

    #[test]
    fn prefix_scanner_finds_what_a_naive_search_finds() {
        // Past the DFA limit: the filter checks prefixes, then whole patterns.
        filter_finds_what_a_naive_search_finds(900, false);
    }

    #[test]
    fn dfa_scanner_finds_what_a_naive_search_finds() {
        filter_finds_what_a_naive_search_finds(60, true);
    }
}
