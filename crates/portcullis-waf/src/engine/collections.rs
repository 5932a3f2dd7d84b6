//! What a transaction knows: the request and response facts rules read, the TX collection, and
//! the matches of the rule being evaluated. [`Collections::each`] walks the values a target
//! names without copying them.

use std::borrow::Cow;
use std::ops::Deref;

use super::variables::{Key, Target, TxSlots, Var, VarSet};
use crate::operator::byte_class::class_of;

/// The largest scalar buffer [`Collections::clear`] keeps for the next transaction (a larger
/// response body's is freed).
const KEPT_SCALAR_BYTES: usize = 64 * 1024;

/// The MATCHED_VARS slots [`Collections::clear`] keeps for the next transaction.
const KEPT_MATCHED_VARS: usize = 64;

/// Name/value pairs in arrival order (argument names need not be UTF-8).
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Name/value pairs whose buffers outlive their contents: emptied, they keep their slots and
/// memory for the next values (a rule's matches, copied on every matching link).
#[derive(Debug, Clone, Default)]
pub struct Slots {
    pairs: Pairs,
    len: usize,
}

impl Slots {
    /// The pairs held.
    pub fn as_slice(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.pairs[..self.len]
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empties the slots, keeping their memory.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Empties the slots and frees those past the first `kept` (a rule that matched
    /// thousands of arguments does not pin that memory).
    pub fn clear_keeping(&mut self, kept: usize) {
        self.len = 0;
        self.pairs.truncate(kept);
    }

    /// Adds a pair: `name` writes the name into its buffer, then `value` is copied.
    pub fn push(&mut self, name: impl FnOnce(&mut Vec<u8>), value: &[u8]) {
        if self.len == self.pairs.len() {
            self.pairs.push(Default::default());
        }
        let (n, v) = &mut self.pairs[self.len];
        n.clear();
        name(n);
        v.clear();
        v.extend_from_slice(value);
        self.len += 1;
    }
}

pub use super::tx::{Tx, TxBytes};

/// Pairs with the [byte class](crate::operator::byte_class) of each name and value, computed
/// once when the collection is filled (every rule asks for them), and the [`ValueId`] of its
/// first value. Made by [`Collections::table`], which hands out the ids.
#[derive(Debug, Clone, Default)]
pub struct Table {
    items: Pairs,
    classes: Vec<(u8, u8)>,
    /// The highest class of a name, and of a value.
    top: (u8, u8),
    first_id: u64,
}

impl Table {
    /// The id of item `i`'s value (its name's is the next one).
    fn id(&self, i: usize, name: bool) -> ValueId {
        // Ids were handed out for every item when the table was made: no overflow here.
        ValueId(self.first_id + 2 * i as u64 + u64::from(name))
    }
}

impl Deref for Table {
    type Target = Pairs;

    fn deref(&self) -> &Pairs {
        &self.items
    }
}

/// Names a value of a transaction that never changes once set (a request or response
/// header, an argument, a scalar such as `REQUEST_URI`), so that work done on it (its
/// transformations, see [`super::memo`]) can be kept and shared between rules. Ids are never
/// reused within a transaction: replacing a collection gives its values new ones. Values that
/// change (TX, MATCHED_VAR) have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueId(pub u64);

/// The parsed XML body.
#[derive(Debug, Clone, Default)]
pub struct XmlBody {
    /// All text content, concatenated (`XML:/*`).
    pub text: Vec<u8>,
    /// Every attribute value (`XML://@*`).
    pub attributes: Vec<Vec<u8>>,
}

/// The values rules inspect.
#[derive(Debug, Clone, Default)]
pub struct Collections {
    /// Query arguments.
    pub args_get: Table,
    /// Body arguments.
    pub args_post: Table,
    /// Request headers (names as sent).
    pub request_headers: Table,
    /// Cookies.
    pub cookies: Table,
    /// Uploaded files: form field name to file name.
    pub files: Table,
    /// Uploaded file sizes by form field.
    pub files_sizes: Table,
    /// Multipart part headers: part name to `Name: value` line.
    pub multipart_part_headers: Table,
    /// Response headers.
    pub response_headers: Table,
    /// Scalars, indexed by [`ScalarVar`].
    scalars: [Scalar; ScalarVar::COUNT],
    /// The scalars that are set.
    scalars_set: VarSet,
    /// The parsed XML body.
    pub xml: Option<XmlBody>,
    /// The TX collection (names lowercase).
    pub tx: Tx,
    /// The last match's value.
    pub matched_var: Vec<u8>,
    /// The last match's name.
    pub matched_var_name: Vec<u8>,
    /// The previous chain link's matches (name, value).
    pub matched_vars: Slots,
    /// The next [`ValueId`] to hand out.
    next_id: u64,
}

/// A single-valued variable. The buffer is kept from one transaction to the next (a value is
/// set when it has an id): URIs, request lines and response bodies are copied in, not
/// allocated, each time.
#[derive(Debug, Clone, Default)]
struct Scalar {
    id: Option<ValueId>,
    /// The value's [byte class](crate::operator::byte_class), found when it is set (rules
    /// ask for it on every evaluation).
    class: u8,
    value: Vec<u8>,
}

/// What [`Collections::each`] calls with each value: its key (for collections), the value, and
/// its id when it has one.
pub type Visit<'a> = dyn FnMut(Option<&[u8]>, &[u8], Option<ValueId>) + 'a;

/// Whether a value (of this variable, with this key) is left out.
pub type Excluded<'a> = dyn Fn(Var, Option<&[u8]>) -> bool + 'a;

/// Variables holding one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScalarVar(pub u8);

impl ScalarVar {
    /// How many slots there are.
    pub const COUNT: usize = 19;

    /// The slot of a single-valued variable (`None` for collections and computed ones).
    pub fn of(var: Var) -> Option<Self> {
        use Var::*;
        let slot = match var {
            MultipartStrictError => 0,
            QueryString => 1,
            RemoteAddr => 2,
            ReqbodyError => 3,
            ReqbodyErrorMsg => 4,
            ReqbodyProcessor => 5,
            RequestBasename => 6,
            RequestBody => 7,
            RequestBodyLength => 8,
            RequestFilename => 9,
            RequestLine => 10,
            RequestMethod => 11,
            RequestProtocol => 12,
            RequestUri => 13,
            RequestUriRaw => 14,
            ResponseBody => 15,
            ResponseStatus => 16,
            UniqueId => 17,
            FilesCombinedSize => 18,
            _ => return None,
        };
        Some(Self(slot))
    }
}

impl Collections {
    /// Empty collections whose TX is `tx` (made for the rule set that will read them).
    pub fn with_tx(tx: Tx) -> Self {
        Self {
            tx,
            ..Self::default()
        }
    }

    /// `n` fresh value ids; the first. (64 bits: a transaction cannot hold enough values to
    /// run out.)
    fn ids(&mut self, n: usize) -> u64 {
        let first = self.next_id;
        self.next_id += n as u64;
        first
    }

    /// Empties every collection for the next transaction (TX keeps its memory, see
    /// [`Tx::clear`]); ids start again from zero.
    pub fn clear(&mut self) {
        for t in [
            &mut self.args_get,
            &mut self.args_post,
            &mut self.request_headers,
            &mut self.cookies,
            &mut self.files,
            &mut self.files_sizes,
            &mut self.multipart_part_headers,
            &mut self.response_headers,
        ] {
            *t = Table::default();
        }
        for Scalar { id, value, .. } in &mut self.scalars {
            *id = None;
            if value.capacity() > KEPT_SCALAR_BYTES {
                *value = Vec::new();
            } else {
                value.clear();
            }
        }
        self.scalars_set = VarSet::default();
        self.xml = None;
        self.tx.clear();
        self.matched_var.clear();
        self.matched_var_name.clear();
        self.matched_vars.clear_keeping(KEPT_MATCHED_VARS);
        self.next_id = 0;
    }

    /// How many value ids have been handed out.
    pub fn ids_issued(&self) -> u64 {
        self.next_id
    }

    /// A table of `items`, its values given fresh ids.
    pub fn table(&mut self, items: Pairs) -> Table {
        let classes: Vec<(u8, u8)> = items
            .iter()
            .map(|(k, v)| (class_of(k), class_of(v)))
            .collect();
        let top = classes
            .iter()
            .fold((0, 0), |(a, b), (k, v)| (a.max(*k), b.max(*v)));
        let first_id = self.ids(items.len() * 2);
        Table {
            items,
            classes,
            top,
            first_id,
        }
    }

    /// Sets a single-valued variable.
    pub fn set(&mut self, var: Var, value: impl AsRef<[u8]>) {
        if let Some(slot) = ScalarVar::of(var) {
            let id = ValueId(self.ids(1));
            let value = value.as_ref();
            let scalar = &mut self.scalars[usize::from(slot.0)];
            scalar.id = Some(id);
            scalar.class = class_of(value);
            scalar.value.clear();
            scalar.value.extend_from_slice(value);
            self.scalars_set = self.scalars_set.with(var);
        }
    }

    /// A single-valued variable, if set.
    pub fn get(&self, var: Var) -> Option<&[u8]> {
        self.scalar(var).map(|s| s.value.as_slice())
    }

    fn scalar(&self, var: Var) -> Option<&Scalar> {
        let slot = ScalarVar::of(var)?;
        let s = &self.scalars[usize::from(slot.0)];
        s.id.is_some().then_some(s)
    }

    /// Calls `f(key, value)` for every value of `target` of byte class `min_class` or above
    /// that `excluded` (when given) keeps. Names-only collections (`ARGS_NAMES`) yield the name
    /// as value.
    pub fn each(
        &self,
        target: &Target,
        min_class: u8,
        excluded: Option<&Excluded<'_>>,
        f: &mut Visit<'_>,
    ) {
        let excluded = |var: Var, name: Option<&[u8]>| excluded.is_some_and(|e| e(var, name));
        let var = target.var;
        let key = &target.key;
        let every = matches!(key, Key::All);
        let table = |t: &Table, names: bool, f: &mut Visit<'_>| {
            // A rule that needs a byte class no value of the table reaches skips the table.
            let top = if names { t.top.0 } else { t.top.1 };
            if top < min_class {
                return;
            }
            for (i, ((k, v), (kc, vc))) in t.items.iter().zip(&t.classes).enumerate() {
                let class = if names { *kc } else { *vc };
                if class >= min_class && (every || key.selects(k)) && !excluded(var, Some(k)) {
                    f(Some(k), if names { k } else { v }, Some(t.id(i, names)));
                }
            }
        };
        let pairs = |list: &[(Vec<u8>, Vec<u8>)], names: bool, f: &mut Visit<'_>| {
            for (k, v) in list {
                let value = if names { k } else { v };
                if (min_class == 0 || class_of(value) >= min_class)
                    && key.selects(k)
                    && !excluded(var, Some(k))
                {
                    f(Some(k), value, None);
                }
            }
        };
        match var {
            Var::Args => {
                table(&self.args_get, false, f);
                table(&self.args_post, false, f);
            }
            Var::ArgsGet => table(&self.args_get, false, f),
            Var::ArgsPost => table(&self.args_post, false, f),
            Var::ArgsNames => {
                table(&self.args_get, true, f);
                table(&self.args_post, true, f);
            }
            Var::ArgsGetNames => table(&self.args_get, true, f),
            Var::ArgsPostNames => table(&self.args_post, true, f),
            Var::RequestHeaders => table(&self.request_headers, false, f),
            Var::RequestHeadersNames => table(&self.request_headers, true, f),
            Var::RequestCookies => table(&self.cookies, false, f),
            Var::RequestCookiesNames => table(&self.cookies, true, f),
            Var::Files => table(&self.files, false, f),
            Var::FilesNames => table(&self.files, true, f),
            Var::FilesSizes => table(&self.files_sizes, false, f),
            Var::MultipartPartHeaders => table(&self.multipart_part_headers, false, f),
            Var::ResponseHeaders => table(&self.response_headers, false, f),
            Var::ResponseHeadersNames => table(&self.response_headers, true, f),
            Var::MatchedVars => pairs(self.matched_vars.as_slice(), false, f),
            Var::MatchedVarsNames => pairs(self.matched_vars.as_slice(), true, f),
            Var::Tx => {
                if let Key::Name(name) = key {
                    // Names are stored lowercase, like TX keys: one lookup, not a scan (an
                    // index when the rule set numbered the name).
                    let value = match target.tx {
                        Some(TxSlots::One(n)) => self.tx.at(n),
                        _ => self.tx.get(name),
                    };
                    if let Some(v) = value {
                        if (min_class == 0 || class_of(v) >= min_class)
                            && !excluded(var, Some(name))
                        {
                            f(Some(name), v, None);
                        }
                    }
                    return;
                }
                // Members in name order (as ModSecurity lists them). Of the numbered names,
                // only those the selector was found at load to select are candidates; a
                // selector's required prefix rules out most of the others without running its
                // regex.
                let prefix: &[u8] = match key {
                    Key::Pattern(p) => p.prefix(),
                    _ => b"",
                };
                let keep = |(k, v): &(&[u8], &TxBytes)| {
                    // The first byte before `memcmp`: most members differ there.
                    let first = prefix.first().is_none_or(|b| k.first() == Some(b));
                    first
                        && k.starts_with(prefix)
                        && (min_class == 0 || class_of(v) >= min_class)
                        && key.selects(k)
                        && !excluded(var, Some(k))
                };
                let mut members: Vec<(&[u8], &TxBytes)> = match &target.tx {
                    Some(TxSlots::Selected(numbers)) => {
                        self.tx.among(numbers).filter(keep).collect()
                    }
                    _ => self.tx.iter().filter(keep).collect(),
                };
                members.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (k, v) in members {
                    f(Some(k), v, None);
                }
            }
            Var::Xml => {
                let Some(xml) = &self.xml else { return };
                let path: &[u8] = match key {
                    Key::Name(p) => p,
                    _ => b"/*",
                };
                if excluded(var, Some(path)) {
                    return;
                }
                let values: &[Vec<u8>] = if path == b"//@*" {
                    &xml.attributes
                } else {
                    std::slice::from_ref(&xml.text)
                };
                for v in values
                    .iter()
                    .filter(|v| min_class == 0 || class_of(v) >= min_class)
                {
                    f(Some(path), v, None);
                }
            }
            Var::MatchedVar | Var::MatchedVarName => {
                let v = if var == Var::MatchedVar {
                    &self.matched_var
                } else {
                    &self.matched_var_name
                };
                if (min_class == 0 || class_of(v) >= min_class) && !excluded(var, None) {
                    f(None, v, None);
                }
            }
            Var::ArgsCombinedSize => {
                let size: usize = self
                    .args_get
                    .iter()
                    .chain(self.args_post.iter())
                    .map(|(k, v)| k.len() + v.len())
                    .sum();
                f(None, itoa::Buffer::new().format(size).as_bytes(), None);
            }
            Var::Global | Var::Ip => {}
            scalar => {
                if let Some(Scalar { id, class, value }) = self.scalar(scalar) {
                    if *class >= min_class && !excluded(var, None) {
                        f(None, value, *id);
                    }
                }
            }
        }
    }

