//! COMMAND INFO, entry by entry, against a real redis-server (7.0): for every command and
//! subcommand Ferrite lists in COMMAND LIST, over RESP2 and RESP3, Ferrite's reply must be
//! identical to Redis's byte for byte — name, arity, flags, legacy first/last/step, ACL
//! categories, tips, key specifications (with their notes) and nested subcommand entries.
//! COMMAND GETKEYS and GETKEYSANDFLAGS, which read the same key specifications, are compared
//! on sample command lines of every command with keys.
//!
//! Two adjustments are made before comparing, each one exact and checked:
//!
//! * Redis lists a container's subcommands in the order of its hash table, which is seeded
//!   randomly at start-up; both sides' subcommand lists are sorted by name (every entry is
//!   still compared in full).
//! * [`EDITS`]: where Ferrite follows Redis 7.2 rather than 7.0 (it reports
//!   redis_version 7.2.4), the 7.0 reply is edited by exactly the change 7.2 made; where
//!   Ferrite does not implement a subcommand yet, that subcommand is taken out of Redis's
//!   container entry. Each edit asserts that Redis's reply has what it edits, so an edit that
//!   no longer applies (another Redis version, a subcommand implemented) fails the test.
//!
//! After the edits, the comparison is on bytes: both replies are re-encoded from their
//! parsed form, and each raw reply is first checked to re-encode to itself.

mod common;

use common::{escape, fmt_reply, RawConn, RedisServer, Reply, Server};

/// A known, deliberate difference between Ferrite's entry and redis-server 7.0's.
enum Edit {
    /// Redis 7.2 changed the arity to this.
    Arity(i64),
    /// Redis 7.2 added these tips (7.0 has none).
    Tips(&'static [&'static str]),
    /// New in Redis 7.2 (7.0 answers nil): the 7.2 entry, which has no keys.
    New {
        arity: i64,
        flags: &'static [&'static str],
        acl: &'static [&'static str],
        tips: &'static [&'static str],
    },
    /// Redis 7.0 subcommands of this container that Ferrite does not implement yet.
    Lacks(&'static [&'static str]),
}

const ALL_NODES: &[&str] = &["request_policy:all_nodes", "response_policy:all_succeeded"];
const CONN_FLAGS: &[&str] = &["noscript", "loading", "stale"];
const CONN_ACL: &[&str] = &["@slow", "@connection"];

const EDITS: &[(&str, Edit)] = &[
    // 7.2 lets COMMAND GETKEYS[ANDFLAGS] take a command without arguments.
    ("command|getkeys", Edit::Arity(-3)),
    ("command|getkeysandflags", Edit::Arity(-3)),
    // 7.2 routes these to every node in a cluster.
    ("client|setname", Edit::Tips(ALL_NODES)),
    ("config|resetstat", Edit::Tips(ALL_NODES)),
    (
        "client|no-touch",
        Edit::New {
            arity: 3,
            flags: CONN_FLAGS,
            acl: CONN_ACL,
            tips: &[],
        },
    ),
    (
        "client|setinfo",
        Edit::New {
            arity: 4,
            flags: CONN_FLAGS,
            acl: CONN_ACL,
            tips: ALL_NODES,
        },
    ),
    (
        "client",
        Edit::Lacks(&[
            "client|caching",
            "client|getredir",
            "client|tracking",
            "client|trackinginfo",
        ]),
    ),
    // The Lua debugger (SCRIPT DEBUG) is not built.
    ("script", Edit::Lacks(&["script|debug"])),
];

fn edits_of(name: &str) -> impl Iterator<Item = &'static Edit> + '_ {
    EDITS
        .iter()
        .filter(move |(n, _)| *n == name)
        .map(|(_, e)| e)
}

