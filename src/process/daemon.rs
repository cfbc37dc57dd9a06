//! `daemonize yes`: detach from the terminal as redis-server does (fork, a new session,
//! standard input and output on `/dev/null`), before the runtime or any other thread
//! exists, since a fork copies only the calling thread.
//!
//! Redis's parent exits at once, so a daemon that cannot bind its port fails silently
//! (only its log says why). Ferrite's parent waits on a pipe until the child is listening,
//! or until the child reports why it could not start, which the parent prints before
//! exiting 1: `ferrite-server redis.conf && next-step` then means "it is up".

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};

/// The daemon's end of the pipe to the parent that waits for it.
pub struct Parent(File);

/// First byte of the message on the pipe.
const READY: u8 = b'R';
const FAILED: u8 = b'E';

impl Parent {
    /// The server listens: the parent exits 0.
    pub fn ready(mut self) {
        let _ = self.0.write_all(&[READY]);
    }

    /// Start-up failed: the parent prints `why` on its standard error and exits 1.
    pub fn failed(mut self, why: &str) {
        let mut msg = vec![FAILED];
        msg.extend_from_slice(why.as_bytes());
        let _ = self.0.write_all(&msg);
    }
}

/// Forks. Only the child returns: in a new session, with standard input, output and
/// error on `/dev/null`, holding the pipe to its parent. The parent waits for the child's
/// message and exits. Fails, without forking, if another thread already exists.
pub fn daemonize() -> io::Result<Parent> {
    single_threaded()?;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is an array of two c_ints, which is what pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just created both descriptors, and nothing else owns them.
    let (read, write) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    // No runtime, logging or helper thread has started (checked above), so the child
    // is a complete copy, with no lock held by a thread that does not exist in it.
    // SAFETY: fork in a single-threaded process; both sides go on with valid state.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            drop(read);
            detach()?;
            Ok(Parent(write))
        }
        child => {
            drop(write);
            std::process::exit(wait_for(read, child))
        }
    }
}

/// Whether the calling process has exactly one thread (Linux: `/proc/self/task`).
fn single_threaded() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let n = std::fs::read_dir("/proc/self/task")?.count();
        if n != 1 {
            return Err(io::Error::other(format!(
                "{n} threads are running; a fork now would lose all but one"
            )));
        }
    }
    Ok(())
}

/// The child's side: a new session without a controlling terminal, stdio on /dev/null.
fn detach() -> io::Result<()> {
    // SAFETY: setsid takes no arguments and touches no memory of ours.
    if unsafe { libc::setsid() } == -1 {
        return Err(io::Error::last_os_error());
    }
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for fd in 0..=2 {
        // `null` lives until the end of this function; 0..=2 are the standard streams,
        // which dup2 closes and replaces atomically.
        // SAFETY: dup2 on two open descriptors touches no memory of ours.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The parent's side: the exit status once the child reported (or died).
fn wait_for(mut pipe: File, child: libc::pid_t) -> i32 {
    let mut msg = Vec::new();
    let _ = pipe.read_to_end(&mut msg);
    match msg.split_first() {
        Some((&READY, _)) => 0,
        Some((&FAILED, why)) => {
            eprintln!("{}", String::from_utf8_lossy(why));
            1
        }
        _ => {
            eprintln!(
                "ferrite-server: the daemon (pid {child}) exited during start-up; see its log"
            );
            1
        }
    }
}
