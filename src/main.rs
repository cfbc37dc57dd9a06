//! `ferrite-server [path/to/redis.conf] [-] [--directive value ...]`

use clap::Parser;
use ferrite::config::{self, Config};
use ferrite::process::{self, daemon, pidfile, supervise::Supervisor, Lifecycle};
use ferrite::server::{self, Shared};
use std::path::PathBuf;
use std::sync::Arc;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A Redis 7-compatible key-value server whose worker threads share one
/// lock-free keyspace.
///
/// Arguments are read like redis-server's: an optional configuration file
/// (redis.conf syntax), `-` to read more configuration from stdin, then
/// `--directive value...` pairs that override it, e.g.
/// `ferrite-server /etc/redis/redis.conf --port 7000 --threads 4`.
/// `-v` or `--version` prints the version line and exits.
#[derive(Parser, Debug)]
#[command(name = "ferrite-server", about, long_about = None)]
struct Cli {
    /// [configfile] [-] [--directive value ...]
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

fn fatal(msg: impl std::fmt::Display) -> ! {
    eprintln!("{msg}");
    std::process::exit(1);
}

fn main() {
    // As redis-server: only the first argument, and before anything is loaded.
    if matches!(std::env::args().nth(1).as_deref(), Some("-v" | "--version")) {
        println!("{}", process::version::line());
        return;
    }
    let cli = Cli::parse();
    let config = Arc::new(config::load(&cli.args).unwrap_or_else(|e| fatal(e)));
    if let Err(e) = ferrite::commands::install_renames(config.renamed_commands()) {
        fatal(e);
    }
    follow_dir(&config);
    let config_file = config
        .config_file()
        .map(|p| p.to_string_lossy().into_owned());
    // Before the fork, so a log file that cannot be opened is reported on the terminal;
    // the subscriber starts no thread.
    if let Err(e) = server::logging::init(&config) {
        fatal(format_args!("Can't open the log file: {e}"));
    }
    let supervisor = Supervisor::detect(config.supervised());
    supervisor.log();
    // A supervisor tracks the process it started, so a supervised server stays in the
    // foreground whatever `daemonize` says (as Redis).
    let background = config.daemonize() && !supervisor.is_active();
    let parent = background.then(|| {
        daemon::daemonize().unwrap_or_else(|e| fatal(format_args!("Can't daemonize: {e}")))
    });
    let lifecycle = Lifecycle::new(supervisor, pidfile_path(&config, background), parent);
    let threads = match config.threads() {
        0 => server::default_worker_threads(),
        n => n,
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        pid = std::process::id(),
        port = config.port(),
        threads,
        config_file = config_file
            .as_deref()
            .unwrap_or("(none: embedded defaults)"),
        "Ferrite starting"
    );
    for s in config.inactive_settings() {
        tracing::warn!(
            "configuration '{s}' is accepted but has no effect in this version of Ferrite"
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("ferrite-worker")
        // An idle worker drops Lua states left from flushed scripts.
        .on_thread_park(ferrite::scripting::vm::release_if_dropped)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let msg = format!("cannot start the runtime: {e}");
            tracing::error!("{msg}");
            lifecycle.failed(&msg);
            fatal(msg);
        }
    };
    let shared = Arc::new(Shared::new(config, config_file, threads, lifecycle));
    if let Err(e) = runtime.block_on(server::run(shared.clone())) {
        tracing::error!(error = %e, "server stopped with an error");
        shared
            .lifecycle
            .failed(&format!("ferrite-server could not start: {e}"));
        std::process::exit(1);
    }
    // A busy script (SHUTDOWN NOSAVE is how Redis stops one that cannot be
    // killed) runs on a thread of its own: don't wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
}

/// Redis works inside `dir`: it changes directory when it reads the directive and again
/// on `CONFIG SET dir`, so relative `pidfile`, `logfile` and data file paths land there.
fn follow_dir(config: &Config) {
    let dir = config.dir();
    if let Err(e) = std::env::set_current_dir(&dir) {
        fatal(format_args!("Can't chdir to '{dir}': {e}"));
    }
    config.subscribe(Box::new(|name, value| {
        if name == "dir" {
            if let Err(e) = std::env::set_current_dir(value) {
                tracing::warn!("Can't chdir to '{value}': {e}");
            }
        }
    }));
}

/// The pid file to write once ready: `pidfile` if set, else Redis's default path for a
/// daemon; none for a foreground server without the setting.
fn pidfile_path(config: &Config, background: bool) -> Option<PathBuf> {
    let set = config.pidfile();
    if !set.is_empty() {
        Some(set.into())
    } else {
        background.then(|| pidfile::DAEMON_DEFAULT.into())
    }
}
