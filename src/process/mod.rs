//! The process around the server: detaching from the terminal (`daemonize`), the pid
//! file, telling a supervisor (systemd, upstart) that the server is ready or stopping, and
//! the `--version` line. These are what an init script or a unit file sees of redis-server,
//! so a Redis installation keeps working when only the binary changes.
//!
//! Order at start-up (`main`): load the configuration, change into `dir`, start logging,
//! detect the supervisor, fork if daemonizing (before the runtime: a fork copies only the
//! calling thread), start the runtime and bind. [`Lifecycle::ready`] then writes the pid
//! file, sends `READY=1` and releases the waiting parent; [`Lifecycle::stopping`] sends
//! `STOPPING=1` and removes the pid file on a clean shutdown.

pub mod daemon;
pub mod pidfile;
pub mod supervise;
pub mod version;

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

/// What the process owes the outside world over the server's life.
pub struct Lifecycle {
    supervisor: supervise::Supervisor,
    pidfile_path: Option<PathBuf>,
    pidfile: Mutex<Option<pidfile::PidFile>>,
    parent: Mutex<Option<daemon::Parent>>,
}

impl Lifecycle {
    /// `pidfile_path`: where to write the pid file once ready, if anywhere. `parent`: the
    /// pipe to the parent process waiting for a daemonized child.
    pub fn new(
        supervisor: supervise::Supervisor,
        pidfile_path: Option<PathBuf>,
        parent: Option<daemon::Parent>,
    ) -> Lifecycle {
        Lifecycle {
            supervisor,
            pidfile_path,
            pidfile: Mutex::new(None),
            parent: Mutex::new(parent),
        }
    }

    /// No pid file, no supervisor, no parent: for servers started inside tests.
    pub fn detached() -> Lifecycle {
        Lifecycle {
            supervisor: supervise::Supervisor::none(),
            pidfile_path: None,
            pidfile: Mutex::new(None),
            parent: Mutex::new(None),
        }
    }

    /// The server is listening: write the pid file, tell the supervisor, and let a
    /// waiting parent exit 0. The parent goes last, so when `ferrite-server` returns
    /// to a shell the pid file is there and the port answers.
    pub fn ready(&self) {
        if let Some(path) = &self.pidfile_path {
            match pidfile::PidFile::create(path) {
                Ok(p) => *self.pidfile.lock().unwrap_or_else(PoisonError::into_inner) = Some(p),
                // Redis carries on without a pid file, as a warning in the log.
                Err(e) => tracing::warn!("Failed to write PID file {}: {e}", path.display()),
            }
        }
        self.supervisor.ready();
        if let Some(p) = self.take_parent() {
            p.ready();
        }
    }

    /// Start-up failed after a fork: the waiting parent prints `why` and exits 1.
    pub fn failed(&self, why: &str) {
        if let Some(p) = self.take_parent() {
            p.failed(why);
        }
    }

    /// Clean shutdown: `STOPPING=1` to systemd, and the pid file goes.
    pub fn stopping(&self) {
        self.supervisor.stopping();
        let pidfile = self
            .pidfile
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(p) = pidfile {
            tracing::info!("Removing the pid file.");
            p.remove();
        }
    }

    /// INFO `process_supervised`: `systemd`, `upstart` or `no`, after detection.
    pub fn supervised(&self) -> &'static str {
        self.supervisor.name()
    }

    fn take_parent(&self) -> Option<daemon::Parent> {
        self.parent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}
