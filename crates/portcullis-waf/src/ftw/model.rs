//! The go-ftw test file format (ftw-tests-schema): only the fields the judgement uses; others
//! are ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use super::wire::Input;

/// A test file.
#[derive(Debug, Clone, Deserialize)]
pub struct TestFile {
    /// The rule the tests are about (older files name it only in their file name).
    pub rule_id: Option<u64>,
    /// The tests.
    #[serde(default)]
    pub tests: Vec<Test>,
}

/// One test.
#[derive(Debug, Clone, Deserialize)]
pub struct Test {
    /// Its number within the file.
    pub test_id: Option<u64>,
    /// Its title (older files).
    pub test_title: Option<String>,
    /// Its stages.
    #[serde(default)]
    pub stages: Vec<StageEntry>,
}

impl Test {
    /// Its name within the file: the id, or the title of older files.
    pub fn name(&self) -> String {
        match (&self.test_id, &self.test_title) {
            (Some(id), _) => id.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "?".into(),
        }
    }
}

/// A stage, written directly or (older files) under a `stage:` key.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StageEntry {
    /// `- stage: {input, output}`.
    Wrapped {
        /// The stage.
        stage: Stage,
    },
    /// `- {input, output}`.
    Direct(Stage),
}

impl StageEntry {
    /// The stage.
    pub fn stage(&self) -> &Stage {
        match self {
            Self::Wrapped { stage } | Self::Direct(stage) => stage,
        }
    }
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

/// Expectations. An unknown key is an error, so that no expectation is silently ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// HTTP status.
    pub status: Option<u16>,
    /// The request must fail at the connection level.
    pub expect_error: Option<bool>,
    /// A regex the response body must match.
    pub response_contains: Option<String>,
    /// A regex the log must match (older go-ftw files).
    pub log_contains: Option<String>,
    /// A regex the log must not match (older go-ftw files).
    pub no_log_contains: Option<String>,
    /// Only the expected rules may match.
    #[serde(default)]
    pub isolated: bool,
    /// go-ftw retries flaky phase-5 tests once; in-process runs are deterministic.
    #[serde(default)]
    pub retry_once: bool,
    /// Log expectations.
    #[serde(default)]
    pub log: Log,
}

/// Log expectations.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // where the request would be sent: in-process, there is one place
struct RawInput {
    dest_addr: Option<Scalar>,
    port: Option<Scalar>,
    protocol: Option<Scalar>,
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
