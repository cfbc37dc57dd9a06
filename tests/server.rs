//! Server and introspection commands: INFO, CONFIG, TIME, SHUTDOWN and COMMAND —
//! differential tests of replies and error texts against a real redis-server,
//! and behaviour tests (INFO sections and counters, live CONFIG SET, the
//! command table as COMMAND reports it, SHUTDOWN really exiting).

mod common;

use common::{Differential, Reply, Server};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn bulk_text(raw: &[u8]) -> String {
    let r = Reply::from_raw(raw);
    String::from_utf8_lossy(r.as_bytes().unwrap_or_else(|| panic!("not a string: {r}")))
        .into_owned()
}

fn int_of(raw: &[u8]) -> i64 {
    Reply::from_raw(raw)
        .as_int()
        .unwrap_or_else(|| panic!("not an integer: {}", common::fmt_reply(raw)))
}

/// INFO text split into sections: name -> fields. Panics on any line that is
/// neither a `# Header`, a blank separator nor `field:value`.
fn parse_info(text: &str) -> Vec<(String, HashMap<String, String>)> {
    assert!(
        text.is_empty() || text.ends_with("\r\n"),
        "INFO must end with CRLF"
    );
    let mut sections: Vec<(String, HashMap<String, String>)> = Vec::new();
    let mut expect_header = true;
    for line in text.split("\r\n").take_while(|_| true) {
        if line.is_empty() {
            expect_header = true;
            continue;
        }
        if let Some(h) = line.strip_prefix("# ") {
            assert!(expect_header, "header {h} without a blank line before it");
            sections.push((h.to_string(), HashMap::new()));
            expect_header = false;
            continue;
        }
        let (k, v) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("bad INFO line {line:?}"));
        assert!(!k.is_empty() && !k.contains(' '), "bad field name {k:?}");
        let sec = sections.last_mut().expect("field before any section");
        assert!(
            sec.1.insert(k.to_string(), v.to_string()).is_none(),
            "duplicate field {k}"
        );
    }
    sections
}

fn info(c: &mut common::RawConn, args: &[&str]) -> Vec<(String, HashMap<String, String>)> {
    let mut cmd = vec!["INFO"];
    cmd.extend_from_slice(args);
    parse_info(&bulk_text(&c.cmd(&cmd)))
}

fn field(sections: &[(String, HashMap<String, String>)], section: &str, name: &str) -> String {
    sections
        .iter()
        .find(|(s, _)| s == section)
        .unwrap_or_else(|| panic!("no section {section}"))
        .1
        .get(name)
        .unwrap_or_else(|| panic!("no field {name} in {section}"))
        .clone()
}

