//! The two ways of writing a large collection that issue 8 asks to decide
//! between, measured on the real store and types (no network): with
//! `types::set_in_place_min(usize::MAX)` every write publishes a new version
//! that path-copies the persistent tree ("cow"); with the default threshold
//! a set or hash of 1,024 elements or more is changed in place under its
//! key's latch and read under it ("in-place").
//!
//! For a set and a hash of 1,000,000 elements, for each candidate:
//!
//! - `write/{set,hash}/{cow,in-place}`: one SADD of a new member / one HSET
//!   overwriting a random field, as the server runs it (latch, `update`,
//!   commit; the epoch reclaims the versions a cow write retires);
//! - `read/{set,hash}/{cow,in-place}/{1t,2t}`: SISMEMBER / HGET of a random
//!   member of the one hot key, the way the command context reads (a view
//!   for a copy-on-write value, the latch for one changed in place), on 1
//!   and 2 threads (`iter_custom`, total operations);
//! - `handoff/{set,hash}/{cow,in-place}`: a snapshot takes the value
//!   (`Value::clone`, what its record holds) and then 64 writes run while
//!   the snapshot keeps it: what a running snapshot costs the writers;
//! - `undo/{set,hash}/{cow,in-place}`: a script's undo copy: keep the value
//!   as it was, run 16 writes, put the kept value back;
//! - memory: jemalloc's `allocated` after building each value, per element
//!   (printed, not a criterion measurement).
//!
//! And `small-hash/hget/{1t,2t}`: HGET of a random field of one hot
//! 10-field hash (listpack, copy-on-write, never latched by readers) on 1
//! and 2 threads: reading a small collection writes no shared memory, so it
//! should scale with the threads (issue 8 asks for at least 1.8x).
//!
//! Run: `cargo bench --bench collections -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use crossbeam_epoch as epoch;
use ferrite::store::{Clock, Keyspace};
use ferrite::types::{set_in_place_min, Hash, HashLimits, Set, Value, DEFAULT_IN_PLACE_MIN};
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};
use tikv_jemalloc_ctl::{epoch as je_epoch, stats};

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const ELEMS: usize = 1_000_000;
const CLOCK: Clock = Clock {
    now_ms: 1_000_000,
    lru: None,
};

fn allocated() -> usize {
    je_epoch::advance().expect("jemalloc epoch");
    stats::allocated::read().expect("jemalloc stats")
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Set,
    Hash,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Set => "set",
            Kind::Hash => "hash",
        }
    }
}

fn member(i: u64) -> String {
    format!("member:{i:012}")
}

/// Builds the 1M-element value under key `k` (published once, so the
/// candidate's tag is set as the server would set it).
fn build(ks: &Keyspace, kind: Kind) -> usize {
    let before = allocated();
    let v = match kind {
        Kind::Set => {
            let mut s = Set::new_table();
            for i in 0..ELEMS as u64 {
                s.insert(member(i).as_bytes(), 512);
            }
            Value::Set(s)
        }
        Kind::Hash => {
            let mut h = Hash::new();
            h.convert();
            for i in 0..ELEMS as u64 {
                h.set(
                    member(i).as_bytes(),
                    b"value-0000000000",
                    HashLimits::DEFAULT,
                );
            }
            Value::Hash(h)
        }
    };
    let guard = epoch::pin();
    ks.lock(b"k", CLOCK, &guard).set(v);
    drop(guard);
    allocated().saturating_sub(before)
}

/// One write as the server runs it.
fn write(ks: &Keyspace, kind: Kind, rng: &mut impl Rng, n: u64) {
    let guard = epoch::pin();
    let mut l = ks.lock(b"k", CLOCK, &guard);
    match kind {
        Kind::Set => {
            let m = member(ELEMS as u64 + n);
            l.update(|v| match v {
                Value::Set(s) => s.insert(m.as_bytes(), 512),
                _ => unreachable!(),
            });
        }
        Kind::Hash => {
            let f = member(rng.random_range(0..ELEMS as u64));
            let val = format!("value-{n:010}");
            l.update(|v| match v {
                Value::Hash(h) => {
                    h.set(f.as_bytes(), val.as_bytes(), HashLimits::DEFAULT);
                    true
                }
                _ => unreachable!(),
            });
        }
    }
}

