//! Reading a config file: YAML syntax and shape (serde), then every semantic check, each error
//! reported as `file:line:column: message`.
//!
//! Checks that serde cannot do (an upstream that does not exist, a bad CIDR) report a YAML path
//! such as `apis.0.routes.1.upstream`; a [`SourceMap`] turns it into a line and column.

use std::fmt;
use std::path::{Path, PathBuf};

use portcullis_openapi::source_map::SourceMap;

use super::model::Config;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Severity {
    /// The config is refused.
    Error,
    /// The config works, but something is weaker than it should be.
    Warning,
}

/// A problem found in a config, before it has a location: a YAML path and a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Dotted YAML path, e.g. `apis.0.routes.1.upstream` (empty: the whole file).
    pub path: String,
    /// What is wrong, for a human. Never contains a secret.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl Finding {
    /// An error at `path`.
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            severity: Severity::Error,
        }
    }

    /// A warning at `path`.
    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            severity: Severity::Warning,
        }
    }
}

/// A finding with its place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A config that was refused: every error found, each with its location.
#[derive(Debug, thiserror::Error)]
#[error("{}", render(.diagnostics))]
pub struct ConfigError {
    /// The errors (and warnings found alongside them), in file order.
    pub diagnostics: Vec<Diagnostic>,
}

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A config file that parsed: the typed config, its text and where it came from.
#[derive(Debug)]
pub struct LoadedConfig {
    /// The typed config.
    pub config: Config,
    /// The file it came from.
    pub file: PathBuf,
    /// Folder relative paths in the config are taken from.
    pub base_dir: PathBuf,
    locator: SourceMap,
}

impl LoadedConfig {
    /// Places findings in the file and orders them by line.
    pub fn diagnose(&self, findings: &[Finding]) -> Vec<Diagnostic> {
        let mut out: Vec<Diagnostic> = findings
            .iter()
            .map(|f| {
                let (line, column) = self.locator.locate_dotted(&f.path);
                Diagnostic {
                    file: self.file.clone(),
                    line,
                    column,
                    severity: f.severity,
                    message: f.message.clone(),
                }
            })
            .collect();
        out.sort_by_key(|d| (d.line, d.column));
        out
    }
}

/// Largest config file accepted (a config is text a human wrote).
const MAX_CONFIG_BYTES: u64 = 8 * 1024 * 1024;

/// Reads and parses a config file. Errors carry the file, line and column.
pub fn load_file(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let fail = |message: String| ConfigError {
        diagnostics: vec![Diagnostic {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            severity: Severity::Error,
            message,
        }],
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read config: {e}")))?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(fail(format!(
            "config is {} bytes; the limit is {MAX_CONFIG_BYTES}",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read config: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        fail(format!(
            "config is not valid UTF-8 (at byte {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    let base_dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    load_str(&text, path, &base_dir)
}

/// Parses config text. `file` names it in errors; `base_dir` anchors relative paths.
pub fn load_str(text: &str, file: &Path, base_dir: &Path) -> Result<LoadedConfig, ConfigError> {
    let config: Config = serde_saphyr::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line() as usize, l.column() as usize))
            .unwrap_or((0, 0));
        ConfigError {
            diagnostics: vec![Diagnostic {
                file: file.to_path_buf(),
                line,
                column,
                severity: Severity::Error,
                message: plain_message(&e),
            }],
        }
    })?;
    Ok(LoadedConfig {
        config,
        file: file.to_path_buf(),
        base_dir: base_dir.to_path_buf(),
        locator: SourceMap::new(text),
    })
}

/// serde-saphyr's message without its source snippet (we print our own location, and a snippet
/// could echo a secret written on that line).
fn plain_message(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    let first = text.lines().next().unwrap_or("invalid config").trim();
    // Drop a trailing " at line X column Y" that serde-saphyr appends: we print it in front.
    match first.find(" at line ") {
        Some(i) => first[..i].to_owned(),
        None => first.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_an_error_with_its_line() {
        let err = load_str(
            "listeners: []\nlimits:\n  max_body_byte: 10\n",
            Path::new("c.yaml"),
            Path::new("."),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("c.yaml:3:"), "{text}");
        assert!(text.contains("max_body_byte"), "{text}");
    }

    #[test]
    fn garbage_gives_an_error_not_a_panic() {
        for input in [
            "",
            "\0\0",
            "[",
            "listeners: {",
            "a: *b",
            "- - - -",
            "listeners: 5",
        ] {
            assert!(
                load_str(input, Path::new("c"), Path::new(".")).is_err(),
                "{input:?}"
            );
        }
    }
}