#[test]
fn info_sections_and_format() {
    let s = Server::start();
    let mut c = s.raw();
    let names = |v: &[(String, HashMap<String, String>)]| {
        v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()
    };
    let default = info(&mut c, &[]);
    assert_eq!(
        names(&default),
        [
            "Server",
            "Clients",
            "Memory",
            "Persistence",
            "Stats",
            "Replication",
            "CPU",
            "Modules",
            "Errorstats",
            "Cluster",
            "Keyspace"
        ]
    );
    assert_eq!(names(&info(&mut c, &["default"])), names(&default));
    let all = info(&mut c, &["everything"]);
    assert_eq!(
        names(&all),
        [
            "Server",
            "Clients",
            "Memory",
            "Persistence",
            "Stats",
            "Replication",
            "CPU",
            "Modules",
            "Commandstats",
            "Errorstats",
            "Cluster",
            "Keyspace"
        ]
    );
    assert_eq!(names(&info(&mut c, &["all"])), names(&all));
    assert_eq!(names(&info(&mut c, &["CPU", "server"])), ["Server", "CPU"]);
    assert_eq!(bulk_text(&c.cmd(&["INFO", "nosuchsection"])), "");

    assert_eq!(field(&all, "Server", "redis_version"), "7.2.4");
    assert_eq!(field(&all, "Server", "redis_mode"), "standalone");
    assert_eq!(field(&all, "Server", "tcp_port"), s.port().to_string());
    assert_eq!(field(&all, "Server", "process_id"), s.pid().to_string());
    assert_eq!(field(&all, "Server", "run_id").len(), 40);
    assert_eq!(field(&all, "Server", "arch_bits"), "64");
    assert_eq!(field(&all, "Server", "io_threads_active"), "0");
    assert!(!field(&all, "Server", "ferrite_version").is_empty());
    let used: u64 = field(&all, "Memory", "used_memory").parse().unwrap();
    assert!(used > 0);
    assert!(
        field(&all, "Memory", "used_memory_rss")
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert!(field(&all, "Memory", "mem_allocator").starts_with("jemalloc-"));
    assert_eq!(field(&all, "Memory", "maxmemory_policy"), "noeviction");
    assert!(field(&all, "Memory", "used_memory_human").ends_with(['B', 'K', 'M', 'G']));
    assert_eq!(field(&all, "Persistence", "loading"), "0");
    assert_eq!(field(&all, "Persistence", "rdb_saves"), "0");
    assert_eq!(field(&all, "Replication", "role"), "master");
    assert_eq!(field(&all, "Replication", "connected_slaves"), "0");
    assert_eq!(field(&all, "Replication", "master_repl_offset"), "0");
    assert!(field(&all, "CPU", "used_cpu_user").parse::<f64>().is_ok());
    assert_eq!(field(&all, "Cluster", "cluster_enabled"), "0");
    assert!(
        field(&all, "Clients", "connected_clients")
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(field(&all, "Clients", "maxclients"), "10000");
    assert_eq!(field(&all, "Clients", "blocked_clients"), "0");
    assert_eq!(field(&all, "Stats", "evicted_keys"), "0");

    // RESP3: a verbatim string of format txt.
    c.cmd(&["HELLO", "3"]);
    let raw = c.cmd(&["INFO", "server"]);
    match Reply::from_raw(&raw) {
        Reply::Verbatim(fmt, text) => {
            assert_eq!(fmt, "txt");
            assert!(text.starts_with(b"# Server\r\n"));
        }
        other => panic!("INFO in RESP3 is not verbatim: {other}"),
    }
}

/// Deleting or overwriting a large value gives its memory back soon, on a
/// connection that goes on without sending anything else and on an otherwise
/// idle server, and the connection's read buffer shrinks after the request.
#[test]
fn large_values_are_freed_promptly() {
    let s = Server::start();
    let mut c = s.raw();
    let used = |c: &mut common::RawConn| -> u64 {
        field(&info(c, &["memory"]), "Memory", "used_memory")
            .parse()
            .unwrap()
    };
    let before = used(&mut c);
    let big = vec![b'x'; 40 << 20];
    assert_eq!(c.cmd(&[&b"SET"[..], b"big", &big]), b"+OK\r\n");
    let with_value = used(&mut c);
    assert!(
        with_value >= before + (38 << 20),
        "{before} -> {with_value}"
    );
    assert_eq!(c.cmd(&["DEL", "big"]), b":1\r\n");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = used(&mut c);
        // Neither the value nor a 40 MiB read buffer may stay behind.
        if now < before + (8 << 20) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "40 MiB value still held 10 s after DEL: used_memory {now} (was {before})"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn info_counters() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd(&["CONFIG", "RESETSTAT"]);
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SET", "b", "2", "EX", "100"]);
    for _ in 0..3 {
        c.cmd(&["GET", "a"]);
    }
    c.cmd(&["GET", "missing"]);
    c.cmd(&["SELECT", "2"]);
    c.cmd(&["SET", "x", "1"]);
    c.cmd(&["SELECT", "0"]);
    c.cmd(&["NOSUCHCOMMAND"]);
    c.cmd(&["GET"]);
    c.cmd(&["SET", "a", "1", "EX", "abc"]);

    let v = info(&mut c, &["commandstats", "errorstats", "keyspace", "stats"]);
    let get = field(&v, "Commandstats", "cmdstat_get");
    assert!(get.starts_with("calls=4,usec="), "{get}");
    assert!(get.ends_with(",rejected_calls=1,failed_calls=0"), "{get}");
    let per_call = get
        .split(',')
        .find_map(|kv| kv.strip_prefix("usec_per_call="))
        .unwrap();
    assert_eq!(
        per_call.split('.').nth(1).map(str::len),
        Some(2),
        "{per_call}"
    );
    let set = field(&v, "Commandstats", "cmdstat_set");
    assert!(
        set.starts_with("calls=4,") && set.ends_with(",rejected_calls=0,failed_calls=1"),
        "{set}"
    );
    assert!(field(&v, "Commandstats", "cmdstat_config|resetstat").starts_with("calls=1,"));
    assert_eq!(field(&v, "Errorstats", "errorstat_ERR"), "count=3");
    assert_eq!(field(&v, "Keyspace", "db0"), "keys=2,expires=1,avg_ttl=0");
    assert_eq!(field(&v, "Keyspace", "db2"), "keys=1,expires=0,avg_ttl=0");
    assert_eq!(field(&v, "Stats", "total_error_replies"), "3");
    let processed: u64 = field(&v, "Stats", "total_commands_processed")
        .parse()
        .unwrap();
    assert!(processed >= 12, "{processed}");
    assert!(
        field(&v, "Stats", "total_net_input_bytes")
            .parse::<u64>()
            .unwrap()
            > 100
    );
    assert_eq!(
        field(&v, "Stats", "total_connections_received"),
        "0",
        "reset at the start"
    );

    // RESETSTAT zeroes the counters.
    assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    let v = info(&mut c, &["commandstats", "errorstats", "stats"]);
    let section = |name: &str| &v.iter().find(|(n, _)| n == name).unwrap().1;
    let cmds = section("Commandstats");
    assert!(
        cmds.keys().all(|k| k == "cmdstat_config|resetstat"),
        "{cmds:?}"
    );
    assert!(
        section("Errorstats").is_empty(),
        "{:?}",
        section("Errorstats")
    );
    assert_eq!(field(&v, "Stats", "total_error_replies"), "0");
    assert_eq!(field(&v, "Stats", "total_connections_received"), "0");
}

#[test]
fn instantaneous_ops_per_sec_is_sampled() {
    let s = Server::start();
    let mut c = s.raw();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(800) {
        let mut batch = Vec::new();
        for _ in 0..50 {
            batch.extend(common::encode_command(&["PING"]));
        }
        c.send_raw(&batch);
        for _ in 0..50 {
            c.read_reply();
        }
    }
    let v = info(&mut c, &["stats"]);
    let ops: u64 = field(&v, "Stats", "instantaneous_ops_per_sec")
        .parse()
        .unwrap();
    assert!(ops > 0, "no instantaneous ops after a burst of PINGs");
    let kbps: f64 = field(&v, "Stats", "instantaneous_input_kbps")
        .parse()
        .unwrap();
    assert!(kbps > 0.0);
}

#[test]
fn diff_info_shape() {
    let mut d = Differential::new();
    // Same sections, same blank-line structure; values legitimately differ.
    for args in [
        &["INFO"][..],
        &["INFO", "everything"],
        &["INFO", "keyspace"],
        &["INFO", "nosuch"],
        &["INFO", "SERVER", "cpu"],
    ] {
        let (f, r) = d.both(args);
        let strip = |raw: &[u8]| {
            bulk_text(raw)
                .split("\r\n")
                .filter(|l| l.is_empty() || l.starts_with('#'))
                .map(String::from)
                .collect::<Vec<_>>()
        };
        // Ferrite has no Latencystats section (optional in INFO everything).
        let no_latency = |mut v: Vec<String>| {
            if let Some(i) = v.iter().position(|l| l == "# Latencystats") {
                v.drain(i..i + 2);
            }
            v
        };
        assert_eq!(no_latency(strip(&f)), no_latency(strip(&r)), "{args:?}");
    }
    // Every field Ferrite prints exists in Redis too (except its own ferrite_* ones and
    // the ones 7.2 added).
    let (f, r) = d.both(&["INFO", "everything"]);
    let fields = |raw: &[u8]| {
        bulk_text(raw)
            .split("\r\n")
            .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
            .filter(|k| {
                !k.starts_with("cmdstat_") && !k.starts_with("errorstat_") && !k.starts_with("db")
            })
            .collect::<std::collections::HashSet<_>>()
    };
    let (ours, theirs) = (fields(&f), fields(&r));
    let added_in_72 = [
        "acl_access_denied_auth",
        "acl_access_denied_cmd",
        "acl_access_denied_key",
        "acl_access_denied_channel",
    ];
    for k in &ours {
        assert!(
            theirs.contains(k) || k.starts_with("ferrite_") || added_in_72.contains(&k.as_str()),
            "INFO field {k} is not a Redis field"
        );
    }
}

#[test]
fn diff_config_errors() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        CONFIG
        CONFIG foo
        CONFIG get
        CONFIG get maxmemory
        CONFIG get nosuch
        CONFIG get hz nosuch
        CONFIG set
        CONFIG set maxmemory
        CONFIG set maxmemory abc
        CONFIG set nosuch 1
        CONFIG set maxmemory 10 maxmemory 20
        CONFIG set daemonize yes
        CONFIG set maxmemory 100mb hz abc
        CONFIG get maxmemory
        CONFIG set loglevel foo
        CONFIG set maxmemory 10 hz
        CONFIG set maxmemory 1mb
        CONFIG get maxmemory
        CONFIG set maxmemory 0 hz 20
        CONFIG get hz
        CONFIG set hz 10
        CONFIG set loglevel warning
        CONFIG get loglevel
        CONFIG set loglevel notice
        CONFIG resetstat x
        CONFIG resetstat
        CONFIG help x
        "#,
    );
}

