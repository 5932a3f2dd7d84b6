//! Variables as a typed enum (not strings), and compiled targets: which values of a transaction
//! a rule inspects.

use regex::bytes::{Regex, RegexBuilder};

use super::tx::TxNames;
use crate::seclang::ast::{Selector, Variable};

macro_rules! variables {
    ($($variant:ident = $name:literal, $doc:literal;)*) => {
        /// A SecLang variable or collection.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Var {
            $(#[doc = $doc] $variant,)*
        }

        impl Var {
            /// The variable called `name` (uppercase).
            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(Self::$variant),)*
                    _ => None,
                }
            }

            /// Its SecLang name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }
    };
}

variables! {
    Args = "ARGS", "Query and body arguments.";
    ArgsCombinedSize = "ARGS_COMBINED_SIZE", "Total length of argument names and values.";
    ArgsGet = "ARGS_GET", "Query string arguments.";
    ArgsGetNames = "ARGS_GET_NAMES", "Query string argument names.";
    ArgsNames = "ARGS_NAMES", "Argument names.";
    ArgsPost = "ARGS_POST", "Body arguments.";
    ArgsPostNames = "ARGS_POST_NAMES", "Body argument names.";
    Files = "FILES", "Uploaded file names (by form field).";
    FilesCombinedSize = "FILES_COMBINED_SIZE", "Total size of uploaded files.";
    FilesNames = "FILES_NAMES", "Form field names of uploaded files.";
    FilesSizes = "FILES_SIZES", "Uploaded file sizes.";
    Global = "GLOBAL", "Persistent global collection (not kept across transactions).";
    Ip = "IP", "Persistent per-IP collection (not kept across transactions).";
    MatchedVar = "MATCHED_VAR", "The value of the last match.";
    MatchedVarName = "MATCHED_VAR_NAME", "The name of the last match.";
    MatchedVars = "MATCHED_VARS", "The values matched by the previous rule of a chain.";
    MatchedVarsNames = "MATCHED_VARS_NAMES", "Their names.";
    MultipartPartHeaders = "MULTIPART_PART_HEADERS", "Part headers of a multipart body.";
    MultipartStrictError = "MULTIPART_STRICT_ERROR", "1 when a multipart body broke a strict check.";
    QueryString = "QUERY_STRING", "The raw query string.";
    RemoteAddr = "REMOTE_ADDR", "The client address.";
    ReqbodyError = "REQBODY_ERROR", "1 when the body processor failed.";
    ReqbodyErrorMsg = "REQBODY_ERROR_MSG", "Why it failed.";
    ReqbodyProcessor = "REQBODY_PROCESSOR", "URLENCODED, MULTIPART, JSON or XML.";
    RequestBasename = "REQUEST_BASENAME", "The last path segment (decoded).";
    RequestBody = "REQUEST_BODY", "The raw request body.";
    RequestBodyLength = "REQUEST_BODY_LENGTH", "Its length.";
    RequestCookies = "REQUEST_COOKIES", "Cookies.";
    RequestCookiesNames = "REQUEST_COOKIES_NAMES", "Cookie names.";
    RequestFilename = "REQUEST_FILENAME", "The path (decoded), without the query.";
    RequestHeaders = "REQUEST_HEADERS", "Request headers.";
    RequestHeadersNames = "REQUEST_HEADERS_NAMES", "Request header names.";
    RequestLine = "REQUEST_LINE", "The request line.";
    RequestMethod = "REQUEST_METHOD", "The method.";
    RequestProtocol = "REQUEST_PROTOCOL", "The protocol (`HTTP/1.1`).";
    RequestUri = "REQUEST_URI", "Path and query, without scheme and host.";
    RequestUriRaw = "REQUEST_URI_RAW", "The request target as sent.";
    ResponseBody = "RESPONSE_BODY", "The response body (when inspected).";
    ResponseHeaders = "RESPONSE_HEADERS", "Response headers.";
    ResponseHeadersNames = "RESPONSE_HEADERS_NAMES", "Response header names.";
    ResponseStatus = "RESPONSE_STATUS", "The response status.";
    Tx = "TX", "The transaction collection.";
    UniqueId = "UNIQUE_ID", "A unique id for the transaction.";
    Xml = "XML", "The XML body: `/*` (text) or `//@*` (attribute values).";
}

/// A set of variables, one bit each: which variables a rule reads, which hold values in a
/// transaction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VarSet(u64);

// One bit per variable.
const _: () = assert!((Var::Xml as u32) < 64);

