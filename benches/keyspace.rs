//! Keyspace microbenchmarks: GET and SET straight on `ferrite::store::Keyspace`,
//! no network, on 1 and 2 threads, beside `std::collections::HashMap` lookups
//! of the same keys on one thread as the in-process baseline.
//!
//! GET does what the server's GET does per command: pin the epoch, take the
//! command clock, look the key up, copy the value's bytes into an output
//! buffer as a RESP bulk reply, unpin. SET builds the value from the argument
//! bytes as the server does and publishes it under the slot latch. The
//! HashMap baseline looks the key up and writes the same bulk reply.
//!
//! Keys are `key:` and a 12-digit index (16 bytes, the names redis-benchmark
//! uses with `-r`), values 32 bytes. Sizes: `FERRITE_BENCH_SIZES`, a comma
//! list of key counts (default `100000,1000000`; add `10000000` for the large
//! case, which needs a few GB and a long preload). At every size:
//!
//! - `get/uniform/N/{1t,2t}` and `set/uniform/N/{1t,2t}`: keys uniform over N;
//! - `set-ex/uniform/N/{1t,2t}`: SET with a 60 s TTL (the expiry index's cost);
//! - `get/hashmap-std/N/1t` (SipHash) and `get/hashmap-foldhash/N/1t`: the
//!   same GETs on a `HashMap<Vec<u8>, Vec<u8>>` holding the same N keys.
//!
//! At 100k keys only: Zipf-skewed keys (s = 0.99, a few keys take most
//! accesses; GET and SET) and a single hot key (GET). The single-hot-key GET
//! on 1 vs 2 threads is the evidence for DESIGN invariant 1 ("reads of
//! strings never write shared memory"): if a read wrote any shared cache
//! line, two threads reading one key would contend on it and throughput would
//! not double.
//!
//! Each thread walks its own precomputed sequence of 2^20 keys, so at large
//! sizes most lookups miss the caches as a server's would. Multi-threaded
//! cases use `iter_custom`: every thread runs the same number of operations,
//! the clock runs from a common start barrier until the last thread finishes,
//! and throughput is reported in total operations.
//!
//! Run: `cargo bench --bench keyspace -- --warm-up-time 1 --measurement-time 3`
//!      `FERRITE_BENCH_SIZES=100000,1000000,10000000 cargo bench --bench keyspace`
//!      (the three sizes take about 6 minutes and 3 GB; the filter after `--`
//!      picks benchmarks but every listed size is still loaded)

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crossbeam_epoch as epoch;
use ferrite::protocol::Reply;
use ferrite::store::{Clock, Keyspace};
use ferrite::types::{Str, Value};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// The server's allocator: SET allocates a value and frees the one it
/// replaced (often on another thread, when the epoch collects it), so the
/// allocator is part of what SET costs.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The size at which the Zipf and hot-key cases run.
const SKEW_KEYS: usize = 100_000;
/// Length of each thread's precomputed key sequence (a power of two, so the
/// index wraps with a mask): long enough that it is not a short cycle the
/// caches learn, and that at 10M keys it touches a million different keys.
const SEQ_LEN: usize = 1 << 20;
const VALUE: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
/// Flush the reply buffer when it grows past this, as a connection would
/// after writing a batch to the socket.
const REPLY_FLUSH: usize = 16 * 1024;

type Name = [u8; 16];

/// `key:000000000042` for 42.
fn key_name(i: usize) -> Name {
    let mut k = *b"key:000000000000";
    let mut n = i;
    for d in k[4..].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

fn sizes() -> Vec<usize> {
    let list = std::env::var("FERRITE_BENCH_SIZES").unwrap_or_else(|_| "100000,1000000".into());
    list.split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("FERRITE_BENCH_SIZES: comma list of key counts")
        })
        .collect()
}

/// Bytes the allocator has handed out and not had back.
fn heap_bytes() -> f64 {
    let _ = tikv_jemalloc_ctl::epoch::advance();
    // Large bucket arrays are mapped outside the allocator (`store::table`).
    let mapped = ferrite::store::table::mapped_bytes();
    (tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0) + mapped) as f64
}