/// Encodes a parsed reply back into RESP (the types COMMAND INFO uses).
fn encode(r: &Reply, out: &mut Vec<u8>) {
    fn agg(out: &mut Vec<u8>, kind: char, items: &[Reply]) {
        out.extend_from_slice(format!("{kind}{}\r\n", items.len()).as_bytes());
        for i in items {
            encode(i, out);
        }
    }
    match r {
        Reply::Simple(s) => out.extend_from_slice(format!("+{s}\r\n").as_bytes()),
        Reply::Error(s) => out.extend_from_slice(format!("-{s}\r\n").as_bytes()),
        Reply::Integer(i) => out.extend_from_slice(format!(":{i}\r\n").as_bytes()),
        Reply::Bulk(b) => {
            out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
        Reply::NullBulk => out.extend_from_slice(b"$-1\r\n"),
        Reply::NullArray => out.extend_from_slice(b"*-1\r\n"),
        Reply::Null => out.extend_from_slice(b"_\r\n"),
        Reply::Array(v) => agg(out, '*', v),
        Reply::Set(v) => agg(out, '~', v),
        Reply::Map(m) => {
            out.extend_from_slice(format!("%{}\r\n", m.len()).as_bytes());
            for (k, v) in m {
                encode(k, out);
                encode(v, out);
            }
        }
        other => panic!("unexpected reply type in COMMAND INFO: {other}"),
    }
}

fn encoded(r: &Reply) -> Vec<u8> {
    let mut out = Vec::new();
    encode(r, &mut out);
    out
}

/// Parses a raw reply, checking that re-encoding it gives back the same bytes.
fn parse_exact(raw: &[u8]) -> Reply {
    let r = Reply::from_raw(raw);
    assert_eq!(
        escape(&encoded(&r)),
        escape(raw),
        "the test's encoder does not reproduce this reply"
    );
    r
}

/// A set of `items` as the protocol sends it (an array in RESP2).
fn set(resp3: bool, items: Vec<Reply>) -> Reply {
    if resp3 {
        Reply::Set(items)
    } else {
        Reply::Array(items)
    }
}

fn entry_name(e: &Reply) -> String {
    let fields = e
        .as_array()
        .unwrap_or_else(|| panic!("not a command entry: {e}"));
    String::from_utf8_lossy(fields[0].as_bytes().expect("entry name")).into_owned()
}

fn fields_mut(e: &mut Reply) -> &mut Vec<Reply> {
    match e {
        Reply::Array(v) => v,
        other => panic!("not a command entry: {other}"),
    }
}

fn is_null(r: &Reply) -> bool {
    matches!(r, Reply::Null | Reply::NullBulk | Reply::NullArray)
}

/// Applies `name`'s [`EDITS`] to Redis 7.0's entry for it (null when 7.0 lacks the command).
/// `ferrite_subs`: the subcommands Ferrite's entry lists (for a container).
fn expected_entry(name: &str, mut e: Reply, resp3: bool, ferrite_subs: &[String]) -> Reply {
    for edit in edits_of(name) {
        match edit {
            Edit::New {
                arity,
                flags,
                acl,
                tips,
            } => {
                assert!(
                    is_null(&e),
                    "{name}: redis-server knows it now; drop its EDITS entry: {e}"
                );
                let simple = |v: &[&str]| v.iter().map(|s| Reply::Simple(s.to_string())).collect();
                let bulk = |v: &[&str]| {
                    v.iter()
                        .map(|s| Reply::Bulk(s.as_bytes().to_vec()))
                        .collect()
                };
                e = Reply::Array(vec![
                    Reply::Bulk(name.as_bytes().to_vec()),
                    Reply::Integer(*arity),
                    set(resp3, simple(flags)),
                    Reply::Integer(0),
                    Reply::Integer(0),
                    Reply::Integer(0),
                    set(resp3, simple(acl)),
                    set(resp3, bulk(tips)),
                    set(resp3, Vec::new()),
                    set(resp3, Vec::new()),
                ]);
            }
            Edit::Arity(arity) => {
                let f = fields_mut(&mut e);
                assert_ne!(f[1], Reply::Integer(*arity), "{name}: arity edit is stale");
                f[1] = Reply::Integer(*arity);
            }
            Edit::Tips(tips) => {
                let f = fields_mut(&mut e);
                assert_eq!(f[7], set(resp3, Vec::new()), "{name}: tips edit is stale");
                f[7] = set(
                    resp3,
                    tips.iter()
                        .map(|t| Reply::Bulk(t.as_bytes().to_vec()))
                        .collect(),
                );
            }
            Edit::Lacks(subs) => {
                let Reply::Array(list) = &mut fields_mut(&mut e)[9] else {
                    panic!("{name}: no subcommand list");
                };
                for sub in subs.iter() {
                    let before = list.len();
                    list.retain(|s| entry_name(s) != *sub);
                    assert_eq!(
                        before,
                        list.len() + 1,
                        "{name}: redis-server has no {sub} (stale edit)"
                    );
                }
            }
        }
    }
    assert!(!is_null(&e), "redis-server does not know {name}");
    // The nested entries get their own edits; subcommands new in 7.2 are added.
    // (A command without subcommands has an empty set there.)
    let Reply::Array(list) = &mut fields_mut(&mut e)[9] else {
        return e;
    };
    let subs = std::mem::take(list);
    let mut subs: Vec<Reply> = subs
        .into_iter()
        .map(|s| expected_entry(&entry_name(&s), s, resp3, &[]))
        .collect();
    for sub in ferrite_subs {
        if edits_of(sub).any(|e| matches!(e, Edit::New { .. })) {
            subs.push(expected_entry(sub, Reply::Null, resp3, &[]));
        }
    }
    subs.sort_by_key(entry_name);
    *list = subs;
    e
}

/// Sorts an entry's subcommand list by name (Redis's order is its hash table's).
fn sort_subcommands(mut e: Reply) -> Reply {
    if let Reply::Array(list) = &mut fields_mut(&mut e)[9] {
        list.sort_by_key(entry_name);
    }
    e
}

/// The one entry of a `COMMAND INFO name` reply.
fn only_entry(reply: Reply, name: &str) -> Reply {
    match reply {
        Reply::Array(mut v) if v.len() == 1 => v.pop().unwrap(),
        other => panic!("COMMAND INFO {name}: not a one-entry array: {other}"),
    }
}

fn connect(resp3: bool, ferrite: &Server, redis: &RedisServer) -> (RawConn, RawConn) {
    let (mut f, mut r) = (ferrite.raw(), redis.raw());
    if resp3 {
        for c in [&mut f, &mut r] {
            let hello = Reply::from_raw(&c.cmd(&["HELLO", "3"]));
            assert!(!hello.is_error(), "HELLO 3: {hello}");
        }
    }
    (f, r)
}

/// Every command and subcommand name Ferrite lists.
fn ferrite_names(f: &mut RawConn) -> Vec<String> {
    let list = Reply::from_raw(&f.cmd(&["COMMAND", "LIST"]));
    let names: Vec<String> = list
        .as_array()
        .expect("COMMAND LIST array")
        .iter()
        .map(|n| String::from_utf8_lossy(n.as_bytes().expect("name")).into_owned())
        .collect();
    assert!(names.len() > 50, "COMMAND LIST is too short: {names:?}");
    names
}

#[test]
fn command_info_matches_redis_for_every_command() {
    let ferrite = Server::start();
    let redis = RedisServer::start();
    for resp3 in [false, true] {
        let proto = if resp3 { "RESP3" } else { "RESP2" };
        let (mut f, mut r) = connect(resp3, &ferrite, &redis);
        let names = ferrite_names(&mut f);
        let mut mismatches = Vec::new();
        for name in &names {
            let cmd = ["COMMAND", "INFO", name.as_str()];
            let (fraw, rraw) = (f.cmd(&cmd), r.cmd(&cmd));
            let fe = only_entry(parse_exact(&fraw), name);
            let re = only_entry(parse_exact(&rraw), name);
            let has_subs = matches!(&fe.as_array().unwrap()[9], Reply::Array(v) if !v.is_empty());
            let edited = edits_of(name).next().is_some();
            let (want, got) = if !has_subs && !edited {
                // The plain case: the raw replies themselves.
                (rraw.clone(), fraw.clone())
            } else {
                let subs: Vec<String> = match &fe.as_array().unwrap()[9] {
                    Reply::Array(v) => v.iter().map(entry_name).collect(),
                    _ => Vec::new(),
                };
                (
                    encoded(&expected_entry(name, re, resp3, &subs)),
                    encoded(&sort_subcommands(fe)),
                )
            };
            if want != got {
                mismatches.push(format!(
                    "COMMAND INFO {name} ({proto}):\n  redis:   {}\n  ferrite: {}",
                    fmt_reply(&want),
                    fmt_reply(&got)
                ));
            }
        }
        assert!(
            mismatches.is_empty(),
            "{} of {} entries differ from redis-server:\n{}",
            mismatches.len(),
            names.len(),
            mismatches.join("\n")
        );
    }
}

/// Sample command lines for a command with keys: its minimum arguments, and two more when
/// its arity is variable (`k1 k2 ...` fill every argument after the (sub)command name).
fn sample_lines(name: &str, arity: i64) -> Vec<Vec<String>> {
    let base: Vec<String> = name.split('|').map(str::to_string).collect();
    let mut counts = vec![arity.unsigned_abs() as usize];
    if arity < 0 {
        counts.push(counts[0] + 2);
    }
    let mut lines: Vec<Vec<String>> = counts
        .into_iter()
        .map(|n| {
            let mut l = base.clone();
            for i in l.len()..n {
                l.push(format!("k{i}"));
            }
            l
        })
        .collect();
    if matches!(name, "zunionstore" | "zinterstore" | "zdiffstore") {
        // numkeys, then the keys.
        return vec![[name, "k1", "2", "k3", "k4"].map(String::from).to_vec()];
    }
    if name == "set" {
        // SET's key flags depend on GET (key spec flag variable_flags).
        for extra in [&["GET"][..], &["EX", "10", "get"], &["NX"]] {
            let mut l: Vec<String> = ["set", "k1", "v"].map(String::from).to_vec();
            l.extend(extra.iter().map(|s| s.to_string()));
            lines.push(l);
        }
    }
    lines
}

#[test]
fn getkeys_and_flags_match_redis_for_every_command_with_keys() {
    let ferrite = Server::start();
    let redis = RedisServer::start();
    for resp3 in [false, true] {
        let proto = if resp3 { "RESP3" } else { "RESP2" };
        let (mut f, mut r) = connect(resp3, &ferrite, &redis);
        let mut checked = 0;
        let mut mismatches = Vec::new();
        for name in ferrite_names(&mut f) {
            let e = only_entry(Reply::from_raw(&f.cmd(&["COMMAND", "INFO", &name])), &name);
            let fields = e.as_array().unwrap();
            if fields[3].as_int() == Some(0) {
                continue;
            }
            let arity = fields[1].as_int().expect("arity");
            for line in sample_lines(&name, arity) {
                for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
                    let mut cmd: Vec<String> = vec!["COMMAND".into(), sub.into()];
                    cmd.extend(line.iter().cloned());
                    let (fr, rr) = (f.cmd(&cmd), r.cmd(&cmd));
                    assert!(
                        !Reply::from_raw(&rr).is_error(),
                        "bad sample line {cmd:?}: {}",
                        fmt_reply(&rr)
                    );
                    if fr != rr {
                        mismatches.push(format!(
                            "{} ({proto}):\n  redis:   {}\n  ferrite: {}",
                            cmd.join(" "),
                            fmt_reply(&rr),
                            fmt_reply(&fr)
                        ));
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 100, "only {checked} command lines checked");
        assert!(
            mismatches.is_empty(),
            "{} command lines differ from redis-server:\n{}",
            mismatches.len(),
            mismatches.join("\n")
        );
    }
}