#[test]
fn diff_time_shutdown_command_errors() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        TIME x
        SHUTDOWN foo
        SHUTDOWN nosave save
        SHUTDOWN SAVE NOSAVE NOW
        SHUTDOWN abort
        SHUTDOWN now force abort
        SHUTDOWN abort now
        COMMAND foo
        COMMAND count x
        COMMAND getkeys
        COMMAND getkeys nosuch a
        COMMAND getkeys get a b
        COMMAND getkeys ping x
        COMMAND getkeys set a b
        COMMAND getkeys SET a b EX 10
        COMMAND getkeys del a b c
        COMMAND getkeys exists a
        COMMAND getkeys client list
        COMMAND getkeys client nosuch
        COMMAND getkeys config get maxmemory
        COMMAND getkeysandflags get a
        COMMAND getkeysandflags nosuch a
        COMMAND list foo
        COMMAND list filterby
        COMMAND list filterby foo bar
        COMMAND list filterby pattern a b
        COMMAND list filterby aclcat nosuch
        COMMAND list filterby module foo
        COMMAND info nosuch
        COMMAND info get nosuch client|nosuch
        COMMAND info get
        COMMAND info GET|x
        COMMAND docs nosuch
        COMMAND help x
        "#,
    );
    // The container entries list their subcommands (whose number differs between 7.0
    // and 7.2), so only the ones that did not change are compared.
    for name in [
        "info",
        "time",
        "shutdown",
        "config|get",
        "config|set",
        "config|help",
        "command|count",
        "command|docs",
        "command|info",
        "command|list",
        "command|help",
        "get",
    ] {
        d.check(&["COMMAND", "INFO", name]);
    }
}

