//! Scripts past `busy-reply-threshold`, and SCRIPT KILL.
//!
//! Redis runs one script at a time; once it has run longer than
//! `busy-reply-threshold` every other client gets `-BUSY` until it ends or
//! SCRIPT KILL stops it. Ferrite runs scripts in parallel, so a busy script
//! only stalls the clients that need its keys: it registers the latches it
//! holds (`store::stalled`), and those clients get `-BUSY`, while clients
//! on other keys never notice. A busy script that runs alone (every other
//! client stopped, `store::world`) stalls everyone, as in Redis: waiting
//! connections answer `-BUSY` to all but the commands Redis allows then
//! (`server::connection`).
//!
//! **Killing.** SCRIPT KILL stops a busy script that has not written; one
//! that has is `-UNKILLABLE`, as in Redis. The decision and the script's
//! first write race (they run on different threads), so both go through
//! one atomic word (`scripting::kill_word`, model-checked). The script's
//! instruction hook sees KILLED and raises Redis's error.

use super::kill_word::KillWord;
use crate::store::stalled;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// What [`Busy::start`] records of a script.
pub struct Started {
    pub eval: bool,
    pub alone: bool,
    pub wrote: bool,
    pub name: String,
    pub command: Vec<Vec<u8>>,
    pub started: quanta::Instant,
}

/// A script past its busy threshold.
pub struct Busy {
    /// EVAL (else FCALL): SCRIPT KILL stops only the first, FUNCTION KILL
    /// only the second.
    pub eval: bool,
    /// Runs alone (every other client stopped).
    pub alone: bool,
    state: KillWord,
    /// Its latches, for the clients that wait for them.
    pub holder: Arc<stalled::Holder>,
    /// Its name (a SHA, a function's name), the command that runs it and
    /// when it started, for FUNCTION STATS.
    pub name: String,
    pub command: Vec<Vec<u8>>,
    pub started: quanta::Instant,
}

static RUNNING: Mutex<Vec<Arc<Busy>>> = Mutex::new(Vec::new());
/// Busy scripts that run alone.
static ALONE: AtomicUsize = AtomicUsize::new(0);

impl Busy {
    /// Registers a script that just passed its threshold; `wrote`: it has
    /// run a write command already.
    pub fn start(run: Started, stamps: Vec<usize>) -> Arc<Busy> {
        let busy = Arc::new(Busy {
            eval: run.eval,
            alone: run.alone,
            state: KillWord::new(run.wrote),
            holder: stalled::Holder::new(run.eval),
            name: run.name,
            command: run.command,
            started: run.started,
        });
        busy.holder.set_stamps(stamps);
        stalled::register(&busy.holder);
        RUNNING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(busy.clone());
        if busy.alone {
            ALONE.fetch_add(1, Ordering::SeqCst);
        }
        busy
    }

    /// Unregisters it (the script ended).
    pub fn finish(self: &Arc<Busy>) {
        stalled::unregister(&self.holder);
        RUNNING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|b| !Arc::ptr_eq(b, self));
        if self.alone {
            ALONE.fetch_sub(1, Ordering::SeqCst);
        }
    }

    pub fn killed(&self) -> bool {
        self.state.killed()
    }

    /// Records a write about to run; false if the script was killed first
    /// (the write must not run).
    pub fn mark_wrote(&self) -> bool {
        self.state.mark_wrote()
    }

    /// Kills it unless it wrote.
    fn kill(&self) -> bool {
        self.state.kill()
    }
}

/// What SCRIPT KILL / FUNCTION KILL found.
#[derive(Debug, PartialEq, Eq)]
pub enum Kill {
    /// No busy script.
    NotBusy,
    /// Killed (every killable busy script of the kind).
    Killed,
    /// The busy scripts of the kind have all written.
    Unkillable,
    /// Only busy scripts of the other kind (a function for SCRIPT KILL).
    OtherKind,
}

/// SCRIPT KILL (`eval`) or FUNCTION KILL. As Redis decides: no busy
/// script, then one that wrote (whatever its kind), then one of the other
/// kind; with several busy scripts (Ferrite runs them in parallel), every
/// killable one of the kind is killed.
pub fn kill(eval: bool) -> Kill {
    let running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
    if running.is_empty() {
        return Kill::NotBusy;
    }
    let mut killed = false;
    for b in running.iter().filter(|b| b.eval == eval) {
        killed |= b.kill();
    }
    if killed {
        Kill::Killed
    } else if running.iter().any(|b| b.state.wrote()) {
        Kill::Unkillable
    } else {
        Kill::OtherKind
    }
}

/// The busy scripts (FUNCTION STATS).
pub fn running() -> Vec<Arc<Busy>> {
    RUNNING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// SCRIPT KILL's and FUNCTION KILL's reply for a script that wrote.
pub const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";

/// A busy script running alone, if any: `Some(eval)`.
pub fn alone_busy() -> Option<bool> {
    if ALONE.load(Ordering::SeqCst) == 0 {
        return None;
    }
    RUNNING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|b| b.alone)
        .map(|b| b.eval)
}

/// Redis's `-BUSY` error for a busy EVAL script or function.
pub fn busy_error(eval: bool) -> &'static str {
    if eval {
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    } else {
        "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    }
}
