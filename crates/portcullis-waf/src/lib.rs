//! The WAF: a SecLang parser (this crate's first part) and, to come, the rule engine that runs
//! the OWASP Core Rule Set unmodified.
//!
//! [`seclang::load`] reads a rule file and everything it `Include`s into typed directives:
//! rules with their variables, operator and actions (chains grouped), markers, default actions,
//! rule updates and removals, and engine settings. Every name is checked against the vocabulary
//! the engine implements, so a rule it could not evaluate is an error at load time
//! (`file:line: message`), never a silently skipped protection.

pub mod seclang;
