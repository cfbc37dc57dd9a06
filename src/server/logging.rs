//! Logging through `tracing`, with redis.conf's `loglevel` and `logfile`.
//!
//! The level sits behind a `reload` layer so that `CONFIG SET loglevel`
//! takes effect immediately, as it does in Redis.

use crate::config::Config;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{fmt, reload};

/// Maps Redis log levels onto tracing's.
pub fn level_filter(loglevel: &str) -> LevelFilter {
    match loglevel {
        "debug" => LevelFilter::TRACE,
        "verbose" => LevelFilter::DEBUG,
        "notice" => LevelFilter::INFO,
        "warning" => LevelFilter::WARN,
        "nothing" => LevelFilter::OFF,
        _ => LevelFilter::INFO,
    }
}

/// Installs the global subscriber: stdout when `logfile` is empty (as Redis),
/// else appends to the file. Later `CONFIG SET loglevel` changes apply live.
pub fn init(config: &Config) -> std::io::Result<()> {
    let (filter, handle) = reload::Layer::new(level_filter(config.loglevel()));
    let logfile = config.logfile();
    let (writer, ansi) = if logfile.is_empty() {
        // Colours only for a terminal, never into a captured log.
        let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
        (BoxMakeWriter::new(std::io::stdout), tty)
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&logfile)?;
        (BoxMakeWriter::new(std::sync::Mutex::new(file)), false)
    };
    let layer = fmt::layer()
        .with_target(false)
        .with_thread_names(true)
        .with_ansi(ansi)
        .with_writer(writer);
    tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .init();
    config.subscribe(Box::new(move |name, value| {
        if name == "loglevel" {
            let _ = handle.reload(level_filter(value));
        }
    }));
    Ok(())
}
