//! Seeded random differential test: the same generated command sequence (string, hash, set, list,
//! sorted set and
//! generic key commands on shared keys, see `common::gen`) is sent to Ferrite and to a real redis-server, and every
//! reply must be identical (sorted for KEYS, clock tolerance for TTL-like replies).
//!
//! * `FERRITE_DIFF_SEED=N` replays a run (the seed is printed at the start of every run).
//! * `FERRITE_DIFF_COMMANDS=N` sets the number of commands per test (default 10000).
//! * `FERRITE_DIFF_AGAINST_REDIS=1` runs against two redis-servers (checks the generator).
//! * `FERRITE_DIFF_VERBOSE=1` prints every command and reply.

mod common;

use common::gen::{self, Generator};
use common::{fmt_command, fmt_reply, Compare, Differential, Reply};

fn run(protocol: u8) {
    let seed = gen::seed_from_env();
    let commands = gen::commands_from_env();
    let verbose = std::env::var("FERRITE_DIFF_VERBOSE").is_ok_and(|v| v == "1");
    let mut diff = Differential::new();
    diff.set_context(format!(
        "replay with: FERRITE_DIFF_SEED={seed} FERRITE_DIFF_COMMANDS={commands} \
         cargo test --release --test differential_random random_resp{protocol}"
    ));
    if protocol == 3 {
        diff.hello3();
    }
    let mut generator = Generator::new(seed);
    let mut previous: Vec<u8> = Vec::new();
    for i in 0..commands {
        let mut cmd = generator.next_cmd();
        if let Some(idx) = cmd.payload_from_previous {
            if let Reply::Bulk(payload) = Reply::from_raw(&previous) {
                cmd.args[idx] = payload;
            }
        }
        let reply = diff.check_with(&cmd.args, cmd.compare);
        if verbose {
            eprintln!("{i:6} {} -> {}", fmt_command(&cmd.args), fmt_reply(&reply));
        }
        previous = reply;
    }
    eprintln!(
        "differential_random RESP{protocol}: {commands} commands, no difference (seed {seed})"
    );
}

/// The generated commands sent in pipelines of 1 to 24, most of them on the key of the
/// command before: consecutive requests on one key run under one latch (runs on one key,
/// `server::connection::runs`), and every reply must still be Redis's.
fn run_pipelined(protocol: u8) {
    let seed = gen::seed_from_env();
    let commands = gen::commands_from_env();
    let mut diff = Differential::new();
    diff.set_context(format!(
        "replay with: FERRITE_DIFF_SEED={seed} FERRITE_DIFF_COMMANDS={commands} \
         cargo test --release --test differential_random pipelined_resp{protocol}"
    ));
    if protocol == 3 {
        diff.hello3();
    }
    let verbose = std::env::var("FERRITE_DIFF_VERBOSE").is_ok_and(|v| v == "1");
    let mut generator = Generator::new(seed).with_sticky_keys(75);
    let mut rng = gen::Rng::new(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut previous: Vec<u8> = Vec::new();
    let mut sent = 0;
    while sent < commands {
        let size = 1 + rng.below(24) as usize;
        let mut batch = Vec::with_capacity(size);
        while batch.len() < size && sent < commands {
            let mut cmd = generator.next_cmd();
            sent += 1;
            if let Some(idx) = cmd.payload_from_previous {
                // Needs the reply before it: send what is batched, then it alone.
                if !batch.is_empty() {
                    previous = diff.check_pipeline(&batch).pop().unwrap_or_default();
                    batch.clear();
                }
                if let Reply::Bulk(payload) = Reply::from_raw(&previous) {
                    cmd.args[idx] = payload;
                }
                previous = diff.check_with(&cmd.args, cmd.compare);
                continue;
            }
            batch.push((cmd.args, cmd.compare));
        }
        if !batch.is_empty() {
            if verbose {
                for (args, _) in &batch {
                    eprintln!("[{}] {}", batch.len(), fmt_command(args));
                }
            }
            previous = diff.check_pipeline(&batch).pop().unwrap_or_default();
        }
    }
    eprintln!(
        "differential_random pipelined RESP{protocol}: {commands} commands, no difference (seed {seed})"
    );
}

/// The generated commands grouped into transactions of 1 to 8 (MULTI ... EXEC, one in ten
/// ending in DISCARD, one in five preceded by a WATCH of a generated key that the
/// transaction's own commands may then write), pipelined: EXEC runs them under the latches
/// of all their keys (`commands::multi`) and must reply exactly as Redis does. Commands whose
/// replies are compared loosely (sorted, clock tolerance) or that need the previous reply run
/// on their own between transactions.
fn run_transactions(protocol: u8) {
    let seed = gen::seed_from_env();
    let commands = gen::commands_from_env();
    let mut diff = Differential::new();
    diff.set_context(format!(
        "replay with: FERRITE_DIFF_SEED={seed} FERRITE_DIFF_COMMANDS={commands} \
         cargo test --release --test differential_random transactions_resp{protocol}"
    ));
    if protocol == 3 {
        diff.hello3();
    }
    let mut generator = Generator::new(seed).with_sticky_keys(50);
    let mut rng = gen::Rng::new(seed ^ 0x51ed_270b_2f0c_9a3d);
    let word = |s: &str| -> Vec<u8> { s.as_bytes().to_vec() };
    let mut sent = 0;
    let mut previous: Vec<u8> = Vec::new();
    while sent < commands {
        let size = 1 + rng.below(8) as usize;
        let mut batch: Vec<(Vec<Vec<u8>>, Compare)> = Vec::new();
        let mut queued = 0;
        while queued < size && sent < commands {
            let mut cmd = generator.next_cmd();
            sent += 1;
            if cmd.payload_from_previous.is_some() || !matches!(cmd.compare, Compare::Exact) {
                // Sent at once, before the transaction being built (the same
                // order on both servers). Nothing may have been replied yet:
                // the placeholder payload stays then.
                if let Some(idx) = cmd.payload_from_previous.filter(|_| !previous.is_empty()) {
                    if let Reply::Bulk(payload) = Reply::from_raw(&previous) {
                        cmd.args[idx] = payload;
                    }
                }
                previous = diff.check_with(&cmd.args, cmd.compare);
                continue;
            }
            if batch.is_empty() {
                if rng.chance(20) {
                    if let Some(key) = cmd.args.get(1).cloned() {
                        batch.push((vec![word("WATCH"), key], Compare::Exact));
                    }
                }
                batch.push((vec![word("MULTI")], Compare::Exact));
            }
            batch.push((cmd.args, Compare::Exact));
            queued += 1;
        }
        if batch.is_empty() {
            continue;
        }
        let end = if rng.chance(10) { "DISCARD" } else { "EXEC" };
        batch.push((vec![word(end)], Compare::Exact));
        previous = diff.check_pipeline(&batch).pop().unwrap_or_default();
    }
    eprintln!(
        "differential_random transactions RESP{protocol}: {commands} commands, no difference (seed {seed})"
    );
}

#[test]
fn transactions_resp2() {
    run_transactions(2);
}

#[test]
fn transactions_resp3() {
    run_transactions(3);
}

#[test]
fn pipelined_resp2() {
    run_pipelined(2);
}

#[test]
fn pipelined_resp3() {
    run_pipelined(3);
}

#[test]
fn random_resp2() {
    run(2);
}

#[test]
fn random_resp3() {
    run(3);
}
