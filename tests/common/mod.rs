//! Support code shared by every integration test (`mod common;`).
//!
//! * [`Server`] starts the real `ferrite-server` binary on an ephemeral loopback port and kills
//!   it on drop; [`RedisServer`] does the same for a real `redis-server` (differential tests).
//! * [`RawConn`] is a blocking RESP2/RESP3 client that returns the exact bytes of each reply.
//! * [`Differential`] sends the same commands to Ferrite and redis-server and asserts that the
//!   replies are byte-for-byte identical.
//! * [`gen`] is a seeded random command generator for the differential tests.
//!
//! Everything here only ever talks to 127.0.0.1 and is bounded in time: server start-up waits
//! at most [`START_TIMEOUT`], every reply read at most [`REPLY_TIMEOUT`].
#![allow(dead_code)]

pub mod gen;

use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Path of the `ferrite-server` binary cargo built for this test run.
pub const FERRITE_BIN: &str = env!("CARGO_BIN_EXE_ferrite-server");
/// How long a server may take to answer its first PING.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long any single reply may take before the test fails instead of hanging.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Environment variable: when set to `1`, the "Ferrite" side of [`Differential`] is a second
/// real redis-server. Used to check that generators and scripts produce no false differences.
pub const AGAINST_REDIS_ENV: &str = "FERRITE_DIFF_AGAINST_REDIS";

const START_ATTEMPTS: usize = 5;
const HISTORY_LEN: usize = 12;
const MAX_SHOWN: usize = 3000;

// ---------------------------------------------------------------------------------------------
// Server processes
// ---------------------------------------------------------------------------------------------

/// Which program a [`ServerProcess`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    Ferrite,
    Redis,
}

impl ServerKind {
    fn name(self) -> &'static str {
        match self {
            ServerKind::Ferrite => "ferrite-server",
            ServerKind::Redis => "redis-server",
        }
    }
}

/// A running server process (Ferrite or redis-server) on 127.0.0.1:`port`, with its own
/// temporary directory as working directory. Killed (SIGKILL) and cleaned up on drop.
///
/// If the process dies on its own before the drop (a crash), the drop panics with the tail of
/// the server log, unless [`ServerProcess::expect_exit`] or [`ServerProcess::wait_exit`] was
/// called first.
pub struct ServerProcess {
    kind: ServerKind,
    program: PathBuf,
    config: Option<String>,
    extra_args: Vec<OsString>,
    child: Option<Child>,
    port: u16,
    dir: TempDir,
    exit_expected: bool,
}

/// The real `ferrite-server` binary, started with `--port N --bind 127.0.0.1 --save ''`.
pub struct Server(ServerProcess);

/// A real `redis-server`, started with `--port N --bind 127.0.0.1 --save '' --appendonly no
/// --daemonize no --dir <tmp>`. Panics if redis-server is not installed.
pub struct RedisServer(ServerProcess);

impl Server {
    /// Starts ferrite-server with the default arguments.
    pub fn start() -> Server {
        Server::with_args(&[])
    }

    /// Starts ferrite-server with extra command-line arguments (after the defaults),
    /// e.g. `Server::with_args(&["--threads", "4"])`.
    pub fn with_args(args: &[&str]) -> Server {
        Server(ServerProcess::start(
            ServerKind::Ferrite,
            PathBuf::from(FERRITE_BIN),
            None,
            args,
        ))
    }

    /// Writes `config` (redis.conf syntax) to `ferrite.conf` in the server's directory and
    /// passes it as the first argument, followed by the defaults and `args`.
    pub fn with_config(config: &str, args: &[&str]) -> Server {
        Server(ServerProcess::start(
            ServerKind::Ferrite,
            PathBuf::from(FERRITE_BIN),
            Some(config.to_string()),
            args,
        ))
    }

    pub fn into_process(self) -> ServerProcess {
        self.0
    }
}

impl RedisServer {
    /// Starts a real redis-server. Panics with a clear message if it is not installed.
    pub fn start() -> RedisServer {
        RedisServer::with_args(&[])
    }

    /// Starts a real redis-server with extra arguments after the defaults.
    pub fn with_args(args: &[&str]) -> RedisServer {
        RedisServer(ServerProcess::start(
            ServerKind::Redis,
            redis_server_path(),
            None,
            args,
        ))
    }

    /// Like [`Server::with_config`], for redis-server.
    pub fn with_config(config: &str, args: &[&str]) -> RedisServer {
        RedisServer(ServerProcess::start(
            ServerKind::Redis,
            redis_server_path(),
            Some(config.to_string()),
            args,
        ))
    }

    pub fn into_process(self) -> ServerProcess {
        self.0
    }
}

impl Deref for Server {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        &self.0
    }
}

impl DerefMut for Server {
    fn deref_mut(&mut self) -> &mut ServerProcess {
        &mut self.0
    }
}

impl Deref for RedisServer {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        &self.0
    }
}

impl DerefMut for RedisServer {
    fn deref_mut(&mut self) -> &mut ServerProcess {
        &mut self.0
    }
}

/// Finds `redis-server` on PATH (or `REDIS_SERVER` if set); panics if there is none.
pub fn redis_server_path() -> PathBuf {
    if let Some(p) = std::env::var_os("REDIS_SERVER") {
        return PathBuf::from(p);
    }
    find_in_path("redis-server").unwrap_or_else(|| {
        panic!(
            "redis-server not found: differential tests need it; install the Debian package \
             redis-server (apt-get install -y redis-server), or set REDIS_SERVER=/path/to/it"
        )
    })
}

/// Whether a real redis-server is installed (for tests that merely prefer one).
pub fn redis_server_available() -> bool {
    std::env::var_os("REDIS_SERVER").is_some() || find_in_path("redis-server").is_some()
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .or_else(|| {
            let p = Path::new("/usr/bin").join(name);
            p.is_file().then_some(p)
        })
}

