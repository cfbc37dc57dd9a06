//! Scripts under concurrency, busy scripts, hostile scripts and the memory scripts leave
//! behind, on Ferrite alone (plus a differential check of hostile scripts' errors).
//!
//! * Atomicity, with 4 worker threads (more than this machine's cores, so scripts really
//!   interleave): a bank of 100 accounts moved between by scripts that read two balances and
//!   SET new ones only if the source has enough (EVAL, and EVALSHA after SCRIPT LOAD), racing
//!   MULTI/EXEC transfers on the same accounts, while readers sum every balance with MGET and
//!   with EVAL_RO/EVALSHA_RO (never a partial transfer, never a lost update); scripts whose
//!   keys are computed at run time (numkeys 0, so every key is try-latched: aborts and
//!   reruns) moving items between lists and units between counters and hash fields, checked by
//!   a script and by MULTI/EXEC readers and item by item at the end; scripts that run alone
//!   (KEYS, DBSIZE) racing INCR/MSET/SET writers (exact counts, pairs never split, DBSIZE
//!   constant inside the script); WATCH/MULTI/EXEC increments racing script increments on the
//!   same key (exact count).
//! * Busy scripts (`--busy-reply-threshold 200`), with 4 worker threads and with 1: a script
//!   looping while holding a key stalls only the clients that need that key (`-BUSY`), SCRIPT
//!   KILL ends it (the killed error), NOTBUSY without one; a busy script that runs alone
//!   stalls everyone, PING included, except SCRIPT KILL; a script that wrote is UNKILLABLE and
//!   SHUTDOWN NOSAVE stops the server; pcall, xpcall and coroutines cannot catch the kill.
//!   Redis's answers to EXEC and to a plain SHUTDOWN during a busy script (both checked
//!   against redis-server 7.0.15 by hand: `-EXECABORT Transaction discarded because of: BUSY
//!   ...` with the transaction discarded, and `-BUSY` for SHUTDOWN without NOSAVE).
//! * Hostile scripts: the 1 GiB Lua memory limit (`string.rep` of a gigabyte, an ever-growing
//!   table) answers an error and the server keeps its data and serves scripts; deep recursion,
//!   C stack overflow and a huge `unpack` answer exactly what redis-server answers.
//! * Memory: SCRIPT FLUSH gives back the memory of 1000 cached scripts (loaded, and run by
//!   EVAL); scripts that create and delete big values, and a script that hits the memory
//!   limit, give their memory back once later scripts have run (Lua collects garbage as
//!   scripts run, in Redis too). Same tolerance as `tests/memory.rs`.
//!
//! Every test is bounded: fixed counts and seeds, waits only for a state (a `-BUSY` reply,
//! SCRIPT KILL finding a script) with a deadline, never a sleep standing for a speed.

mod common;

use common::{encode_command, fmt_command, fmt_reply, Differential, RawConn, Reply, Server};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const BUSY: &[u8] =
    b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
const NOTBUSY: &[u8] = b"-NOTBUSY No scripts in execution right now.\r\n";
const UNKILLABLE: &[u8] = b"-UNKILLABLE Sorry the script already executed write commands \
against the dataset. You can either wait the script termination or kill the server in a hard \
way using the SHUTDOWN NOSAVE command.\r\n";
const KILLED: &[u8] = b"-ERR Script killed by user with SCRIPT KILL... script: ";
/// How long a test waits for a script to become busy, or to be found by SCRIPT KILL.
const STATE_DEADLINE: Duration = Duration::from_secs(10);

/// A step of a 64-bit LCG; returns the high bits.
fn next(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

fn int(raw: &[u8]) -> i64 {
    Reply::from_raw(raw)
        .as_int()
        .unwrap_or_else(|| panic!("expected an integer, got {}", fmt_reply(raw)))
}

fn num(r: &Reply) -> i64 {
    std::str::from_utf8(
        r.as_bytes()
            .unwrap_or_else(|| panic!("expected a bulk, got {r}")),
    )
    .unwrap()
    .parse()
    .unwrap_or_else(|e| panic!("{r}: {e}"))
}

fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{s}\r\n", s.len()).into_bytes()
}

/// `args` as owned strings, for commands built at run time.
fn strings<I: IntoIterator<Item = S>, S: Into<String>>(args: I) -> Vec<String> {
    args.into_iter().map(Into::into).collect()
}

/// SCRIPT LOAD `body`; returns the SHA.
fn load(c: &mut RawConn, body: &str) -> String {
    let r = c.cmd(&["SCRIPT", "LOAD", body]);
    String::from_utf8(common::bulk_bytes(&r)).unwrap()
}

/// Stops the readers and joins them when dropped, also when a writer panicked (so a failure
/// is reported instead of threads looping on).
struct Readers {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Readers {
    fn new() -> Readers {
        Readers {
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
        }
    }
    /// Starts a reader running `f` until stopped.
    fn spawn(&mut self, mut f: impl FnMut() + Send + 'static) {
        let stop = self.stop.clone();
        self.threads.push(thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                f();
            }
        }));
    }
    /// Stops and joins every reader, panicking if one did.
    fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            t.join().expect("a reader failed");
        }
    }
}

impl Drop for Readers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn join_all(threads: Vec<thread::JoinHandle<()>>) {
    for t in threads {
        t.join().expect("a client thread failed");
    }
}

// ---------------------------------------------------------------------------------------------
// 1. The bank, by scripts and transactions at once
// ---------------------------------------------------------------------------------------------

const ACCOUNTS: usize = 100;
const START: i64 = 100;

/// Moves ARGV[1] from KEYS[1] to KEYS[2] if KEYS[1] has that much: reads both balances and
/// SETs the new ones (a read-modify-write: any interleaving would lose an update).
const TRANSFER: &str = r#"
local amount = tonumber(ARGV[1])
local from = tonumber(redis.call('GET', KEYS[1]))
if from < amount then return 0 end
local to = tonumber(redis.call('GET', KEYS[2]))
redis.call('SET', KEYS[1], from - amount)
redis.call('SET', KEYS[2], to + amount)
return 1
"#;

/// The sum of the balances named by KEYS.
const SUM: &str = r#"
local sum = 0
for _, k in ipairs(KEYS) do sum = sum + tonumber(redis.call('GET', k)) end
return sum
"#;

fn account(i: usize) -> String {
    format!("acct:{i}")
}

