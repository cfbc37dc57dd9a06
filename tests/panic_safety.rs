//! A command that panics while it holds key latches (issue 6): every key stays
//! as it was before the command, the latches are released, only that client's
//! connection closes (with the panic logged), and the server keeps serving.
//!
//! The panicking command, FERRITE-TEST-PANIC-MSET, exists only in builds with
//! the `test-commands` feature, which `scripts/test.sh` enables; without it
//! this test is ignored rather than silently passing.

mod common;

use common::{Reply, Server};
use std::time::Duration;

fn bulk(r: &Reply) -> Option<Vec<u8>> {
    r.as_bytes().map(|b| b.to_vec())
}

#[test]
#[cfg_attr(
    not(feature = "test-commands"),
    ignore = "needs the test-only command: cargo test --features test-commands"
)]
fn panic_with_keys_latched_changes_nothing_and_closes_only_that_client() {
    let srv = Server::with_args(&["--threads", "2"]);
    let mut other = srv.raw();
    // 1,000 keys exist with known values and TTLs; 1,000 more do not exist.
    let mut setup = vec!["MSET".to_string()];
    for i in 0..1000 {
        setup.push(format!("p:{i}"));
        setup.push(format!("old{i}"));
    }
    assert_eq!(other.cmd_parsed(&setup), Reply::Simple("OK".into()));
    assert_eq!(
        other.cmd_parsed(&["PEXPIRE", "p:7", "100000"]),
        Reply::Integer(1)
    );
    let size_before = other.cmd_parsed(&["DBSIZE"]);

    let mut victim = srv.raw();
    assert_eq!(victim.cmd_parsed(&["PING"]), Reply::Simple("PONG".into()));
    let mut cmd = vec!["ferrite-test-panic-mset".to_string()];
    for i in 0..2000 {
        cmd.push(format!("p:{i}"));
        cmd.push(format!("new{i}"));
    }
    victim.send(&cmd);
    assert!(
        victim.closed_within(Duration::from_secs(10)),
        "the client whose command panicked is closed"
    );

    // Nothing of the command is visible: old values, old TTL, no new keys.
    assert_eq!(other.cmd_parsed(&["DBSIZE"]), size_before);
    for i in (0..2000).step_by(97) {
        let v = other.cmd_parsed(&["GET", &format!("p:{i}")]);
        if i < 1000 {
            assert_eq!(bulk(&v), Some(format!("old{i}").into_bytes()), "p:{i}");
        } else {
            assert_eq!(v, Reply::NullBulk, "p:{i} must not have been created");
        }
    }
    match other.cmd_parsed(&["PTTL", "p:7"]) {
        Reply::Integer(ms) => assert!(ms > 90_000, "TTL kept, got {ms}"),
        r => panic!("PTTL: {r:?}"),
    }
    // The latches were released: writes to the same keys go through, from a
    // fresh connection and from the existing one.
    assert_eq!(
        other.cmd_parsed(&["SET", "p:3", "after"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(
        srv.raw().cmd_parsed(&["SET", "p:1500", "after"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(
        bulk(&other.cmd_parsed(&["GET", "p:1500"])),
        Some(b"after".to_vec())
    );
    assert_eq!(other.cmd_parsed(&["PING"]), Reply::Simple("PONG".into()));
    // The panic is logged as an error naming the command.
    let log = srv.log();
    assert!(
        log.contains("command panicked") && log.contains("ferrite-test-panic-mset"),
        "panic logged:\n{log}"
    );
}
