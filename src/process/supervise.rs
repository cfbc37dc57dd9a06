//! `supervised no|upstart|systemd|auto`: telling the service manager that started the
//! server when it is ready and when it stops, as redis-server does.
//!
//! * systemd (`Type=notify`): datagrams on the unix socket named by `NOTIFY_SOCKET`
//!   (a leading `@` names an abstract socket): `STATUS=...` while starting,
//!   `STATUS=Ready to accept connections` and `READY=1` once listening, `STOPPING=1`
//!   on a clean shutdown. Each message is its own datagram ending in a newline, as
//!   redis-server 7.0 sends them. A datagram to a path needs no client library.
//! * upstart (`expect stop`): the server stops itself with SIGSTOP once listening, and
//!   upstart continues it. `UPSTART_JOB` is removed from the environment, as Redis does.
//! * auto: upstart if `UPSTART_JOB` is set, else systemd if `NOTIFY_SOCKET` is set.
//!
//! A supervised server does not daemonize even with `daemonize yes` (the supervisor
//! tracks the process it started). A mode whose variable is missing falls back to
//! "no" with a warning; INFO's `process_supervised` shows the mode in effect.

use crate::config::Supervised;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// The supervisor detected at start-up.
pub struct Supervisor {
    kind: Kind,
    /// Why a requested mode is not in effect (logged by [`Supervisor::log`]).
    missing: Option<&'static str>,
}

enum Kind {
    None,
    Upstart,
    Systemd(Notifier),
}

/// `NOTIFY_SOCKET`'s address and an unbound datagram socket to send from.
struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
    shown: String,
}

impl Supervisor {
    /// No supervisor.
    pub fn none() -> Supervisor {
        Supervisor {
            kind: Kind::None,
            missing: None,
        }
    }

    /// Detects the supervisor `mode` asks for from the environment. Call before any
    /// other thread exists: it may remove `UPSTART_JOB` from the environment.
    pub fn detect(mode: Supervised) -> Supervisor {
        let upstart = std::env::var_os("UPSTART_JOB").is_some();
        let systemd = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|s| !s.is_empty());
        let (kind, missing) = match mode {
            Supervised::No => (Kind::None, None),
            Supervised::Upstart if upstart => (Kind::Upstart, None),
            Supervised::Upstart => (
                Kind::None,
                Some("upstart supervision requested, but UPSTART_JOB is not set"),
            ),
            Supervised::Auto if upstart => (Kind::Upstart, None),
            Supervised::Systemd | Supervised::Auto => match systemd.map(|s| Notifier::new(&s)) {
                Some(Ok(n)) => (Kind::Systemd(n), None),
                Some(Err(_)) => (
                    Kind::None,
                    Some("systemd supervision error: NOTIFY_SOCKET is not a valid socket address"),
                ),
                None if mode == Supervised::Systemd => (
                    Kind::None,
                    Some("systemd supervision error: NOTIFY_SOCKET not found"),
                ),
                None => (Kind::None, None),
            },
        };
        if matches!(kind, Kind::Upstart) {
            // Single-threaded here (see above), so changing the environment races nothing.
            std::env::remove_var("UPSTART_JOB");
        }
        Supervisor { kind, missing }
    }

    /// Whether a supervisor is in effect (then the server does not daemonize).
    pub fn is_active(&self) -> bool {
        !matches!(self.kind, Kind::None)
    }

    /// `systemd`, `upstart` or `no`.
    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::None => "no",
            Kind::Upstart => "upstart",
            Kind::Systemd(_) => "systemd",
        }
    }

    /// Logs the detection and tells systemd that start-up is under way.
    pub fn log(&self) {
        if let Some(why) = self.missing {
            tracing::warn!("{why}");
        }
        match &self.kind {
            Kind::None => {}
            Kind::Upstart => {
                tracing::info!("Supervised by upstart: will stop with SIGSTOP once ready")
            }
            Kind::Systemd(n) => {
                tracing::info!(
                    socket = %n.shown,
                    "Supervised by systemd: set TimeoutStartSec and TimeoutStopSec in the unit to suit the data set"
                );
                n.send("STATUS=Ferrite is starting...\n");
            }
        }
    }

    /// The server listens.
    pub fn ready(&self) {
        match &self.kind {
            Kind::None => {}
            Kind::Upstart => {
                // SAFETY: raise takes a signal number and touches no memory of ours.
                unsafe { libc::raise(libc::SIGSTOP) };
            }
            Kind::Systemd(n) => {
                n.send("STATUS=Ready to accept connections\n");
                n.send("READY=1\n");
            }
        }
    }

    /// Clean shutdown has begun.
    pub fn stopping(&self) {
        if let Kind::Systemd(n) = &self.kind {
            n.send("STOPPING=1\n");
        }
    }
}

impl Notifier {
    fn new(path: &str) -> std::io::Result<Notifier> {
        let addr = match path.strip_prefix('@') {
            Some(name) => abstract_addr(name)?,
            None => SocketAddr::from_pathname(path)?,
        };
        Ok(Notifier {
            socket: UnixDatagram::unbound()?,
            addr,
            shown: path.to_string(),
        })
    }

    /// One datagram; a failure is logged, never fatal (the server works unsupervised).
    fn send(&self, msg: &str) {
        if let Err(e) = self.socket.send_to_addr(msg.as_bytes(), &self.addr) {
            tracing::warn!(socket = %self.shown, error = %e, "systemd notification failed");
        }
    }
}

/// `@name`: a socket in Linux's abstract namespace (systemd uses them in containers).
#[cfg(target_os = "linux")]
fn abstract_addr(name: &str) -> std::io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name.as_bytes())
}

#[cfg(not(target_os = "linux"))]
fn abstract_addr(_: &str) -> std::io::Result<SocketAddr> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "abstract socket names need Linux",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Environment-free: builds the notifier directly instead of reading NOTIFY_SOCKET
    /// (tests run on several threads, and the environment is process-wide).
    #[test]
    fn systemd_messages_are_separate_datagrams() {
        let dir = std::env::temp_dir().join(format!("ferrite-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixDatagram::bind(&path).unwrap();
        listener
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let s = Supervisor {
            kind: Kind::Systemd(Notifier::new(path.to_str().unwrap()).unwrap()),
            missing: None,
        };
        assert!(s.is_active());
        assert_eq!(s.name(), "systemd");
        s.ready();
        s.stopping();
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        for _ in 0..3 {
            let n = listener.recv(&mut buf).unwrap();
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        assert_eq!(
            got,
            [
                "STATUS=Ready to accept connections\n",
                "READY=1\n",
                "STOPPING=1\n"
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn abstract_socket_names() {
        let name = format!("ferrite-notify-test-{}", std::process::id());
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
            let listener = UnixDatagram::bind_addr(&addr).unwrap();
            let n = Notifier::new(&format!("@{name}")).unwrap();
            n.send("READY=1\n");
            let mut buf = [0u8; 64];
            let len = listener.recv(&mut buf).unwrap();
            assert_eq!(&buf[..len], b"READY=1\n");
        }
        assert!(!Supervisor::none().is_active());
        assert_eq!(Supervisor::none().name(), "no");
    }
}