/// Builds a structure of `n` keys with `load`, reporting the time and heap
/// memory it took (and the process's resident memory, for the large sizes).
fn loaded<T>(what: &str, n: usize, load: impl FnOnce(usize) -> T) -> T {
    let (heap0, t0) = (heap_bytes(), Instant::now());
    let t = load(n);
    let heap = heap_bytes() - heap0;
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let rss_pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    eprintln!(
        "{what}: {n} keys loaded in {:.1?}, heap +{:.0} MiB ({:.0} B/key), process RSS {:.0} MiB",
        t0.elapsed(),
        heap / (1 << 20) as f64,
        heap / n as f64,
        rss_pages * 4096.0 / (1 << 20) as f64
    );
    t
}

/// A keyspace holding keys `0..n`, loaded on all cores.
fn filled_keyspace(n: usize) -> Keyspace {
    let ks = Keyspace::new();
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
    std::thread::scope(|s| {
        for t in 0..threads {
            let ks = &ks;
            s.spawn(move || {
                for i in (t..n).step_by(threads) {
                    let guard = epoch::pin();
                    let mut l = ks.lock(&key_name(i), Clock::now(), &guard);
                    l.set_with_expire(Value::Str(Str::from_arg(VALUE)), None);
                }
            });
        }
    });
    ks
}

fn filled_map<S: BuildHasher + Default>(n: usize) -> HashMap<Vec<u8>, Vec<u8>, S> {
    let mut map = HashMap::with_capacity_and_hasher(n, S::default());
    for i in 0..n {
        map.insert(key_name(i).to_vec(), VALUE.to_vec());
    }
    map
}

#[derive(Clone, Copy, Debug)]
enum Keys {
    Uniform,
    Zipf,
    Hot,
}

impl Keys {
    fn name(self) -> &'static str {
        match self {
            Keys::Uniform => "uniform",
            Keys::Zipf => "zipf0.99",
            Keys::Hot => "hotkey",
        }
    }

    /// Thread `t`'s key sequence over `n` keys: each thread draws its own, as
    /// independent clients would.
    fn sequence(self, t: usize, n: usize) -> Vec<Name> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed + t as u64);
        let zipf = Zipf::new(n as f64, 0.99).expect("valid Zipf parameters");
        (0..SEQ_LEN)
            .map(|_| match self {
                Keys::Uniform => key_name(rng.random_range(0..n)),
                // Zipf ranks start at 1; rank 1 is the hottest key.
                Keys::Zipf => key_name(zipf.sample(&mut rng) as usize - 1),
                Keys::Hot => key_name(0),
            })
            .collect()
    }

    /// The sequences of 2 threads.
    fn sequences(self, n: usize) -> Vec<Vec<Name>> {
        (0..2).map(|t| self.sequence(t, n)).collect()
    }
}

/// One GET as the server runs it.
fn get(ks: &Keyspace, key: &[u8], out: &mut Reply) {
    let guard = epoch::pin();
    let clock = Clock::now();
    match ks.get(key, clock, &guard) {
        Some(view) => match view.value().expect("strings are copy-on-write").as_str() {
            Some(s) => s.write_bulk(out),
            None => out.error("WRONGTYPE"),
        },
        None => out.null(),
    }
}

/// One SET (no options) as the server runs it.
fn set(ks: &Keyspace, key: &[u8], value: &[u8], out: &mut Reply) {
    let guard = epoch::pin();
    let clock = Clock::now();
    let mut l = ks.lock(key, clock, &guard);
    l.set_with_expire(Value::Str(Str::from_arg(value)), None);
    drop(l);
    out.ok();
}

/// One SET with EX/PX as the server runs it.
fn set_ex(ks: &Keyspace, key: &[u8], value: &[u8], ttl_ms: u64, out: &mut Reply) {
    let guard = epoch::pin();
    let clock = Clock::now();
    let mut l = ks.lock(key, clock, &guard);
    l.set_with_expire(
        Value::Str(Str::from_arg(value)),
        Some(clock.now_ms + ttl_ms),
    );
    drop(l);
    out.ok();
}

