//! MULTI/EXEC and EVALSHA throughput, Ferrite against redis-server, side by side.
//!
//!     cargo build --release && cargo bench --bench transactions
//!     TX_SECONDS=3 TX_ROUNDS=3 TX_PIPELINES="1 16" cargo bench --bench transactions
//!     TX_WORKLOAD=evalsha cargo bench --bench transactions
//!
//! Starts `target/release/ferrite-server` (or `FERRITE_BIN`) and `redis-server` (from PATH, or
//! `REDIS_BIN`) on loopback ephemeral ports. Each run: `TX_CLIENTS` connections (default 32),
//! each on its own thread, send transactions of three SETs on random keys of a 100,000-key
//! space, preloaded on both servers before the first run (`MULTI`, `SET k1 v`, `SET k2 v`, `SET k3 v`, `EXEC`), `P` transactions pipelined per
//! round trip, for `TX_SECONDS` (default 5). Every reply is checked (`+OK`, three `+QUEUED`,
//! `*3` of `+OK`). The servers alternate (Ferrite first in odd rounds), and the table shows the
//! median over `TX_ROUNDS` (default 3) of transactions per second and of server CPU time per
//! transaction (utime + stime of the server process from /proc, all threads), with the ratio
//! Ferrite/Redis. `TX_FERRITE_ARGS` passes extra arguments (e.g. `--threads 2`).
//!
//! `TX_WORKLOAD=evalsha` measures scripts instead: each client loads (SCRIPT LOAD) a small
//! read-modify-write script (`GET` a key, `SET` it to the value plus one, return it) and sends
//! `EVALSHA <sha> 1 <random key>`; every reply is checked to be an integer.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEYSPACE: u64 = 100_000;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .unwrap()
        .port()
}

struct ServerProc {
    child: Child,
    port: u16,
    _dir: std::path::PathBuf,
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn start(bin: &str, extra: &[String], name: &str) -> ServerProc {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("txbench-{name}-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(bin);
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
    ])
    .args(extra)
    .current_dir(&dir)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let child = cmd.spawn().unwrap_or_else(|e| panic!("start {bin}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"PING\r\n").unwrap();
            let mut b = [0u8; 7];
            if s.read_exact(&mut b).is_ok() && &b == b"+PONG\r\n" {
                break;
            }
        }
        assert!(Instant::now() < deadline, "{bin} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    ServerProc {
        child,
        port,
        _dir: dir,
    }
}

/// utime + stime of `pid`, in clock ticks (10 ms).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

fn push_cmd(buf: &mut Vec<u8>, args: &[&[u8]]) {
    buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

/// The length of the complete reply at the start of `b`, if it is complete.
fn reply_len(b: &[u8]) -> Option<usize> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    let head = &b[1..line_end];
    match b.first()? {
        b'+' | b'-' | b':' => Some(line_end + 2),
        b'$' => {
            let n: i64 = std::str::from_utf8(head).ok()?.parse().ok()?;
            if n < 0 {
                return Some(line_end + 2);
            }
            let total = line_end + 2 + n as usize + 2;
            (b.len() >= total).then_some(total)
        }
        b'*' => {
            let n: i64 = std::str::from_utf8(head).ok()?.parse().ok()?;
            let mut at = line_end + 2;
            for _ in 0..n.max(0) {
                at += reply_len(&b[at..])?;
            }
            Some(at)
        }
        _ => panic!("unexpected reply: {:?}", String::from_utf8_lossy(b)),
    }
}

/// Sets every key of the keyspace (to "0", which the script reads as a
/// number), pipelined, so runs measure a full keyspace, not its filling.
fn preload(server: &ServerProc) {
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    let (mut inbuf, mut chunk) = (Vec::new(), vec![0u8; 64 * 1024]);
    for batch in (0..KEYSPACE).collect::<Vec<_>>().chunks(1000) {
        let mut out = Vec::new();
        for k in batch {
            push_cmd(&mut out, &[b"SET", format!("key:{k:012}").as_bytes(), b"0"]);
        }
        s.write_all(&out).expect("send");
        read_replies(&mut s, &mut inbuf, &mut chunk, batch.len(), |i, r| {
            assert_eq!(r, b"+OK\r\n", "preload reply {i}");
        });
    }
}

/// Random key numbers under `KEYSPACE` (xorshift), one sequence per seed.
fn random_keys(seed: u64) -> impl FnMut() -> u64 {
    let mut rng = seed | 1;
    move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % KEYSPACE
    }
}

