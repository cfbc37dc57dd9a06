//! Start-up and shutdown of the real binary: configuration files and
//! command-line directives, refusal of bad configuration, signals.

mod common;

use common::Server;
use std::io::Write;
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
