//! Listener, connections, the client registry and server-wide state.

pub mod client;
pub mod connection;
pub mod listener;
pub mod logging;
pub mod stats;

pub use client::{Client, ClientInfo, ClientRegistry};
pub use connection::{count_command, count_command_counted, count_refused};
pub use listener::run;

use crate::config::Config;
use crate::store::Store;
use std::sync::Arc;
use std::time::Instant;

/// Worker threads when `threads` is 0: one per core the process may run
/// on, less one, and at least one. The core left over runs the kernel's
/// network processing, the background threads (active expiry, metrics) and,
/// often, co-located clients; a worker there would only take turns with
/// them. Measured on the 2-core development VM beside redis-benchmark with
/// 1,000,000 random keys: one worker gave 1.08× the throughput of two at
/// `-P 1`, where every request is a round trip and two workers sleep and
/// wake more often than one, and the same within noise at `-P 16`
/// (docs/ARCHITECTURE.md, "Worker threads"). Redis gives the same advice
/// for `io-threads`.
pub fn default_worker_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.saturating_sub(1).max(1)
}

/// State shared by every connection and background task.
pub struct Shared {
    pub store: Store,
    pub config: Arc<Config>,
    pub clients: ClientRegistry,
    pub stats: stats::Stats,
    pub started: Instant,
    /// Unix seconds at start-up (INFO uptime, server_time_usec).
    pub started_unix_ms: u64,
    /// 40 hex characters, as Redis's run_id.
    pub run_id: String,
    /// The address(es) we listen on, for CLIENT LIST `laddr` and INFO.
    pub tcp_port: u16,
    pub config_file: Option<String>,
    pub threads: usize,
    pub pause: client::PauseState,
    /// Clients blocked on keys, by database and key (`commands::blocking`).
    pub blocked: crate::commands::blocking::Registry,
    /// Signalled by SHUTDOWN (and SIGTERM/SIGINT) to stop the server.
    pub shutdown: tokio::sync::Notify,
    /// Pid file, supervisor and daemon parent: told when the server is ready and
    /// when it stops.
    pub lifecycle: crate::process::Lifecycle,
    /// Every script EVAL and SCRIPT LOAD have seen (`scripting::cache`).
    pub scripts: crate::scripting::cache::Scripts,
    /// The function libraries (`scripting::functions`).
    pub functions: crate::scripting::functions::Registry,
}

impl Shared {
    pub fn new(
        config: Arc<Config>,
        config_file: Option<String>,
        threads: usize,
        lifecycle: crate::process::Lifecycle,
    ) -> Shared {
        let run_id: String = (0..40)
            .map(|_| char::from_digit(rand::random::<u32>() % 16, 16).expect("hex digit"))
            .collect();
        crate::store::access::follow(&config);
        Shared {
            store: Store::new(config.databases()),
            tcp_port: config.port(),
            config,
            clients: ClientRegistry::default(),
            stats: stats::Stats::default(),
            started: Instant::now(),
            started_unix_ms: crate::util::time::now_ms(),
            run_id,
            config_file,
            threads,
            pause: client::PauseState::default(),
            blocked: Default::default(),
            shutdown: tokio::sync::Notify::new(),
            lifecycle,
            scripts: Default::default(),
            functions: Default::default(),
        }
    }
}
