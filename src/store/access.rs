//! What a slot's `access` word records: Redis's LRU clock or its LFU counter.
//!
//! Redis keeps one 24-bit field per value for both: under an LFU
//! `maxmemory-policy` it holds `minutes << 8 | counter` (a logarithmic access
//! counter that decays with time), otherwise the LRU clock of the last access
//! in seconds. Ferrite does the same with the slot's `access` word, so OBJECT
//! FREQ / IDLETIME, RESTORE ... FREQ / IDLETIME and eviction read one field,
//! and switching policy at run time behaves as in Redis (old values are
//! reinterpreted and take a while to become meaningful).
//!
//! The mode is process-wide (one server per process) and follows the config
//! through [`follow`]. A command's [`Clock`](super::Clock) carries a *clock
//! word*: the LRU clock, or [`LFU_BIT`] plus the LFU minute clock, so each
//! command applies one mode to every key it touches.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

/// Set in a clock word when the LFU policy is active; the low 16 bits are
/// then the LFU minute clock. LRU clocks use only 24 bits.
pub const LFU_BIT: u32 = 1 << 31;

/// The counter a new key starts with, so it is not evicted at once.
pub const LFU_INIT_VAL: u32 = 5;

/// Largest value of the 24-bit LRU clock (Redis's `LRU_CLOCK_MAX`).
pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

static LFU: AtomicBool = AtomicBool::new(false);
static LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
static DECAY_TIME: AtomicU32 = AtomicU32::new(1);

/// Sets the mode and the LFU parameters (`lfu-log-factor`, `lfu-decay-time`).
pub fn configure(lfu: bool, log_factor: u32, decay_time: u32) {
    LOG_FACTOR.store(log_factor, Relaxed);
    DECAY_TIME.store(decay_time, Relaxed);
    LFU.store(lfu, Relaxed);
}

/// Whether slots currently record LFU counters.
pub fn lfu_enabled() -> bool {
    LFU.load(Relaxed)
}

/// Applies `config` now and follows its CONFIG SET changes from then on.
#[cfg(not(loom))]
pub fn follow(config: &crate::config::Config) {
    use crate::config::MaxmemoryPolicy::{AllkeysLfu, VolatileLfu};
    let lfu = matches!(config.maxmemory_policy(), AllkeysLfu | VolatileLfu);
    configure(lfu, config.lfu_log_factor(), config.lfu_decay_time());
    config.subscribe(Box::new(|name, value| match name {
        "maxmemory-policy" => LFU.store(value.ends_with("-lfu"), Relaxed),
        "lfu-log-factor" => LOG_FACTOR.store(value.parse().unwrap_or(10), Relaxed),
        "lfu-decay-time" => DECAY_TIME.store(value.parse().unwrap_or(1), Relaxed),
        _ => {}
    }));
}

pub use super::keyspace::lru_clock;

/// Redis's LFU clock: Unix minutes modulo 2^16.
pub fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xffff) as u32
}

/// The clock word for a command running at `now_ms` in the current mode.
pub fn clock_word(now_ms: u64) -> u32 {
    if lfu_enabled() {
        LFU_BIT | lfu_minutes(now_ms)
    } else {
        lru_clock(now_ms)
    }
}

/// The access word of a key created under clock word `word`.
pub fn initial(word: u32) -> u32 {
    if word & LFU_BIT != 0 {
        (word & 0xffff) << 8 | LFU_INIT_VAL
    } else {
        word
    }
}

/// The access word after an access under clock word `word`.
pub fn on_access(old: u32, word: u32) -> u32 {
    if word & LFU_BIT == 0 {
        return word;
    }
    let minutes = word & 0xffff;
    let counter = lfu_log_incr(lfu_decr_and_return(old, minutes));
    minutes << 8 | counter
}

