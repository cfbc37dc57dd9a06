//! Start-up and shutdown of the real binary: configuration files and
//! command-line directives (precedence compared with redis-server), refusal of
//! bad configuration, signals, `daemonize` on a copy of Debian's redis.conf, the
//! pid file, systemd and upstart supervision, and the `--version` line.

mod common;

use common::Server;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrite-server");

fn run_to_exit(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ferrite-server");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn unknown_directive_in_file_names_the_line_and_exits_non_zero() {
    let dir = common::TempDir::new("startup-conf");
    let path = dir.path().join("bad.conf");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "# a comment\nport 7000\nno-such-directive 1").unwrap();
    let (code, text) = run_to_exit(&[path.to_str().unwrap()]);
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("line 3"), "{text}");
    assert!(text.contains("no-such-directive"), "{text}");
}

#[test]
fn malformed_value_on_the_command_line_is_refused() {
    let (code, text) = run_to_exit(&["--port", "not-a-number"]);
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("port"), "{text}");
    let (code, text) = run_to_exit(&["--databases", "0"]);
    assert_ne!(code, 0, "{text}");
    let (code, text) = run_to_exit(&["--appendfsync", "sometimes"]);
    assert_ne!(code, 0, "{text}");
}

#[test]
fn config_file_and_overrides_apply() {
    let s = Server::with_config(
        "databases 4\nmaxclients 77\nhz 20\n",
        &["--threads", "2", "--maxclients", "88"],
    );
    let mut c = s.raw();
    // Four databases: 3 is the last valid index.
    assert_eq!(c.cmd(&["SELECT", "3"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&["SELECT", "4"]),
        b"-ERR DB index is out of range\r\n"
    );
    // The command line wins over the file.
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxclients"]),
        b"*2\r\n$10\r\nmaxclients\r\n$2\r\n88\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "hz"]),
        b"*2\r\n$2\r\nhz\r\n$2\r\n20\r\n"
    );
}

