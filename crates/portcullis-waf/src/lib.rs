//! The WAF: a pure-Rust SecLang engine that runs the OWASP Core Rule Set unmodified.
//!
//! [`seclang::load`] reads rule files (and what they `Include`) into typed directives, every
//! name checked against the vocabulary the engine implements, so a rule it could not evaluate
//! is an error at load time (`file:line: message`), never a silently skipped protection.
//! [`engine::Waf`] compiles them once; each request runs through an [`engine::Transaction`]:
//! phases 1-5, body processors ([`body`]), transformations ([`transform`]) and operators
//! ([`operator`]). [`ruleset`] loads the built-in baseline rules or a CRS directory behind a
//! prelude written from the gateway's config; [`ftw`] runs CRS's go-ftw regression tests
//! in-process.

pub mod body;
pub mod engine;
pub mod ftw;
pub mod operator;
pub mod ruleset;
pub mod seclang;
pub mod transform;

/// A deterministic pseudo-random sequence (xorshift64) for the unit tests' reproducible
/// random inputs.
#[cfg(test)]
pub(crate) fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
