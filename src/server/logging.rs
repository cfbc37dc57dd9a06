//! Logging through `tracing`, with redis.conf's `loglevel` and `logfile`.

use crate::config::Config;

/// Maps Redis log levels onto tracing's.
pub fn level_filter(loglevel: &str) -> tracing_subscriber::filter::LevelFilter {
    use tracing_subscriber::filter::LevelFilter;
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
/// else appends to the file.
pub fn init(config: &Config) -> std::io::Result<()> {
    let level = level_filter(&config.loglevel());
    let logfile = config.logfile();
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_thread_names(true);
    if logfile.is_empty() {
        builder.with_writer(std::io::stdout).init();
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&logfile)?;
        builder
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .init();
    }
    Ok(())
}