#[test]
fn startup_log_names_version_port_threads_pid_and_config() {
    let s = Server::with_args(&["--threads", "2"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = s.log();
        if log.contains("Ferrite starting") {
            assert!(log.contains(env!("CARGO_PKG_VERSION")), "{log}");
            assert!(log.contains(&format!("port={}", s.port())), "{log}");
            assert!(log.contains("threads=2"), "{log}");
            assert!(log.contains(&format!("pid={}", s.pid())), "{log}");
            assert!(log.contains("config_file"), "{log}");
            return;
        }
        assert!(Instant::now() < deadline, "no start-up line in: {log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_and_sigint_shut_down_cleanly() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let mut s = Server::start();
        let mut c = s.raw();
        assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
        // SAFETY: plain kill(2) on the pid of the child this test started.
        let rc = unsafe { libc::kill(s.pid() as i32, sig) };
        assert_eq!(rc, 0);
        let status = s
            .wait_exit(Duration::from_secs(10))
            .expect("server did not exit on signal");
        assert!(status.success(), "signal {sig}: exit status {status}");
    }
}

// ---------------------------------------------------------------------------------------
// Daemonizing, pid file, supervision, precedence, version (issue 10)
// ---------------------------------------------------------------------------------------

/// The directives Debian's stock /etc/redis/redis.conf sets (Redis 7.0 package), for
/// machines without the file; the file itself is used when installed.
const DEBIAN_DIRECTIVES: &str = "bind 127.0.0.1 -::1\nprotected-mode yes\nport 6379\n\
tcp-backlog 511\ntimeout 0\ntcp-keepalive 300\ndaemonize yes\n\
pidfile /run/redis/redis-server.pid\nloglevel notice\nlogfile /var/log/redis/redis-server.log\n\
databases 16\nalways-show-logo no\nset-proc-title yes\n\
proc-title-template \"{title} {listen-addr} {server-mode}\"\nstop-writes-on-bgsave-error yes\n\
rdbcompression yes\nrdbchecksum yes\ndbfilename dump.rdb\nrdb-del-sync-files no\n\
dir /var/lib/redis\nreplica-serve-stale-data yes\nreplica-read-only yes\n\
repl-diskless-sync yes\nrepl-diskless-sync-delay 5\nrepl-diskless-sync-max-replicas 0\n\
repl-diskless-load disabled\nrepl-disable-tcp-nodelay no\nreplica-priority 100\n\
acllog-max-len 128\nlazyfree-lazy-eviction no\nlazyfree-lazy-expire no\n\
lazyfree-lazy-server-del no\nreplica-lazy-flush no\nlazyfree-lazy-user-del no\n\
lazyfree-lazy-user-flush no\noom-score-adj no\noom-score-adj-values 0 200 800\n\
disable-thp yes\nappendonly no\nappendfilename \"appendonly.aof\"\n\
appenddirname \"appendonlydir\"\nappendfsync everysec\nno-appendfsync-on-rewrite no\n\
auto-aof-rewrite-percentage 100\nauto-aof-rewrite-min-size 64mb\naof-load-truncated yes\n\
aof-use-rdb-preamble yes\naof-timestamp-enabled no\nslowlog-log-slower-than 10000\n\
slowlog-max-len 128\nlatency-monitor-threshold 0\nnotify-keyspace-events \"\"\n\
hash-max-listpack-entries 512\nhash-max-listpack-value 64\nlist-max-listpack-size -2\n\
list-compress-depth 0\nset-max-intset-entries 512\nzset-max-listpack-entries 128\n\
zset-max-listpack-value 64\nhll-sparse-max-bytes 3000\nstream-node-max-bytes 4096\n\
stream-node-max-entries 100\nactiverehashing yes\nclient-output-buffer-limit normal 0 0 0\n\
client-output-buffer-limit replica 256mb 64mb 60\n\
client-output-buffer-limit pubsub 32mb 8mb 60\nhz 10\ndynamic-hz yes\n\
aof-rewrite-incremental-fsync yes\nrdb-save-incremental-fsync yes\njemalloc-bg-thread yes\n\
# supervised auto\n";

/// A copy of Debian's redis.conf with `settings` changed where the file sets them (the
/// commented-out `# supervised auto` counts), the others appended: what an administrator
/// edits by hand.
fn debian_conf_with(settings: &[(&str, String)]) -> String {
    let conf = std::fs::read_to_string("/etc/redis/redis.conf")
        .unwrap_or_else(|_| DEBIAN_DIRECTIVES.to_string());
    let mut done = vec![false; settings.len()];
    let mut out = String::new();
    for line in conf.lines() {
        let word = line
            .trim_start_matches(['#', ' '])
            .split_whitespace()
            .next()
            .unwrap_or("");
        let commented = line.starts_with('#');
        match settings.iter().position(|(n, _)| *n == word) {
            Some(i) if !commented || (word == "supervised" && line == "# supervised auto") => {
                if !done[i] {
                    out.push_str(&format!("{} {}\n", settings[i].0, settings[i].1));
                    done[i] = true;
                }
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (i, (n, v)) in settings.iter().enumerate() {
        if !done[i] {
            out.push_str(&format!("{n} {v}\n"));
        }
    }
    out
}

/// Runs `cmd` to completion, at most `timeout`; returns (exit code, stdout + stderr).
fn run_bounded(cmd: &mut Command, timeout: Duration) -> (i32, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ferrite-server");
    let deadline = Instant::now() + timeout;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("ferrite-server did not return within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// `/proc/<pid>/stat`: (state, session id), or None once the process is gone.
fn proc_stat(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp session ..."; comm may hold spaces, so start after ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f[0].chars().next()?, f[3].parse().ok()?))
}

/// Running (a zombie waiting for init to reap it has exited).
fn alive(pid: i32) -> bool {
    proc_stat(pid).is_some_and(|(s, _)| s != 'Z' && s != 'X')
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !f() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: plain kill(2) on a pid this test started (or its daemon).
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
}

/// Kills a daemon the test started if the test ends while it still runs.
struct Reaper(i32);

impl Drop for Reaper {
    fn drop(&mut self) {
        if alive(self.0) {
            // SAFETY: kill(2) on the daemon this test started.
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
}

fn info_field(c: &mut common::RawConn, name: &str) -> String {
    let info = c.cmd(&["INFO", "server"]);
    let text = String::from_utf8_lossy(&info).into_owned();
    text.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(String::from))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[test]
fn daemonizes_on_a_copy_of_debians_redis_conf() {
    let dir = common::TempDir::new("daemon");
    let port = common::reserve_port();
    let pidfile = dir.path().join("ferrite.pid");
    let conf_path = dir.path().join("redis.conf");
    let conf = debian_conf_with(&[
        ("port", port.to_string()),
        ("bind", "127.0.0.1".into()),
        ("daemonize", "yes".into()),
        ("supervised", "auto".into()),
        ("pidfile", pidfile.display().to_string()),
        // Relative: taken from `dir`, where redis-server works.
        ("logfile", "ferrite.log".into()),
        ("dir", dir.path().display().to_string()),
    ]);
    std::fs::write(&conf_path, &conf).unwrap();
    let (code, text) = run_bounded(
        Command::new(BIN)
            .arg(&conf_path)
            .current_dir("/")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("UPSTART_JOB"),
        Duration::from_secs(20),
    );
    assert_eq!(code, 0, "{text}\n--- config ---\n{conf}");
    // The parent returned once the daemon listened: the pid file is there already.
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("pid file written before the parent exits")
        .trim_end()
        .parse()
        .unwrap();
    let _reaper = Reaper(pid);
    assert!(
        alive(pid),
        "pid file names process {pid}, which is not running"
    );
    let mut c = common::RawConn::connect_port(port);
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(info_field(&mut c, "process_id"), pid.to_string());
    assert_eq!(info_field(&mut c, "process_supervised"), "no");
    // Detached: its own session, standard streams on /dev/null.
    assert_eq!(proc_stat(pid).unwrap().1, pid, "not a session leader");
    for fd in 0..=2 {
        let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap();
        assert_eq!(target, Path::new("/dev/null"), "fd {fd}");
    }
    let log = dir.path().join("ferrite.log");
    let text = std::fs::read_to_string(&log).expect("log file in `dir`");
    assert!(text.contains("Ready to accept connections"), "{text}");
    signal(pid, libc::SIGTERM);
    assert!(
        wait_until(Duration::from_secs(10), || !alive(pid)),
        "daemon still running 10 s after SIGTERM"
    );
    assert!(!pidfile.exists(), "SIGTERM left the pid file behind");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("Removing the pid file."), "{text}");
}

#[test]
fn daemon_parent_reports_a_start_up_failure() {
    let dir = common::TempDir::new("daemon-fail");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let pidfile = dir.path().join("f.pid");
    let conf = format!(
        "daemonize yes\nbind 127.0.0.1\nport {port}\npidfile {}\nlogfile {}\n",
        pidfile.display(),
        dir.path().join("f.log").display()
    );
    let conf_path = dir.path().join("f.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let (code, text) = run_bounded(
        Command::new(BIN)
            .arg(&conf_path)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("UPSTART_JOB"),
        Duration::from_secs(20),
    );
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!("could not bind 127.0.0.1:{port}")),
        "{text}"
    );
    assert!(!pidfile.exists());
}

/// The command line against the file, side by side with redis-server 7.0 on the same
/// file and arguments: single-value directives take the last value (file, then options),
/// `save` and `client-output-buffer-limit` (class by class) and `rename-command` add up,
/// and `--include` reads a file after the options before it.
#[test]
fn command_line_overrides_the_file_as_in_redis() {
    let inc = common::TempDir::new("precedence");
    let inc_file = inc.path().join("inc.conf");
    std::fs::write(&inc_file, "hz 33\n").unwrap();
    let file = "daemonize yes\nsupervised no\nmaxclients 50\nhz 5\nsave 900 1\n\
                client-output-buffer-limit pubsub 1mb 1mb 1\n\
                rename-command DBSIZE MYSIZE\nrename-command FLUSHALL \"\"\n";
    let inc_arg = inc_file.display().to_string();
    let args = [
        "--daemonize",
        "no",
        "--maxclients",
        "60",
        "--maxclients",
        "70",
        "--save",
        "60 5",
        "--client-output-buffer-limit",
        "normal 5mb 5mb 5",
        "--rename-command",
        "GET",
        "fetch",
        "--include",
        &inc_arg,
    ];
    let ferrite = Server::with_config(file, &args);
    let redis = common::RedisServer::with_config(file, &args);
    let script: &[&[&str]] = &[
        &["CONFIG", "GET", "daemonize"],
        &["CONFIG", "GET", "supervised"],
        &["CONFIG", "GET", "maxclients"],
        &["CONFIG", "GET", "hz"],
        &["CONFIG", "GET", "save"],
        &["CONFIG", "GET", "client-output-buffer-limit"],
        &["SET", "k", "v"],
        &["FETCH", "k"],
        &["fetch"],
        &["GET", "k"],
        &["MYSIZE"],
        &["DBSIZE"],
        &["FLUSHALL"],
        &["COMMAND", "INFO", "get"],
        &["COMMAND", "GETKEYS", "FETCH", "k"],
    ];
    let (mut f, mut r) = (ferrite.raw(), redis.raw());
    let mut ours = Vec::new();
    for cmd in script {
        let (a, b) = (f.cmd(cmd), r.cmd(cmd));
        assert_eq!(
            common::escape(&a),
            common::escape(&b),
            "{cmd:?}: Ferrite vs redis-server"
        );
        ours.push(a);
    }
    let text = |i: usize| String::from_utf8_lossy(&ours[i]).into_owned();
    assert!(text(0).ends_with("$2\r\nno\r\n"), "{}", text(0));
    assert!(text(2).ends_with("$2\r\n70\r\n"));
    assert!(text(3).ends_with("$2\r\n33\r\n"));
    assert!(text(4).ends_with("$4\r\n60 5\r\n"), "{}", text(4));
    assert!(text(5).contains("normal 5242880 5242880 5 slave"));
    assert!(text(5).contains("pubsub 1048576 1048576 1"));
    assert_eq!(text(7), "$1\r\nv\r\n");
    assert_eq!(
        text(8),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(text(10), ":1\r\n");
    assert!(text(11).starts_with("-ERR unknown command 'DBSIZE'"));
}

/// `-` reads config text from stdin after the file and before the options. Also: a
/// foreground server writes the pid file it is given and SHUTDOWN removes it.
#[test]
fn config_from_stdin_pidfile_in_the_foreground() {
    let dir = common::TempDir::new("stdin");
    let port = common::reserve_port();
    let mut child = Command::new(BIN)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--hz", "7", "-"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let _reaper = Reaper(pid);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"maxclients 42\nhz 3\npidfile fg.pid\n")
        .unwrap();
    assert!(common::wait_for_ping(port, Duration::from_secs(10)));
    let mut c = common::RawConn::connect_port(port);
    let get = |c: &mut common::RawConn, name: &str| {
        String::from_utf8_lossy(&c.cmd(&["CONFIG", "GET", name])).into_owned()
    };
    assert!(get(&mut c, "maxclients").ends_with("$2\r\n42\r\n"));
    assert!(get(&mut c, "hz").ends_with("$1\r\n7\r\n"));
    let pidfile = dir.path().join("fg.pid");
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap(),
        format!("{pid}\n")
    );
    c.send(&["SHUTDOWN"]);
    assert!(child.wait().unwrap().success());
    assert!(!pidfile.exists(), "SHUTDOWN left the pid file behind");
}

/// Starts `program` as systemd would (`NOTIFY_SOCKET`, `supervised auto`, and
/// `daemonize yes`, which supervision overrides), and returns every datagram it sent
/// from start to a SIGTERM shutdown.
fn notify_session(program: &Path) -> Vec<String> {
    use std::os::unix::net::UnixDatagram;
    let dir = common::TempDir::new("notify");
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let port = common::reserve_port();
    let pidfile = dir.path().join("s.pid");
    let mut child = Command::new(program)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--daemonize", "yes", "--supervised", "auto"])
        .arg("--pidfile")
        .arg(&pidfile)
        .arg("--logfile")
        .arg(dir.path().join("s.log"))
        .arg("--dir")
        .arg(dir.path())
        .env("NOTIFY_SOCKET", &sock_path)
        .env_remove("UPSTART_JOB")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let _reaper = Reaper(pid);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let mut recv = |got: &mut Vec<String>| {
        let n = loop {
            match sock.recv(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => panic!("{}: no notification: {e}; got {got:?}", program.display()),
            }
        };
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    };
    while !got.iter().any(|m| m == "READY=1\n") {
        recv(&mut got);
    }
    // Supervised, so not forked: the process systemd started is the server.
    assert!(child.try_wait().unwrap().is_none(), "forked under systemd");
    let mut c = common::RawConn::connect_port(port);
    assert_eq!(info_field(&mut c, "process_id"), pid.to_string());
    assert_eq!(info_field(&mut c, "process_supervised"), "systemd");
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap(),
        format!("{pid}\n")
    );
    signal(pid, libc::SIGTERM);
    while !got.iter().any(|m| m == "STOPPING=1\n") {
        recv(&mut got);
    }
    assert!(child.wait().unwrap().success());
    assert!(!pidfile.exists());
    got
}

#[test]
fn systemd_notifications_match_redis() {
    let ours = notify_session(Path::new(BIN));
    let theirs = notify_session(&common::redis_server_path());
    // The start-up STATUS text names the server; the rest is identical.
    let shape = |msgs: &[String]| {
        msgs.iter()
            .map(|m| match m.as_str() {
                "STATUS=Ready to accept connections\n" => m.clone(),
                s if s.starts_with("STATUS=") => "STATUS=(starting)".into(),
                _ => m.clone(),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        shape(&ours),
        shape(&theirs),
        "ours {ours:?}, redis {theirs:?}"
    );
    assert_eq!(
        shape(&ours),
        [
            "STATUS=(starting)",
            "STATUS=Ready to accept connections\n",
            "READY=1\n",
            "STOPPING=1\n"
        ]
    );
}

#[test]
fn upstart_stops_itself_once_listening() {
    let port = common::reserve_port();
    let mut child = Command::new(BIN)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--supervised", "upstart", "--daemonize", "yes"])
        .env("UPSTART_JOB", "ferrite")
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let _reaper = Reaper(pid);
    assert!(
        wait_until(Duration::from_secs(10), || proc_stat(pid)
            .is_some_and(|(s, _)| s == 'T')),
        "never stopped itself"
    );
    // Stopped after binding: the port is taken while the process waits for SIGCONT.
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());
    signal(pid, libc::SIGCONT);
    assert!(common::wait_for_ping(port, Duration::from_secs(10)));
    let mut c = common::RawConn::connect_port(port);
    assert_eq!(info_field(&mut c, "process_supervised"), "upstart");
    signal(pid, libc::SIGTERM);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

/// `-v` and `--version` print one line in redis-server's shape: the same fields in the
/// same order, so scripts that parse `redis-server -v` parse it.
#[test]
fn version_line_has_redis_servers_shape() {
    let line = |program: &Path, flag: &str| {
        let out = Command::new(program).arg(flag).output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let ours = line(Path::new(BIN), "-v");
    assert_eq!(ours, line(Path::new(BIN), "--version"));
    let theirs = line(&common::redis_server_path(), "--version");
    let keys = |l: &str| {
        l.split_whitespace()
            .skip(2)
            .map(|w| w.split_once('=').expect("key=value").0.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&ours), keys(&theirs), "{ours} vs {theirs}");
    assert!(ours.starts_with(&format!(
        "Ferrite server v={} sha=",
        env!("CARGO_PKG_VERSION")
    )));
    assert!(ours.contains(" bits=64 ") && ours.ends_with('\n'));
    assert_eq!(ours.lines().count(), 1);
    // --help stays.
    let (code, text) = run_to_exit(&["--help"]);
    assert_eq!(code, 0);
    assert!(text.contains("Usage"), "{text}");
}
