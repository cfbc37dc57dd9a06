//! A timed loop (not criterion) on one sorted set of 1,000,000 members, done
//! as the commands do it (clone the published sorted set, change the clone,
//! publish it, drop the old version):
//!
//! * ZADD throughput creating the members (random scores), then updating
//!   every score;
//! * ZRANK and ZRANGE by rank (10 entries) at the start, the middle and the
//!   end: O(log n) each, so the three should take about the same time;
//! * memory per member from jemalloc's `stats.allocated`.
//!
//! Members are `member:` and a 7-digit index. Run: `cargo bench --bench zset`
//! (about 20 s, 400 MB).

use ferrite::types::zset::{ZLimits, ZSet};
use std::time::Instant;
use tikv_jemalloc_ctl::{epoch, stats};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const N: usize = 1_000_000;
const PROBES: usize = 200_000;

fn allocated() -> usize {
    epoch::advance().expect("jemalloc epoch");
    stats::allocated::read().expect("jemalloc stats")
}

/// A deterministic pseudo-random sequence.
fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn main() {
    let limits = ZLimits::DEFAULT;
    let members: Vec<Vec<u8>> = (0..N)
        .map(|i| format!("member:{i:07}").into_bytes())
        .collect();
    let before = allocated();
    let mut z = ZSet::new_listpack();
    let t = Instant::now();
    for (i, m) in members.iter().enumerate() {
        let mut next = z.clone();
        next.set(m, (mix(i as u64) % 1_000_000) as f64, limits);
        z = next;
    }
    let insert = t.elapsed();
    let after = allocated();
    assert_eq!(z.len(), N);
    let t = Instant::now();
    for i in 0..N {
        let m = &members[(i * 7919) % N];
        let mut next = z.clone();
        next.set(m, (mix(i as u64 + 7) % 1_000_000) as f64 + 0.5, limits);
        z = next;
    }
    let update = t.elapsed();
    println!(
        "zadd/new-members: {N} in {:.2} s = {:.0} k/s",
        insert.as_secs_f64(),
        N as f64 / insert.as_secs_f64() / 1e3
    );
    println!(
        "zadd/update:      {N} in {:.2} s = {:.0} k/s",
        update.as_secs_f64(),
        N as f64 / update.as_secs_f64() / 1e3
    );
    println!(
        "memory: {:.1} MB for {N} members = {:.0} B/member (jemalloc allocated; member 14 B)",
        (after - before) as f64 / 1e6,
        (after - before) as f64 / N as f64
    );
    // Members at ranks near the start, the middle and the end.
    for (name, base) in [("start", 0usize), ("middle", N / 2), ("end", N - 1000)] {
        let probes: Vec<Vec<u8>> = (0..1000)
            .map(|k| z.get(base + k).expect("in range").0.to_vec())
            .collect();
        let t = Instant::now();
        let mut sum = 0usize;
        for i in 0..PROBES {
            sum += z.rank(&probes[i % 1000]).expect("present").0;
        }
        let rank = t.elapsed();
        let t = Instant::now();
        for i in 0..PROBES {
            sum += z
                .iter_from(base + i % 990, false)
                .take(10)
                .map(|(m, _)| m.len())
                .sum::<usize>();
        }
        let range = t.elapsed();
        println!(
            "{name:>6}: zrank {:.0} ns, zrange (10 by rank) {:.0} ns  [{sum}]",
            rank.as_nanos() as f64 / PROBES as f64,
            range.as_nanos() as f64 / PROBES as f64
        );
    }
}
