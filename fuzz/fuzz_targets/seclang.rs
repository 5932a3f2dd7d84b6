//! Any text as a SecLang rule file: parsed into directives or refused with errors, never a
//! panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = portcullis_waf::seclang::parse_str(text, std::path::Path::new("/nonexistent/fuzz.conf"));
});
