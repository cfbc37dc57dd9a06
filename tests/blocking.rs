//! The blocking list and sorted set commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP,
//! BZPOPMIN BZPOPMAX BZMPOP) and
//! CLIENT UNBLOCK: multi-connection scenarios run the same steps against
//! Ferrite and a real redis-server 7.0 and compare every reply (serving
//! order, keys that become ready through pushes, LMOVE, RENAME, MOVE,
//! SWAPDB, timeouts, errors, RESP3); and a producer/consumer queue across
//! threads where every element is consumed exactly once.

mod common;

use common::{fmt_reply, split_args, Differential, RawConn};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Several connections to each server, driven in lockstep by a script.
struct Scenario {
    /// Owns both servers for the length of the scenario.
    _servers: Differential,
    conns: Vec<(RawConn, RawConn)>,
    admin: (RawConn, RawConn),
}

impl Scenario {
    fn new(conns: usize) -> Scenario {
        let d = Differential::new();
        let conns = (0..conns).map(|_| d.new_conns()).collect();
        let admin = d.new_conns();
        Scenario {
            _servers: d,
            conns,
            admin,
        }
    }

    /// Runs `script`, one step per line:
    /// * `N: CMD` sends CMD on connection N and compares the replies;
    /// * `N> CMD` only sends it (a command that blocks);
    /// * `N? CMD` sends it and reads the replies without comparing them;
    /// * `N<` reads one reply on connection N from each server and compares;
    /// * `blocked K` waits until both servers report K blocked clients;
    /// * `sleep MS`.
    fn run(&mut self, script: &str) {
        for (no, line) in script.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let what = format!("line {}: {line}", no + 1);
            eprintln!("step {what}");
            if let Some(k) = line.strip_prefix("blocked ") {
                self.wait_blocked(k.parse().unwrap(), &what);
                continue;
            }
            if let Some(ms) = line.strip_prefix("sleep ") {
                std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
                continue;
            }
            let (n, rest) = line.split_at(line.find([':', '>', '<', '?']).expect(&what));
            let n: usize = n.trim().parse().expect(&what);
            let (op, cmd) = rest.split_at(1);
            let (f, r) = &mut self.conns[n];
            match op {
                ":" | ">" | "?" => {
                    let args = split_args(cmd.trim()).expect(&what);
                    f.send(&args);
                    r.send(&args);
                    if op == ":" {
                        compare(&what, f, r);
                    } else if op == "?" {
                        f.read_reply();
                        r.read_reply();
                    }
                }
                _ => compare(&what, f, r),
            }
        }
    }

    fn wait_blocked(&mut self, want: usize, what: &str) {
        let start = Instant::now();
        loop {
            let f = blocked_clients(&mut self.admin.0);
            let r = blocked_clients(&mut self.admin.1);
            if f == want && r == want {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{what}: blocked clients ferrite {f}, redis {r}, want {want}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn blocked_clients(c: &mut RawConn) -> usize {
    let info = c.cmd(&["INFO", "clients"]);
    let text = String::from_utf8_lossy(&info);
    text.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO clients has blocked_clients")
}

fn compare(what: &str, f: &mut RawConn, r: &mut RawConn) {
    let rr = r.read_reply();
    let fr = f.read_reply();
    assert_eq!(
        fmt_reply(&fr),
        fmt_reply(&rr),
        "{what}: ferrite (left) and redis-server (right) differ"
    );
}

#[test]
fn waiters_are_served_in_blocking_order() {
    let mut s = Scenario::new(4);
    s.run(
        r#"
        1> BLPOP k 0
        blocked 1
        2> BLPOP other k 0
        blocked 2
        3> BRPOP k 0
        blocked 3
        0: RPUSH k a b c d e
        1<
        2<
        3<
        0: LRANGE k 0 -1
        0: INFO keyspace
        # Two elements for three waiters: the third stays blocked.
        0: DEL k
        1> BLPOP k 0
        blocked 1
        2> BLPOP k 0
        blocked 2
        3> BLPOP k 0
        blocked 3
        0: LPUSH k x y
        1<
        2<
        blocked 1
        0: RPUSH k z
        3<
        0: EXISTS k
        "#,
    );
}

#[test]
fn multiple_keys_first_non_empty_and_wrongtype() {
    let mut s = Scenario::new(2);
    s.run(
        r#"
        0: RPUSH b 1 2
        0: RPUSH c 3
        1: BLPOP a b c 0
        1: BRPOP a b c 0
        1: BLPOP a b c 0
        0: SET s str
        1: BLPOP a s 0
        1: BLPOP s a 0
        0: RPUSH a v
        1: BLPOP a s 0
        1> BRPOP a b c 0
        blocked 1
        0: RPUSH c 9
        1<
        1> BLPOP dup dup 0
        blocked 1
        0: RPUSH dup 1 2
        1<
        0: LRANGE dup 0 -1
        "#,
    );
}

#[test]
fn blmpop_and_argument_errors() {
    let mut s = Scenario::new(2);
    s.run(
        r#"
        1: BLMPOP 0 0 k LEFT
        1: BLMPOP 0 -1 k LEFT
        1: BLMPOP 0 x k LEFT
        1: BLMPOP 0 2 k LEFT
        1: BLMPOP 0 1 k MIDDLE
        1: BLMPOP 0 1 k LEFT COUNT 0
        1: BLMPOP 0 1 k LEFT COUNT -1
        1: BLMPOP 0 1 k LEFT COUNT 1 COUNT 2
        1: BLMPOP 0 1 k LEFT FOO
        1: BLMPOP -1 1 k LEFT
        1: BLMPOP x 1 k LEFT
        1: BLMPOP x 0 k LEFT
        1: BLPOP k -1
        1: BLPOP k abc
        1: BLPOP k inf
        1: BLPOP k 1e16
        1: BLPOP k nan
        1: BRPOPLPUSH a b -1
        1: BLMOVE a b LEFT UP 0
        1: BLMOVE a b LEFT RIGHT -1
        1: BLMOVE a b left right x
        1: BLPOP k
        1: BLMPOP 0 1 k
        0: RPUSH k2 a b c d
        1: BLMPOP 0 2 k k2 RIGHT COUNT 3
        1: BLMPOP 0 2 k k2 LEFT COUNT 10
        1: EXISTS k2
        1> BLMPOP 0 2 k k2 LEFT COUNT 3
        blocked 1
        0: RPUSH k2 x y
        1<
        1> BLMPOP 0 1 k RIGHT
        blocked 1
        0: RPUSH k 1 2 3
        1<
        0: LRANGE k 0 -1
        "#,
    );
}

#[test]
fn blmove_serves_and_chains_to_the_destination() {
    let mut s = Scenario::new(3);
    s.run(
        r#"
        0: RPUSH src a b
        1: BLMOVE src dst RIGHT LEFT 0
        1: BRPOPLPUSH src dst 0
        1: LRANGE dst 0 -1
        1: EXISTS src
        # A blocked BLMOVE, then a BLPOP on its destination: one push serves both.
        1> BLMOVE src2 dst2 LEFT RIGHT 0
        blocked 1
        2> BLPOP dst2 0
        blocked 2
        0: RPUSH src2 x y
        1<
        2<
        0: LRANGE src2 0 -1
        0: LRANGE dst2 0 -1
        # Rotating a list onto itself.
        1> BRPOPLPUSH ring ring 0
        blocked 1
        0: RPUSH ring 1
        1<
        0: LRANGE ring 0 -1
        # The destination holds another type: WRONGTYPE, the element stays.
        0: SET strdst x
        1> BLMOVE src3 strdst LEFT LEFT 0
        blocked 1
        0: RPUSH src3 e
        1<
        0: LRANGE src3 0 -1
        0: RPUSH src4 e
        1: BLMOVE src4 strdst LEFT LEFT 0
        0: SET strsrc x
        1: BLMOVE strsrc dst LEFT LEFT 0
        1: BRPOPLPUSH strsrc dst 0
        "#,
    );
}

#[test]
fn keys_made_ready_by_other_commands() {
    let mut s = Scenario::new(2);
    s.run(
        r#"
        # LMOVE into a key a client waits on.
        1> BLPOP dst 0
        blocked 1
        0: RPUSH src a
        0: LMOVE src dst LEFT LEFT
        1<
        0: EXISTS dst
        # RENAME.
        1> BLPOP renamed 0
        blocked 1
        0: RPUSH tmp r1 r2
        0: RENAME tmp renamed
        1<
        0: LRANGE renamed 0 -1
        # MOVE from another database.
        1> BRPOP moved 0
        blocked 1
        0: SELECT 1
        0: RPUSH moved m
        0: MOVE moved 0
        0: SELECT 0
        1<
        # COPY.
        0: RPUSH orig c1
        1> BLPOP copied 0
        blocked 1
        0: COPY orig copied
        1<
        0: LRANGE orig 0 -1
        # RESTORE.
        0: RPUSH dumped d1
        1> BLPOP restored 0
        blocked 1
        "#,
    );
    // RESTORE needs each server's own DUMP payload (they are equal for
    // lists, but read them separately to be independent of that).
    let (f, r) = &mut s.conns[0];
    let pf = common::bulk_bytes(&f.cmd(&["DUMP", "dumped"]));
    let pr = common::bulk_bytes(&r.cmd(&["DUMP", "dumped"]));
    f.send(&[&b"RESTORE"[..], b"restored", b"0", &pf]);
    r.send(&[&b"RESTORE"[..], b"restored", b"0", &pr]);
    s.run(
        r#"
        0<
        1<
        # SWAPDB: the client waits on database 0, which becomes the other one.
        1> BLPOP swapped 0
        blocked 1
        0: SELECT 1
        0: RPUSH swapped s1
        0: SWAPDB 0 1
        1<
        0: SELECT 0
        0: EXISTS swapped
        0: SWAPDB 0 1
        # SET does not wake a list waiter; a later push does.
        1> BLPOP typed 0
        blocked 1
        0: SET typed str
        0: DEL typed
        0: RPUSH typed t
        1<
        "#,
    );
}

/// Keys a transaction fills are served after EXEC in the order they became ready (Redis's
/// `ready_keys`), not in the order the transaction latched them: `bl2` sorts before `bl`,
/// and a client blocked on both must get `bl`'s element, pushed first.
#[test]
fn keys_a_transaction_fills_are_served_in_push_order() {
    let mut s = Scenario::new(5);
    s.run(
        r#"
        1> BLMPOP 0 2 bl bl2 LEFT COUNT 1
        blocked 1
        2> BLMPOP 0 2 bl bl2 RIGHT COUNT 10
        blocked 2
        3> BLMPOP 0 2 bl bl2 LEFT COUNT 10
        blocked 3
        4> BLMPOP 0 2 bl bl2 RIGHT COUNT 1
        blocked 4
        0: MULTI
        0: LPUSH bl a b c d e
        0: LPUSH bl2 1 2 3 4 5
        0: EXEC
        1<
        2<
        3<
        blocked 1
        0: LPUSH bl2 1 2 3
        4<
        0: LRANGE bl2 0 -1
        # The same with sorted sets, pushed in the other order.
        1> BZMPOP 0 2 z z2 MIN COUNT 1
        blocked 1
        2> BZPOPMAX z2 z 0
        blocked 2
        0: MULTI
        0: ZADD z2 1 x 2 y
        0: ZADD z 1 a 2 b
        0: EXEC
        1<
        2<
        0: ZRANGE z 0 -1 WITHSCORES
        0: ZRANGE z2 0 -1 WITHSCORES
        # A chain: the destination a BLMOVE waiter fills is served after the keys the
        # transaction filled itself, so client 2 gets `other`'s element, not `mid`'s, and
        # client 3 waits on.
        1> BLMOVE src mid RIGHT LEFT 0
        blocked 1
        2> BLPOP mid other 0
        blocked 2
        3> BLPOP other 0
        blocked 3
        0: MULTI
        0: RPUSH src s1
        0: RPUSH other o1
        0: EXEC
        1<
        2<
        blocked 1
        0: LRANGE mid 0 -1
        0: RPUSH other o2
        3<
        0: EXISTS src mid other
        "#,
    );
}

#[test]
fn timeouts_unblock_and_closed_clients() {
    let mut s = Scenario::new(3);
    s.run(
        r#"
        1: BLPOP k 0.05
        1: BRPOP k 0.01
        1: BLMOVE k d LEFT LEFT 0.01
        1: BRPOPLPUSH k d 0.01
        1: BLMPOP 0.01 1 k LEFT
        # HELLO's reply differs (server name, id).
        1? HELLO 3
        1: BLPOP k 0.01
        1: BLMOVE k d LEFT LEFT 0.01
        1: BLMPOP 0.01 1 k LEFT COUNT 2
        0: RPUSH r3 a b
        1: BLPOP r3 0
        1: BLMPOP 0 1 r3 LEFT COUNT 2
        1> BLPOP r3 0
        blocked 1
        0: RPUSH r3 z
        1<
        "#,
    );
    // CLIENT UNBLOCK needs each server's own client id.
    let (fid, rid) = {
        let (f, r) = &mut s.conns[2];
        let id = |c: &mut RawConn| common::Reply::from_raw(&c.cmd(&["CLIENT", "ID"])).as_int();
        (id(f).unwrap(), id(r).unwrap())
    };
    let unblock = |s: &mut Scenario, how: Option<&str>| {
        let (f, r) = &mut s.admin;
        let mut fa = vec!["CLIENT".to_string(), "UNBLOCK".into(), fid.to_string()];
        let mut ra = vec!["CLIENT".to_string(), "UNBLOCK".into(), rid.to_string()];
        if let Some(h) = how {
            fa.push(h.into());
            ra.push(h.into());
        }
        f.send(&fa);
        r.send(&ra);
        compare(&format!("CLIENT UNBLOCK {how:?}"), f, r);
    };
    unblock(&mut s, None);
    s.run(
        r#"
        2> BLPOP u 0
        blocked 1
        "#,
    );
    unblock(&mut s, None);
    s.run("2<\nblocked 0");
    unblock(&mut s, Some("ERROR"));
    s.run(
        r#"
        2> BRPOPLPUSH u v 0
        blocked 1
        "#,
    );
    unblock(&mut s, Some("error"));
    s.run("2<\nblocked 0");
    s.run(
        r#"
        2> BLMOVE u v LEFT LEFT 100
        blocked 1
        "#,
    );
    unblock(&mut s, Some("TIMEOUT"));
    s.run(
        r#"
        2<
        0: CLIENT UNBLOCK 1 foo
        0: CLIENT UNBLOCK x
        0: CLIENT UNBLOCK x foo
        0: CLIENT UNBLOCK 1 timeout extra
        0: CLIENT UNBLOCK 999999
        # A blocked client that goes away leaves the element to the list.
        1> BLPOP gone 0
        blocked 1
        "#,
    );
    drop(s.conns.remove(1));
    s.run(
        r#"
        blocked 0
        0: RPUSH gone g
        0: LRANGE gone 0 -1
        "#,
    );
}

#[test]
fn sorted_set_waiters() {
    let mut s = Scenario::new(4);
    s.run(
        r#"
        0: ZADD z 1 a 2 b 3 c 4 d 5 e
        1: BZPOPMIN z 0
        1: BZPOPMAX z 0
        1: BZPOPMIN nokey z 0
        1: BZMPOP 0 2 nokey z MIN COUNT 5
        1: EXISTS z
        0: SET str x
        1: BZPOPMIN nokey str 0
        1: BZMPOP 0 1 str MAX
        1: BZPOPMIN z -1
        1: BZPOPMIN z abc
        1: BZPOPMAX z 0.01
        1: BZMPOP 0.01 1 z MIN
        1: BZMPOP 0 0 z MIN
        1: BZMPOP 0 1 z MIDDLE
        1: BZMPOP 0 1 z MIN COUNT 0
        1: BZMPOP -1 1 z MIN
        1: BZMPOP x 1 z MIN
        1: BZMPOP 0 1 z MIN COUNT 1 COUNT 2
        1: BZPOPMIN z
        # Served by ZADD in blocking order; ZINCRBY creates too.
        1> BZPOPMIN z 0
        blocked 1
        2> BZPOPMAX z other 0
        blocked 2
        3> BZMPOP 0 2 other z MIN COUNT 2
        blocked 3
        0: ZADD z 5 e 1 a 3 c 2 b 4 d 0 zero
        1<
        2<
        3<
        0: ZRANGE z 0 -1 WITHSCORES
        0: DEL z
        1> BZPOPMAX z 0
        blocked 1
        0: ZINCRBY z 2.5 m
        1<
        # XX on a missing key adds nothing: the waiter stays.
        1> BZPOPMIN z 0
        blocked 1
        0: ZADD z XX 1 a
        0: ZADD z 1e300 big
        1<
        # A store command fills the key: served after it.
        0: ZADD src 1 x 2 y
        1> BZMPOP 0 1 dst MAX COUNT 10
        blocked 1
        0: ZUNIONSTORE dst 1 src WEIGHTS 2
        1<
        1> BZPOPMIN dst2 0
        blocked 1
        0: ZRANGESTORE dst2 src 0 0
        1<
        # A list waiter and a sorted set waiter on one key: each type
        # serves only its own.
        1> BLPOP mixed 0
        blocked 1
        2> BZPOPMIN mixed 0
        blocked 2
        0: ZADD mixed 1 m
        2<
        blocked 1
        0: RPUSH mixed2 x
        0: RENAME mixed2 mixed
        1<
        # RESP3: scores as doubles.
        1? HELLO 3
        0: ZADD r3 1.5 a 2 b inf c
        1: BZPOPMIN r3 0
        1: BZMPOP 0 1 r3 MAX COUNT 2
        1: BZPOPMAX r3 0.01
        1> BZPOPMAX r3 0
        blocked 1
        0: ZADD r3 -inf x
        1<
        "#,
    );
}

/// A blocked client's pipelined commands run after it is served, in order.
#[test]
fn pipelined_commands_after_a_blocked_one() {
    let mut s = Scenario::new(2);
    let (f, r) = &mut s.conns[1];
    let bytes = b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nLLEN\r\n$1\r\nq\r\n";
    f.send_raw(bytes);
    r.send_raw(bytes);
    s.run(
        r#"
        blocked 1
        0: RPUSH q 1 2
        1<
        1<
        1<
        "#,
    );
}

#[test]
fn blocked_client_is_listed_with_the_b_flag() {
    let server = common::Server::start();
    let mut c = server.raw();
    let mut admin = server.raw();
    c.send(&["BLPOP", "k", "0"]);
    let start = Instant::now();
    loop {
        let list = String::from_utf8_lossy(&admin.cmd(&["CLIENT", "LIST"])).to_string();
        if list
            .lines()
            .any(|l| l.contains("cmd=blpop") && l.contains("flags=b"))
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no flags=b in {list}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let info = String::from_utf8_lossy(&admin.cmd(&["INFO", "clients"])).to_string();
    assert!(info.contains("blocked_clients:1"), "{info}");
    assert!(info.contains("clients_in_timeout_table:0"), "{info}");
    admin.cmd(&["RPUSH", "k", "v"]);
    assert_eq!(
        fmt_reply(&c.read_reply()),
        fmt_reply(b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n")
    );
}

/// Concurrent ZINCRBY on shared keys from several clients gives exact
/// totals, while BZPOPMIN consumers take members of another key exactly
/// once.
#[test]
fn zincrby_totals_and_bzpopmin_consumers() {
    const CLIENTS: usize = 4;
    const ROUNDS: usize = 2_000;
    let server = common::Server::with_args(&["--threads", "4"]);
    let workers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let client = server.client();
            std::thread::spawn(move || {
                let mut con = client.get_connection().unwrap();
                for i in 0..ROUNDS {
                    let _: f64 = redis::cmd("ZINCRBY")
                        .arg("totals")
                        .arg(1)
                        .arg(format!("m{}", i % 10))
                        .query(&mut con)
                        .unwrap();
                    let _: i64 = redis::cmd("ZADD")
                        .arg("jobs")
                        .arg(i)
                        .arg(format!("{c}:{i}"))
                        .query(&mut con)
                        .unwrap();
                }
            })
        })
        .collect();
    let taken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let total = CLIENTS * ROUNDS;
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let client = server.client();
            let taken = taken.clone();
            std::thread::spawn(move || {
                let mut con = client.get_connection().unwrap();
                let mut got = Vec::new();
                while taken.load(std::sync::atomic::Ordering::SeqCst) < total {
                    let r: Option<(String, String, f64)> = redis::cmd("BZPOPMIN")
                        .arg("jobs")
                        .arg(0.2)
                        .query(&mut con)
                        .unwrap();
                    if let Some((_, m, _)) = r {
                        got.push(m);
                        taken.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                got
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut all = Vec::new();
    for c in consumers {
        all.extend(c.join().unwrap());
    }
    let mut con = server.conn();
    for m in 0..10 {
        let score: f64 = redis::cmd("ZSCORE")
            .arg("totals")
            .arg(format!("m{m}"))
            .query(&mut con)
            .unwrap();
        assert_eq!(score, (CLIENTS * ROUNDS / 10) as f64, "member m{m}");
    }
    assert_eq!(all.len(), total, "members lost or doubled");
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), total, "a member was popped twice");
}

/// P producers push while C consumers pop with BRPOP and BLMOVE on other
/// threads: every element is consumed exactly once.
#[test]
fn producer_consumer_queue_loses_and_doubles_nothing() {
    const PRODUCERS: usize = 4;
    const PER_PRODUCER: usize = 2_000;
    const CONSUMERS: usize = 4;
    let server = common::Server::with_args(&["--threads", "4"]);
    let total = PRODUCERS * PER_PRODUCER;
    let consumed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|i| {
            let client = server.client();
            let consumed = consumed.clone();
            std::thread::spawn(move || {
                let mut con = client.get_connection().unwrap();
                let mut got = Vec::new();
                while consumed.load(std::sync::atomic::Ordering::SeqCst) < total {
                    if i % 2 == 0 {
                        let r: Option<(String, String)> = redis::cmd("BRPOP")
                            .arg("queue")
                            .arg(0.2)
                            .query(&mut con)
                            .unwrap();
                        if let Some((_, v)) = r {
                            got.push(v);
                            consumed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    } else {
                        let r: Option<String> = redis::cmd("BLMOVE")
                            .arg("queue")
                            .arg(format!("done{i}"))
                            .arg("RIGHT")
                            .arg("LEFT")
                            .arg(0.2)
                            .query(&mut con)
                            .unwrap();
                        if r.is_some() {
                            consumed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                }
                got
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let client = server.client();
            std::thread::spawn(move || {
                let mut con = client.get_connection().unwrap();
                for i in 0..PER_PRODUCER {
                    let _: i64 = redis::cmd("LPUSH")
                        .arg("queue")
                        .arg(format!("{p}:{i}"))
                        .query(&mut con)
                        .unwrap();
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let mut all: Vec<String> = Vec::new();
    for c in consumers {
        all.extend(c.join().unwrap());
    }
    let mut con = server.conn();
    for i in (1..CONSUMERS).step_by(2) {
        let moved: Vec<String> = redis::cmd("LRANGE")
            .arg(format!("done{i}"))
            .arg(0)
            .arg(-1)
            .query(&mut con)
            .unwrap();
        all.extend(moved);
    }
    let left: i64 = redis::cmd("LLEN").arg("queue").query(&mut con).unwrap();
    assert_eq!(left, 0, "elements left in the queue");
    assert_eq!(all.len(), total, "elements lost or doubled");
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), total, "an element was consumed twice");
}
