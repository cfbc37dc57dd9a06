//! Fuzz FUNCTION RESTORE's payload reader and FUNCTION LOAD's metadata parser: arbitrary
//! bytes framed as a FUNCTION DUMP payload (a valid footer is added half of the time, so the
//! fuzzer reaches the libraries' opcodes and RDB strings, compressed ones included). Neither
//! may panic; the libraries a payload yields must DUMP again to a payload that yields the
//! same codes.
#![no_main]

use ferrite::persistence::dump;
use ferrite::scripting::functions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let payload = if mode & 1 == 1 {
        dump::frame(body.to_vec())
    } else {
        body.to_vec()
    };
    if dump::verify(&payload).is_err() {
        return;
    }
    let mut codes = Vec::new();
    for code in functions::payload_libraries(&payload) {
        match code {
            Ok(code) => {
                // FUNCTION LOAD's first step on each library.
                let _ = functions::metadata(&code);
                codes.push(code);
            }
            Err(_) => return,
        }
    }
    let again = functions::dump_payload(codes.iter().map(|c| &c[..]), mode & 2 == 2);
    let back: Vec<Vec<u8>> = functions::payload_libraries(&again)
        .collect::<Result<_, _>>()
        .expect("a FUNCTION DUMP of read libraries reads back");
    assert_eq!(back, codes);
});