/// The LFU counter of `access` after decaying it by one per `lfu-decay-time`
/// minutes elapsed since it was last updated.
pub fn lfu_decr_and_return(access: u32, now_minutes: u32) -> u32 {
    let last = (access >> 8) & 0xffff;
    let counter = access & 0xff;
    let elapsed = if now_minutes >= last {
        now_minutes - last
    } else {
        65535 - last + now_minutes
    };
    let decay = DECAY_TIME.load(Relaxed);
    let periods = elapsed.checked_div(decay).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// Increments an LFU counter with probability 1 / ((counter - 5) * factor + 1),
/// so it grows logarithmically with the number of accesses.
fn lfu_log_incr(counter: u32) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * f64::from(LOG_FACTOR.load(Relaxed)) + 1.0);
    if rand::random::<f64>() < p {
        counter + 1
    } else {
        counter
    }
}

/// Milliseconds since the LRU clock `access`, allowing for one wrap of the
/// 24-bit clock (Redis's `estimateObjectIdleTime`).
pub fn idle_ms(access: u32, now_ms: u64) -> u64 {
    let now = lru_clock(now_ms);
    let ticks = if now >= access {
        now - access
    } else {
        now + (LRU_CLOCK_MAX - access)
    };
    u64::from(ticks) * 1000
}

/// The LRU clock value of an access `idle_s` seconds ago (RESTORE IDLETIME),
/// computed as Redis 7.0 does: the scaling to milliseconds and back wraps
/// like C's 64-bit arithmetic, an underflow adds one clock period, and the
/// result keeps the clock's 24 bits. For any idle time shorter than the
/// clock period this is simply "now minus idle".
pub fn lru_for_idle(idle_s: i64, now_ms: u64) -> u32 {
    let clock = i64::from(lru_clock(now_ms));
    let idle = idle_s.wrapping_mul(1000) / 1000;
    let mut abs = clock.wrapping_sub(idle);
    if abs < 0 {
        abs = abs.wrapping_add(i64::from(LRU_CLOCK_MAX));
    }
    (abs as u64 & 0xff_ffff) as u32
}

/// The access word of a key restored with `FREQ freq` (LFU mode).
pub fn lfu_for_freq(freq: u8, now_ms: u64) -> u32 {
    lfu_minutes(now_ms) << 8 | u32::from(freq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_words() {
        let now = 1_700_000_000_000u64;
        let w = lru_clock(now);
        assert_eq!(initial(w), w);
        assert_eq!(on_access(7, w), w);
        assert_eq!(idle_ms(w - 3, now), 3000);
        assert_eq!(idle_ms(w + 1, now), u64::from(LRU_CLOCK_MAX - 1) * 1000);
        assert_eq!(lru_for_idle(10, now), w - 10);
        assert_eq!(idle_ms(lru_for_idle(10, now), now), 10_000);
        // Values observed on redis-server 7.0 (OBJECT IDLETIME after RESTORE
        // ... IDLETIME n) with an LRU clock of 144238.
        let at = |clock: u64| (1u64 << 24) * 107_000 + clock * 1000;
        let t = at(144_238);
        for (idle, seen) in [
            (150_000, 150_000),
            (16_777_215, 0),
            (16_777_216, 1),
            (20_000_000, 3_222_784),
            (9_223_372_036_854_775, 14_898_167),
            (9_223_372_036_854_776, 1_879_048),
            (i64::MAX, 16_777_214),
        ] {
            assert_eq!(
                idle_ms(lru_for_idle(idle, t), t) / 1000,
                seen,
                "idle {idle}"
            );
        }
    }

    #[test]
    fn lfu_words() {
        let now = 1_700_000_000_000u64;
        let w = LFU_BIT | lfu_minutes(now);
        let a = initial(w);
        assert_eq!(lfu_decr_and_return(a, lfu_minutes(now)), LFU_INIT_VAL);
        // At the initial value the first access always counts.
        let b = on_access(a, w);
        assert_eq!(b & 0xff, LFU_INIT_VAL + 1);
        // Decay: one per minute with the default decay time.
        assert_eq!(lfu_decr_and_return(a, lfu_minutes(now) + 3), 2);
        assert_eq!(lfu_decr_and_return(a, lfu_minutes(now) + 60), 0);
        assert_eq!(lfu_for_freq(200, now) & 0xff, 200);
        assert_eq!(on_access(lfu_for_freq(255, now), w) & 0xff, 255);
    }
}
