//! CLIENT PAUSE WRITE against a real redis-server 7.0: which commands it holds
//! back (scripts and functions by their declared flags, EXEC by what its
//! transaction queued, a write sent inside MULTI), which are answered at once
//! (refused commands, reads, `no-writes` scripts), that held clients count as
//! blocked, and that keys whose TTL passes during the pause are not deleted
//! until it ends. The same scenario runs on both servers and the transcripts
//! must match.

mod common;

use common::{fmt_reply, RawConn, RedisServer, Server};
use std::time::Duration;

/// How long a reply may take before the command counts as held back.
const HELD: Duration = Duration::from_millis(300);

fn info_field(c: &mut RawConn, section: &str, field: &str) -> String {
    let info = c.cmd(&["INFO", section]);
    let text = String::from_utf8_lossy(&info).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
        .trim()
        .to_string()
}

fn expired_keys(c: &mut RawConn) -> u64 {
    info_field(c, "stats", "expired_keys").parse().unwrap()
}

fn pause_writes(c: &mut RawConn) {
    assert_eq!(c.cmd(&["CLIENT", "PAUSE", "60000", "WRITE"]), b"+OK\r\n");
}

/// Sends `args` on `c` while a pause is on: "answered <reply>" if a reply
/// comes at once, else "held" (the reply is read after the unpause).
fn probe(c: &mut RawConn, args: &[&str]) -> String {
    c.send(args);
    match c.try_read_reply(HELD) {
        Ok(reply) => format!("answered {}", fmt_reply(&reply)),
        Err(_) => "held".to_string(),
    }
}

/// A command as one line of the transcript.
fn label(args: &[&str]) -> String {
    args.join(" ").replace('\n', "\\n")
}

/// Runs the scenario against a server reached through `connect`, returning
/// what happened, one line per step.
fn scenario(mut connect: impl FnMut() -> RawConn) -> Vec<String> {
    let mut admin = connect();
    let mut log = Vec::new();
    let no_writes = "#!lua flags=no-writes\nreturn 1";
    let sha = fmt_reply(&admin.cmd(&["SCRIPT", "LOAD", no_writes]));
    let sha = sha.trim_matches('"').to_string();
    admin.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=lib\n\
         redis.register_function{function_name='ro', callback=function() return 'ro' end, flags={'no-writes'}}\n\
         redis.register_function('rw', function() return 'rw' end)",
    ]);
    admin.cmd(&["SET", "k", "v"]);

    // One probe per connection: a held one stays held until the unpause.
    let probes: &[&[&str]] = &[
        &["GET", "k"],
        &["SET", "k"],
        &["NOSUCHCOMMAND"],
        &["SET", "k", "w"],
        &["EVAL", "return 1", "0"],
        &["EVAL", "#!lua\nreturn 2", "0"],
        &["EVAL", "#!lua flags=no-writes\nreturn 3", "0"],
        &["EVAL_RO", "return 4", "0"],
        &["EVALSHA", &sha, "0"],
        &["EVALSHA", "0123456789012345678901234567890123456789", "0"],
        &["EVALSHA", "short", "0"],
        &["FCALL", "ro", "0"],
        &["FCALL", "rw", "0"],
        &["FCALL", "missing", "0"],
        &["FCALL_RO", "ro", "0"],
        &["PING"],
    ];
    // Transactions: one of reads only, one that queued a write before the
    // pause, and one that sends its write during the pause (held before it
    // is queued).
    let mut reads = connect();
    reads.cmd(&["MULTI"]);
    reads.cmd(&["GET", "k"]);
    let mut writes = connect();
    writes.cmd(&["MULTI"]);
    writes.cmd(&["INCR", "counter"]);
    let mut queuing = connect();
    queuing.cmd(&["MULTI"]);

    pause_writes(&mut admin);
    let mut conns = Vec::new();
    for args in probes {
        let mut c = connect();
        log.push(format!("{}: {}", label(args), probe(&mut c, args)));
        conns.push(c);
    }
    log.push(format!("MULTI GET EXEC: {}", probe(&mut reads, &["EXEC"])));
    log.push(format!(
        "MULTI INCR EXEC: {}",
        probe(&mut writes, &["EXEC"])
    ));
    log.push(format!(
        "MULTI, then SET: {}",
        probe(&mut queuing, &["SET", "q", "1"])
    ));
    let held = log.iter().filter(|l| l.ends_with("held")).count();
    log.push(format!(
        "blocked_clients {} of {held} held",
        info_field(&mut admin, "clients", "blocked_clients")
    ));
    let list = String::from_utf8_lossy(&admin.cmd(&["CLIENT", "LIST"])).into_owned();
    log.push(format!(
        "clients listed with flags=b: {}",
        list.lines().filter(|l| l.contains(" flags=b ")).count()
    ));

    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
    for (args, c) in probes.iter().zip(&mut conns) {
        if let Some(line) = log
            .iter_mut()
            .find(|l| l.starts_with(&format!("{}: held", label(args))))
        {
            line.push_str(&format!(", then {}", fmt_reply(&c.read_reply())));
        }
    }
    for (name, c) in [
        ("MULTI INCR EXEC", &mut writes),
        ("MULTI, then SET", &mut queuing),
    ] {
        if let Some(line) = log
            .iter_mut()
            .find(|l| l.starts_with(name) && l.ends_with("held"))
        {
            line.push_str(&format!(", then {}", fmt_reply(&c.read_reply())));
        }
    }
    log.push(format!(
        "after: blocked_clients {}",
        info_field(&mut admin, "clients", "blocked_clients")
    ));

    // A key whose TTL passes during a pause is invisible but not deleted:
    // neither a read nor active expiry counts it, until the pause ends.
    admin.cmd(&["SET", "short", "v", "PX", "250"]);
    let before: u64 = expired_keys(&mut admin);
    pause_writes(&mut admin);
    std::thread::sleep(Duration::from_millis(600));
    log.push(format!(
        "paused GET short: {}",
        fmt_reply(&admin.cmd(&["GET", "short"]))
    ));
    log.push(format!(
        "paused EXISTS short: {}",
        fmt_reply(&admin.cmd(&["EXISTS", "short"]))
    ));
    let during: u64 = expired_keys(&mut admin);
    log.push(format!("expired during the pause: {}", during - before));
    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
    log.push(format!(
        "GET short: {}",
        fmt_reply(&admin.cmd(&["GET", "short"]))
    ));
    let after: u64 = expired_keys(&mut admin);
    log.push(format!("expired after the pause: {}", after - before));
    log
}

#[test]
fn pause_write_holds_what_redis_holds() {
    let ferrite = Server::start();
    let redis = RedisServer::start();
    let f = scenario(|| ferrite.raw());
    let r = scenario(|| redis.raw());
    for line in &r {
        eprintln!("redis-server: {line}");
    }
    for (i, (a, b)) in f.iter().zip(&r).enumerate() {
        assert_eq!(
            a, b,
            "step {i}: ferrite (left) and redis-server (right) differ"
        );
    }
    assert_eq!(f.len(), r.len());
    // The scenario means what it says: some commands were held, some not.
    assert!(r.iter().any(|l| l.contains(": held")));
    assert!(r.iter().any(|l| l.contains(": answered")));
}
