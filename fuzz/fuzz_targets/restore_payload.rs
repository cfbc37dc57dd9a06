//! Fuzz RESTORE's payload decoder: arbitrary bytes framed as a DUMP payload (a valid CRC is
//! added half of the time, so the fuzzer reaches the value decoders: strings, hashes as
//! listpack, ziplist and plain RDB hashes, sets, lists as quicklists of listpacks or
//! ziplists and plain RDB lists). It must never panic; a payload it accepts must
//! DUMP again to a payload that loads to the same value.
#![no_main]

use ferrite::persistence::dump;
use ferrite::types::{HashLimits, ZLimits};
use libfuzzer_sys::fuzz_target;

const CRC64: crc::Crc<u64, crc::Table<16>> =
    crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_REDIS);

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let mut payload = body.to_vec();
    if mode & 1 == 1 {
        payload.extend_from_slice(&10u16.to_le_bytes());
        let crc = CRC64.checksum(&payload);
        payload.extend_from_slice(&crc.to_le_bytes());
    }
    let limits = if mode & 2 == 2 {
        dump::Limits {
            hash: HashLimits { entries: 2, value: 4 },
            max_intset: 2,
            list_fill: 2,
            zset: ZLimits { entries: 2, value: 4 },
        }
    } else {
        dump::Limits::DEFAULT
    };
    if let Ok(v) = dump::load(&payload, limits) {
        let again = dump::create(&v, mode & 4 == 4);
        let back = dump::load(&again, limits).expect("a DUMP of a loaded value loads");
        assert_eq!(back.type_name(), v.type_name());
        assert_eq!(back.encoding(), v.encoding());
    }
});