impl ServerProcess {
    fn start(
        kind: ServerKind,
        program: PathBuf,
        config: Option<String>,
        args: &[&str],
    ) -> ServerProcess {
        let mut last_problem = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let port = reserve_port();
            let mut server = ServerProcess {
                kind,
                program: program.clone(),
                config: config.clone(),
                extra_args: args.iter().map(OsString::from).collect(),
                child: None,
                port,
                dir: TempDir::new(kind.name()),
                exit_expected: false,
            };
            server.write_config();
            match server.launch() {
                Ok(()) => return server,
                Err(Retry(problem)) => {
                    // The port was taken between reservation and bind: try another one.
                    last_problem = format!("attempt {attempt} on port {port}: {problem}");
                    server.exit_expected = true;
                }
            }
        }
        panic!(
            "could not start {} after {START_ATTEMPTS} attempts; last problem: {last_problem}",
            kind.name()
        );
    }

    fn command_line(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = Vec::new();
        if self.config.is_some() {
            v.push(self.dir.path().join(self.config_file_name()).into());
        }
        let port = self.port.to_string();
        v.extend(
            ["--port", port.as_str(), "--bind", "127.0.0.1", "--save", ""]
                .iter()
                .map(OsString::from),
        );
        if self.kind == ServerKind::Redis {
            v.extend(
                ["--appendonly", "no", "--daemonize", "no", "--dir"]
                    .iter()
                    .map(OsString::from),
            );
            v.push(self.dir.path().into());
        }
        v.extend(self.extra_args.iter().cloned());
        v
    }

    fn config_file_name(&self) -> &'static str {
        match self.kind {
            ServerKind::Ferrite => "ferrite.conf",
            ServerKind::Redis => "redis.conf",
        }
    }

    /// Path of the config file passed to the server, if it was started with one.
    pub fn config_path(&self) -> Option<PathBuf> {
        self.config
            .as_ref()
            .map(|_| self.dir.path().join(self.config_file_name()))
    }

    /// Writes the config text the server was created with into its directory. Done once,
    /// before the first launch: a restart uses the file as the server left it (CONFIG REWRITE).
    fn write_config(&self) {
        if let (Some(cfg), Some(path)) = (&self.config, self.config_path()) {
            fs::write(path, cfg).expect("write server config file");
        }
    }

    /// Spawns the process and waits until it answers PING. Panics on a real failure;
    /// returns `Err(Retry)` when the port turned out to be taken.
    fn launch(&mut self) -> Result<(), Retry> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("create server log file");
        let log2 = log.try_clone().expect("clone log file handle");
        let child = Command::new(&self.program)
            .args(self.command_line())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.kind == ServerKind::Redis => {
                panic!(
                    "redis-server not found ({}): differential tests need it; install the \
                     Debian package redis-server",
                    self.program.display()
                )
            }
            Err(e) => panic!("cannot spawn {}: {e}", self.program.display()),
        };
        self.child = Some(child);
        self.exit_expected = false;

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.try_wait() {
                let log = self.log();
                let lower = log.to_lowercase();
                if lower.contains("address already in use") || lower.contains("addrinuse") {
                    return Err(Retry(format!("exited with {status}: port in use")));
                }
                panic!(
                    "{} exited with {status} before answering PING on port {}.\n\
                     command line: {}\n--- server log ---\n{}",
                    self.kind.name(),
                    self.port,
                    self.describe_command(),
                    tail(&log, MAX_SHOWN)
                );
            }
            if ping_answers(self.port) {
                // Make sure the listener we reached is ours and not some other process that
                // happened to hold the port (then our server will fail to bind and exit).
                if listener_owned_by(self.pid(), self.port) == Some(false) {
                    self.kill();
                    return Err(Retry("another process owns the port".into()));
                }
                return Ok(());
            }
            if Instant::now() >= deadline {
                let log = self.log();
                self.kill();
                panic!(
                    "{} did not answer PING on 127.0.0.1:{} within {:?}.\n\
                     command line: {}\n--- server log ---\n{}",
                    self.kind.name(),
                    self.port,
                    START_TIMEOUT,
                    self.describe_command(),
                    tail(&log, MAX_SHOWN)
                );
            }
            std::thread::sleep(Duration::from_millis(15));
        }
    }

    fn describe_command(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in self.command_line() {
            let a = a.to_string_lossy();
            if a.is_empty() || a.contains(' ') {
                let _ = write!(s, " '{a}'");
            } else {
                let _ = write!(s, " {a}");
            }
        }
        s
    }

    pub fn kind(&self) -> ServerKind {
        self.kind
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    /// `"127.0.0.1:PORT"`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
    /// The server's working directory (config file, log, RDB/AOF files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }
    /// Everything the server printed on stdout and stderr so far.
    pub fn log(&self) -> String {
        fs::read(self.log_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// A `redis` crate client (RESP2).
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("redis client")
    }
    /// A `redis` crate client speaking RESP3.
    pub fn client_resp3(&self) -> redis::Client {
        redis::Client::open(format!("{}?protocol=resp3", self.url())).expect("redis client")
    }
    /// A blocking `redis` crate connection with 10 s read/write timeouts.
    pub fn conn(&self) -> redis::Connection {
        let c = self
            .client()
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("redis connection");
        c.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
        c.set_write_timeout(Some(REPLY_TIMEOUT)).unwrap();
        c
    }
    /// A multiplexed async `redis` crate connection (tokio) with a 10 s response timeout.
    pub async fn async_conn(&self) -> redis::aio::MultiplexedConnection {
        async_conn_for(&self.client()).await
    }
    /// Like [`ServerProcess::async_conn`] but RESP3.
    pub async fn async_conn_resp3(&self) -> redis::aio::MultiplexedConnection {
        async_conn_for(&self.client_resp3()).await
    }
    /// A raw RESP connection.
    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.socket_addr())
    }

    /// `Some(status)` if the process has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }
    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.is_some() && self.try_wait().is_none()
    }
    /// Declares that the process is expected to exit (e.g. after SHUTDOWN): no panic on drop.
    pub fn expect_exit(&mut self) {
        self.exit_expected = true;
    }
    /// Waits (bounded) for the process to exit on its own, e.g. after SHUTDOWN.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.exit_expected = true;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_wait() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        self.exit_expected = true;
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    /// Kills the process and starts it again with the same arguments, directory (so RDB/AOF
    /// files survive), config file (as it is now on disk) and port.
    pub fn restart(&mut self) {
        self.kill();
        let mut problem = String::new();
        for _ in 0..20 {
            match self.launch() {
                Ok(()) => return,
                Err(Retry(p)) => {
                    // The old socket may linger briefly; the port stays ours.
                    problem = p;
                    self.exit_expected = true;
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        panic!(
            "could not restart {} on port {}: {problem}",
            self.kind.name(),
            self.port
        );
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let crashed = if self.exit_expected {
            None
        } else {
            self.try_wait()
        };
        self.kill();
        if let Some(status) = crashed {
            let msg = format!(
                "{} on port {} exited on its own during the test ({status}).\n--- server log ---\n{}",
                self.kind.name(),
                self.port,
                tail(&self.log(), MAX_SHOWN)
            );
            if std::thread::panicking() {
                eprintln!("{msg}");
            } else {
                panic!("{msg}");
            }
        }
    }
}

async fn async_conn_for(client: &redis::Client) -> redis::aio::MultiplexedConnection {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(REPLY_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("async redis connection")
}

struct Retry(String);

/// Picks a free loopback port: binds 127.0.0.1:0, reads the port, releases it. Ports handed
/// out in this process are never handed out twice.
pub fn reserve_port() -> u16 {
    static USED: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    for _ in 0..100 {
        let listener = match TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        let port = listener.local_addr().expect("local addr").port();
        drop(listener);
        let mut used = USED.lock().unwrap_or_else(|e| e.into_inner());
        if used.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
    panic!("could not find a free port on 127.0.0.1");
}

/// Waits (bounded) until something on 127.0.0.1:`port` answers PING, for servers started
/// outside [`ServerProcess`] (daemons, custom environments).
pub fn wait_for_ping(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ping_answers(port) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(15));
    }
}

/// True when something on `port` answers a PING with a complete reply (other than -LOADING).
fn ping_answers(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(250)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = s.set_write_timeout(Some(Duration::from_millis(500)));
    let _ = s.set_nodelay(true);
    if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        match try_parse_reply(&buf) {
            Ok(Some(_)) => return !buf.starts_with(b"-LOADING"),
            Ok(None) => continue,
            Err(_) => return false,
        }
    }
}

/// Linux only: `Some(true)` if a socket listening on 127.0.0.1/0.0.0.0:`port` belongs to
/// process `pid`, `Some(false)` if a listener exists but is not `pid`'s, `None` if unknown.
fn listener_owned_by(pid: u32, port: u16) -> Option<bool> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" {
                continue;
            }
            let Some((_, p)) = f[1].rsplit_once(':') else {
                continue;
            };
            if u16::from_str_radix(p, 16).ok() == Some(port) {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    for fd in fds.flatten() {
        if let Ok(link) = fs::read_link(fd.path()) {
            if inodes.iter().any(|i| link.as_os_str() == i.as_str()) {
                return Some(true);
            }
        }
    }
    Some(false)
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("{prefix}-test-{}-{n}-{nanos}", std::process::id()));
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("[... {start} bytes cut ...]\n{}", &s[start..])
}

