//! The go-ftw test file format (ftw-tests-schema): only the fields the judgement uses; others
//! are ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use super::wire::Input;

/// A test file.
#[derive(Debug, Clone, Deserialize)]
pub struct TestFile {
    /// The rule the tests are about.
    pub rule_id: u64,
    /// The tests.
    #[serde(default)]
    pub tests: Vec<Test>,
}

/// One test.
#[derive(Debug, Clone, Deserialize)]
pub struct Test {
    /// Its number within the file.
    pub test_id: u64,
    /// Its stages.
    #[serde(default)]
    pub stages: Vec<Stage>,
}

/// One request and what must come of it.
#[derive(Debug, Clone, Deserialize)]
pub struct Stage {
    /// The request.
    #[serde(deserialize_with = "input")]
    pub input: Input,
    /// The expectations.
    #[serde(default)]
    pub output: Output,
}

/// Expectations.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Output {
    /// HTTP status.
    pub status: Option<u16>,
    /// The request must fail at the connection level.
    pub expect_error: Option<bool>,
    /// Log expectations.
    #[serde(default)]
    pub log: Log,
}

/// Log expectations.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Log {
    /// Rules that must have matched.
    #[serde(default)]
    pub expect_ids: Vec<u64>,
    /// Rules that must not have.
    #[serde(default)]
    pub no_expect_ids: Vec<u64>,
    /// A regex the log must match.
    pub match_regex: Option<String>,
    /// A regex it must not.
    pub no_match_regex: Option<String>,
}

#[derive(Deserialize)]
struct RawInput {
    method: Option<Scalar>,
    uri: Option<Scalar>,
    version: Option<Scalar>,
    #[serde(default)]
    headers: BTreeMap<String, Scalar>,
    data: Option<Scalar>,
    encoded_request: Option<String>,
    autocomplete_headers: Option<bool>,
}

/// A YAML scalar read as text (`Content-Length: 22` is a number in YAML).
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn text(self) -> String {
        match self {
            Self::Text(s) => s,
            Self::Int(i) => i.to_string(),
            Self::Float(f) => f.to_string(),
            Self::Bool(b) => b.to_string(),
        }
    }
}

fn input<'de, D: Deserializer<'de>>(d: D) -> Result<Input, D::Error> {
    let raw = RawInput::deserialize(d)?;
    Ok(Input {
        method: raw.method.map(Scalar::text),
        uri: raw.uri.map(Scalar::text),
        version: raw.version.map(Scalar::text),
        headers: raw
            .headers
            .into_iter()
            .map(|(k, v)| (k, v.text()))
            .collect(),
        data: raw.data.map(Scalar::text),
        encoded_request: raw.encoded_request,
        autocomplete_headers: raw.autocomplete_headers,
    })
}

/// Parses a test file.
pub fn parse(text: &str) -> Result<TestFile, String> {
    serde_saphyr::from_str(text).map_err(|e| e.to_string())
}
