//! Keyspace microbenchmarks: GET and SET straight on `ferrite::store::Keyspace`,
//! no network, on 1 and 2 threads.
//!
//! GET does what the server's GET does per command: pin the epoch, take the
//! command clock, look the key up, copy the value's bytes into an output
//! buffer as a RESP bulk reply, unpin. SET builds the value from the argument
//! bytes as the server does and publishes it under the slot latch.
//!
//! Key choice: uniform over 100k keys, Zipf-skewed over the same keys
//! (s = 0.99, so a few keys take most accesses), and a single hot key. The
//! single-hot-key GET on 1 vs 2 threads is the evidence for DESIGN invariant 1
//! ("reads of strings never write shared memory"): if a read wrote any shared
//! cache line, two threads reading one key would contend on it and
//! throughput would not double.
//!
//! Multi-threaded cases use `iter_custom`: every thread runs the same number
//! of operations, the clock runs from a common start barrier until the last
//! thread finishes, and throughput is reported in total operations.
//!
//! Run: `cargo bench --bench keyspace -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crossbeam_epoch as epoch;
use ferrite::protocol::Reply;
use ferrite::store::{Clock, Keyspace};
use ferrite::types::{Str, Value};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// The server's allocator: SET allocates a value and frees the one it
/// replaced (often on another thread, when the epoch collects it), so the
/// allocator is part of what SET costs.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const KEYS: usize = 100_000;
/// Length of each thread's precomputed key sequence (a power of two, so the
/// index wraps with a mask); large enough that a thread's sequence is not a
/// short cycle the caches learn.
const SEQ_LEN: usize = 1 << 16;
const VALUE: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
/// Flush the reply buffer when it grows past this, as a connection would
/// after writing a batch to the socket.
const REPLY_FLUSH: usize = 16 * 1024;

fn key_name(i: usize) -> Vec<u8> {
    format!("key:{i:06}").into_bytes()
}

fn filled_keyspace() -> Keyspace {
    let ks = Keyspace::new();
    let guard = epoch::pin();
    let clock = Clock::now();
    for i in 0..KEYS {
        let mut l = ks.lock(&key_name(i), clock, &guard);
        l.set_with_expire(Value::Str(Str::from_arg(VALUE)), None);
    }
    ks
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

    /// A key sequence for thread `t`: each thread draws its own, as
    /// independent clients would.
    fn sequence(self, t: usize) -> Vec<Vec<u8>> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed + t as u64);
        let zipf = Zipf::new(KEYS as f64, 0.99).expect("valid Zipf parameters");
        (0..SEQ_LEN)
            .map(|_| match self {
                Keys::Uniform => key_name(rng.random_range(0..KEYS)),
                // Zipf ranks start at 1; rank 1 is the hottest key.
                Keys::Zipf => key_name(zipf.sample(&mut rng) as usize - 1),
                Keys::Hot => key_name(0),
            })
            .collect()
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Get,
    Set,
}

/// One GET as the server runs it; returns whether the key was found.
fn get(ks: &Keyspace, key: &[u8], out: &mut Reply) -> bool {
    let guard = epoch::pin();
    let clock = Clock::now();
    match ks.get(key, clock, &guard) {
        Some(view) => {
            match view.value.as_str() {
                Some(s) => s.write_bulk(out),
                None => out.error("WRONGTYPE"),
            }
            true
        }
        None => {
            out.null();
            false
        }
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

/// Runs `iters` operations on each of `threads` threads and returns the
/// wall time from the common start until the last thread is done.
fn run(ks: &Keyspace, seqs: &[Vec<Vec<u8>>], threads: usize, op: Op, iters: u64) -> Duration {
    let start = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = seqs[..threads]
            .iter()
            .map(|seq| {
                let start = &start;
                s.spawn(move || {
                    let mut out = Reply::new();
                    let mask = SEQ_LEN - 1;
                    start.wait();
                    let mut hits = 0u64;
                    for i in 0..iters as usize {
                        let key = &seq[i & mask];
                        match op {
                            Op::Get => hits += get(ks, key, &mut out) as u64,
                            Op::Set => set(ks, key, VALUE, &mut out),
                        }
                        if out.buf.len() > REPLY_FLUSH {
                            black_box(&out.buf);
                            out.buf.clear();
                        }
                    }
                    black_box(hits);
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

fn bench_op(c: &mut Criterion, op: Op, name: &str, patterns: &[Keys]) {
    let ks = filled_keyspace();
    let mut group = c.benchmark_group(name);
    for &keys in patterns {
        let seqs: Vec<Vec<Vec<u8>>> = (0..2).map(|t| keys.sequence(t)).collect();
        for threads in [1usize, 2] {
            group.throughput(Throughput::Elements(threads as u64));
            group.bench_with_input(
                BenchmarkId::new(keys.name(), format!("{threads}t")),
                &threads,
                |b, &threads| b.iter_custom(|iters| run(&ks, &seqs, threads, op, iters)),
            );
        }
    }
    group.finish();
}

fn keyspace_get(c: &mut Criterion) {
    bench_op(c, Op::Get, "get", &[Keys::Uniform, Keys::Zipf, Keys::Hot]);
}

fn keyspace_set(c: &mut Criterion) {
    bench_op(c, Op::Set, "set", &[Keys::Uniform, Keys::Zipf]);
}

criterion_group!(benches, keyspace_get, keyspace_set);
criterion_main!(benches);