#[test]
fn command_table_introspection() {
    let s = Server::start();
    let mut c = s.raw();
    let count = int_of(&c.cmd(&["COMMAND", "COUNT"]));
    let all = Reply::from_raw(&c.cmd(&["COMMAND"]));
    let all = all.as_array().unwrap();
    assert_eq!(all.len() as i64, count);
    let info_all = Reply::from_raw(&c.cmd(&["COMMAND", "INFO"]));
    assert_eq!(info_all.as_array().unwrap().len() as i64, count);
    let list = Reply::from_raw(&c.cmd(&["COMMAND", "LIST"]));
    let names: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|n| String::from_utf8_lossy(n.as_bytes().unwrap()).into_owned())
        .collect();
    assert_eq!(
        names.iter().filter(|n| !n.contains('|')).count() as i64,
        count
    );
    for must in [
        "get",
        "set",
        "client",
        "client|list",
        "command|getkeys",
        "config|set",
        "info",
        "shutdown",
        "time",
    ] {
        assert!(names.iter().any(|n| n == must), "COMMAND LIST lacks {must}");
    }
    // Every entry has the Redis 7 shape.
    for e in all {
        let e = e.as_array().unwrap();
        assert_eq!(e.len(), 10, "{e:?}");
        assert!(e[1].as_int().unwrap() != 0);
        for i in [2, 6, 7, 8, 9] {
            assert!(e[i].as_array().is_some(), "field {i} of {e:?}");
        }
    }
    let get = Reply::from_raw(&c.cmd(&["COMMAND", "INFO", "get"]));
    assert_eq!(
        get.to_string(),
        "[[\"get\", (integer) 2, [+readonly, +fast], (integer) 1, (integer) 1, (integer) 1, [+@read, +@string, +@fast], \
         [], [[\"flags\", [+RO, +access], \"begin_search\", [\"type\", \"index\", \"spec\", [\"index\", (integer) 1]], \
         \"find_keys\", [\"type\", \"range\", \"spec\", [\"lastkey\", (integer) 0, \"keystep\", (integer) 1, \"limit\", \
         (integer) 0]]]], []]]"
    );
    // Filters.
    let pat = Reply::from_raw(&c.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "client|*"]));
    let pat = pat.as_array().unwrap();
    assert!(
        pat.len() >= 12
            && pat
                .iter()
                .all(|n| n.as_bytes().unwrap().starts_with(b"client|"))
    );
    let conn = Reply::from_raw(&c.cmd(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "CONNECTION"]));
    assert!(conn
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_bytes() == Some(b"ping")));
    // DOCS: a map of name -> documentation with the table's fields.
    let docs = Reply::from_raw(&c.cmd(&["COMMAND", "DOCS", "client", "nosuch"]));
    let docs = docs.as_array().unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].as_bytes(), Some(&b"client"[..]));
    let body = docs[1].to_string();
    for key in [
        "summary",
        "since",
        "group",
        "complexity",
        "subcommands",
        "client|kill",
    ] {
        assert!(
            body.contains(&format!("\"{key}\"")),
            "COMMAND DOCS client lacks {key}: {body}"
        );
    }
    // GETKEYSANDFLAGS pairs each key with its access flags (SET's depend on GET).
    assert_eq!(
        Reply::from_raw(&c.cmd(&["COMMAND", "GETKEYSANDFLAGS", "set", "k", "v"])).to_string(),
        "[[\"k\", [+OW, +update]]]"
    );
    assert_eq!(
        Reply::from_raw(&c.cmd(&["COMMAND", "GETKEYSANDFLAGS", "set", "k", "v", "get"]))
            .to_string(),
        "[[\"k\", [+RW, +access, +update]]]"
    );
    // 7.2's arity for GETKEYS lets the argument count check report the error.
    assert_eq!(
        c.cmd(&["COMMAND", "GETKEYS", "get"]),
        b"-ERR Invalid number of arguments specified for command\r\n"
    );
    // RESP3 types: sets for flags, maps for key specs.
    c.cmd(&["HELLO", "3"]);
    let raw = c.cmd(&["COMMAND", "INFO", "get"]);
    assert!(
        raw.starts_with(b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n"),
        "{}",
        common::escape(&raw)
    );
    assert!(common::escape(&raw).contains("%3"));
}