/// The script of the EVALSHA workload.
const SCRIPT: &str = "local n = tonumber(redis.call('GET', KEYS[1]) or '0') + 1 \
                      redis.call('SET', KEYS[1], n) return n";

/// What each client sends.
#[derive(Clone, Copy, PartialEq)]
enum Workload {
    /// MULTI, 3 x SET, EXEC.
    Multi,
    /// EVALSHA of [`SCRIPT`] on one random key.
    Evalsha,
}

/// Sends one request and returns its reply.
fn request(s: &mut TcpStream, args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    push_cmd(&mut out, args);
    s.write_all(&out).expect("send");
    let mut inbuf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(n) = (!inbuf.is_empty()).then(|| reply_len(&inbuf)).flatten() {
            return inbuf[..n].to_vec();
        }
        let n = s.read(&mut chunk).expect("read");
        assert!(n > 0, "server closed the connection");
        inbuf.extend_from_slice(&chunk[..n]);
    }
}

/// One client: transactions (or scripts) until `stop`; returns how many completed.
fn client(port: u16, pipeline: usize, seed: u64, stop: Arc<AtomicBool>, workload: Workload) -> u64 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).unwrap();
    if workload == Workload::Evalsha {
        return script_client(s, pipeline, seed, stop);
    }
    let mut next = random_keys(seed);
    let expect: &[&[u8]] = &[b"+OK\r\n", b"+QUEUED\r\n", b"+QUEUED\r\n", b"+QUEUED\r\n"];
    let exec_reply: &[u8] = b"*3\r\n+OK\r\n+OK\r\n+OK\r\n";
    let mut done = 0;
    let mut out = Vec::new();
    let mut inbuf = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        out.clear();
        for _ in 0..pipeline {
            push_cmd(&mut out, &[b"MULTI"]);
            for _ in 0..3 {
                let key = format!("key:{:012}", next());
                push_cmd(&mut out, &[b"SET", key.as_bytes(), b"xxx"]);
            }
            push_cmd(&mut out, &[b"EXEC"]);
        }
        s.write_all(&out).expect("send");
        read_replies(&mut s, &mut inbuf, &mut chunk, pipeline * 5, |i, r| {
            let want = if i % 5 == 4 {
                exec_reply
            } else {
                expect[i % 5]
            };
            assert_eq!(r, want, "reply {i}");
        });
        done += pipeline as u64;
    }
    done
}

/// Reads `count` replies from `s` (after what `inbuf` holds), checking each
/// with `check(index, reply)`; leaves any bytes past them in `inbuf`.
fn read_replies(
    s: &mut TcpStream,
    inbuf: &mut Vec<u8>,
    chunk: &mut [u8],
    count: usize,
    mut check: impl FnMut(usize, &[u8]),
) {
    let mut replies = 0;
    let mut at = 0;
    while replies < count {
        while replies < count {
            let Some(n) = reply_len(&inbuf[at..]) else {
                break;
            };
            check(replies, &inbuf[at..at + n]);
            at += n;
            replies += 1;
        }
        if replies == count {
            break;
        }
        let n = s.read(chunk).expect("read");
        assert!(n > 0, "server closed the connection");
        inbuf.extend_from_slice(&chunk[..n]);
    }
    inbuf.drain(..at);
}

/// One client of the EVALSHA workload.
fn script_client(mut s: TcpStream, pipeline: usize, seed: u64, stop: Arc<AtomicBool>) -> u64 {
    let loaded = request(&mut s, &[b"SCRIPT", b"LOAD", SCRIPT.as_bytes()]);
    let sha = loaded[loaded.len() - 42..loaded.len() - 2].to_vec();
    let mut next = random_keys(seed);
    let mut done = 0;
    let mut out = Vec::new();
    let mut inbuf = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        out.clear();
        for _ in 0..pipeline {
            let key = format!("key:{:012}", next());
            push_cmd(&mut out, &[b"EVALSHA", &sha, b"1", key.as_bytes()]);
        }
        s.write_all(&out).expect("send");
        read_replies(&mut s, &mut inbuf, &mut chunk, pipeline, |i, r| {
            assert_eq!(r[0], b':', "reply {i}: {:?}", String::from_utf8_lossy(r));
        });
        done += pipeline as u64;
    }
    done
}

