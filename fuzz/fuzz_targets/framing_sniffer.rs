//! Any byte stream, in any split: the sniffer never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut s = portcullis_gateway::framing_sniffer::FramingSniffer::default();
    for chunk in data.chunks(7) {
        let _ = s.feed(chunk);
    }
});