impl VarSet {
    /// Every variable.
    pub const ALL: Self = Self(u64::MAX);

    /// The set with `var` added.
    pub fn with(self, var: Var) -> Self {
        Self(self.0 | 1 << (var as u32))
    }

    /// The variables of both sets.
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether the two sets share a variable.
    pub fn meets(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether `var` is in the set.
    pub fn contains(self, var: Var) -> bool {
        self.0 & 1 << (var as u32) != 0
    }
}

/// Which members of a collection.
#[derive(Debug, Clone)]
pub enum Key {
    /// All.
    All,
    /// The member with this name, lowercase (compared ASCII case-insensitively).
    Name(Vec<u8>),
    /// Members whose name matches a selector regex (boxed: it is large and rare, and a
    /// target is read by every rule evaluation, so a small one spans fewer cache lines).
    Pattern(Box<NamePattern>),
}

/// A selector regex (`REQUEST_COOKIES:/^__utm/`), compiled as ModSecurity's PCRE compiles it:
/// caseless, ASCII only (Unicode case folding would also let `K` match the Kelvin sign, and
/// so exclude more than was written). Most names are ruled out without running the regex:
/// sorted collections seek to the literal every match starts with, and a name holding none
/// of the regex's [factors](crate::operator::factors) cannot match.
#[derive(Debug, Clone)]
pub struct NamePattern {
    regex: Regex,
    /// The lowercase literal every matching name starts with (empty when there is none).
    prefix: Vec<u8>,
    /// Lowercase strings of which every matching name holds one, when there is such a set.
    factors: Option<Vec<Vec<u8>>>,
}

impl NamePattern {
    /// Compiles the selector `/pattern/`.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let regex = RegexBuilder::new(pattern)
            .case_insensitive(true)
            .unicode(false)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("selector /{pattern}/: {e}"))?;
        Ok(Self {
            regex,
            prefix: required_prefix(pattern),
            factors: crate::operator::factors::required(pattern),
        })
    }

    /// The lowercase literal every matching name starts with (may be empty).
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// Whether `name` matches.
    pub fn selects(&self, name: &[u8]) -> bool {
        let held =
            |f: &Vec<u8>| f.is_empty() || name.windows(f.len()).any(|w| w.eq_ignore_ascii_case(f));
        self.factors.as_ref().is_none_or(|fs| fs.iter().any(held)) && self.regex.is_match(name)
    }
}

/// The literal a `^...` selector pattern requires at the start of every name it matches,
/// lowercase (selectors match ASCII case-insensitively). Conservative: empty unless the
/// pattern starts with `^` and a run of plain characters, and has no alternation; a character
/// made optional or repeatable by a quantifier after it is left out.
fn required_prefix(pattern: &str) -> Vec<u8> {
    let Some(rest) = pattern.strip_prefix('^') else {
        return Vec::new();
    };
    if pattern.contains('|') {
        return Vec::new();
    }
    let bytes = rest.as_bytes();
    let run = bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        .count();
    let keep = match bytes.get(run) {
        Some(b'?' | b'*' | b'{') => run.saturating_sub(1),
        _ => run,
    };
    bytes[..keep].to_ascii_lowercase()
}

impl Key {
    /// Whether `name` is selected.
    pub fn selects(&self, name: &[u8]) -> bool {
        match self {
            Self::All => true,
            Self::Name(n) => n.eq_ignore_ascii_case(name),
            Self::Pattern(p) => p.selects(name),
        }
    }

    fn same(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::All, Self::All) => true,
            (Self::Name(a), Self::Name(b)) => a.eq_ignore_ascii_case(b),
            (Self::Pattern(a), Self::Pattern(b)) => a.regex.as_str() == b.regex.as_str(),
            _ => false,
        }
    }
}

/// A compiled target (`ARGS:id`, `&TX:x`, `REQUEST_COOKIES:/^__utm/`).
#[derive(Debug, Clone)]
pub struct Target {
    /// The variable.
    pub var: Var,
    /// Which members.
    pub key: Key,
    /// `&`: the number of values instead of the values.
    pub count: bool,
    /// For a TX target, where its values are among the rule set's numbered names (set when
    /// the rule set is compiled).
    pub tx: Option<TxSlots>,
}

/// Where a TX target's values are, among the names the rule set numbered ([`TxNames`]).
#[derive(Debug, Clone)]
pub enum TxSlots {
    /// `TX:name`: the name's number.
    One(u32),
    /// `TX:/regex/` or `TX`: the numbered names it selects, known at load (names made at run
    /// time, outside the numbering, are checked when the target is read).
    Selected(Vec<u32>),
}

