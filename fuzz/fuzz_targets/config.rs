//! Any bytes as a config file: a located error or a config, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(loaded) = portcullis_gateway::config::load_str(text, Path::new("f.yaml"), Path::new("/nonexistent")) {
            let report = portcullis_gateway::config::validate::check(&loaded);
            let _ = loaded.diagnose(&report.findings);
        }
    }
});
