//! Configuration: the YAML model ([`model`]), secret references ([`secret`]), units
//! ([`units`]), loading with located errors ([`load`]) and whole-config checks ([`validate`]).
//!
//! Posture: unknown keys are errors, every error is reported (not only the first), and a config
//! that fails any check is refused as a whole.

pub mod auth_model;
pub mod load;
pub mod model;
pub mod openapi_model;
pub mod rate_limit_model;
pub mod secret;
pub mod units;
pub mod validate;
pub mod waf_model;

pub use load::{load_file, load_str, ConfigError, Diagnostic, Finding, LoadedConfig, Severity};
pub use model::Config;
pub use secret::{Secret, SecretRef};
