//! The expiry index through the keyspace: it holds exactly the keys with a
//! TTL across every way a TTL comes and goes, active expiry's rounds find
//! every expired key, and sampling it is uniform over keys with a TTL.

use super::keyspace::{Clock, Keyspace};
use crate::types::{Str, Value};
use crossbeam_epoch as epoch;
use std::collections::HashMap;

const T0: u64 = 1_000_000;

fn at(now_ms: u64) -> Clock {
    Clock {
        now_ms,
        lru: Some(1),
    }
}

fn set(ks: &Keyspace, key: &[u8], expire: Option<u64>) {
    let guard = epoch::pin();
    ks.lock(key, at(T0), &guard)
        .set_with_expire(Value::Str(Str::from_arg(b"v")), expire);
}

fn key(i: usize) -> Vec<u8> {
    format!("key:{i}").into_bytes()
}

#[test]
fn index_follows_ttls() {
    let ks = Keyspace::new();
    set(&ks, b"a", Some(T0 + 100));
    set(&ks, b"b", None);
    assert_eq!(ks.expires_len(), 1);
    // A new deadline keeps the one entry; PERSIST-like removal drops it.
    set(&ks, b"a", Some(T0 + 200));
    assert_eq!(ks.expires_len(), 1);
    {
        let guard = epoch::pin();
        ks.lock(b"a", at(T0), &guard).set_expire(None);
    }
    assert_eq!(ks.expires_len(), 0);
    // EXPIRE on a persistent key adds it; DEL removes it.
    {
        let guard = epoch::pin();
        ks.lock(b"b", at(T0), &guard).set_expire(Some(T0 + 50));
    }
    assert_eq!(ks.expires_len(), 1);
    {
        let guard = epoch::pin();
        assert!(ks.lock(b"b", at(T0), &guard).delete());
    }
    assert_eq!(ks.expires_len(), 0);
    // Lazy expiry on read removes it too.
    set(&ks, b"c", Some(T0 + 10));
    {
        let guard = epoch::pin();
        assert!(ks.get(b"c", at(T0 + 10), &guard).is_none());
    }
    assert_eq!(ks.expires_len(), 0);
    assert_eq!(ks.len(), 1);
}

#[test]
fn rounds_reclaim_every_expired_key() {
    let ks = Keyspace::new();
    let n = if cfg!(miri) { 40 } else { 5000 };
    for i in 0..n {
        // Half expire at T0 + 10, half much later; a few have no TTL.
        let expire = match i % 10 {
            0 => None,
            x if x % 2 == 0 => Some(T0 + 10),
            _ => Some(T0 + 1_000_000),
        };
        set(&ks, &key(i), expire);
    }
    let volatile = ks.expires_len();
    assert_eq!(volatile, n - n / 10);
    let later = at(T0 + 20);
    let mut expired = 0;
    let mut sampled = 0;
    // Rounds of 20 go on where the last stopped: one pass sees every key.
    while sampled < volatile {
        let r = ks.expire_cycle(later, 20);
        sampled += r.sampled;
        expired += r.expired;
    }
    let due = (0..n).filter(|i| i % 10 != 0 && i % 10 % 2 == 0).count();
    assert_eq!(expired, due);
    assert_eq!(ks.expires_len(), volatile - due);
    assert_eq!(ks.len(), n - due);
    // The keys kept had about 1,000,000 - 20 ms left.
    let avg = ks.avg_ttl();
    assert!((999_000..=1_000_000).contains(&avg), "avg_ttl {avg}");
}

/// Sampling for volatile-* eviction: only keys with a TTL, uniformly
/// (chi-square over 500 of them, beside 500 persistent keys).
#[test]
#[cfg_attr(miri, ignore)]
fn volatile_sampling_is_uniform() {
    let ks = Keyspace::new();
    let keys = 500;
    for i in 0..2 * keys {
        set(&ks, &key(i), (i % 2 == 0).then_some(T0 + 1000));
    }
    let samples = 100_000;
    let mut hits: HashMap<Vec<u8>, u64> = HashMap::new();
    let guard = epoch::pin();
    for _ in 0..samples {
        let k = ks.sample_volatile(&guard).expect("keys with a TTL exist");
        *hits.entry(k.to_vec()).or_default() += 1;
    }
    assert_eq!(hits.len(), keys);
    assert!(hits.keys().all(|k| {
        let i: usize = std::str::from_utf8(&k[4..]).unwrap().parse().unwrap();
        i.is_multiple_of(2)
    }));
    let expected = samples as f64 / keys as f64;
    let chi2: f64 = hits
        .values()
        .map(|&o| (o as f64 - expected).powi(2) / expected)
        .sum();
    // keys - 1 degrees of freedom: mean 499, sd about 31.6; allow 5 sd.
    let df = (keys - 1) as f64;
    assert!(chi2 < df + 5.0 * (2.0 * df).sqrt(), "chi2 {chi2}");
}