/// One run: (transactions per second, server CPU microseconds per transaction).
fn run(
    server: &ServerProc,
    clients: usize,
    pipeline: usize,
    seconds: f64,
    workload: Workload,
) -> (f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let pid = server.child.id();
    let cpu0 = cpu_ticks(pid);
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let stop = stop.clone();
            let total = total.clone();
            let port = server.port;
            std::thread::spawn(move || {
                let n = client(port, pipeline, 0x9e37_79b9 * (i as u64 + 1), stop, workload);
                total.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("client thread");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu_us = (cpu_ticks(pid) - cpu0) as f64 * 10_000.0;
    let n = total.load(Ordering::Relaxed) as f64;
    (n / elapsed, cpu_us / n.max(1.0))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    let root = env!("CARGO_MANIFEST_DIR");
    let ferrite_bin = env_or(
        "FERRITE_BIN",
        &format!("{root}/target/release/ferrite-server"),
    );
    let redis_bin = env_or("REDIS_BIN", "redis-server");
    let seconds: f64 = env_or("TX_SECONDS", "5").parse().expect("TX_SECONDS");
    let rounds: usize = env_or("TX_ROUNDS", "3").parse().expect("TX_ROUNDS");
    let clients: usize = env_or("TX_CLIENTS", "32").parse().expect("TX_CLIENTS");
    let pipelines: Vec<usize> = env_or("TX_PIPELINES", "1 16")
        .split_whitespace()
        .map(|p| p.parse().expect("TX_PIPELINES"))
        .collect();
    let ferrite_args: Vec<String> = env_or("TX_FERRITE_ARGS", "")
        .split_whitespace()
        .map(String::from)
        .collect();
    assert!(
        std::path::Path::new(&ferrite_bin).exists(),
        "no {ferrite_bin}: run cargo build --release first"
    );
    let workload = match env_or("TX_WORKLOAD", "multi").as_str() {
        "multi" => Workload::Multi,
        "evalsha" => Workload::Evalsha,
        w => panic!("TX_WORKLOAD is multi or evalsha, not {w}"),
    };
    let ferrite = start(&ferrite_bin, &ferrite_args, "ferrite");
    let redis = start(&redis_bin, &[], "redis");
    preload(&ferrite);
    preload(&redis);
    let what = match workload {
        Workload::Multi => "MULTI, 3 x SET on random keys, EXEC",
        Workload::Evalsha => "EVALSHA of GET + SET of a random key",
    };
    println!("{what} (of {KEYSPACE}): {clients} clients, {seconds} s per run, {rounds} rounds");
    println!(
        "{:>4} {:>14} {:>14} {:>6} {:>12} {:>12} {:>6}",
        "-P", "ferrite tx/s", "redis tx/s", "f/r", "ferrite us", "redis us", "f/r"
    );
    for &p in &pipelines {
        let (mut f, mut r) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            if round % 2 == 0 {
                f.push(run(&ferrite, clients, p, seconds, workload));
                r.push(run(&redis, clients, p, seconds, workload));
            } else {
                r.push(run(&redis, clients, p, seconds, workload));
                f.push(run(&ferrite, clients, p, seconds, workload));
            }
        }
        let (ft, fc) = (
            median(f.iter().map(|x| x.0).collect()),
            median(f.iter().map(|x| x.1).collect()),
        );
        let (rt, rc) = (
            median(r.iter().map(|x| x.0).collect()),
            median(r.iter().map(|x| x.1).collect()),
        );
        println!(
            "{p:>4} {ft:>14.0} {rt:>14.0} {:>6.2} {fc:>12.2} {rc:>12.2} {:>6.2}",
            ft / rt,
            fc / rc
        );
    }
}