// ---------------------------------------------------------------------------------------------
// RESP encoding and parsing
// ---------------------------------------------------------------------------------------------

/// `body` + RDB version + Redis's CRC-64 (Jones), as a DUMP payload is framed: for tests
/// that craft payloads (valid checksum around bad contents, or values Redis cannot produce).
pub fn framed_payload(body: &[u8], version: u16) -> Vec<u8> {
    const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let crc = CRC64.checksum(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

/// The bytes of a raw bulk-string reply; panics on any other reply.
pub fn bulk_bytes(reply: &[u8]) -> Vec<u8> {
    match Reply::from_raw(reply) {
        Reply::Bulk(b) => b,
        other => panic!("expected a bulk reply, got {other}"),
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(16 + args.iter().map(|a| a.as_ref().len() + 16).sum::<usize>());
    let _ = write!(VecWriter(&mut out), "*{}\r\n", args.len());
    for a in args {
        let a = a.as_ref();
        let _ = write!(VecWriter(&mut out), "${}\r\n", a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

struct VecWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// One parsed RESP2/RESP3 reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+...`
    Simple(String),
    /// `-...` (the whole line, e.g. `ERR syntax error`)
    Error(String),
    /// `:...`
    Integer(i64),
    /// `$n` bulk string
    Bulk(Vec<u8>),
    /// `$-1`
    NullBulk,
    /// `*-1`
    NullArray,
    /// RESP3 `_`
    Null,
    /// `*n`
    Array(Vec<Reply>),
    /// RESP3 `,` (kept as the exact text)
    Double(String),
    /// RESP3 `#t` / `#f`
    Boolean(bool),
    /// RESP3 `(`
    BigNumber(String),
    /// RESP3 `=`: format (e.g. `txt`) and text
    Verbatim(String, Vec<u8>),
    /// RESP3 `!`
    BlobError(Vec<u8>),
    /// RESP3 `%`
    Map(Vec<(Reply, Reply)>),
    /// RESP3 `~`
    Set(Vec<Reply>),
    /// RESP3 `>`
    Push(Vec<Reply>),
    /// RESP3 `|` attributes followed by the reply they annotate
    Attribute(Vec<(Reply, Reply)>, Box<Reply>),
}

impl Reply {
    /// Parses exactly one complete reply (panics on incomplete or malformed input or
    /// trailing bytes).
    pub fn from_raw(raw: &[u8]) -> Reply {
        match try_parse_reply(raw) {
            Ok(Some((r, n))) if n == raw.len() => r,
            Ok(Some((_, n))) => panic!(
                "{} trailing bytes after reply: {}",
                raw.len() - n,
                escape(raw)
            ),
            Ok(None) => panic!("incomplete reply: {}", escape(raw)),
            Err(e) => panic!("malformed reply ({e}): {}", escape(raw)),
        }
    }
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_) | Reply::BlobError(_))
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Integer(i) => Some(*i),
            _ => None,
        }
    }
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(b) | Reply::Verbatim(_, b) => Some(b),
            Reply::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => Some(v),
            _ => None,
        }
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn list(f: &mut std::fmt::Formatter<'_>, items: &[Reply]) -> std::fmt::Result {
            for (i, r) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{r}")?;
            }
            Ok(())
        }
        fn pairs(f: &mut std::fmt::Formatter<'_>, items: &[(Reply, Reply)]) -> std::fmt::Result {
            for (i, (k, v)) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}: {v}")?;
            }
            Ok(())
        }
        match self {
            Reply::Simple(s) => write!(f, "+{s}"),
            Reply::Error(s) => write!(f, "(error) {s}"),
            Reply::Integer(i) => write!(f, "(integer) {i}"),
            Reply::Bulk(b) => f.write_str(&escape(b)),
            Reply::NullBulk => f.write_str("(nil)"),
            Reply::NullArray => f.write_str("(nil array)"),
            Reply::Null => f.write_str("(null)"),
            Reply::Array(v) => {
                f.write_str("[")?;
                list(f, v)?;
                f.write_str("]")
            }
            Reply::Double(d) => write!(f, "(double) {d}"),
            Reply::Boolean(b) => write!(f, "({b})"),
            Reply::BigNumber(n) => write!(f, "(big number) {n}"),
            Reply::Verbatim(fmt, b) => write!(f, "(verbatim {fmt}) {}", escape(b)),
            Reply::BlobError(b) => write!(f, "(blob error) {}", escape(b)),
            Reply::Map(m) => {
                f.write_str("{")?;
                pairs(f, m)?;
                f.write_str("}")
            }
            Reply::Set(v) => {
                f.write_str("~{")?;
                list(f, v)?;
                f.write_str("}")
            }
            Reply::Push(v) => {
                f.write_str(">[")?;
                list(f, v)?;
                f.write_str("]")
            }
            Reply::Attribute(a, r) => {
                f.write_str("|{")?;
                pairs(f, a)?;
                write!(f, "}} {r}")
            }
        }
    }
}

