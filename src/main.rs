//! `ferrite-server [path/to/redis.conf] [--directive value ...]`

use clap::Parser;
use ferrite::config;
use ferrite::server::{self, Shared};
use std::sync::Arc;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A Redis 7-compatible key-value server whose worker threads share one
/// lock-free keyspace.
///
/// Arguments are read like redis-server's: an optional configuration file
/// (redis.conf syntax) followed by `--directive value...` pairs that override
/// it, e.g. `ferrite-server --port 7000 --threads 4`.
#[derive(Parser, Debug)]
#[command(name = "ferrite-server", version, about, long_about = None)]
struct Cli {
    /// [configfile] [--directive value ...]
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

fn main() {
    let cli = Cli::parse();
    let config = match config::load(&cli.args) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let config_file = cli.args.first().filter(|a| !a.starts_with("--")).cloned();
    if let Err(e) = ferrite::server::logging::init(&config) {
        eprintln!("cannot open log file: {e}");
        std::process::exit(1);
    }
    let threads = match config.threads() {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
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
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let shared = Arc::new(Shared::new(config, config_file, threads));
    if let Err(e) = runtime.block_on(server::run(shared)) {
        tracing::error!(error = %e, "server stopped with an error");
        std::process::exit(1);
    }
}