/// Script transfers (EVAL or EVALSHA) and MULTI/EXEC transfers on the same 100 accounts, with
/// readers summing every balance with MGET and with a read-only script.
fn bank(by_sha: bool) {
    const SCRIPT_CLIENTS: u64 = 4;
    const TX_CLIENTS: u64 = 2;
    const EACH: usize = 2500;
    let total = START * ACCOUNTS as i64;
    let server = Server::with_args(&["--threads", "4"]);
    let port = server.port();
    let mut setup = server.raw();
    for i in 0..ACCOUNTS {
        assert_eq!(
            setup.cmd(&["SET", &account(i), &START.to_string()]),
            b"+OK\r\n"
        );
    }
    let transfer_sha = load(&mut setup, TRANSFER);
    let sum_sha = load(&mut setup, SUM);
    let keys: Vec<String> = (0..ACCOUNTS).map(account).collect();

    let mut readers = Readers::new();
    let reads = Arc::new(AtomicU64::new(0));
    for r in 0..3 {
        let mut c = RawConn::connect_port(port);
        let reads = reads.clone();
        let cmd: Vec<String> = match r {
            0 => strings(["MGET"]).into_iter().chain(keys.clone()).collect(),
            _ if by_sha => strings(["EVALSHA_RO", &sum_sha, "100"])
                .into_iter()
                .chain(keys.clone())
                .collect(),
            _ => strings(["EVAL_RO", SUM, "100"])
                .into_iter()
                .chain(keys.clone())
                .collect(),
        };
        readers.spawn(move || {
            let reply = c.cmd(&cmd);
            let sum = match Reply::from_raw(&reply) {
                Reply::Integer(n) => n,
                Reply::Array(items) => items.iter().map(num).sum(),
                _ => panic!("{}: {}", cmd[0], fmt_reply(&reply)),
            };
            assert_eq!(sum, total, "{} saw a partial transfer", cmd[0]);
            reads.fetch_add(1, Ordering::Relaxed);
        });
    }

    let moved = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for w in 0..SCRIPT_CLIENTS + TX_CLIENTS {
        let (moved, refused) = (moved.clone(), refused.clone());
        let transfer_sha = transfer_sha.clone();
        writers.push(thread::spawn(move || {
            let mut c = RawConn::connect_port(port);
            let mut seed = w * 7919 + 17;
            for _ in 0..EACH {
                let from = next(&mut seed) as usize % ACCOUNTS;
                let to = (from + 1 + next(&mut seed) as usize % (ACCOUNTS - 1)) % ACCOUNTS;
                let amount = (next(&mut seed) % 100 + 1).to_string();
                let (from, to) = (account(from), account(to));
                if w < SCRIPT_CLIENTS {
                    let r = if by_sha {
                        c.cmd(&["EVALSHA", &transfer_sha, "2", &from, &to, &amount])
                    } else {
                        c.cmd(&["EVAL", TRANSFER, "2", &from, &to, &amount])
                    };
                    match int(&r) {
                        1 => moved.fetch_add(1, Ordering::Relaxed),
                        0 => refused.fetch_add(1, Ordering::Relaxed),
                        n => panic!("transfer script returned {n}"),
                    };
                } else {
                    // Pipelined: the transaction arrives in one batch or several.
                    let mut pipe = encode_command(&["MULTI"]);
                    pipe.extend(encode_command(&["DECRBY", &from, &amount]));
                    pipe.extend(encode_command(&["INCRBY", &to, &amount]));
                    pipe.extend(encode_command(&["EXEC"]));
                    c.send_raw(&pipe);
                    for _ in 0..3 {
                        c.read_reply();
                    }
                    let exec = c.read_reply();
                    assert!(exec.starts_with(b"*2\r\n:"), "EXEC: {}", fmt_reply(&exec));
                }
            }
        }));
    }
    join_all(writers);
    readers.finish();
    assert!(reads.load(Ordering::Relaxed) > 0);
    let (moved, refused) = (
        moved.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
    );
    eprintln!("script transfers: {moved} moved, {refused} refused for lack of funds");
    assert!(moved > 0 && refused > 0, "both branches of the script ran");
    let mget: Vec<String> = strings(["MGET"]).into_iter().chain(keys).collect();
    let final_sum: i64 = Reply::from_raw(&setup.cmd(&mget))
        .as_array()
        .unwrap()
        .iter()
        .map(num)
        .sum();
    assert_eq!(final_sum, total);
}

#[test]
fn bank_transfers_by_eval_and_multi_are_atomic() {
    bank(false);
}

#[test]
fn bank_transfers_by_evalsha_and_multi_are_atomic() {
    bank(true);
}

// ---------------------------------------------------------------------------------------------
// 2. Keys a script computes at run time
// ---------------------------------------------------------------------------------------------

const LISTS: usize = 4;
const ITEMS: usize = 200;
const COUNTERS: usize = 8;
const HASHES: usize = 4;
const FIELDS: usize = 3;

/// Moves one item from list q:ARGV[1] to q:ARGV[2]; neither key is declared.
const MOVE_ITEM: &str = r#"
local src = 'q:' .. ARGV[1]
local dst = 'q:' .. ARGV[2]
local v = redis.call('RPOP', src)
if v then redis.call('LPUSH', dst, v) end
return v
"#;

/// Moves one unit from counter c:ARGV[1] to c:ARGV[2] (GET then SET) and, if field ARGV[3] of
/// hash h:ARGV[4] is positive, one unit of it to the same field of h:ARGV[5] (HGET then
/// HSET). Nothing is declared.
const MOVE_UNITS: &str = r#"
local a = 'c:' .. ARGV[1]
local b = 'c:' .. ARGV[2]
local x = tonumber(redis.call('GET', a))
local y = tonumber(redis.call('GET', b))
redis.call('SET', a, x - 1)
redis.call('SET', b, y + 1)
local f = ARGV[3]
local h1 = 'h:' .. ARGV[4]
local h2 = 'h:' .. ARGV[5]
local u = tonumber(redis.call('HGET', h1, f))
if u > 0 then
  redis.call('HSET', h1, f, u - 1)
  redis.call('HSET', h2, f, tonumber(redis.call('HGET', h2, f)) + 1)
end
return u
"#;