#[test]
fn config_set_applies_live() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "maxmemory",
            "2mb",
            "maxmemory-policy",
            "allkeys-lru"
        ]),
        b"+OK\r\n"
    );
    let v = info(&mut c, &["memory"]);
    assert_eq!(field(&v, "Memory", "maxmemory"), "2097152");
    assert_eq!(field(&v, "Memory", "maxmemory_human"), "2.00M");
    assert_eq!(field(&v, "Memory", "maxmemory_policy"), "allkeys-lru");
    assert_eq!(c.cmd(&["CONFIG", "SET", "hz", "50"]), b"+OK\r\n");
    assert_eq!(field(&info(&mut c, &["server"]), "Server", "hz"), "50");
    // A failed multi-set changes nothing.
    let err = c.cmd(&["CONFIG", "SET", "hz", "20", "maxmemory", "lots"]);
    assert!(
        err.starts_with(b"-ERR CONFIG SET failed"),
        "{}",
        common::escape(&err)
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "hz"]),
        b"*2\r\n$2\r\nhz\r\n$2\r\n50\r\n"
    );

    // loglevel takes effect at once: protocol errors are logged at `verbose`.
    let protocol_error = |s: &Server| {
        let mut bad = s.raw();
        bad.send_raw(b"*1\r\n$x\r\n");
        bad.read_reply();
        assert!(bad.closed_within(Duration::from_secs(2)));
    };
    let logged = |s: &Server| s.log().matches("protocol error").count();
    assert_eq!(c.cmd(&["CONFIG", "SET", "loglevel", "verbose"]), b"+OK\r\n");
    protocol_error(&s);
    let deadline = Instant::now() + Duration::from_secs(3);
    while logged(&s) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        logged(&s),
        1,
        "verbose level did not log the protocol error:\n{}",
        s.log()
    );
    assert_eq!(c.cmd(&["CONFIG", "SET", "loglevel", "warning"]), b"+OK\r\n");
    protocol_error(&s);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(logged(&s), 1, "warning level still logs debug messages");
}

