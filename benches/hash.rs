//! A timed loop (not criterion): HSET throughput into one hash of 1,000,000
//! fields, done as the HSET command does it (clone the published hash, set
//! one field in the clone, publish it, drop the old version), and the memory
//! per field of the result from jemalloc's `stats.allocated`.
//!
//! Fields are `field:` and a 7-digit index, values 16 bytes. The first
//! 1,000,000 HSETs create the fields (the hash turns into the table form at
//! the 513th); a second pass of 1,000,000 overwrites them in another order.
//!
//! Run: `cargo bench --bench hash` (about 10 s, 300 MB).

use ferrite::types::{Hash, HashLimits};
use std::time::Instant;
use tikv_jemalloc_ctl::{epoch, stats};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const N: usize = 1_000_000;

fn allocated() -> usize {
    epoch::advance().expect("jemalloc epoch");
    stats::allocated::read().expect("jemalloc stats")
}

fn main() {
    let limits = HashLimits::DEFAULT;
    let fields: Vec<Vec<u8>> = (0..N)
        .map(|i| format!("field:{i:07}").into_bytes())
        .collect();
    let value = b"0123456789abcdef";
    let before = allocated();
    let mut h = Hash::new();
    let t = Instant::now();
    for f in &fields {
        let mut next = h.clone();
        next.set(f, value, limits);
        h = next;
    }
    let insert = t.elapsed();
    let after = allocated();
    assert_eq!(h.len(), N);
    let t = Instant::now();
    for i in 0..N {
        let f = &fields[(i * 7919) % N];
        let mut next = h.clone();
        next.set(f, b"fedcba9876543210", limits);
        h = next;
    }
    let overwrite = t.elapsed();
    let per_field = (after - before) as f64 / N as f64;
    println!(
        "hset/new-fields: {N} in {:.2} s = {:.0} k/s",
        insert.as_secs_f64(),
        N as f64 / insert.as_secs_f64() / 1e3
    );
    println!(
        "hset/overwrite:  {N} in {:.2} s = {:.0} k/s",
        overwrite.as_secs_f64(),
        N as f64 / overwrite.as_secs_f64() / 1e3
    );
    println!(
        "memory: {:.1} MB for {N} fields = {per_field:.0} B/field (jemalloc allocated; field 13 B, value 16 B)",
        (after - before) as f64 / 1e6
    );
}
