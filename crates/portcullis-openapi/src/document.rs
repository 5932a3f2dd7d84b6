//! The files of a spec: the root and every local file its `$ref`s reach, parsed once (YAML or
//! JSON) with a source map for error locations.
//!
//! Only local references are followed: `#/components/...`, `other.yaml#/...` or `other.yaml`,
//! resolved against the referencing file and kept inside the root spec's folder. A remote
//! reference (`https://...`, `//host/...`, any URI scheme) is an error, never a fetch: resolving
//! it would let a spec make the gateway call out (SSRF) or change under our feet.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::error::SpecError;
use crate::params::percent_decode;
use crate::source_map::{pointer_segments, SourceMap};

/// Largest spec file read.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Most files one spec may reference.
const MAX_FILES: usize = 64;

/// A place in the spec: a file and a JSON pointer in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Loc {
    pub file: usize,
    pub pointer: String,
}

impl Loc {
    /// The place of a child value (key or index), escaped as a pointer segment.
    pub(crate) fn child(&self, key: &str) -> Self {
        Self {
            file: self.file,
            pointer: format!(
                "{}/{}",
                self.pointer,
                crate::source_map::escape_segment(key)
            ),
        }
    }
}

/// One parsed file.
pub(crate) struct Document {
    pub path: PathBuf,
    pub value: Arc<Value>,
    map: SourceMap,
}

/// The root spec and the files it references.
pub(crate) struct Documents {
    pub files: Vec<Document>,
    /// Folder referenced files must sit in; None: a spec given as text, which may not
    /// reference files at all.
    root_dir: Option<PathBuf>,
}

impl Documents {
    /// Reads `root` and, transitively, every local file a `$ref` names.
    pub(crate) fn load(root: &Path) -> Result<Self, Vec<SpecError>> {
        let root_dir = root
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let root_dir = root_dir.canonicalize().unwrap_or(root_dir);
        let first = read(root).map_err(|e| vec![e.at(root)])?;
        Self {
            files: vec![first],
            root_dir: Some(root_dir),
        }
        .load_refs()
    }

    /// A spec given as text (named `name` in errors). It may only reference itself.
    pub(crate) fn from_text(text: &str, name: &Path) -> Result<Self, Vec<SpecError>> {
        let first = parse(text, name.to_path_buf()).map_err(|e| vec![e.at(name)])?;
        Self {
            files: vec![first],
            root_dir: None,
        }
        .load_refs()
    }