/// Parses one reply at the start of `buf`: `Ok(Some((reply, bytes consumed)))`, `Ok(None)` if
/// `buf` holds only part of a reply, `Err` if it is not valid RESP2/RESP3.
pub fn try_parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    let mut pos = 0;
    match parse_at(buf, &mut pos, 0)? {
        Some(r) => Ok(Some((r, pos))),
        None => Ok(None),
    }
}

fn read_line<'a>(buf: &'a [u8], pos: &mut usize) -> Result<Option<&'a [u8]>, String> {
    let start = *pos;
    match memchr_crlf(&buf[start..]) {
        Some(i) => {
            *pos = start + i + 2;
            Ok(Some(&buf[start..start + i]))
        }
        None => {
            if buf[start..].len() > 64 * 1024 * 1024 {
                return Err("line longer than 64 MiB".into());
            }
            Ok(None)
        }
    }
}

fn memchr_crlf(s: &[u8]) -> Option<usize> {
    s.windows(2).position(|w| w == b"\r\n")
}

fn parse_len(line: &[u8], what: char) -> Result<i64, String> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| format!("bad length after '{what}': {}", escape(line)))
}

fn parse_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Option<Reply>, String> {
    if depth > 128 {
        return Err("replies nested deeper than 128".into());
    }
    if *pos >= buf.len() {
        return Ok(None);
    }
    let kind = buf[*pos] as char;
    *pos += 1;
    let Some(line) = read_line(buf, pos)? else {
        return Ok(None);
    };
    let text = || String::from_utf8_lossy(line).into_owned();
    let reply = match kind {
        '+' => Reply::Simple(text()),
        '-' => Reply::Error(text()),
        ':' => Reply::Integer(
            text()
                .parse()
                .map_err(|_| format!("bad integer reply: {}", escape(line)))?,
        ),
        ',' => Reply::Double(text()),
        '(' => Reply::BigNumber(text()),
        '#' => match line {
            b"t" => Reply::Boolean(true),
            b"f" => Reply::Boolean(false),
            _ => return Err(format!("bad boolean: {}", escape(line))),
        },
        '_' => {
            if !line.is_empty() {
                return Err(format!("bad null: {}", escape(line)));
            }
            Reply::Null
        }
        '$' | '=' | '!' => {
            let n = parse_len(line, kind)?;
            if n == -1 && kind == '$' {
                Reply::NullBulk
            } else if n < 0 {
                return Err(format!("negative length {n} after '{kind}'"));
            } else {
                let n = n as usize;
                if buf.len() < *pos + n + 2 {
                    return Ok(None);
                }
                let data = buf[*pos..*pos + n].to_vec();
                if &buf[*pos + n..*pos + n + 2] != b"\r\n" {
                    return Err(format!("bulk of length {n} not followed by CRLF"));
                }
                *pos += n + 2;
                match kind {
                    '$' => Reply::Bulk(data),
                    '!' => Reply::BlobError(data),
                    _ => {
                        if data.len() < 4 || data[3] != b':' {
                            return Err(format!("bad verbatim string: {}", escape(&data)));
                        }
                        Reply::Verbatim(
                            String::from_utf8_lossy(&data[..3]).into_owned(),
                            data[4..].to_vec(),
                        )
                    }
                }
            }
        }
        '*' | '~' | '>' => {
            let n = parse_len(line, kind)?;
            if n == -1 && kind == '*' {
                Reply::NullArray
            } else if n < 0 {
                return Err(format!("negative length {n} after '{kind}'"));
            } else {
                let mut items = Vec::with_capacity((n as usize).min(1024));
                for _ in 0..n {
                    match parse_at(buf, pos, depth + 1)? {
                        Some(r) => items.push(r),
                        None => return Ok(None),
                    }
                }
                match kind {
                    '*' => Reply::Array(items),
                    '~' => Reply::Set(items),
                    _ => Reply::Push(items),
                }
            }
        }
        '%' | '|' => {
            let n = parse_len(line, kind)?;
            if n < 0 {
                return Err(format!("negative length {n} after '{kind}'"));
            }
            let mut items = Vec::with_capacity((n as usize).min(1024));
            for _ in 0..n {
                let Some(k) = parse_at(buf, pos, depth + 1)? else {
                    return Ok(None);
                };
                let Some(v) = parse_at(buf, pos, depth + 1)? else {
                    return Ok(None);
                };
                items.push((k, v));
            }
            if kind == '%' {
                Reply::Map(items)
            } else {
                let Some(inner) = parse_at(buf, pos, depth + 1)? else {
                    return Ok(None);
                };
                Reply::Attribute(items, Box::new(inner))
            }
        }
        other => {
            return Err(format!(
                "unknown reply type byte {:?} (0x{:02x})",
                other, other as u32
            ))
        }
    };
    Ok(Some(reply))
}