/// One read as the command context runs it.
fn read(ks: &Keyspace, kind: Kind, rng: &mut impl Rng) -> bool {
    let guard = epoch::pin();
    let m = member(rng.random_range(0..ELEMS as u64));
    let look = |v: &Value| match (kind, v) {
        (Kind::Set, Value::Set(s)) => s.contains(m.as_bytes()),
        (Kind::Hash, Value::Hash(h)) => h.get(m.as_bytes()).is_some(),
        _ => unreachable!(),
    };
    let view = ks.get(b"k", CLOCK, &guard).expect("the key");
    if let Some(v) = view.value() {
        return look(v);
    }
    let l = ks.lock_existing(b"k", CLOCK, &guard).expect("the key");
    look(l.value().expect("a value"))
}

/// Runs `op` `iters` times split over `threads` threads from a common
/// start; the time until the last one finishes.
fn on_threads(threads: usize, iters: u64, op: impl Fn(&mut rand::rngs::StdRng) + Sync) -> Duration {
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, op) = (&barrier, &op);
                s.spawn(move || {
                    let mut rng = rand::rngs::StdRng::seed_from_u64(t as u64);
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters / threads as u64 {
                        op(&mut rng);
                    }
                    start.elapsed()
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .max()
            .unwrap_or(Duration::ZERO)
    })
}

fn small_hash(c: &mut Criterion) {
    let ks = Keyspace::new();
    let mut h = Hash::new();
    for i in 0..10 {
        h.set(
            format!("field{i}").as_bytes(),
            b"value-0123456789",
            HashLimits::DEFAULT,
        );
    }
    assert_eq!(h.encoding(), "listpack");
    {
        let guard = epoch::pin();
        ks.lock(b"small", CLOCK, &guard).set(Value::Hash(h));
    }
    let fields: Vec<String> = (0..10).map(|i| format!("field{i}")).collect();
    let mut g = c.benchmark_group("collections/small-hash");
    g.throughput(Throughput::Elements(1));
    for threads in [1usize, 2] {
        g.bench_function(format!("hget/{threads}t"), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, |rng| {
                    let guard = epoch::pin();
                    let f = &fields[rng.random_range(0..fields.len())];
                    let view = ks.get(b"small", CLOCK, &guard).expect("the key");
                    let v = view.value().expect("a small hash is copy-on-write");
                    let Value::Hash(h) = v else { unreachable!() };
                    black_box(h.get(f.as_bytes()).map(<[u8]>::len));
                })
            })
        });
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    for kind in [Kind::Set, Kind::Hash] {
        for (cand, min) in [("cow", usize::MAX), ("in-place", DEFAULT_IN_PLACE_MIN)] {
            set_in_place_min(min);
            let ks = Keyspace::new();
            let bytes = build(&ks, kind);
            println!(
                "memory/{}/{cand}: {:.1} B per element ({} elements)",
                kind.name(),
                bytes as f64 / ELEMS as f64,
                ELEMS
            );
            let mut g = c.benchmark_group(format!("collections/{}", kind.name()));
            g.throughput(Throughput::Elements(1));
            let mut rng = rand::rngs::StdRng::seed_from_u64(7);
            let mut n = 0u64;
            g.bench_function(format!("write/{cand}"), |b| {
                b.iter(|| {
                    n += 1;
                    write(&ks, kind, &mut rng, n)
                })
            });
            for threads in [1usize, 2] {
                g.bench_function(format!("read/{cand}/{threads}t"), |b| {
                    b.iter_custom(|iters| {
                        on_threads(threads, iters, |rng| {
                            black_box(read(&ks, kind, rng));
                        })
                    })
                });
            }
            g.throughput(Throughput::Elements(64));
            g.bench_function(format!("handoff/{cand}"), |b| {
                b.iter(|| {
                    let guard = epoch::pin();
                    let l = ks.lock(b"k", CLOCK, &guard);
                    let record = l.value().cloned();
                    drop(l);
                    drop(guard);
                    for _ in 0..64 {
                        n += 1;
                        write(&ks, kind, &mut rng, n);
                    }
                    drop(black_box(record));
                })
            });
            g.throughput(Throughput::Elements(16));
            g.bench_function(format!("undo/{cand}"), |b| {
                b.iter(|| {
                    let guard = epoch::pin();
                    let saved = ks.lock(b"k", CLOCK, &guard).value().cloned();
                    for _ in 0..16 {
                        n += 1;
                        write(&ks, kind, &mut rng, n);
                    }
                    ks.lock(b"k", CLOCK, &guard).set(saved.expect("the key"));
                })
            });
            g.finish();
        }
    }
    set_in_place_min(DEFAULT_IN_PLACE_MIN);
}

criterion_group!(benches, small_hash, bench);
criterion_main!(benches);
