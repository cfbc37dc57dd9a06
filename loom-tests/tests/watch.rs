//! WATCH of an absent key (`src/store/watch.rs`) against a SET that creates
//! it: either WATCH finds the key present, or the commit counts the
//! creation, so EXEC can never miss it.
#![cfg(loom)]

use ferrite_loom_tests::harness::{model, model_broken};
use ferrite_loom_tests::store::watch::loom_breaks;
use ferrite_loom_tests::store::{Clock, Keyspace};
use ferrite_loom_tests::sync::pin;
use ferrite_loom_tests::types::Value;
use loom::thread;
use std::sync::Arc;

const CLOCK: Clock = Clock {
    now_ms: 1_000,
    lru: None,
};
const KEY: &[u8] = b"k";

#[test]
fn watch_of_an_absent_key_never_misses_its_creation() {
    model(watch_vs_create);
}

#[test]
#[should_panic(expected = "uncounted")]
fn negative_control_register_without_fence() {
    model_broken(&loom_breaks::REGISTER_WITHOUT_FENCE, watch_vs_create);
}

fn watch_vs_create() {
    {
        let ks = Arc::new(Keyspace::new());
        let writer = {
            let ks = ks.clone();
            thread::spawn(move || {
                let g = pin();
                let mut l = ks.lock(KEY, CLOCK, &g);
                l.set(Value::new(1));
            })
        };
        // WATCH: register, then look the key up.
        let creations = ks.absent_watches().watch(KEY);
        let present = {
            let g = pin();
            ks.get(KEY, CLOCK, &g).is_some()
        };
        writer.join().unwrap();
        if !present {
            assert!(
                ks.absent_watches().creations(KEY) > creations,
                "the key was created after WATCH found it absent, uncounted"
            );
        }
        ks.absent_watches().unwatch(KEY);
    }
}