/// Splits a complete top-level aggregate reply into its header and the raw bytes of each
/// element (map entries as key+value). `None` for non-aggregates.
fn split_aggregate(raw: &[u8]) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
    let kind = *raw.first()?;
    let per = match kind {
        b'*' | b'~' | b'>' => 1,
        b'%' => 2,
        _ => return None,
    };
    let mut pos = 1;
    let line = read_line(raw, &mut pos).ok()??;
    let n = parse_len(line, kind as char).ok()?;
    if n < 0 {
        return None;
    }
    let header = raw[..pos].to_vec();
    let mut items = Vec::new();
    for _ in 0..n {
        let start = pos;
        for _ in 0..per {
            parse_at(raw, &mut pos, 1).ok()??;
        }
        items.push(raw[start..pos].to_vec());
    }
    Some((header, items))
}

/// Sorts the elements of a top-level array/set/push/map reply (by their raw bytes), so that
/// replies whose order is unspecified (KEYS, SMEMBERS, HGETALL...) can be compared.
pub fn sort_reply(raw: &[u8]) -> Vec<u8> {
    match split_aggregate(raw) {
        Some((mut header, mut items)) => {
            items.sort();
            for i in items {
                header.extend_from_slice(&i);
            }
            header
        }
        None => raw.to_vec(),
    }
}

/// Bytes as a double-quoted string with `\r`, `\n`, `\"`, `\\` and `\xHH` escapes.
pub fn escape(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('"');
    s
}

/// Renders raw reply bytes readably (`[+OK, (integer) 3, "foo", (nil)]`); falls back to the
/// escaped bytes for anything that is not exactly one valid reply.
pub fn fmt_reply(raw: &[u8]) -> String {
    let s = match try_parse_reply(raw) {
        Ok(Some((r, n))) if n == raw.len() => r.to_string(),
        _ => format!("(not one valid reply) {}", escape(raw)),
    };
    shorten(s)
}

fn shorten(s: String) -> String {
    if s.len() <= MAX_SHOWN {
        return s;
    }
    let mut end = MAX_SHOWN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} chars in all)", &s[..end], s.len())
}

/// Renders a command readably: `SET "k" "v"`.
pub fn fmt_command<A: AsRef<[u8]>>(args: &[A]) -> String {
    let mut s = String::new();
    for (i, a) in args.iter().enumerate() {
        let a = a.as_ref();
        if i > 0 {
            s.push(' ');
        }
        let plain = !a.is_empty()
            && a.iter()
                .all(|&c| c.is_ascii_graphic() && c != b'"' && c != b'\'' && c != b'\\');
        if plain {
            s.push_str(&String::from_utf8_lossy(a));
        } else {
            s.push_str(&escape(a));
        }
    }
    shorten(s)
}

