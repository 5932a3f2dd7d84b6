//! The TX collection. CRS reads and writes ~150 TX variables per transaction, nearly all under
//! names spelled out in the rules (`setvar:tx.inbound_anomaly_score_pl1=+5`,
//! `%{tx.critical_anomaly_score}`, `TX:DETECTION_PARANOIA_LEVEL`). Those names are numbered
//! when the rules are compiled ([`TxNames`]) and a transaction keeps their values in a vector
//! by number, so such an access is an index, not a hash and a key comparison. Names made at
//! run time (`tx.header_name_920450_%{tx.0}`) are looked up in the numbering first and
//! otherwise live in a hash map with a random seed: they carry request data, so collisions
//! must not be something a client can aim for.

use std::collections::HashMap;
use std::sync::Arc;

use smallvec::SmallVec;

/// A TX name or value. Up to 32 bytes are held inline: nearly all of CRS's are short names
/// with numbers for values, and these cost no allocation.
pub type TxBytes = SmallVec<[u8; 32]>;

/// Names outside the numbering, and their values.
type Others = HashMap<TxBytes, TxBytes, ahash::RandomState>;

/// The largest map of other names [`Tx::clear`] keeps for reuse.
const KEPT_OTHERS: usize = 1024;

/// The TX names a rule set spells out (lowercase), numbered.
#[derive(Debug, Default)]
pub struct TxNames {
    numbers: HashMap<Box<[u8]>, u32, ahash::RandomState>,
    names: Vec<Box<[u8]>>,
}

impl TxNames {
    /// The number of `name` (lowercase), giving it the next one if it has none.
    pub fn intern(&mut self, name: &[u8]) -> u32 {
        if let Some(n) = self.numbers.get(name) {
            return *n;
        }
        // Rule sets hold a few thousand names at most; past u32::MAX the rule set could not
        // have been loaded.
        let n = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.into());
        self.numbers.insert(name.into(), n);
        n
    }

    /// The number of `name`, if it has one.
    pub fn number(&self, name: &[u8]) -> Option<u32> {
        self.numbers.get(name).copied()
    }

    /// Every numbered name and its number.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u32)> {
        (0u32..).zip(&self.names).map(|(n, name)| (&name[..], n))
    }

    /// How many names are numbered.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A transaction's TX variables (names lowercase).
#[derive(Debug, Clone, Default)]
pub struct Tx {
    names: Arc<TxNames>,
    /// By number: the value, when set.
    values: Vec<Option<TxBytes>>,
    others: Others,
}

impl Tx {
    /// An empty collection for the rule set that numbered `names`.
    pub fn new(names: Arc<TxNames>) -> Self {
        Self {
            values: vec![None; names.len()],
            names,
            others: Others::default(),
        }
    }

    /// The value of `name`.
    pub fn get(&self, name: &[u8]) -> Option<&TxBytes> {
        match self.names.number(name) {
            Some(n) => self.at(n),
            None => self.others.get(name),
        }
    }

    /// The value of the name numbered `n`.
    pub fn at(&self, n: u32) -> Option<&TxBytes> {
        self.values.get(n as usize)?.as_ref()
    }

    /// The value of `name`, set to empty first if it was unset.
    pub fn entry(&mut self, name: &[u8]) -> &mut TxBytes {
        match self.names.number(name) {
            Some(n) => self.entry_at(n),
            None => {
                if !self.others.contains_key(name) {
                    self.others.insert(name.into(), TxBytes::new());
                }
                self.others.get_mut(name).expect("inserted above")
            }
        }
    }

    /// The value of the name numbered `n`, set to empty first if it was unset.
    pub fn entry_at(&mut self, n: u32) -> &mut TxBytes {
        self.slot(n).get_or_insert_with(TxBytes::new)
    }

    /// The value slot of the name numbered `n`.
    fn slot(&mut self, n: u32) -> &mut Option<TxBytes> {
        let n = n as usize;
        if n >= self.values.len() {
            // Only a collection made for another rule set is shorter than its numbers.
            self.values.resize(n + 1, None);
        }
        &mut self.values[n]
    }

