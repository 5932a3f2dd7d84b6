//! What a transaction knows: the request and response facts rules read, the TX collection, and
//! the matches of the rule being evaluated. [`Collections::each`] walks the values a target
//! names without copying them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::variables::{Key, Target, Var};

/// Name/value pairs in arrival order (argument names need not be UTF-8).
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

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
    pub args_get: Pairs,
    /// Body arguments.
    pub args_post: Pairs,
    /// Request headers (names as sent).
    pub request_headers: Pairs,
    /// Cookies.
    pub cookies: Pairs,
    /// Uploaded files: form field name to file name.
    pub files: Pairs,
    /// Uploaded file sizes by form field.
    pub files_sizes: Pairs,
    /// Multipart part headers: part name to `Name: value` line.
    pub multipart_part_headers: Pairs,
    /// Response headers.
    pub response_headers: Pairs,
    /// Scalars, indexed by variable.
    pub scalars: BTreeMap<ScalarVar, Vec<u8>>,
    /// The parsed XML body.
    pub xml: Option<XmlBody>,
    /// The TX collection (keys lowercase).
    pub tx: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The last match's value.
    pub matched_var: Vec<u8>,
    /// The last match's name.
    pub matched_var_name: Vec<u8>,
    /// The previous chain link's matches (name, value).
    pub matched_vars: Pairs,
}

/// What [`Collections::each`] calls with each value: its key (for collections) and value.
pub type Visit<'a> = dyn FnMut(Option<&[u8]>, &[u8]) + 'a;

/// Variables holding one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScalarVar(pub u8);

impl ScalarVar {
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
    /// Sets a single-valued variable.
    pub fn set(&mut self, var: Var, value: impl Into<Vec<u8>>) {
        if let Some(slot) = ScalarVar::of(var) {
            self.scalars.insert(slot, value.into());
        }
    }

    /// A single-valued variable, if set.
    pub fn get(&self, var: Var) -> Option<&[u8]> {
        ScalarVar::of(var)
            .and_then(|s| self.scalars.get(&s))
            .map(Vec::as_slice)
    }

    /// Calls `f(key, value)` for every value of `target` that `excluded` keeps. Names-only
    /// collections (`ARGS_NAMES`) yield the name as value.
    pub fn each(
        &self,
        target: &Target,
        excluded: &dyn Fn(Var, Option<&[u8]>) -> bool,
        f: &mut Visit<'_>,
    ) {
        let var = target.var;
        let key = &target.key;
        let pairs = |list: &Pairs, names: bool, f: &mut Visit<'_>| {
            for (k, v) in list {
                if key.selects(k) && !excluded(var, Some(k)) {
                    f(Some(k), if names { k } else { v });
                }
            }
        };
        match var {
            Var::Args => {
                pairs(&self.args_get, false, f);
                pairs(&self.args_post, false, f);
            }
            Var::ArgsGet => pairs(&self.args_get, false, f),
            Var::ArgsPost => pairs(&self.args_post, false, f),
            Var::ArgsNames => {
                pairs(&self.args_get, true, f);
                pairs(&self.args_post, true, f);
            }
            Var::ArgsGetNames => pairs(&self.args_get, true, f),
            Var::ArgsPostNames => pairs(&self.args_post, true, f),
            Var::RequestHeaders => pairs(&self.request_headers, false, f),
            Var::RequestHeadersNames => pairs(&self.request_headers, true, f),
            Var::RequestCookies => pairs(&self.cookies, false, f),
            Var::RequestCookiesNames => pairs(&self.cookies, true, f),
            Var::Files => pairs(&self.files, false, f),
            Var::FilesNames => pairs(&self.files, true, f),
            Var::FilesSizes => pairs(&self.files_sizes, false, f),
            Var::MultipartPartHeaders => pairs(&self.multipart_part_headers, false, f),
            Var::ResponseHeaders => pairs(&self.response_headers, false, f),
            Var::ResponseHeadersNames => pairs(&self.response_headers, true, f),
            Var::MatchedVars => pairs(&self.matched_vars, false, f),
            Var::MatchedVarsNames => pairs(&self.matched_vars, true, f),
            Var::Tx => {
                for (k, v) in &self.tx {
                    if key.selects(k) && !excluded(var, Some(k)) {
                        f(Some(k), v);
                    }
                }
            }
            Var::Xml => {
                let Some(xml) = &self.xml else { return };
                let Key::Name(path) = key else {
                    f(Some(b"/*"), &xml.text);
                    return;
                };
                if excluded(var, Some(path)) {
                    return;
                }
                if path.as_slice() == b"//@*" {
                    for a in &xml.attributes {
                        f(Some(path), a);
                    }
                } else {
                    f(Some(path), &xml.text);
                }
            }
            Var::MatchedVar => {
                if !excluded(var, None) {
                    f(None, &self.matched_var);
                }
            }
            Var::MatchedVarName => {
                if !excluded(var, None) {
                    f(None, &self.matched_var_name);
                }
            }
            Var::ArgsCombinedSize => {
                let size: usize = self
                    .args_get
                    .iter()
                    .chain(&self.args_post)
                    .map(|(k, v)| k.len() + v.len())
                    .sum();
                f(None, size.to_string().as_bytes());
            }
            Var::Global | Var::Ip => {}
            scalar => {
                if let Some(v) = self.get(scalar) {
                    if !excluded(var, None) {
                        f(None, v);
                    }
                }
            }
        }
    }

    /// The first value of `var` (with `key`), as a macro expands it.
    pub fn first(&self, var: Var, key: Option<&[u8]>) -> Option<Cow<'_, [u8]>> {
        if var == Var::Tx {
            let k = key?.to_ascii_lowercase();
            return self.tx.get(&k).map(|v| Cow::Borrowed(v.as_slice()));
        }
        let target = Target {
            var,
            key: key.map_or(Key::All, |k| Key::Name(k.to_vec())),
            count: false,
        };
        let mut out = None;
        self.each(&target, &|_, _| false, &mut |_, v| {
            if out.is_none() {
                out = Some(Cow::Owned(v.to_vec()));
            }
        });
        out
    }
}