    /// Loads every file the loaded files reference, transitively.
    fn load_refs(mut self) -> Result<Self, Vec<SpecError>> {
        let docs = &mut self;
        let mut errors = Vec::new();
        let mut next = 0;
        while next < docs.files.len() {
            let mut refs = Vec::new();
            collect_refs(&docs.files[next].value, String::new(), &mut refs);
            for (pointer, reference) in refs {
                let at = Loc {
                    file: next,
                    pointer: format!("{pointer}/$ref"),
                };
                if let Err(m) = docs.resolve_loading(next, &reference) {
                    errors.push(docs.error(&at, m));
                }
            }
            next += 1;
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }

    /// An error at `loc`, with its line and column.
    pub(crate) fn error(&self, loc: &Loc, message: impl Into<String>) -> SpecError {
        let doc = &self.files[loc.file];
        let (line, column) = doc.map.locate_pointer(&loc.pointer);
        SpecError {
            file: doc.path.clone(),
            line,
            column,
            pointer: loc.pointer.clone(),
            message: message.into(),
        }
    }

    /// The value at `loc`.
    pub(crate) fn get(&self, loc: &Loc) -> Option<&Value> {
        let mut v: &Value = &self.files.get(loc.file)?.value;
        for seg in pointer_segments(&loc.pointer) {
            v = match v {
                Value::Object(m) => m.get(&seg)?,
                Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(v)
    }

    /// The place a `$ref` written in file `from` points to (the file is already loaded).
    pub(crate) fn resolve(&self, from: usize, reference: &str) -> Result<Loc, String> {
        let (path, pointer) = self.split(from, reference)?;
        let file = match path {
            None => from,
            Some(p) => self
                .files
                .iter()
                .position(|d| d.path == p)
                .ok_or_else(|| format!("$ref {reference:?}: file not loaded"))?,
        };
        let loc = Loc { file, pointer };
        match self.get(&loc) {
            Some(_) => Ok(loc),
            None => Err(format!("$ref {reference:?} points to nothing")),
        }
    }

    /// Like [`Documents::resolve`], loading the referenced file first when needed.
    fn resolve_loading(&mut self, from: usize, reference: &str) -> Result<Loc, String> {
        if let (Some(path), _) = self.split(from, reference)? {
            if !self.files.iter().any(|d| d.path == path) {
                if self.files.len() >= MAX_FILES {
                    return Err(format!("a spec may reference at most {MAX_FILES} files"));
                }
                let doc = read(&path).map_err(|e| format!("$ref {reference:?}: {}", e.message))?;
                self.files.push(doc);
            }
        }
        self.resolve(from, reference)
    }

    /// The file (None: the same one) and the pointer of a reference.
    fn split(&self, from: usize, reference: &str) -> Result<(Option<PathBuf>, String), String> {
        let remote = reference.starts_with("//")
            || reference
                .split_once(':')
                .is_some_and(|(scheme, _)| !scheme.contains(['/', '#', '.']) && !scheme.is_empty());
        if remote {
            return Err(format!(
                "remote $ref {reference:?} is not allowed: only references within the spec's folder are followed"
            ));
        }
        let (file, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let pointer = percent_decode(fragment, false);
        if !pointer.is_empty() && !pointer.starts_with('/') {
            return Err(format!(
                "$ref {reference:?}: the part after '#' must be a JSON pointer such as #/components/schemas/User"
            ));
        }
        if file.is_empty() {
            return Ok((None, pointer));
        }
        let Some(root_dir) = &self.root_dir else {
            return Err(format!(
                "$ref {reference:?} names a file; only a spec loaded from a file may reference others"
            ));
        };
        let base = self.files[from]
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let path = base.join(percent_decode(file, false));
        let path = path
            .canonicalize()
            .map_err(|e| format!("$ref {reference:?}: cannot read {}: {e}", path.display()))?;
        if !path.starts_with(root_dir) {
            return Err(format!(
                "$ref {reference:?} leaves the spec's folder; referenced files must sit beside the spec"
            ));
        }
        Ok((Some(path), pointer))
    }
}

/// Why a file could not be read: a message and, when the text has it, a line and column.
struct ReadError {
    message: String,
    line: usize,
    column: usize,
}

impl ReadError {
    fn whole(message: String) -> Self {
        Self {
            message,
            line: 0,
            column: 0,
        }
    }

    fn at(self, file: &Path) -> SpecError {
        SpecError {
            file: file.to_path_buf(),
            line: self.line,
            column: self.column,
            pointer: String::new(),
            message: self.message,
        }
    }
}

/// Reads and parses one file (YAML, which includes JSON).
fn read(path: &Path) -> Result<Document, ReadError> {
    let meta =
        std::fs::metadata(path).map_err(|e| ReadError::whole(format!("cannot read spec: {e}")))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(ReadError::whole(format!(
            "spec file is {} bytes; the limit is {MAX_FILE_BYTES}",
            meta.len()
        )));
    }
    let bytes =
        std::fs::read(path).map_err(|e| ReadError::whole(format!("cannot read spec: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        ReadError::whole(format!(
            "spec is not valid UTF-8 (at byte {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    parse(
        &text,
        path.canonicalize().unwrap_or_else(|_| path.to_path_buf()),
    )
}

/// Parses spec text (YAML, which includes JSON).
fn parse(text: &str, path: PathBuf) -> Result<Document, ReadError> {
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::whole(format!(
            "spec is {} bytes; the limit is {MAX_FILE_BYTES}",
            text.len()
        )));
    }
    let value: Value = serde_saphyr::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line() as usize, l.column() as usize))
            .unwrap_or((0, 0));
        let full = e.without_snippet().to_string();
        let first = full.lines().next().unwrap_or("invalid YAML").trim();
        let first = first.find(" at line ").map_or(first, |i| &first[..i]);
        ReadError {
            message: format!("spec is not valid YAML or JSON: {first}"),
            line,
            column,
        }
    })?;
    Ok(Document {
        path,
        value: Arc::new(value),
        map: SourceMap::new(text),
    })
}

/// Every `$ref` string in `value` with the pointer of the object holding it.
fn collect_refs(value: &Value, pointer: String, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push((pointer.clone(), r.clone()));
            }
            for (k, v) in m {
                if k != "$ref" {
                    let p = format!("{pointer}/{}", crate::source_map::escape_segment(k));
                    collect_refs(v, p, out);
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                collect_refs(v, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The value of one hexadecimal digit.
pub(crate) fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}