    /// The variables that hold a value: a rule reading none of them cannot match. TX, the
    /// matched values and `ARGS_COMBINED_SIZE` always count as holding one.
    pub fn present(&self) -> VarSet {
        use Var::*;
        let mut set = [
            Tx,
            MatchedVar,
            MatchedVarName,
            MatchedVars,
            MatchedVarsNames,
        ]
        .into_iter()
        .fold(VarSet::default().with(ArgsCombinedSize), VarSet::with);
        let tables: [(&Table, &[Var]); 8] = [
            (&self.args_get, &[Args, ArgsGet, ArgsNames, ArgsGetNames]),
            (&self.args_post, &[Args, ArgsPost, ArgsNames, ArgsPostNames]),
            (
                &self.request_headers,
                &[RequestHeaders, RequestHeadersNames],
            ),
            (&self.cookies, &[RequestCookies, RequestCookiesNames]),
            (&self.files, &[Files, FilesNames]),
            (&self.files_sizes, &[FilesSizes]),
            (&self.multipart_part_headers, &[MultipartPartHeaders]),
            (
                &self.response_headers,
                &[ResponseHeaders, ResponseHeadersNames],
            ),
        ];
        for (table, vars) in tables {
            if !table.is_empty() {
                set = vars.iter().fold(set, |s, v| s.with(*v));
            }
        }
        if self.xml.is_some() {
            set = set.with(Xml);
        }
        set.union(self.scalars_set)
    }

    /// The first value of `var` (with `key`), as a macro expands it.
    pub fn first(&self, var: Var, key: Option<&[u8]>) -> Option<Cow<'_, [u8]>> {
        if var == Var::Tx {
            return self.tx.get(key?).map(|v| Cow::Borrowed(v.as_slice()));
        }
        if ScalarVar::of(var).is_some() {
            return self.get(var).map(Cow::Borrowed);
        }
        let target = Target {
            var,
            key: key.map_or(Key::All, |k| Key::Name(k.to_vec())),
            count: false,
            tx: None,
        };
        let mut out = None;
        self.each(&target, 0, None, &mut |_, v, _| {
            if out.is_none() {
                out = Some(Cow::Owned(v.to_vec()));
            }
        });
        out
    }
}