impl Target {
    /// Compiles a parsed variable (its `!` flag is the caller's business).
    pub fn compile(v: &Variable) -> Result<Self, String> {
        let var = Var::parse(&v.name).ok_or_else(|| format!("unsupported variable {}", v.name))?;
        let key = match &v.selector {
            Selector::All => Key::All,
            Selector::Key(k) => {
                if var == Var::Xml && k != "/*" && k != "//@*" {
                    return Err(format!(
                        "XML:{k}: only the XPath expressions /* and //@* are supported"
                    ));
                }
                Key::Name(k.to_ascii_lowercase().into_bytes())
            }
            Selector::Regex(r) => Key::Pattern(Box::new(NamePattern::new(r)?)),
        };
        Ok(Self {
            var,
            key,
            count: v.count,
            tx: None,
        })
    }

    /// Parses one target written as text (`ARGS:foo`), as `ctl:ruleRemoveTargetById` names it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let vars = crate::seclang::parse::variables(text)?;
        match vars.as_slice() {
            [one] => Self::compile(one),
            _ => Err(format!("{text:?} is not one target")),
        }
    }

    /// Numbers a `TX:name` target's name in `names`.
    pub fn number_tx(&mut self, names: &mut TxNames) {
        if let (Var::Tx, Key::Name(name)) = (self.var, &self.key) {
            self.tx = Some(TxSlots::One(names.intern(name)));
        }
    }

    /// For a `TX:/regex/` or `TX` target, lists the numbered names it selects (once every
    /// name is numbered).
    pub fn select_tx(&mut self, names: &TxNames) {
        if self.var == Var::Tx && !matches!(self.key, Key::Name(_)) {
            let selected = names.iter().filter(|(name, _)| self.key.selects(name));
            self.tx = Some(TxSlots::Selected(selected.map(|(_, n)| n).collect()));
        }
    }

    /// Whether this exclusion removes the value `name` of `var`.
    pub fn excludes(&self, var: Var, name: Option<&[u8]>) -> bool {
        self.var == var
            && match (&self.key, name) {
                (Key::All, _) => true,
                (k, Some(n)) => k.selects(n),
                (_, None) => false,
            }
    }

    /// Whether two targets name the same thing (for removing a target from a rule).
    pub fn same(&self, other: &Self) -> bool {
        self.var == other.var && self.count == other.count && self.key.same(&other.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_fits_in_a_cache_line() {
        // Every rule evaluation reads its targets; at 112 bytes each took two lines.
        assert!(std::mem::size_of::<Target>() <= 64);
    }

    #[test]
    fn selector_prefixes_are_only_what_every_match_starts_with() {
        assert_eq!(
            required_prefix("^header_name_920450_"),
            b"header_name_920450_"
        );
        assert_eq!(required_prefix("^Header-X+"), b"header-x");
        assert_eq!(required_prefix("^abc?d"), b"ab");
        assert_eq!(required_prefix("^ab{0,2}"), b"a");
        assert_eq!(required_prefix("^ab*"), b"a");
        assert_eq!(required_prefix("^ab\\.c"), b"ab");
        assert_eq!(required_prefix("^abc|^xyz"), b"");
        assert_eq!(required_prefix("abc"), b"");
        assert_eq!(required_prefix("(?i)^abc"), b"");
        assert_eq!(required_prefix("^header_mask"), b"header_mask");
    }

    #[test]
    fn selectors_fold_ascii_case_only_and_check_factors_first() {
        let p = NamePattern::new("MULTIPART_HEADERS_CONTENT_TYPES_*").unwrap();
        assert!(p.factors.is_some(), "a literal selector has factors");
        assert!(p.selects(b"tx.multipart_headers_content_types_x"));
        assert!(p.selects(b"Multipart_Headers_Content_Types"));
        assert!(!p.selects(b"multipart_headers_content_type"));
        assert!(!p.selects(b"inbound_anomaly_score"));
        // The Kelvin sign (U+212A) folds to `k` only under Unicode rules, which PCRE's
        // caseless matching without UTF does not apply.
        let k = NamePattern::new("^k").unwrap();
        assert!(k.selects(b"K1"));
        assert!(!k.selects("\u{212A}1".as_bytes()));
        assert_eq!(k.prefix(), b"k");
    }
}
