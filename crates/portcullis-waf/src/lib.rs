//! The WAF: a SecLang parser, and the transformations and operators of the rule engine that will
//! run the OWASP Core Rule Set unmodified (variables, phases and scoring are still to come).
//!
//! [`seclang::load`] reads a rule file and everything it `Include`s into typed directives:
//! rules with their variables, operator and actions (chains grouped), markers, default actions,
//! rule updates and removals, and engine settings. Every name is checked against the vocabulary
//! the engine implements, so a rule it could not evaluate is an error at load time
//! (`file:line: message`), never a silently skipped protection.

pub mod operator;
pub mod seclang;
pub mod transform;