#[test]
fn time_is_now() {
    let s = Server::start();
    let mut c = s.raw();
    let r = Reply::from_raw(&c.cmd(&["TIME"]));
    let parts: Vec<u64> = r
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            String::from_utf8_lossy(p.as_bytes().unwrap())
                .parse()
                .unwrap()
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(parts[0].abs_diff(now) <= 2);
    assert!(parts[1] < 1_000_000);
}

#[test]
fn shutdown_exits_without_a_reply() {
    let mut s = Server::start();
    let mut c = s.raw();
    let mut other = s.raw();
    other.cmd(&["PING"]);
    c.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(
        c.closed_within(Duration::from_secs(5)),
        "SHUTDOWN answered or kept the connection"
    );
    let status = s
        .wait_exit(Duration::from_secs(10))
        .expect("server did not exit");
    assert!(status.success(), "exit status {status}");
    assert!(other.closed_within(Duration::from_secs(2)));
}

#[test]
fn shutdown_save_needs_persistence_unless_forced() {
    let mut s = Server::start();
    let mut c = s.raw();
    // No RDB writer exists yet, so a save can only fail, as a failed save does
    // in Redis: the server keeps running.
    assert_eq!(
        c.cmd(&["SHUTDOWN", "SAVE"]),
        b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
    );
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    c.send(&["SHUTDOWN", "SAVE", "FORCE", "NOW"]);
    assert!(c.closed_within(Duration::from_secs(5)));
    let status = s
        .wait_exit(Duration::from_secs(10))
        .expect("server did not exit");
    assert!(status.success(), "exit status {status}");
}

#[test]
fn plain_shutdown_exits_even_with_save_points() {
    // Save points cannot be honoured before RDB persistence exists; a plain
    // SHUTDOWN must still stop the server rather than fail forever.
    let mut s = Server::with_args(&["--save", "3600 1"]);
    let mut c = s.raw();
    c.send(&["shutdown"]);
    assert!(c.closed_within(Duration::from_secs(5)));
    assert!(s
        .wait_exit(Duration::from_secs(10))
        .expect("server did not exit")
        .success());
}

#[test]
fn plain_shutdown_without_save_points_exits() {
    let mut s = Server::start();
    let mut c = s.raw();
    c.send(&["shutdown"]);
    assert!(c.closed_within(Duration::from_secs(5)));
    assert!(s
        .wait_exit(Duration::from_secs(10))
        .expect("server did not exit")
        .success());
}
