//! SCRIPT KILL against a busy script's next write (`src/scripting/kill_word.rs`): a kill that
//! succeeds never follows a write the script ran, and a write never runs after a successful
//! kill, so "killed" always means "nothing written".
#![cfg(loom)]

use ferrite_loom_tests::harness::{model, model_broken};
use ferrite_loom_tests::kill_word::{loom_breaks, KillWord};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;
use std::sync::Arc;

#[test]
fn a_kill_never_follows_a_write() {
    model(kill_vs_write);
}

#[test]
#[should_panic(expected = "killed after a write")]
fn negative_control_kill_by_load_and_store() {
    model_broken(&loom_breaks::KILL_BY_LOAD_AND_STORE, kill_vs_write);
}

fn kill_vs_write() {
    let word = Arc::new(KillWord::new(false));
    let wrote = Arc::new(AtomicBool::new(false));
    let script = {
        let (word, wrote) = (word.clone(), wrote.clone());
        thread::spawn(move || {
            // The script's write runs only if `mark_wrote` allows it.
            if word.mark_wrote() {
                wrote.store(true, Ordering::Relaxed);
            }
        })
    };
    let killed = word.kill();
    script.join().unwrap();
    let wrote = wrote.load(Ordering::Relaxed);
    assert!(!(killed && wrote), "killed after a write");
    // Exactly one of them won.
    assert!(
        killed || wrote,
        "neither the kill nor the write went through"
    );
    assert_eq!(word.killed(), killed);
}
