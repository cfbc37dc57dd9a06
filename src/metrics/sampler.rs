//! Instantaneous rates (INFO `instantaneous_ops_per_sec`, `..._kbps`), computed
//! as Redis does: every 100 ms a background thread samples the cumulative
//! counters, and a rate is the mean of the last 16 per-interval rates.

use crate::server::Shared;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Samples kept per metric (Redis's STATS_METRIC_SAMPLES).
const SAMPLES: usize = 16;
/// Sampling period (Redis samples from serverCron every 100 ms).
const PERIOD: Duration = Duration::from_millis(100);

#[derive(Clone, Copy)]
enum Metric {
    Commands = 0,
    NetInput = 1,
    NetOutput = 2,
}
const METRICS: usize = 3;

#[derive(Default)]
struct Ring {
    last_time: Option<Instant>,
    last_value: u64,
    samples: [u64; SAMPLES],
    idx: usize,
}

impl Ring {
    fn record(&mut self, now: Instant, value: u64) {
        if let Some(t) = self.last_time {
            let ms = now.duration_since(t).as_millis() as u64;
            let delta = value.saturating_sub(self.last_value);
            let rate = (delta * 1000).checked_div(ms).unwrap_or(0);
            self.samples[self.idx] = rate;
            self.idx = (self.idx + 1) % SAMPLES;
        }
        self.last_time = Some(now);
        self.last_value = value;
    }

    fn mean(&self) -> u64 {
        self.samples.iter().sum::<u64>() / SAMPLES as u64
    }
}

/// The sampled rates; lives in [`crate::server::stats::Stats`].
#[derive(Default)]
pub struct Instantaneous {
    rings: Mutex<[Ring; METRICS]>,
}

impl Instantaneous {
    fn record(&self, m: Metric, now: Instant, value: u64) {
        let mut r = self.rings.lock().unwrap_or_else(|e| e.into_inner());
        r[m as usize].record(now, value);
    }

    fn mean(&self, m: Metric) -> u64 {
        self.rings.lock().unwrap_or_else(|e| e.into_inner())[m as usize].mean()
    }

    /// Commands per second over the last ~1.6 s.
    pub fn ops_per_sec(&self) -> u64 {
        self.mean(Metric::Commands)
    }

    /// Network input in KiB per second.
    pub fn input_kbps(&self) -> f64 {
        self.mean(Metric::NetInput) as f64 / 1024.0
    }

    /// Network output in KiB per second.
    pub fn output_kbps(&self) -> f64 {
        self.mean(Metric::NetOutput) as f64 / 1024.0
    }

    /// Forgets all samples (CONFIG RESETSTAT).
    pub fn reset(&self) {
        let mut r = self.rings.lock().unwrap_or_else(|e| e.into_inner());
        *r = Default::default();
    }

    /// Takes one sample of every metric.
    pub fn sample(&self, shared: &Shared) {
        let now = Instant::now();
        let s = &shared.stats;
        self.record(Metric::Commands, now, s.sum(|t| &t.processed));
        self.record(Metric::NetInput, now, s.sum(|t| &t.net_input_bytes));
        self.record(Metric::NetOutput, now, s.sum(|t| &t.net_output_bytes));
    }
}

/// Records the memory baseline and starts the sampler thread. The thread
/// holds only a weak reference, so it ends once the server state is dropped.
pub fn start(shared: &Arc<Shared>) {
    super::memory::mark_startup();
    let weak: Weak<Shared> = Arc::downgrade(shared);
    let spawned = std::thread::Builder::new()
        .name("ferrite-metrics".into())
        .spawn(move || loop {
            let Some(shared) = weak.upgrade() else {
                return;
            };
            shared.stats.instantaneous.sample(&shared);
            // Keep the peak-memory figure fresh between INFO calls, as
            // Redis's cron does.
            super::memory::read();
            drop(shared);
            std::thread::sleep(PERIOD);
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start the metrics sampler");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_mean_of_samples() {
        let mut r = Ring::default();
        let t0 = Instant::now();
        r.record(t0, 0);
        r.record(t0 + Duration::from_millis(100), 100);
        // One sample of 1000/s among 16.
        assert_eq!(r.mean(), 1000 / 16);
        for i in 2..=17u64 {
            r.record(t0 + Duration::from_millis(100 * i), 100 * i);
        }
        assert_eq!(r.mean(), 1000);
    }

    #[test]
    fn counters_ignore_resets() {
        let mut r = Ring::default();
        let t0 = Instant::now();
        r.record(t0, 500);
        r.record(t0 + Duration::from_millis(100), 0);
        assert_eq!(r.mean(), 0);
    }
}
