//! The pid file (`pidfile`): the server's process id and a newline, written once the
//! server listens and removed on a clean shutdown, as redis-server does. A daemon with no
//! `pidfile` setting writes Redis's default path, so init scripts written for Redis find it.

use std::io;
use std::path::{Path, PathBuf};

/// Where a daemonized server writes its pid when `pidfile` is not set (Redis's default).
pub const DAEMON_DEFAULT: &str = "/var/run/redis.pid";

/// A pid file this process wrote.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes `<pid>\n` to `path` (relative paths are taken from `dir`, the working
    /// directory), replacing what was there.
    pub fn create(path: &Path) -> io::Result<PidFile> {
        std::fs::write(path, format!("{}\n", std::process::id()))?;
        Ok(PidFile {
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the file; a file already gone is not an error worth reporting.
    pub fn remove(self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!("Could not remove the pid file {}: {e}", self.path.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_pid_and_removes() {
        let path =
            std::env::temp_dir().join(format!("ferrite-pidfile-test-{}", std::process::id()));
        let p = PidFile::create(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(p.path()).unwrap(),
            format!("{}\n", std::process::id())
        );
        p.remove();
        assert!(!path.exists());
        assert!(PidFile::create(Path::new("/nonexistent-dir/x.pid")).is_err());
    }
}