/// Counts, with no declared key: items in all lists, the counters' sum, the hash fields' sum.
const COUNT_ALL: &str = r#"
local n = 0
for i = 0, tonumber(ARGV[1]) - 1 do n = n + redis.call('LLEN', 'q:' .. i) end
local c = 0
for i = 0, tonumber(ARGV[2]) - 1 do c = c + tonumber(redis.call('GET', 'c:' .. i)) end
local h = 0
for i = 0, tonumber(ARGV[3]) - 1 do
  for _, v in ipairs(redis.call('HVALS', 'h:' .. i)) do h = h + tonumber(v) end
end
return {n, c, h}
"#;

/// Scripts with numkeys 0 (every key try-latched when first touched, the run aborted and
/// rerun when another client holds it, alone after three rounds) moving items between lists
/// and units between counters and hash fields, from several clients at once, while readers
/// count everything with a script and with MULTI/EXEC: the totals never change, and at the
/// end every item is in exactly one list, once.
#[test]
fn scripts_with_undeclared_keys_are_atomic() {
    const MOVERS: u64 = 4;
    const EACH: usize = 2500;
    let counter_total = 100 * COUNTERS as i64;
    let hash_total = 50 * (HASHES * FIELDS) as i64;
    let server = Server::with_args(&["--threads", "4"]);
    let port = server.port();
    let mut setup = server.raw();
    for chunk in (0..ITEMS).collect::<Vec<_>>().chunks(50) {
        let mut cmd = strings(["RPUSH", "q:0"]);
        cmd.extend(chunk.iter().map(|i| format!("item{i}")));
        setup.cmd(&cmd);
    }
    for i in 0..COUNTERS {
        setup.cmd(&["SET", &format!("c:{i}"), "100"]);
    }
    for i in 0..HASHES {
        for f in 0..FIELDS {
            setup.cmd(&["HSET", &format!("h:{i}"), &format!("f{f}"), "50"]);
        }
    }
    let (lists, counters, hashes) = (LISTS.to_string(), COUNTERS.to_string(), HASHES.to_string());
    let expected = format!("*3\r\n:{ITEMS}\r\n:{counter_total}\r\n:{hash_total}\r\n");
    assert_eq!(
        fmt_reply(&setup.cmd(&["EVAL", COUNT_ALL, "0", &lists, &counters, &hashes])),
        fmt_reply(expected.as_bytes())
    );

    let mut readers = Readers::new();
    let reads = Arc::new(AtomicU64::new(0));
    {
        let mut c = RawConn::connect_port(port);
        let (reads, expected) = (reads.clone(), expected.clone());
        let cmd = strings(["EVAL", COUNT_ALL, "0", &lists, &counters, &hashes]);
        readers.spawn(move || {
            let r = c.cmd(&cmd);
            assert_eq!(
                fmt_reply(&r),
                fmt_reply(expected.as_bytes()),
                "a script saw half a move"
            );
            reads.fetch_add(1, Ordering::Relaxed);
        });
    }
    {
        let mut c = RawConn::connect_port(port);
        let reads = reads.clone();
        let mut pipe = encode_command(&["MULTI"]);
        for i in 0..LISTS {
            pipe.extend(encode_command(&["LLEN", &format!("q:{i}")]));
        }
        let mut mget = strings(["MGET"]);
        mget.extend((0..COUNTERS).map(|i| format!("c:{i}")));
        pipe.extend(encode_command(&mget));
        pipe.extend(encode_command(&["EXEC"]));
        readers.spawn(move || {
            c.send_raw(&pipe);
            for _ in 0..LISTS + 2 {
                c.read_reply();
            }
            let exec = Reply::from_raw(&c.read_reply());
            let items = exec.as_array().unwrap_or_else(|| panic!("EXEC: {exec}"));
            let n: i64 = items[..LISTS].iter().map(|r| r.as_int().unwrap()).sum();
            let c: i64 = items[LISTS].as_array().unwrap().iter().map(num).sum();
            assert_eq!(
                (n, c),
                (ITEMS as i64, counter_total),
                "EXEC saw half a move: {exec}"
            );
            reads.fetch_add(1, Ordering::Relaxed);
        });
    }

    let moved = Arc::new(AtomicU64::new(0));
    let mut movers = Vec::new();
    for m in 0..MOVERS {
        let moved = moved.clone();
        movers.push(thread::spawn(move || {
            let mut c = RawConn::connect_port(port);
            let mut seed = m * 104_729 + 3;
            for i in 0..EACH {
                if i % 2 == 0 {
                    let src = next(&mut seed) as usize % LISTS;
                    let dst = (src + 1 + next(&mut seed) as usize % (LISTS - 1)) % LISTS;
                    let r = c.cmd(&["EVAL", MOVE_ITEM, "0", &src.to_string(), &dst.to_string()]);
                    assert!(r.starts_with(b"$"), "MOVE_ITEM: {}", fmt_reply(&r));
                    if r != b"$-1\r\n" {
                        moved.fetch_add(1, Ordering::Relaxed);
                    }
                } else {
                    let a = next(&mut seed) as usize % COUNTERS;
                    let b = (a + 1 + next(&mut seed) as usize % (COUNTERS - 1)) % COUNTERS;
                    let f = next(&mut seed) as usize % FIELDS;
                    let h1 = next(&mut seed) as usize % HASHES;
                    let h2 = (h1 + 1 + next(&mut seed) as usize % (HASHES - 1)) % HASHES;
                    let r = c.cmd(&[
                        "EVAL",
                        MOVE_UNITS,
                        "0",
                        &a.to_string(),
                        &b.to_string(),
                        &format!("f{f}"),
                        &h1.to_string(),
                        &h2.to_string(),
                    ]);
                    assert!(r.starts_with(b":"), "MOVE_UNITS: {}", fmt_reply(&r));
                }
            }
        }));
    }
    join_all(movers);
    readers.finish();
    assert!(reads.load(Ordering::Relaxed) > 0);
    eprintln!("items moved: {}", moved.load(Ordering::Relaxed));
    assert_eq!(
        fmt_reply(&setup.cmd(&["EVAL", COUNT_ALL, "0", &lists, &counters, &hashes])),
        fmt_reply(expected.as_bytes())
    );
    let mut seen = vec![0u32; ITEMS];
    for i in 0..LISTS {
        let r = Reply::from_raw(&setup.cmd(&["LRANGE", &format!("q:{i}"), "0", "-1"]));
        for item in r.as_array().unwrap() {
            let name = std::str::from_utf8(item.as_bytes().unwrap()).unwrap();
            let n: usize = name.strip_prefix("item").unwrap().parse().unwrap();
            seen[n] += 1;
        }
    }
    let wrong: Vec<(usize, u32)> = seen
        .iter()
        .enumerate()
        .filter(|(_, &n)| n != 1)
        .map(|(i, &n)| (i, n))
        .collect();
    assert!(
        wrong.is_empty(),
        "items not present exactly once (item, count): {wrong:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Scripts that run alone
// ---------------------------------------------------------------------------------------------

/// Runs alone (KEYS and DBSIZE are whole-database commands): checks that no writer's pair is
/// split and that DBSIZE does not change while it runs, then increments every counter KEYS
/// finds. Returns how many it incremented.
const ALONE: &str = r#"
local before = redis.call('DBSIZE')
for w = 0, tonumber(ARGV[1]) - 1 do
  local v = redis.call('MGET', 'pa:' .. w, 'pb:' .. w)
  if v[1] ~= v[2] then return redis.error_reply('split pair ' .. w) end
end
local ks = redis.call('KEYS', 'cnt:*')
for _, k in ipairs(ks) do redis.call('INCR', k) end
for i = 1, 20000 do end
if redis.call('DBSIZE') ~= before then return redis.error_reply('DBSIZE changed') end
return #ks
"#;

/// Scripts that run alone (from two clients, by EVAL and EVALSHA) racing clients that INCR
/// their own counter, MSET a pair and SET a new key: every increment of both kinds lands
/// exactly once, and no script sees a split pair or a key created while it runs.
#[test]
fn scripts_that_run_alone_race_ordinary_writers() {
    const WRITERS: usize = 3;
    const EACH: usize = 1500;
    let server = Server::with_args(&["--threads", "4"]);
    let port = server.port();
    let mut setup = server.raw();
    for w in 0..WRITERS {
        setup.cmd(&["SET", &format!("cnt:{w}"), "0"]);
    }
    let sha = load(&mut setup, ALONE);
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            thread::spawn(move || {
                let mut c = RawConn::connect_port(port);
                for i in 0..EACH {
                    let v = format!("{w}:{i}");
                    let mut pipe = encode_command(&["INCR", &format!("cnt:{w}")]);
                    pipe.extend(encode_command(&[
                        "MSET",
                        &format!("pa:{w}"),
                        &v,
                        &format!("pb:{w}"),
                        &v,
                    ]));
                    pipe.extend(encode_command(&["SET", &format!("new:{w}:{i}"), "1"]));
                    c.send_raw(&pipe);
                    // The scripts increment the counter too.
                    assert!(int(&c.read_reply()) > i as i64);
                    assert_eq!(c.read_reply(), b"+OK\r\n");
                    assert_eq!(c.read_reply(), b"+OK\r\n");
                }
            })
        })
        .collect();
    let runs = Arc::new(AtomicU64::new(0));
    let scripts: Vec<_> = (0..2)
        .map(|s| {
            let (done, runs, sha) = (done.clone(), runs.clone(), sha.clone());
            thread::spawn(move || {
                let mut c = RawConn::connect_port(port);
                let writers = WRITERS.to_string();
                let mut n = 0;
                // At least 20 runs each, and on until the writers are done.
                while n < 20 || !done.load(Ordering::Relaxed) {
                    let r = if s == 0 {
                        c.cmd(&["EVAL", ALONE, "0", &writers])
                    } else {
                        c.cmd(&["EVALSHA", &sha, "0", &writers])
                    };
                    assert_eq!(r, format!(":{WRITERS}\r\n").as_bytes(), "{}", fmt_reply(&r));
                    runs.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            })
        })
        .collect();
    join_all(writers);
    done.store(true, Ordering::Relaxed);
    join_all(scripts);
    let runs = runs.load(Ordering::Relaxed);
    eprintln!("alone script runs: {runs}");
    for w in 0..WRITERS {
        let r = setup.cmd(&["GET", &format!("cnt:{w}")]);
        assert_eq!(
            fmt_reply(&r),
            fmt_reply(&bulk(&(EACH as u64 + runs).to_string())),
            "cnt:{w}: {EACH} INCRs plus one per script run ({runs})"
        );
    }
    assert_eq!(int(&setup.cmd(&["DBSIZE"])), (WRITERS * (EACH + 3)) as i64);
}

// ---------------------------------------------------------------------------------------------
// 4. WATCH and scripts
// ---------------------------------------------------------------------------------------------

/// GET then SET of KEYS[1] (declared), or of ARGV[1] (not declared, with numkeys 0).
const SCRIPT_INCR: &str = r#"
local k = KEYS[1] or ARGV[1]
local v = tonumber(redis.call('GET', k) or '0')
redis.call('SET', k, v + 1)
return v + 1
"#;

/// Optimistic increments (WATCH, GET, MULTI, SET value+1, EXEC, retried on nil) from some
/// clients, read-modify-write scripts (declared key, undeclared key, EVALSHA) from others,
/// all on one counter: every increment lands exactly once, and a script's write aborts a
/// WATCH like any other.
#[test]
fn watch_and_scripts_increment_exactly() {
    const WATCHERS: usize = 3;
    const SCRIPTERS: usize = 3;
    const EACH: usize = 300;
    let server = Server::with_args(&["--threads", "4"]);
    let port = server.port();
    let sha = load(&mut server.raw(), SCRIPT_INCR);
    let aborts = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for w in 0..WATCHERS {
        let aborts = aborts.clone();
        threads.push(thread::spawn(move || {
            let mut c = RawConn::connect_port(port);
            for _ in 0..EACH {
                loop {
                    assert_eq!(c.cmd(&["WATCH", "counter"]), b"+OK\r\n");
                    let cur = Reply::from_raw(&c.cmd(&["GET", "counter"]));
                    let n: u64 = cur
                        .as_bytes()
                        .map_or(0, |b| std::str::from_utf8(b).unwrap().parse().unwrap());
                    // The second watcher pipelines its transaction.
                    let exec = if w == 1 {
                        let mut pipe = encode_command(&["MULTI"]);
                        pipe.extend(encode_command(&["SET", "counter", &(n + 1).to_string()]));
                        pipe.extend(encode_command(&["EXEC"]));
                        c.send_raw(&pipe);
                        c.read_reply();
                        c.read_reply();
                        c.read_reply()
                    } else {
                        c.cmd(&["MULTI"]);
                        c.cmd(&["SET", "counter", &(n + 1).to_string()]);
                        c.cmd(&["EXEC"])
                    };
                    if exec == b"*1\r\n+OK\r\n" {
                        break;
                    }
                    assert_eq!(exec, b"*-1\r\n", "EXEC: {}", fmt_reply(&exec));
                    aborts.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for s in 0..SCRIPTERS {
        let sha = sha.clone();
        threads.push(thread::spawn(move || {
            let mut c = RawConn::connect_port(port);
            for _ in 0..EACH {
                let r = match s {
                    0 => c.cmd(&["EVAL", SCRIPT_INCR, "1", "counter"]),
                    1 => c.cmd(&["EVAL", SCRIPT_INCR, "0", "counter"]),
                    _ => c.cmd(&["EVALSHA", &sha, "1", "counter"]),
                };
                assert!(r.starts_with(b":"), "script: {}", fmt_reply(&r));
            }
        }));
    }
    join_all(threads);
    let total = ((WATCHERS + SCRIPTERS) * EACH).to_string();
    assert_eq!(
        fmt_reply(&server.raw().cmd(&["GET", "counter"])),
        fmt_reply(&bulk(&total))
    );
    eprintln!("WATCH aborts: {}", aborts.load(Ordering::Relaxed));
}

// ---------------------------------------------------------------------------------------------
// 5. Busy scripts
// ---------------------------------------------------------------------------------------------

fn busy_server(threads: &str) -> Server {
    Server::with_args(&["--threads", threads, "--busy-reply-threshold", "200"])
}

/// Sends `args` until the reply is `-BUSY` (a script another client runs is past its
/// threshold), at most [`STATE_DEADLINE`]; any other reply must be `before`.
fn until_busy(c: &mut RawConn, args: &[&str], before: &[u8]) {
    let deadline = Instant::now() + STATE_DEADLINE;
    loop {
        let r = c.cmd(args);
        if r == BUSY {
            return;
        }
        assert_eq!(
            fmt_reply(&r),
            fmt_reply(before),
            "{} before the script is busy",
            fmt_command(args)
        );
        assert!(
            Instant::now() < deadline,
            "{} never answered -BUSY within {STATE_DEADLINE:?}",
            fmt_command(args)
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Sends SCRIPT KILL until it finds a busy script (not NOTBUSY), at most [`STATE_DEADLINE`];
/// returns that reply.
fn kill_when_busy(c: &mut RawConn) -> Vec<u8> {
    let deadline = Instant::now() + STATE_DEADLINE;
    loop {
        let r = c.cmd(&["SCRIPT", "KILL"]);
        if r != NOTBUSY {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "SCRIPT KILL found no busy script within {STATE_DEADLINE:?}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// The reply of a killed script: Redis's text with the script's SHA and line.
fn assert_killed(reply: &[u8]) {
    assert!(
        reply.starts_with(KILLED) && reply.ends_with(b", on @user_script:1.\r\n"),
        "the killed script's client: {}",
        fmt_reply(reply)
    );
}

/// A script looping while it holds `hot` stalls only the clients that need `hot`: they get
/// `-BUSY` once it is past the threshold; other keys, other scripts and PING are served;
/// SCRIPT KILL ends it and `hot` is served again, unchanged.
fn busy_script_stalls_only_its_keys(threads: &str) {
    let server = busy_server(threads);
    let mut other = server.raw();
    let mut killer = server.raw();
    assert_eq!(killer.cmd(&["SCRIPT", "KILL"]), NOTBUSY);
    assert_eq!(other.cmd(&["SET", "hot", "v"]), b"+OK\r\n");
    let mut script = server.raw();
    let started = Instant::now();
    script.send(&[
        "EVAL",
        "redis.call('GET', KEYS[1]) while true do end",
        "1",
        "hot",
    ]);
    until_busy(&mut other, &["GET", "hot"], &bulk("v"));
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "-BUSY before busy-reply-threshold: {:?}",
        started.elapsed()
    );
    assert_eq!(other.cmd(&["SET", "hot", "w"]), BUSY);
    assert_eq!(other.cmd(&["MGET", "cold", "hot"]), BUSY);
    assert_eq!(other.cmd(&["SET", "cold", "1"]), b"+OK\r\n");
    assert_eq!(other.cmd(&["GET", "cold"]), bulk("1"));
    assert_eq!(other.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(
        other.cmd(&["EVAL", "return redis.call('INCR', KEYS[1])", "1", "cold"]),
        b":2\r\n"
    );
    // A new connection is served too.
    assert_eq!(server.raw().cmd(&["GET", "cold"]), bulk("2"));
    assert_eq!(killer.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
    assert_killed(&script.read_reply());
    assert_eq!(other.cmd(&["GET", "hot"]), bulk("v"));
    assert_eq!(killer.cmd(&["SCRIPT", "KILL"]), NOTBUSY);
    // The script's connection and the killed state's thread serve scripts again.
    assert_eq!(
        script.cmd(&["EVAL", "return redis.call('GET', KEYS[1])", "1", "hot"]),
        bulk("v")
    );
}

#[test]
fn busy_script_stalls_only_its_keys_four_threads() {
    busy_script_stalls_only_its_keys("4");
}

#[test]
fn busy_script_stalls_only_its_keys_one_thread() {
    busy_script_stalls_only_its_keys("1");
}

/// A busy script that runs alone (it called KEYS) stalls every other client, on any key and
/// PING too (PING has no allow-busy flag: redis-server answers -BUSY as well), until SCRIPT
/// KILL, which is served, ends it.
fn busy_alone_script_stalls_everyone(threads: &str) {
    let server = busy_server(threads);
    let mut other = server.raw();
    let mut killer = server.raw();
    assert_eq!(other.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    let mut script = server.raw();
    script.send(&["EVAL", "redis.call('KEYS', '*') while true do end", "0"]);
    until_busy(&mut other, &["GET", "elsewhere"], b"$-1\r\n");
    for cmd in [
        &["GET", "k"][..],
        &["SET", "x", "1"],
        &["PING"],
        &["ECHO", "hi"],
        &["DBSIZE"],
        &["EVAL", "return 1", "0"],
        &["SCRIPT", "EXISTS", "abc"],
    ] {
        assert_eq!(
            fmt_reply(&other.cmd(cmd)),
            fmt_reply(BUSY),
            "{} during a busy script running alone",
            fmt_command(cmd)
        );
    }
    assert_eq!(server.raw().cmd(&["PING"]), BUSY, "a new connection");
    assert_eq!(killer.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
    assert_killed(&script.read_reply());
    assert_eq!(other.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(other.cmd(&["GET", "k"]), bulk("v"));
    assert_eq!(other.cmd(&["EXISTS", "x"]), b":0\r\n");
    assert_eq!(killer.cmd(&["SCRIPT", "KILL"]), NOTBUSY);
    assert_eq!(
        script.cmd(&["EVAL", "return #redis.call('KEYS', '*')", "0"]),
        b":1\r\n"
    );
}

#[test]
fn busy_alone_script_stalls_everyone_four_threads() {
    busy_alone_script_stalls_everyone("4");
}

#[test]
fn busy_alone_script_stalls_everyone_one_thread() {
    busy_alone_script_stalls_everyone("1");
}

/// A busy script that wrote cannot be killed (UNKILLABLE, every time); SHUTDOWN NOSAVE stops
/// the server anyway: the process exits and every connection is closed.
#[test]
fn unkillable_script_and_shutdown_nosave() {
    let mut server = busy_server("4");
    let mut other = server.raw();
    let mut killer = server.raw();
    let mut script = server.raw();
    script.send(&[
        "EVAL",
        "redis.call('SET', KEYS[1], 'written') while true do end",
        "1",
        "w",
    ]);
    until_busy(&mut other, &["GET", "w"], b"$-1\r\n");
    assert_eq!(killer.cmd(&["SCRIPT", "KILL"]), UNKILLABLE);
    assert_eq!(killer.cmd(&["SCRIPT", "KILL"]), UNKILLABLE);
    assert_eq!(other.cmd(&["SET", "cold", "1"]), b"+OK\r\n");
    killer.send(&["SHUTDOWN", "NOSAVE"]);
    let status = server.wait_exit(Duration::from_secs(5));
    assert!(
        status.is_some(),
        "SHUTDOWN NOSAVE did not stop the server within 5 s"
    );
    assert!(
        killer.closed_within(Duration::from_secs(5)),
        "SHUTDOWN's client closed"
    );
    assert!(
        script.closed_within(Duration::from_secs(5)),
        "the script's client closed"
    );
}

/// Redis refuses a SHUTDOWN without NOSAVE while a script is busy (`-BUSY`, checked on
/// redis-server 7.0.15, for a script holding keys and for one running alone): only SHUTDOWN
/// NOSAVE may stop the server then.
#[test]
fn plain_shutdown_is_refused_while_a_script_is_busy() {
    let mut server = busy_server("4");
    let mut other = server.raw();
    let mut killer = server.raw();
    for (body, probe) in [
        ("redis.call('GET', KEYS[1]) while true do end", "hot"),
        ("redis.call('KEYS', '*') while true do end", "any"),
    ] {
        let mut script = server.raw();
        let numkeys = if body.contains("KEYS[1]") { "1" } else { "0" };
        let mut cmd = vec!["EVAL", body, numkeys];
        if numkeys == "1" {
            cmd.push("hot");
        }
        script.send(&cmd);
        until_busy(&mut other, &["GET", probe], b"$-1\r\n");
        killer.send(&["SHUTDOWN"]);
        match killer.try_read_reply(Duration::from_secs(10)) {
            Ok(r) => assert_eq!(
                fmt_reply(&r),
                fmt_reply(BUSY),
                "SHUTDOWN during a busy script"
            ),
            Err(e) => {
                let exited = server.wait_exit(Duration::from_secs(5)).is_some();
                panic!(
                    "SHUTDOWN without NOSAVE during a busy script ({body}): no reply ({e}); \
                     the server exited: {exited}; redis-server answers -BUSY and goes on"
                );
            }
        }
        assert!(server.is_running());
        assert_eq!(killer.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
        assert_killed(&script.read_reply());
    }
    assert_eq!(other.cmd(&["PING"]), b"+PONG\r\n");
}

/// EXEC rejected because a script is busy: redis-server 7.0.15 answers `-EXECABORT
/// Transaction discarded because of: BUSY ...` and discards the transaction (the client is
/// out of MULTI). Checked for a transaction needing the busy script's key and for a busy
/// script running alone.
#[test]
fn exec_during_a_busy_script_is_aborted_as_in_redis() {
    let server = busy_server("4");
    let mut other = server.raw();
    let mut killer = server.raw();
    let execabort = b"-EXECABORT Transaction discarded because of: BUSY Redis is busy running \
a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
    for alone in [false, true] {
        let mut script = server.raw();
        if alone {
            script.send(&["EVAL", "redis.call('KEYS', '*') while true do end", "0"]);
        } else {
            script.send(&[
                "EVAL",
                "redis.call('GET', KEYS[1]) while true do end",
                "1",
                "hot",
            ]);
        }
        until_busy(&mut other, &["GET", "hot"], b"$-1\r\n");
        assert_eq!(
            other.cmd(&["MULTI"]),
            b"+OK\r\n",
            "MULTI is allowed while busy"
        );
        let queued = other.cmd(&["GET", "hot"]);
        let expected: &[u8] = if alone { BUSY } else { b"+QUEUED\r\n" };
        assert_eq!(
            fmt_reply(&queued),
            fmt_reply(expected),
            "GET hot inside MULTI (alone: {alone})"
        );
        assert_eq!(
            fmt_reply(&other.cmd(&["EXEC"])),
            fmt_reply(execabort),
            "EXEC during a busy script (alone: {alone})"
        );
        assert_eq!(killer.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
        assert_killed(&script.read_reply());
        assert_eq!(
            fmt_reply(&other.cmd(&["SET", "after", "1"])),
            fmt_reply(b"+OK\r\n"),
            "the transaction was discarded (alone: {alone})"
        );
        assert_eq!(
            fmt_reply(&other.cmd(&["EXEC"])),
            fmt_reply(b"-ERR EXEC without MULTI\r\n")
        );
    }
}

/// A script that catches SCRIPT KILL's error (pcall in a loop, xpcall, pcall of redis.call,
/// a coroutine) dies all the same, on 4 worker threads and on 1.
#[test]
fn scripts_cannot_catch_script_kill() {
    for threads in ["4", "1"] {
        let server = busy_server(threads);
        let mut killer = server.raw();
        let mut bodies = vec![
            "while true do pcall(function() while true do end end) end",
            "while true do xpcall(function() while true do end end, function(e) return e end) end",
            "while true do pcall(redis.call, 'GET', 'x') end",
        ];
        if threads == "4" {
            // Each new coroutine is killed by its own instruction hook, the loop by the main
            // thread's, 100,000 of its instructions later: about 3 s here, as in redis-server.
            bodies.push(
                "while true do local co = coroutine.create(function() while true do end end) \
                 coroutine.resume(co) end",
            );
        }
        for body in bodies {
            let mut script = server.raw();
            script.send(&["EVAL", body, "0"]);
            assert_eq!(kill_when_busy(&mut killer), b"+OK\r\n", "{body}");
            assert_killed(&script.read_reply());
            assert_eq!(killer.cmd(&["SCRIPT", "KILL"]), NOTBUSY);
            assert_eq!(script.cmd(&["PING"]), b"+PONG\r\n");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Hostile scripts
// ---------------------------------------------------------------------------------------------

/// Fills a Lua state with a table that would grow to 16 GB.
const FILL: &str = "local t = {} for i = 1, 1e9 do t[i] = i end return #t";

/// Scripts that exhaust the Lua state's memory limit (`string.rep` of a gigabyte, a table
/// growing without end) answer an error (`-ERR ...` mentioning memory: Ferrite's limit is its
/// own, Redis has none) instead of crashing the server, which keeps its data and goes on
/// running scripts in the same states; a script may catch the memory error with pcall, twice,
/// and go on.
#[test]
fn hostile_scripts_hit_the_memory_limit_cleanly() {
    let server = Server::with_args(&["--threads", "2"]);
    let mut c = server.raw();
    assert_eq!(c.cmd(&["SET", "canary", "alive"]), b"+OK\r\n");
    for body in ["return string.rep('x', 2^30)", FILL] {
        let r = c.cmd(&["EVAL", body, "0"]);
        let text = String::from_utf8_lossy(&r);
        assert!(
            text.starts_with("-ERR") && text.contains("memory"),
            "{body}: expected a memory error, got {}",
            fmt_reply(&r)
        );
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n", "after {body}");
        assert_eq!(c.cmd(&["GET", "canary"]), bulk("alive"), "after {body}");
        assert_eq!(
            c.cmd(&["EVAL", "return redis.call('GET', KEYS[1])", "1", "canary"]),
            bulk("alive")
        );
    }
    let caught = format!(
        "local a = pcall(function() {FILL} end) local b = pcall(function() {FILL} end) \
         return {{tostring(a), tostring(b), 'survived'}}"
    );
    assert_eq!(
        fmt_reply(&c.cmd(&["EVAL", &caught, "0"])),
        fmt_reply(b"*3\r\n$5\r\nfalse\r\n$5\r\nfalse\r\n$8\r\nsurvived\r\n")
    );
    // Other connections (perhaps on the other worker thread) are served normally.
    let mut d = server.raw();
    assert_eq!(
        d.cmd(&["EVAL", "return ARGV[1] .. KEYS[1]", "1", "k", "a"]),
        bulk("ak")
    );
    assert_eq!(c.cmd(&["DBSIZE"]), b":1\r\n");
}

/// Recursion, C stack overflow, a huge `unpack`, and the other limits Lua enforces itself:
/// the same reply as redis-server, byte for byte; the server still serves scripts after them.
/// (`string.rep('x', 2^31)` is no memory error in either: the count overflows a C int and the
/// result is empty.)
#[test]
fn diff_hostile_script_errors() {
    let mut d = Differential::new();
    for body in [
        "local function f() return f() + 1 end return f()",
        "local f f = function(n) if n == 0 then return 0 end return 1 + f(n - 1) end \
         return f(1000000)",
        "local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x",
        "local function f() return pcall(f) end return f()",
        "return unpack({}, 1, 1e8)",
        "return select('#', unpack({}, 1, 7000))",
        "return #table.concat({}, ',', 1, 1e8)",
        "return string.format('%99999d', 1)",
        "return string.rep('x', 2^31)",
        "return #string.rep('x', 2^31)",
        "local s = 'return 1' for i = 1, 300 do s = '(' .. s .. ')' end return loadstring(s)",
        "return 'still fine'",
    ] {
        d.check(&["EVAL", body, "0"]);
    }
    d.check(&["PING"]);
    // Coroutines nested until the C stack overflows: Ferrite enters the script a C call or two
    // deeper than Redis, so the error repeats the position a few times less; only its form
    // is checked.
    let r = d.ferrite.cmd(&[
        "EVAL",
        "local function f() return coroutine.wrap(f)() end return f()",
        "0",
    ]);
    let text = String::from_utf8_lossy(&r);
    assert!(
        text.starts_with("-ERR user_script:1: user_script:1: ")
            && text.contains(": C stack overflow script: "),
        "{}",
        fmt_reply(&r)
    );
    assert_eq!(d.ferrite.cmd(&["EVAL", "return 'fine'", "0"]), bulk("fine"));
}

// ---------------------------------------------------------------------------------------------
// 7. Memory
// ---------------------------------------------------------------------------------------------

const MB: u64 = 1 << 20;
/// How far above its baseline `used_memory` may end (as in `tests/memory.rs`).
const BOUND: u64 = 4 * MB;
/// Upper limit of `ferrite_reclaim_pending` once memory has settled.
const PENDING_LIMIT: u64 = MB;
/// Longest wait for deferred frees to be carried out.
const SETTLE: Duration = Duration::from_secs(5);

fn info_field(info: &str, name: &str) -> Option<u64> {
    info.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(':')?;
        Some(value.trim().parse().expect("a number"))
    })
}

fn info_memory(c: &mut RawConn) -> String {
    match c.cmd_parsed(&["INFO", "memory"]) {
        Reply::Bulk(b) => String::from_utf8(b).unwrap(),
        other => panic!("INFO memory: {other}"),
    }
}

fn used_memory(c: &mut RawConn) -> u64 {
    info_field(&info_memory(c), "used_memory").expect("used_memory")
}

/// `tests/memory.rs`'s bounded wait: polls `used_memory` (PINGs in between, no scripts) for at
/// most [`SETTLE`] until it is at most `bound` above `baseline` and `ferrite_reclaim_pending`
/// is below [`PENDING_LIMIT`]; fails with the figures otherwise.
fn assert_returns_to(c: &mut RawConn, baseline: u64, bound: u64, what: &str) {
    let start = Instant::now();
    let (used, pending) = loop {
        let info = info_memory(c);
        let used = info_field(&info, "used_memory").unwrap();
        let pending = info_field(&info, "ferrite_reclaim_pending");
        let settled = used <= baseline + bound && pending.is_none_or(|p| p < PENDING_LIMIT);
        if settled || start.elapsed() >= SETTLE {
            break (used, pending);
        }
        thread::sleep(Duration::from_millis(50));
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
        thread::sleep(Duration::from_millis(50));
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    };
    let figures = format!(
        "baseline {baseline} B, after {used} B ({:+.1} MiB, bound {:.1} MiB), \
         ferrite_reclaim_pending {pending:?}, waited {:?}",
        (used as f64 - baseline as f64) / MB as f64,
        bound as f64 / MB as f64,
        start.elapsed()
    );
    assert!(
        used <= baseline + bound,
        "{what}: used_memory did not come back to within {:.1} MiB of its baseline: {figures}",
        bound as f64 / MB as f64
    );
    eprintln!("{what}: {figures}");
}

/// Sends `cmds` as one pipeline, checks that no reply is an error, and returns the replies.
fn pipeline(c: &mut RawConn, cmds: &[Vec<String>]) -> Vec<Vec<u8>> {
    let mut bytes = Vec::new();
    for cmd in cmds {
        bytes.extend(encode_command(cmd));
    }
    c.send_raw(&bytes);
    cmds.iter()
        .map(|cmd| {
            let r = c.read_reply();
            assert!(
                !r.starts_with(b"-"),
                "{}: {}",
                fmt_command(&cmd[..1]),
                fmt_reply(&r)
            );
            r
        })
        .collect()
}

/// 1000 distinct scripts of about 10 KB each, loaded (SCRIPT LOAD) and then run (EVAL): a
/// SCRIPT FLUSH gives their memory back, as Redis's does (its script dictionary and Lua state
/// are freed by the flush itself), without waiting for later scripts.
#[test]
fn script_flush_gives_memory_back() {
    const SCRIPTS: usize = 1000;
    let server = Server::with_args(&["--threads", "1"]);
    let mut c = server.raw();
    let pad = "p".repeat(10_000);
    let bodies: Vec<String> = (0..SCRIPTS)
        .map(|i| format!("local pad = '{pad}' return {i}"))
        .collect();
    // Warm-up: a Lua state exists, as after any script.
    assert_eq!(c.cmd(&["EVAL", "return 1", "0"]), b":1\r\n");
    let baseline = used_memory(&mut c);

    let mut shas = Vec::new();
    for chunk in bodies.chunks(100) {
        let cmds: Vec<Vec<String>> = chunk
            .iter()
            .map(|b| strings(["SCRIPT", "LOAD", b.as_str()]))
            .collect();
        shas.extend(
            pipeline(&mut c, &cmds)
                .iter()
                .map(|r| common::bulk_bytes(r)),
        );
    }
    let loaded = used_memory(&mut c);
    assert!(
        loaded > baseline + 5 * MB,
        "1000 loaded scripts: {baseline} -> {loaded} B"
    );
    assert_eq!(c.cmd(&["SCRIPT", "FLUSH"]), b"+OK\r\n");
    assert_returns_to(&mut c, baseline, BOUND, "SCRIPT LOAD x1000, SCRIPT FLUSH");

    for chunk in bodies.chunks(100) {
        let cmds: Vec<Vec<String>> = chunk
            .iter()
            .map(|b| strings(["EVAL", b.as_str(), "0"]))
            .collect();
        pipeline(&mut c, &cmds);
    }
    let run = used_memory(&mut c);
    assert!(
        run > baseline + 5 * MB,
        "1000 scripts run: {baseline} -> {run} B"
    );
    assert_eq!(c.cmd(&["SCRIPT", "FLUSH"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&[&b"SCRIPT"[..], b"EXISTS", &shas[0]]),
        b"*1\r\n:0\r\n"
    );
    assert_returns_to(&mut c, baseline, BOUND, "EVAL x1000, SCRIPT FLUSH");
}

/// Scripts that create big values (4 MiB strings built in Lua and SET, read back into Lua,
/// tables of a million numbers) and delete them, and a script that hits the Lua memory limit,
/// give their memory back: once the keys are gone and later scripts have run (Lua frees a
/// state's garbage as scripts run, as in Redis), `used_memory` is back at its baseline. One
/// worker thread, so every script runs in the same Lua state.
#[test]
fn scripts_with_big_values_give_memory_back() {
    let server = Server::with_args(&["--threads", "1"]);
    let mut c = server.raw();
    let small = |c: &mut RawConn, n: usize| {
        let cmds: Vec<Vec<String>> = (0..n)
            .map(|i| strings(["EVAL", "return ARGV[1]", "0", &i.to_string()]))
            .collect();
        for chunk in cmds.chunks(100) {
            pipeline(c, chunk);
        }
    };
    small(&mut c, 100);
    let baseline = used_memory(&mut c);

    for i in 0..20 {
        let key = format!("big:{i}");
        let r = c.cmd(&[
            "EVAL",
            "redis.call('SET', KEYS[1], string.rep(ARGV[1], 4 * 1024 * 1024)) \
             return redis.call('STRLEN', KEYS[1])",
            "1",
            &key,
            &((b'a' + i as u8) as char).to_string(),
        ]);
        assert_eq!(r, b":4194304\r\n");
        let r = c.cmd(&[
            "EVAL",
            "local v = redis.call('GET', KEYS[1]) redis.call('DEL', KEYS[1]) return #v",
            "1",
            &key,
        ]);
        assert_eq!(r, b":4194304\r\n");
        let r = c.cmd(&[
            "EVAL",
            "local t = {} for i = 1, 1e6 do t[i] = i end return #t",
            "0",
        ]);
        assert_eq!(r, b":1000000\r\n");
    }
    assert_eq!(c.cmd(&["DBSIZE"]), b":0\r\n");
    small(&mut c, 300);
    assert_returns_to(
        &mut c,
        baseline,
        BOUND,
        "20 x (4 MiB value by a script, deleted)",
    );

    let r = c.cmd(&["EVAL", FILL, "0"]);
    assert!(r.starts_with(b"-ERR") && String::from_utf8_lossy(&r).contains("memory"));
    small(&mut c, 300);
    assert_returns_to(
        &mut c,
        baseline,
        BOUND,
        "a script that hit the memory limit",
    );
}