/// Splits a line into arguments the way redis-cli does (sdssplitargs): whitespace separates;
/// `"..."` supports `\n \r \t \b \a \\ \" \xHH`; `'...'` supports `\'`; a closing quote must
/// be followed by whitespace or the end of the line.
pub fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let b = line.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Ok(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= b.len() {
                    return Err(format!("unbalanced double quote in: {line}"));
                }
                let hex = |c: u8| (c as char).to_digit(16);
                if b[i] == b'\\'
                    && i + 3 < b.len()
                    && b[i + 1] == b'x'
                    && hex(b[i + 2]).is_some()
                    && hex(b[i + 3]).is_some()
                {
                    cur.push((hex(b[i + 2]).unwrap() * 16 + hex(b[i + 3]).unwrap()) as u8);
                    i += 4;
                } else if b[i] == b'\\' && i + 1 < b.len() {
                    cur.push(match b[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                    i += 2;
                } else if b[i] == b'"' {
                    if i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() {
                        return Err(format!("closing quote must be followed by a space: {line}"));
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(b[i]);
                    i += 1;
                }
            } else if in_sq {
                if i >= b.len() {
                    return Err(format!("unbalanced single quote in: {line}"));
                }
                if b[i] == b'\\' && i + 1 < b.len() && b[i + 1] == b'\'' {
                    cur.push(b'\'');
                    i += 2;
                } else if b[i] == b'\'' {
                    if i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() {
                        return Err(format!("closing quote must be followed by a space: {line}"));
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(b[i]);
                    i += 1;
                }
            } else {
                if i >= b.len() || b[i].is_ascii_whitespace() {
                    break;
                }
                match b[i] {
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
                i += 1;
            }
        }
        args.push(cur);
    }
}

// ---------------------------------------------------------------------------------------------
// RawConn
// ---------------------------------------------------------------------------------------------

/// A blocking raw RESP connection: sends commands or raw bytes, reads replies as exact bytes.
/// Every read is bounded by a timeout ([`REPLY_TIMEOUT`] unless changed), after which the test
/// panics instead of hanging.
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
    timeout: Duration,
    peer: SocketAddr,
}

impl RawConn {
    pub fn connect(addr: SocketAddr) -> RawConn {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(REPLY_TIMEOUT)).unwrap();
        RawConn {
            stream,
            buf: Vec::new(),
            pos: 0,
            timeout: REPLY_TIMEOUT,
            peer: addr,
        }
    }

    /// Connects to 127.0.0.1:`port`.
    pub fn connect_port(port: u16) -> RawConn {
        RawConn::connect(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Changes the read timeout used by [`RawConn::read_reply`].
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Sends one command as a RESP array of bulk strings. Accepts `&["SET", "k", "v"]`,
    /// `&[b"SET".as_slice(), ...]`, `&[Vec<u8>]`, ...
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.send_raw(&encode_command(args));
    }

    /// Sends raw bytes (inline commands, pipelines, malformed input...).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("write to {}: {e}", self.peer));
    }

    /// Reads exactly one complete reply and returns its raw bytes. Panics on timeout, on EOF
    /// and on malformed RESP.
    pub fn read_reply(&mut self) -> Vec<u8> {
        let timeout = self.timeout;
        match self.try_read_reply(timeout) {
            Ok(r) => r,
            Err(e) => panic!(
                "reading a reply from {}: {e}; bytes received but not consumed: {}",
                self.peer,
                shorten(escape(&self.buf[self.pos..]))
            ),
        }
    }

    /// Reads one complete reply, waiting at most `timeout`. Errors: `TimedOut`/`WouldBlock`
    /// (no complete reply in time), `UnexpectedEof` (connection closed), `InvalidData`.
    pub fn try_read_reply(&mut self, timeout: Duration) -> io::Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            match try_parse_reply(&self.buf[self.pos..]) {
                Ok(Some((_, n))) => {
                    let out = self.buf[self.pos..self.pos + n].to_vec();
                    self.pos += n;
                    if self.pos == self.buf.len() {
                        self.buf.clear();
                        self.pos = 0;
                    }
                    return Ok(out);
                }
                Ok(None) => {}
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no complete reply within {timeout:?}"),
                ));
            }
            self.stream.set_read_timeout(Some(deadline - now))?;
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed by the server",
                    ))
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no complete reply within {timeout:?}"),
                    ));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads one reply and parses it.
    pub fn read_parsed(&mut self) -> Reply {
        Reply::from_raw(&self.read_reply())
    }

    /// Sends a command and reads its reply (raw bytes).
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send(args);
        self.read_reply()
    }

    /// Sends a command written like a redis-cli line (`SET k "a b"`) and reads its reply.
    pub fn cmd_str(&mut self, line: &str) -> Vec<u8> {
        let args = split_args(line).unwrap_or_else(|e| panic!("{e}"));
        self.cmd(&args)
    }

    /// Sends a command and returns its parsed reply.
    pub fn cmd_parsed<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        Reply::from_raw(&self.cmd(args))
    }

    /// Whether nothing more arrives and the server closes the connection within `timeout`
    /// (any bytes that do arrive are discarded).
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        self.closed_within_collecting(timeout, &mut Vec::new())
    }

    /// [`RawConn::closed_within`], keeping the bytes that arrive before the close in `got`.
    /// Sends `bytes`, a pipelined run on which the server panics, and asserts that
    /// the connection is closed within 10 s without any reply of the run;
    /// `what` prefixes the failure messages.
    pub fn send_panicking_run(&mut self, bytes: &[u8], what: &str) {
        self.send_raw(bytes);
        let mut got = Vec::new();
        assert!(
            self.closed_within_collecting(Duration::from_secs(10), &mut got),
            "{what}the client whose run panicked is closed"
        );
        assert!(
            got.is_empty(),
            "{what}no reply of the run is sent, got {}",
            fmt_reply(&got)
        );
    }

    pub fn closed_within_collecting(&mut self, timeout: Duration, got: &mut Vec<u8>) -> bool {
        got.extend_from_slice(&self.buf[self.pos..]);
        self.buf.clear();
        self.pos = 0;
        let deadline = Instant::now() + timeout;
        let mut chunk = [0u8; 4096];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let _ = self.stream.set_read_timeout(Some(deadline - now));
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return false
                }
                Err(_) => return true,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Differential testing
// ---------------------------------------------------------------------------------------------

/// How two replies are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// Byte-for-byte identical.
    Exact,
    /// Identical after sorting the elements of a top-level aggregate ([`sort_reply`]).
    Sorted,
    /// For TTL-like integer replies that depend on the clock: byte-identical when either is
    /// negative or the redis value lies in `exact` (absolute times the test itself chose),
    /// otherwise both positive and within `tolerance` of each other.
    Time { tolerance: i64, exact: (i64, i64) },
}