/// The baseline GET: a HashMap lookup and the same bulk reply.
fn map_get<S: BuildHasher>(map: &HashMap<Vec<u8>, Vec<u8>, S>, key: &[u8], out: &mut Reply) {
    match map.get(key) {
        Some(v) => out.bulk(v),
        None => out.null(),
    }
}

/// Runs `iters` operations on each of `threads` threads and returns the
/// wall time from the common start until the last thread is done.
fn run<F>(seqs: &[Vec<Name>], threads: usize, iters: u64, op: &F) -> Duration
where
    F: Fn(&[u8], &mut Reply) + Sync,
{
    let start = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = seqs[..threads]
            .iter()
            .map(|seq| {
                let start = &start;
                s.spawn(move || {
                    let mut out = Reply::new();
                    start.wait();
                    for i in 0..iters as usize {
                        op(&seq[i & (SEQ_LEN - 1)], &mut out);
                        if out.buf.len() > REPLY_FLUSH {
                            black_box(&out.buf);
                            out.buf.clear();
                        }
                    }
                })
            })
            .collect();
        start.wait();
        let t0 = Instant::now();
        for h in handles {
            h.join().expect("bench thread");
        }
        t0.elapsed()
    })
}

/// Benchmarks `op` as `group/name/{threads}t` for each thread count.
fn bench<F>(
    c: &mut Criterion,
    group: &str,
    name: &str,
    threads: &[usize],
    seqs: &[Vec<Name>],
    op: F,
) where
    F: Fn(&[u8], &mut Reply) + Sync,
{
    let mut g = c.benchmark_group(group);
    for &t in threads {
        g.throughput(Throughput::Elements(t as u64));
        g.bench_function(BenchmarkId::new(name, format!("{t}t")), |b| {
            b.iter_custom(|iters| run(seqs, t, iters, &op))
        });
    }
    g.finish();
}

fn keyspace(c: &mut Criterion) {
    for n in sizes() {
        let mut cases = vec![Keys::Uniform];
        if n == SKEW_KEYS {
            cases.extend([Keys::Zipf, Keys::Hot]);
        }
        let cases: Vec<(Keys, Vec<Vec<Name>>)> =
            cases.into_iter().map(|k| (k, k.sequences(n))).collect();
        let uniform = &cases[0].1;

        let ks = loaded("keyspace", n, filled_keyspace);
        for (keys, seqs) in &cases {
            let name = format!("{}/{n}", keys.name());
            bench(c, "get", &name, &[1, 2], seqs, |k, out| get(&ks, k, out));
        }
        for (keys, seqs) in cases.iter().filter(|(k, _)| !matches!(k, Keys::Hot)) {
            let name = format!("{}/{n}", keys.name());
            bench(c, "set", &name, &[1, 2], seqs, |k, out| {
                set(&ks, k, VALUE, out)
            });
        }
        // SET k v EX 60: the cost of the expiry index (after the plain SETs,
        // which left every key without a TTL, the first pass adds each key
        // to the index; later ones only move its deadline).
        bench(
            c,
            "set-ex",
            &format!("uniform/{n}"),
            &[1, 2],
            uniform,
            |k, out| set_ex(&ks, k, VALUE, 60_000, out),
        );
        drop(ks);

        let map = loaded("hashmap-std", n, filled_map::<std::hash::RandomState>);
        bench(
            c,
            "get",
            &format!("hashmap-std/{n}"),
            &[1],
            uniform,
            |k, out| map_get(&map, k, out),
        );
        drop(map);
        let map = loaded(
            "hashmap-foldhash",
            n,
            filled_map::<foldhash::fast::RandomState>,
        );
        bench(
            c,
            "get",
            &format!("hashmap-foldhash/{n}"),
            &[1],
            uniform,
            |k, out| map_get(&map, k, out),
        );
    }
}

criterion_group!(benches, keyspace);
criterion_main!(benches);
