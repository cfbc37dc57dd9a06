//! Fuzz the request parser: arbitrary bytes, parsed in a loop as a connection would, with the
//! invariants checked inside `ferrite::protocol::parse::fuzz_entry`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ferrite::protocol::parse::fuzz_entry(data);
});