impl Compare {
    /// Whether replies `f` (Ferrite) and `r` (Redis) match.
    pub fn matches(self, f: &[u8], r: &[u8]) -> bool {
        match self {
            Compare::Exact => f == r,
            Compare::Sorted => sort_reply(f) == sort_reply(r),
            Compare::Time { tolerance, exact } => {
                if f == r {
                    return true;
                }
                let (Ok(Some((Reply::Integer(a), _))), Ok(Some((Reply::Integer(b), _)))) =
                    (try_parse_reply(f), try_parse_reply(r))
                else {
                    return false;
                };
                if a < 0 || b < 0 || (exact.0..=exact.1).contains(&b) {
                    return false;
                }
                (a - b).abs() <= tolerance
            }
        }
    }
}

/// Drives Ferrite and a real redis-server with the same commands and asserts identical
/// replies. Set `FERRITE_DIFF_AGAINST_REDIS=1` to make the Ferrite side a second redis-server
/// (to check that a test or generator produces no false differences).
pub struct Differential {
    /// Connection to the Ferrite side.
    pub ferrite: RawConn,
    /// Connection to the real redis-server.
    pub redis: RawConn,
    ferrite_server: ServerProcess,
    redis_server: ServerProcess,
    history: VecDeque<String>,
    context: String,
    checked: u64,
}

impl Default for Differential {
    fn default() -> Self {
        Differential::new()
    }
}

impl Differential {
    /// Starts a Ferrite server and a redis-server with default arguments.
    pub fn new() -> Differential {
        Differential::with_args(&[], &[])
    }

    /// Starts both servers with extra arguments. The first list goes to the Ferrite side,
    /// also when that side is a redis-server because of `FERRITE_DIFF_AGAINST_REDIS` (then
    /// without `--threads N`, which redis-server does not know).
    pub fn with_args(ferrite_args: &[&str], redis_args: &[&str]) -> Differential {
        let ferrite_server = if against_redis() {
            // redis-server does not know Ferrite-only options: drop `--threads N`.
            let mut args = Vec::new();
            let mut it = ferrite_args.iter();
            while let Some(a) = it.next() {
                if *a == "--threads" {
                    it.next();
                } else {
                    args.push(*a);
                }
            }
            RedisServer::with_args(&args).into_process()
        } else {
            Server::with_args(ferrite_args).into_process()
        };
        let redis_server = RedisServer::with_args(redis_args).into_process();
        Differential {
            ferrite: ferrite_server.raw(),
            redis: redis_server.raw(),
            ferrite_server,
            redis_server,
            history: VecDeque::new(),
            context: String::new(),
            checked: 0,
        }
    }

    pub fn ferrite_server(&mut self) -> &mut ServerProcess {
        &mut self.ferrite_server
    }
    pub fn redis_server(&mut self) -> &mut ServerProcess {
        &mut self.redis_server
    }

    /// New raw connections to both sides (for multi-client scenarios).
    pub fn new_conns(&self) -> (RawConn, RawConn) {
        (self.ferrite_server.raw(), self.redis_server.raw())
    }

    /// Text added to every failure message (e.g. the seed that reproduces the failure).
    pub fn set_context(&mut self, context: impl Into<String>) {
        self.context = context.into();
    }

    /// Number of commands checked so far.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// Sends the same command to both servers; returns (ferrite reply, redis reply) without
    /// comparing them.
    pub fn both<A: AsRef<[u8]>>(&mut self, args: &[A]) -> (Vec<u8>, Vec<u8>) {
        self.ferrite.send(args);
        let f = self.ferrite.read_reply();
        self.redis.send(args);
        let r = self.redis.read_reply();
        (f, r)
    }

