//! Statistics kept per thread and summed on demand (INFO), so that no counter
//! on the command path is shared between threads (DESIGN invariant 2).
//!
//! Only the owning thread writes its counters, always through
//! [`Stats::with_local`], so an increment is a plain load and store rather
//! than a locked read-modify-write. CONFIG RESETSTAT therefore cannot zero
//! another thread's counters; it bumps a generation instead: each thread
//! zeroes its own counters the next time it touches them, and readers treat a
//! thread that has not caught up yet as all zeros.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A counter written only by its owning thread (see the module comment).
#[derive(Default, Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Callers are the owning thread, inside [`Stats::with_local`].
    #[inline]
    pub fn add(&self, n: u64) {
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v.wrapping_add(n), Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn clear(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

/// Per-command counters (INFO commandstats), summed over threads.
#[derive(Clone, Copy, Default, Debug)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

/// One command's counters on one thread.
#[derive(Default, Debug)]
pub struct CmdCounters {
    pub calls: Counter,
    pub usec: Counter,
    pub rejected_calls: Counter,
    pub failed_calls: Counter,
}

impl CmdCounters {
    fn clear(&self) {
        for c in [
            &self.calls,
            &self.usec,
            &self.rejected_calls,
            &self.failed_calls,
        ] {
            c.clear();
        }
    }
}

/// One thread's counters.
pub struct ThreadStats {
    /// Indexed by [`crate::commands::stat_id`]: every command and subcommand
    /// has its slot, so recording a call is two stores, no lookup or lock.
    pub commands: Box<[CmdCounters]>,
    pub processed: Counter,
    pub net_input_bytes: Counter,
    pub net_output_bytes: Counter,
    pub keyspace_hits: Counter,
    pub keyspace_misses: Counter,
    pub error_replies: Counter,
    /// Keys removed to honour maxmemory (INFO `evicted_keys`).
    pub evicted_keys: Counter,
    /// The RESETSTAT generation these counters belong to.
    generation: AtomicU64,
}

impl ThreadStats {
    fn new(generation: u64) -> ThreadStats {
        ThreadStats {
            commands: (0..crate::commands::stat_ids())
                .map(|_| CmdCounters::default())
                .collect(),
            processed: Counter::default(),
            net_input_bytes: Counter::default(),
            net_output_bytes: Counter::default(),
            keyspace_hits: Counter::default(),
            keyspace_misses: Counter::default(),
            error_replies: Counter::default(),
            evicted_keys: Counter::default(),
            generation: AtomicU64::new(generation),
        }
    }

    /// The command counters for `cmd`.
    #[inline]
    pub fn command(&self, cmd: &crate::commands::Command) -> &CmdCounters {
        &self.commands[crate::commands::stat_id(cmd)]
    }

    /// Zeroes every counter; only the owning thread calls this.
    fn clear(&self) {
        for c in self.commands.iter() {
            c.clear();
        }
        for c in [
            &self.processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.error_replies,
            &self.evicted_keys,
        ] {
            c.clear();
        }
    }
}

#[derive(Default)]
pub struct Stats {
    threads: Mutex<Vec<Arc<ThreadStats>>>,
    /// Errors by prefix (INFO errorstats); rare, so one shared map is fine.
    pub errors: Mutex<HashMap<String, u64>>,
    /// Bumped by CONFIG RESETSTAT; threads compare and reset lazily.
    pub reset_generation: AtomicU64,
    /// Sampled rates (INFO `instantaneous_*`), fed by the metrics thread.
    pub instantaneous: crate::metrics::Instantaneous,
    /// Failed AUTH/HELLO AUTH attempts (INFO `acl_access_denied_auth`); only
    /// touched on that failure path.
    pub auth_failures: AtomicU64,
}

thread_local! {
    static LOCAL: RefCell<Option<Arc<ThreadStats>>> = const { RefCell::new(None) };
}

impl Stats {
    /// Runs `f` with this thread's counters (registered on first use), after
    /// catching up with any CONFIG RESETSTAT since this thread last looked.
    /// This is the only way counters are written.
    #[inline]
    pub fn with_local<R>(&self, f: impl FnOnce(&ThreadStats) -> R) -> R {
        LOCAL.with(|l| {
            if l.borrow().is_none() {
                let s = Arc::new(ThreadStats::new(
                    self.reset_generation.load(Ordering::Acquire),
                ));
                self.threads
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(s.clone());
                *l.borrow_mut() = Some(s);
            }
            let borrowed = l.borrow();
            let s = borrowed.as_ref().expect("registered above");
            let current = self.reset_generation.load(Ordering::Acquire);
            if s.generation.load(Ordering::Relaxed) != current {
                s.clear();
                s.generation.store(current, Ordering::Release);
            }
            f(s)
        })
    }

    /// Threads whose counters are current (not awaiting a RESETSTAT).
    fn current_threads(&self) -> Vec<Arc<ThreadStats>> {
        let generation = self.reset_generation.load(Ordering::Acquire);
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|t| t.generation.load(Ordering::Acquire) == generation)
            .cloned()
            .collect()
    }

    /// Sums per-command counters over all threads.
    pub fn command_totals(&self) -> HashMap<&'static str, CmdStat> {
        let mut out: HashMap<&'static str, CmdStat> = HashMap::new();
        for t in self.current_threads() {
            for (id, c) in t.commands.iter().enumerate() {
                let calls = c.calls.get();
                let rejected = c.rejected_calls.get();
                if calls == 0 && rejected == 0 {
                    continue;
                }
                let e = out.entry(crate::commands::by_stat_id(id).name).or_default();
                e.calls += calls;
                e.usec += c.usec.get();
                e.rejected_calls += rejected;
                e.failed_calls += c.failed_calls.get();
            }
        }
        out
    }

    /// Sums one counter over all threads.
    pub fn sum(&self, f: impl Fn(&ThreadStats) -> &Counter) -> u64 {
        self.current_threads().iter().map(|t| f(t).get()).sum()
    }

    /// CONFIG RESETSTAT: every thread's counters read as zero from now on;
    /// the calling thread's are zeroed at once, the others' when their thread
    /// next touches them.
    pub fn reset(&self) {
        crate::store::reset_expired_keys();
        self.reset_generation.fetch_add(1, Ordering::AcqRel);
        self.with_local(|_| ());
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.instantaneous.reset();
        self.auth_failures.store(0, Ordering::Relaxed);
    }

    /// Errors by prefix, sorted by prefix (INFO errorstats).
    pub fn error_totals(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        v.sort();
        v
    }

    /// Records an error reply's prefix (INFO errorstats).
    pub fn record_error(&self, reply_line: &[u8]) {
        let prefix = reply_line.split(|b| *b == b' ').next().unwrap_or(b"ERR");
        let prefix = String::from_utf8_lossy(prefix).into_owned();
        *self
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(prefix)
            .or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get_calls(stats: &Stats) -> u64 {
        stats.command_totals().get("get").map_or(0, |c| c.calls)
    }

    /// Counters written on other threads read as zero right after a reset,
    /// and count again from zero once their thread catches up.
    #[test]
    fn reset_reaches_other_threads_lazily() {
        let stats = Arc::new(Stats::default());
        let get = crate::commands::lookup(b"get").unwrap();
        let (to_worker, worker_rx) = std::sync::mpsc::channel::<u64>();
        let (done_tx, done) = std::sync::mpsc::channel::<()>();
        let worker = {
            let stats = stats.clone();
            std::thread::spawn(move || {
                for n in worker_rx {
                    stats.with_local(|t| {
                        t.command(get).calls.add(n);
                        t.processed.add(n);
                    });
                    done_tx.send(()).unwrap();
                }
            })
        };
        to_worker.send(5).unwrap();
        done.recv().unwrap();
        stats.with_local(|t| t.command(get).calls.add(1));
        assert_eq!(get_calls(&stats), 6);
        assert_eq!(stats.sum(|t| &t.processed), 5);

        stats.reset();
        assert_eq!(get_calls(&stats), 0);
        assert_eq!(stats.sum(|t| &t.processed), 0);

        to_worker.send(2).unwrap();
        done.recv().unwrap();
        assert_eq!(get_calls(&stats), 2);
        assert_eq!(stats.sum(|t| &t.processed), 2);
        drop(to_worker);
        worker.join().unwrap();
    }
}
