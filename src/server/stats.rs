//! Statistics kept per thread and summed on demand (INFO), so that no counter
//! on the command path is shared between threads (DESIGN invariant 2).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Per-command counters (INFO commandstats).
#[derive(Clone, Copy, Default, Debug)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

/// One thread's counters. Only the owning thread writes; INFO locks briefly
/// to read. The lock is uncontended on the command path.
#[derive(Default)]
pub struct ThreadStats {
    /// Keyed by command name; foldhash because this is hit once per command.
    pub commands: Mutex<HashMap<&'static str, CmdStat, foldhash::fast::RandomState>>,
    pub processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub error_replies: AtomicU64,
    /// Keys removed to honour maxmemory (INFO `evicted_keys`).
    pub evicted_keys: AtomicU64,
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
    /// This thread's counters, registered on first use.
    pub fn local(&self) -> Arc<ThreadStats> {
        LOCAL.with(|l| {
            let mut l = l.borrow_mut();
            if let Some(s) = l.as_ref() {
                return s.clone();
            }
            let s = Arc::new(ThreadStats::default());
            self.threads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(s.clone());
            *l = Some(s.clone());
            s
        })
    }

    /// Runs `f` with this thread's counters without cloning the Arc.
    pub fn with_local<R>(&self, f: impl FnOnce(&ThreadStats) -> R) -> R {
        LOCAL.with(|l| {
            let borrowed = l.borrow();
            match borrowed.as_ref() {
                Some(s) => f(s),
                None => {
                    drop(borrowed);
                    f(&self.local())
                }
            }
        })
    }

    pub fn all_threads(&self) -> Vec<Arc<ThreadStats>> {
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sums per-command counters over all threads.
    pub fn command_totals(&self) -> HashMap<&'static str, CmdStat> {
        let mut out: HashMap<&'static str, CmdStat> = HashMap::new();
        for t in self.all_threads() {
            for (k, v) in t.commands.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                let e = out.entry(k).or_default();
                e.calls += v.calls;
                e.usec += v.usec;
                e.rejected_calls += v.rejected_calls;
                e.failed_calls += v.failed_calls;
            }
        }
        out
    }

    /// Sums one counter over all threads.
    pub fn sum(&self, f: impl Fn(&ThreadStats) -> &AtomicU64) -> u64 {
        self.all_threads()
            .iter()
            .map(|t| f(t).load(Ordering::Relaxed))
            .sum()
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        crate::store::reset_expired_keys();
        for t in self.all_threads() {
            t.commands.lock().unwrap_or_else(|e| e.into_inner()).clear();
            for c in [
                &t.processed,
                &t.net_input_bytes,
                &t.net_output_bytes,
                &t.keyspace_hits,
                &t.keyspace_misses,
                &t.error_replies,
                &t.evicted_keys,
            ] {
                c.store(0, Ordering::Relaxed);
            }
        }
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.instantaneous.reset();
        self.auth_failures.store(0, Ordering::Relaxed);
        self.reset_generation.fetch_add(1, Ordering::Relaxed);
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
