//! Secrets in the config: written by reference (`${env:NAME}`, `${file:PATH}`), resolved at load,
//! and held in a [`Secret`] that never prints, never serializes and compares in constant time.
//!
//! A secret written in clear still works (so a quick test config stays quick), but
//! `portcullis check` warns about it.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};
use subtle::ConstantTimeEq;

/// A resolved secret value. Its `Debug` is redacted, it has no `Serialize`, and it is read only
/// through [`Secret::secret_str`], a name that makes every use easy to find.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value that must never be printed.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret itself. Call sites are the places a reviewer checks for leaks.
    pub fn secret_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented value.
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(presented).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[secret elided]")
    }
}

/// How a secret is written in the config file.
#[derive(Clone)]
#[non_exhaustive]
pub enum SecretRef {
    /// `${env:NAME}`: read from the environment at load.
    Env(String),
    /// `${file:PATH}`: read from a file (relative to the config file), trailing newline trimmed.
    File(PathBuf),
    /// A value written in clear in the config (works; `check` warns).
    Inline(Secret),
}

/// Why a secret reference could not be resolved. Never carries the secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The environment variable is missing or not UTF-8.
    #[error("environment variable {0} is not set")]
    EnvMissing(String),
    /// The file could not be read.
    #[error("cannot read secret file {path}: {reason}")]
    FileUnreadable {
        /// The file named by the reference.
        path: String,
        /// The I/O error kind (never the content).
        reason: String,
    },
    /// The reference resolved to an empty value.
    #[error("secret reference resolves to an empty value")]
    Empty,
}

impl SecretRef {
    /// Parses the config text of a secret.
    pub fn parse(text: &str) -> Self {
        if let Some(inner) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}')) {
            if let Some(name) = inner.strip_prefix("env:") {
                return Self::Env(name.to_owned());
            }
            if let Some(path) = inner.strip_prefix("file:") {
                return Self::File(PathBuf::from(path));
            }
        }
        Self::Inline(Secret::new(text.to_owned()))
    }

    /// True when the secret is written in clear in the config.
    pub fn is_inline(&self) -> bool {
        matches!(self, Self::Inline(_))
    }

    /// Reads the secret. Relative file paths are taken from `base_dir` (the config's folder).
    pub fn resolve(&self, base_dir: &Path) -> Result<Secret, SecretError> {
        let value = match self {
            Self::Env(name) => {
                std::env::var(name).map_err(|_| SecretError::EnvMissing(name.clone()))?
            }
            Self::File(path) => {
                let full = base_dir.join(path);
                let text =
                    std::fs::read_to_string(&full).map_err(|e| SecretError::FileUnreadable {
                        path: full.display().to_string(),
                        reason: e.kind().to_string(),
                    })?;
                text.trim_end_matches(['\r', '\n']).to_owned()
            }
            Self::Inline(secret) => secret.secret_str().to_owned(),
        };
        if value.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Secret::new(value))
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(name) => write!(f, "${{env:{name}}}"),
            Self::File(path) => write!(f, "${{file:{}}}", path.display()),
            Self::Inline(_) => f.write_str("[secret elided]"),
        }
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Self::parse(&text))
    }
}

impl JsonSchema for SecretRef {
    fn schema_name() -> Cow<'static, str> {
        "SecretRef".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A secret: `${env:NAME}` or `${file:PATH}` (preferred), or a value in clear (check warns)."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_an_inline_secret() {
        let s = SecretRef::parse("hunter2-planted");
        assert!(!format!("{s:?}").contains("hunter2"));
        let resolved = s.resolve(Path::new(".")).unwrap();
        assert!(!format!("{resolved:?}").contains("hunter2"));
        assert!(s.is_inline());
    }

    #[test]
    fn references_parse_to_their_kind() {
        assert!(matches!(SecretRef::parse("${env:X}"), SecretRef::Env(n) if n == "X"));
        assert!(
            matches!(SecretRef::parse("${file:a/b}"), SecretRef::File(p) if p == Path::new("a/b"))
        );
        assert!(SecretRef::parse("${other:x}").is_inline());
    }

    #[test]
    fn missing_env_names_the_variable_not_a_value() {
        let err = SecretRef::parse("${env:PORTCULLIS_SURELY_UNSET_VAR}")
            .resolve(Path::new("."))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable PORTCULLIS_SURELY_UNSET_VAR is not set"
        );
    }

    #[test]
    fn file_secret_is_trimmed_and_compared_in_constant_time() {
        let dir = std::env::temp_dir().join(format!("pc-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("tok"), "abc\n").unwrap();
        let s = SecretRef::parse("${file:tok}").resolve(&dir).unwrap();
        assert!(s.matches(b"abc"));
        assert!(!s.matches(b"abd"));
        assert!(!s.matches(b"ab"));
    }

    #[test]
    fn empty_secret_is_refused() {
        assert!(matches!(
            SecretRef::parse("").resolve(Path::new(".")),
            Err(SecretError::Empty)
        ));
    }
}
