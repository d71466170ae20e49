//! Fuzz the tor control-reply parser: any bytes, fed line by line, must give
//! messages or a ParseError, never a panic.
//! Run: `cd core/fuzz && cargo +nightly fuzz run reply`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tails_server_core::tor::reply::{arguments, parse, Parser};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse(&text);
    let mut parser = Parser::default();
    for line in text.split('\n') {
        if parser.push_line(line).is_err() {
            break;
        }
    }
    let _ = arguments(&text);
});