    /// Sets the name numbered `n` to `value` (`None`: unsets it), copying it straight into
    /// the slot (a value built first and then moved in made the CPU wait on the copy).
    pub fn set_at(&mut self, n: u32, value: Option<&[u8]>) {
        let slot = self.slot(n);
        match value {
            Some(v) => {
                let bytes = slot.get_or_insert_with(TxBytes::new);
                bytes.clear();
                bytes.extend_from_slice(v);
            }
            None => *slot = None,
        }
    }

    /// Sets `name` to `value`.
    pub fn insert(&mut self, name: &[u8], value: TxBytes) {
        *self.entry(name) = value;
    }

    /// Unsets `name`.
    pub fn remove(&mut self, name: &[u8]) {
        match self.names.number(name) {
            Some(n) => self.remove_at(n),
            None => {
                self.others.remove(name);
            }
        }
    }

    /// Unsets the name numbered `n`.
    pub fn remove_at(&mut self, n: u32) {
        if let Some(v) = self.values.get_mut(n as usize) {
            *v = None;
        }
    }

    /// Every set variable, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &TxBytes)> {
        let numbered = self
            .values
            .iter()
            .zip(&self.names.names)
            .filter_map(|(v, name)| Some((&name[..], v.as_ref()?)));
        numbered.chain(self.others())
    }

    /// The set variables among the numbered names `numbers`, and every set variable outside
    /// the numbering, in no particular order.
    pub fn among<'a>(
        &'a self,
        numbers: &'a [u32],
    ) -> impl Iterator<Item = (&'a [u8], &'a TxBytes)> + 'a {
        let numbered = numbers.iter().filter_map(|n| {
            let name = self.names.names.get(*n as usize)?;
            Some((&name[..], self.at(*n)?))
        });
        numbered.chain(self.others())
    }

    /// The variables outside the numbering.
    fn others(&self) -> impl Iterator<Item = (&[u8], &TxBytes)> {
        self.others.iter().map(|(k, v)| (k.as_slice(), v))
    }

    /// Unsets every variable, keeping the memory (unless the other names grew past
    /// [`KEPT_OTHERS`]).
    pub fn clear(&mut self) {
        self.values.iter_mut().for_each(|v| *v = None);
        if self.others.capacity() > KEPT_OTHERS {
            self.others = Others::default();
        } else {
            self.others.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_and_other_names_behave_alike() {
        let mut names = TxNames::default();
        let score = names.intern(b"score");
        assert_eq!(names.intern(b"score"), score);
        let mut tx = Tx::new(Arc::new(names));
        assert!(tx.get(b"score").is_none());
        tx.insert(b"score", TxBytes::from_slice(b"5"));
        tx.insert(b"header_name_x", TxBytes::from_slice(b"/x/"));
        assert_eq!(tx.at(score).map(|v| v.as_slice()), Some(&b"5"[..]));
        assert_eq!(tx.get(b"score").map(|v| v.as_slice()), Some(&b"5"[..]));
        tx.entry(b"header_name_x").push(b'!');
        assert_eq!(
            tx.get(b"header_name_x").map(|v| v.as_slice()),
            Some(&b"/x/!"[..])
        );
        let mut all: Vec<_> = tx.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        all.sort();
        assert_eq!(
            all,
            [
                (b"header_name_x".to_vec(), b"/x/!".to_vec()),
                (b"score".to_vec(), b"5".to_vec())
            ]
        );
        tx.remove(b"score");
        assert!(tx.get(b"score").is_none());
        tx.clear();
        assert_eq!(tx.iter().count(), 0);
        // A collection made without the numbering still answers by name.
        let mut plain = Tx::default();
        plain.insert(b"score", TxBytes::from_slice(b"1"));
        assert_eq!(plain.get(b"score").map(|v| v.as_slice()), Some(&b"1"[..]));
    }
}