    /// Sends the same command to both servers and asserts byte-identical replies.
    /// Returns the (common) reply.
    pub fn check<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.check_with(args, Compare::Exact)
    }

    /// Like [`Differential::check`] but ignores the order of the elements of a top-level
    /// array/set/map (KEYS, SMEMBERS, HGETALL...).
    pub fn check_sorted<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.check_with(args, Compare::Sorted)
    }

    /// Sends the same command to both servers and compares the replies with `how`.
    /// Returns the redis-server reply.
    pub fn check_with<A: AsRef<[u8]>>(&mut self, args: &[A], how: Compare) -> Vec<u8> {
        let (f, r) = self.both(args);
        let shown = fmt_command(args);
        self.compare(&shown, &f, &r, how);
        r
    }

    /// Sends the same raw bytes to both servers, reads `replies` replies from each and
    /// compares them exactly (inline commands, pipelines, protocol errors).
    pub fn check_raw(&mut self, bytes: &[u8], replies: usize) -> Vec<Vec<u8>> {
        self.ferrite.send_raw(bytes);
        let f: Vec<Vec<u8>> = (0..replies).map(|_| self.ferrite.read_reply()).collect();
        self.redis.send_raw(bytes);
        let r: Vec<Vec<u8>> = (0..replies).map(|_| self.redis.read_reply()).collect();
        let shown = format!("(raw) {}", shorten(escape(bytes)));
        for (i, (f, r)) in f.iter().zip(&r).enumerate() {
            self.compare(&format!("{shown} [reply {}]", i + 1), f, r, Compare::Exact);
        }
        r
    }

    /// Sends `cmds` to both servers as one pipeline (all requests written before any reply
    /// is read) and compares each reply with its own [`Compare`]. Returns Redis's replies.
    pub fn check_pipeline(&mut self, cmds: &[(Vec<Vec<u8>>, Compare)]) -> Vec<Vec<u8>> {
        let mut bytes = Vec::new();
        for (args, _) in cmds {
            bytes.extend_from_slice(&encode_command(args));
        }
        self.ferrite.send_raw(&bytes);
        let f: Vec<Vec<u8>> = cmds.iter().map(|_| self.ferrite.read_reply()).collect();
        self.redis.send_raw(&bytes);
        let r: Vec<Vec<u8>> = cmds.iter().map(|_| self.redis.read_reply()).collect();
        for (i, ((args, how), (f, r))) in cmds.iter().zip(f.iter().zip(&r)).enumerate() {
            let shown = format!("{} [pipeline {}/{}]", fmt_command(args), i + 1, cmds.len());
            self.compare(&shown, f, r, *how);
        }
        r
    }

    /// Switches both connections to RESP3 (`HELLO 3`); the HELLO replies themselves differ
    /// (server name, version, id) and are only checked to be maps.
    pub fn hello3(&mut self) {
        let (f, r) = self.both(&["HELLO", "3"]);
        assert!(
            r.starts_with(b"%"),
            "redis-server rejected HELLO 3: {}",
            fmt_reply(&r)
        );
        assert!(
            f.starts_with(b"%"),
            "Ferrite rejected HELLO 3: {}{}",
            fmt_reply(&f),
            self.context_suffix()
        );
        self.remember("HELLO 3".into());
    }

    /// Runs a script: one command per line, tokens split like redis-cli ([`split_args`]).
    /// Empty lines and lines starting with `#` are skipped. A line may start with
    /// `@sorted ` (compare ignoring element order) or `@unchecked ` (send to both, don't
    /// compare).
    pub fn check_all(&mut self, script: &str) {
        for (lineno, line) in script.lines().enumerate() {
            let mut line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut how = Some(Compare::Exact);
            if let Some(rest) = line.strip_prefix("@sorted ") {
                how = Some(Compare::Sorted);
                line = rest;
            } else if let Some(rest) = line.strip_prefix("@unchecked ") {
                how = None;
                line = rest;
            }
            let args =
                split_args(line).unwrap_or_else(|e| panic!("script line {}: {e}", lineno + 1));
            if args.is_empty() {
                continue;
            }
            match how {
                Some(how) => {
                    let (f, r) = self.both(&args);
                    let shown = format!("{} (script line {})", fmt_command(&args), lineno + 1);
                    self.compare(&shown, &f, &r, how);
                }
                None => {
                    self.both(&args);
                    self.remember(format!("{} (unchecked)", fmt_command(&args)));
                }
            }
        }
    }

    /// Runs `script` on two clients of each server, one command per line as
    /// [`Differential::check_all`] reads them: a line `@2 CMD` goes to the second client, any
    /// other to the first, and `sleep MS` waits. Every reply is compared byte for byte.
    /// Returns how many commands were compared.
    pub fn check_two_clients(&mut self, script: &str) -> u64 {
        let (mut f1, mut r1) = self.new_conns();
        let (mut f2, mut r2) = self.new_conns();
        let mut checked = 0;
        for (lineno, line) in script.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(ms) = line.strip_prefix("sleep ") {
                std::thread::sleep(Duration::from_millis(ms.parse().expect("sleep ms")));
                continue;
            }
            let (second, cmd) = match line.strip_prefix("@2 ") {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let args = split_args(cmd).expect("script line");
            let (f, r) = if second {
                (f2.cmd(&args), r2.cmd(&args))
            } else {
                (f1.cmd(&args), r1.cmd(&args))
            };
            let what = format!(
                "line {}: {} (client {})",
                lineno + 1,
                fmt_command(&args),
                if second { 2 } else { 1 }
            );
            assert_eq!(fmt_reply(&f), fmt_reply(&r), "{what}");
            assert_eq!(f, r, "{what}: raw bytes differ");
            checked += 1;
        }
        self.checked += checked;
        checked
    }

    /// Like [`Differential::check_all`] with every line compared ignoring element order.
    pub fn check_all_sorted(&mut self, script: &str) {
        let prefixed: String = script
            .lines()
            .map(|l| {
                let t = l.trim();
                if t.is_empty() || t.starts_with('#') || t.starts_with('@') {
                    format!("{t}\n")
                } else {
                    format!("@sorted {t}\n")
                }
            })
            .collect();
        self.check_all(&prefixed);
    }

    fn remember(&mut self, entry: String) {
        if self.history.len() == HISTORY_LEN {
            self.history.pop_front();
        }
        self.history.push_back(entry);
    }

    fn context_suffix(&self) -> String {
        if self.context.is_empty() {
            String::new()
        } else {
            format!("\n{}", self.context)
        }
    }

    fn compare(&mut self, shown: &str, f: &[u8], r: &[u8], how: Compare) {
        self.checked += 1;
        if !how.matches(f, r) {
            let mut msg = String::new();
            let _ = writeln!(msg, "differential mismatch on command #{}:", self.checked);
            let _ = writeln!(msg, "  command:     {shown}");
            let _ = writeln!(msg, "  ferrite:     {}", fmt_reply(f));
            let _ = writeln!(msg, "  redis:       {}", fmt_reply(r));
            let _ = writeln!(msg, "  ferrite raw: {}", shorten(escape(f)));
            let _ = writeln!(msg, "  redis raw:   {}", shorten(escape(r)));
            if how != Compare::Exact {
                let _ = writeln!(msg, "  comparison:  {how:?}");
            }
            if !self.history.is_empty() {
                let _ = writeln!(msg, "  preceding commands (oldest first):");
                for h in &self.history {
                    let _ = writeln!(msg, "    {h}");
                }
            }
            if against_redis() {
                let _ = writeln!(
                    msg,
                    "  (both sides are redis-server: {AGAINST_REDIS_ENV}=1, so the test itself \
                     is not deterministic)"
                );
            }
            msg.push_str(&self.context);
            panic!("{msg}");
        }
        let entry = format!("{shown}  ->  {}", fmt_reply(r));
        self.remember(entry);
    }
}

/// Whether `FERRITE_DIFF_AGAINST_REDIS=1`.
pub fn against_redis() -> bool {
    matches!(
        std::env::var(AGAINST_REDIS_ENV).as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}
