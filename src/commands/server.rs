//! Server commands: INFO, CONFIG (GET, SET, RESETSTAT, REWRITE, HELP), TIME, SHUTDOWN.

use super::flags::*;
use super::introspection::help_reply;
use super::{acl, errors, Command, Ctx, KeySpec};
use crate::metrics::{self, bytes_to_human};
use crate::server::client::cflags;
use crate::server::Shared;
use crate::store;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

const G: &str = "server";
const ADMIN_ACL: u64 = acl::ADMIN | acl::SLOW | acl::DANGEROUS;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    Command::new("info", -1, LOADING | STALE, KeySpec::NONE, acl::SLOW | acl::DANGEROUS, info)
        .doc(G, "1.0.0", "Reports information and statistics about the server, by section.", "O(1)")
        .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"]),
    Command::new("config", -2, 0, KeySpec::NONE, acl::SLOW, unknown_sub)
        .doc(G, "2.0.0", "A container for commands that read and change the configuration.", "Depends on subcommand.")
        .subs(CONFIG_SUBCOMMANDS),
    Command::new("time", 1, LOADING | STALE | FAST, KeySpec::NONE, acl::FAST, time)
        .doc(G, "2.6.0", "Returns the server's clock as seconds and microseconds.", "O(1)")
        .tips(&["nondeterministic_output"]),
    Command::new("shutdown", -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY, KeySpec::NONE, ADMIN_ACL, shutdown)
        .doc(G, "1.0.0", "Stops the server, optionally saving the dataset first.", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)"),
];

#[rustfmt::skip]
static CONFIG_SUBCOMMANDS: &[Command] = &[
    Command::new("config|get", -3, ADMIN | NOSCRIPT | LOADING | STALE, KeySpec::NONE, ADMIN_ACL, config_get)
        .doc(G, "2.0.0", "Returns the configuration parameters that match glob patterns, with their values.", "O(N) when N is the number of configuration parameters provided"),
    Command::new("config|help", 2, LOADING | STALE, KeySpec::NONE, acl::SLOW, config_help)
        .doc(G, "5.0.0", "Describes the CONFIG subcommands.", "O(1)"),
    Command::new("config|resetstat", 2, ADMIN | NOSCRIPT | LOADING | STALE, KeySpec::NONE, ADMIN_ACL, config_resetstat)
        .doc(G, "2.0.0", "Zeroes the statistics INFO reports.", "O(1)")
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
    Command::new("config|rewrite", 2, ADMIN | NOSCRIPT | LOADING | STALE, KeySpec::NONE, ADMIN_ACL, config_rewrite)
        .doc(G, "2.8.0", "Persists the effective configuration to the configuration file.", "O(1)"),
    Command::new("config|set", -4, ADMIN | NOSCRIPT | LOADING | STALE, KeySpec::NONE, ADMIN_ACL, config_set)
        .doc(G, "2.0.0", "Changes configuration parameters at run time, all or none.", "O(N) when N is the number of configuration parameters provided")
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
];

/// The container never runs by itself (its arity needs a subcommand).
fn unknown_sub(ctx: &mut Ctx, args: &[&[u8]]) {
    let sub = args.get(1).map_or(&b""[..], |a| &a[..]);
    ctx.error(&format!(
        "ERR unknown subcommand '{}'. Try CONFIG HELP.",
        errors::sanitize(sub, 128)
    ));
}

// ---------------------------------------------------------------------------
// TIME
// ---------------------------------------------------------------------------

fn time(ctx: &mut Ctx, _args: &[&[u8]]) {
    let us = crate::util::time::now_us();
    ctx.out.array(2);
    ctx.out.bulk_int((us / 1_000_000) as i64);
    ctx.out.bulk_int((us % 1_000_000) as i64);
}

// ---------------------------------------------------------------------------
// CONFIG
// ---------------------------------------------------------------------------

const CONFIG_HELP: &[&str] = &[
    "GET <pattern> [<pattern> ...]",
    "    Reply with every parameter whose name matches a glob-style <pattern>, and its value.",
    "SET <directive> <value> [<directive> <value> ...]",
    "    Change parameters at run time; either all changes apply or none does.",
    "RESETSTAT",
    "    Zero the statistics reported by INFO.",
    "REWRITE",
    "    Write the current configuration back into the configuration file.",
];

fn config_help(ctx: &mut Ctx, args: &[&[u8]]) {
    help_reply(ctx, args[0], CONFIG_HELP);
}

fn config_get(ctx: &mut Ctx, args: &[&[u8]]) {
    let patterns: Vec<&[u8]> = args[2..].iter().map(|a| &a[..]).collect();
    let found = ctx.shared.config.get_many(&patterns);
    ctx.out.map(found.len());
    for (name, value) in found {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
}

/// CONFIG SET name value [name value ...]: validated all together and applied
/// all or nothing. Protected directives are settable from loopback clients
/// when `enable-protected-configs local` allows it.
fn config_set(ctx: &mut Ctx, args: &[&[u8]]) {
    if !args.len().is_multiple_of(2) {
        return ctx.error(errors::SYNTAX);
    }
    let pairs: Vec<(&[u8], &[u8])> = args[2..].chunks_exact(2).map(|p| (p[0], p[1])).collect();
    let local = ctx.client.info.addr.ip().is_loopback();
    match ctx.shared.config.set_many_ext(&pairs, local) {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.error(&e),
    }
}

/// CONFIG REWRITE: the configuration file keeps its comments and layout and gets the
/// current values (`config::rewrite` has the details); failures are logged and answered
/// with Redis's texts.
fn config_rewrite(ctx: &mut Ctx, _args: &[&[u8]]) {
    match ctx.shared.config.rewrite() {
        Ok(()) => {
            tracing::warn!("CONFIG REWRITE executed with success.");
            ctx.out.ok();
        }
        Err(e) => {
            if let crate::config::RewriteError::Io(_) = e {
                tracing::warn!("CONFIG REWRITE failed: {e}");
            }
            ctx.error(&e.reply());
        }
    }
}

/// CONFIG RESETSTAT: command, error, network, keyspace and connection
/// statistics go back to zero (peak memory and uptime do not, as in Redis).
fn config_resetstat(ctx: &mut Ctx, _args: &[&[u8]]) {
    reset_stats(ctx.shared);
    ctx.out.ok();
}

fn reset_stats(shared: &Shared) {
    shared.stats.reset();
    shared.clients.total_connections.store(0, Ordering::Relaxed);
    shared
        .clients
        .rejected_connections
        .store(0, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------
// SHUTDOWN
// ---------------------------------------------------------------------------

#[derive(Default)]
struct ShutdownFlags {
    save: bool,
    nosave: bool,
    now: bool,
    force: bool,
    abort: bool,
}

fn parse_shutdown(args: &[&[u8]]) -> Option<ShutdownFlags> {
    let mut f = ShutdownFlags::default();
    for a in &args[1..] {
        let slot = if a.eq_ignore_ascii_case(b"nosave") {
            &mut f.nosave
        } else if a.eq_ignore_ascii_case(b"save") {
            &mut f.save
        } else if a.eq_ignore_ascii_case(b"now") {
            &mut f.now
        } else if a.eq_ignore_ascii_case(b"force") {
            &mut f.force
        } else if a.eq_ignore_ascii_case(b"abort") {
            &mut f.abort
        } else {
            return None;
        };
        *slot = true;
    }
    let others = f.save || f.nosave || f.now || f.force;
    if (f.abort && others) || (f.save && f.nosave) {
        return None;
    }
    Some(f)
}

/// Writes the dataset before exiting. Ferrite has no RDB writer yet, so a
/// save can only fail; the caller reports it as Redis reports a failed save.
fn save_before_exit(_shared: &Shared) -> Result<(), &'static str> {
    Err("RDB persistence is not available in this version of Ferrite")
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. On success the client gets
/// no reply: the server closes the listeners and the process exits 0.
/// There is never a shutdown in progress to ABORT (no replicas to wait for).
fn shutdown(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(f) = parse_shutdown(args) else {
        return ctx.error(errors::SYNTAX);
    };
    if f.abort {
        return ctx.error("ERR No shutdown in progress.");
    }
    // While a script is busy only SHUTDOWN NOSAVE stops the server, as in
    // Redis.
    if !f.nosave {
        if let Some(busy) = crate::scripting::busy::running().first() {
            return ctx.error(crate::scripting::busy::busy_error(busy.eval));
        }
    }
    tracing::warn!("User requested shutdown...");
    // Configured save points cannot be honoured until RDB persistence exists
    // (the start-up log warns about them); an implicit save that always failed
    // would leave a plain SHUTDOWN unable to stop the server. An explicit SAVE
    // still fails honestly.
    let must_save = f.save;
    if must_save {
        tracing::info!("Saving the final RDB snapshot before exiting.");
        if let Err(why) = save_before_exit(ctx.shared) {
            if f.force {
                tracing::warn!("Error trying to save the DB ({why}). Exit anyway.");
            } else {
                tracing::warn!("Error trying to save the DB ({why}), can't exit.");
                return ctx.error("ERR Errors trying to SHUTDOWN. Check logs.");
            }
        }
    }
    ctx.client.close_after_reply = true;
    ctx.shared.shutdown.notify_one();
}

// ---------------------------------------------------------------------------
// INFO
// ---------------------------------------------------------------------------

/// Appends one INFO section's text.
type SectionWriter = fn(&mut String, &Ctx);

/// Sections in the order INFO prints them, with whether `INFO` / `INFO
/// default` includes them. `INFO all` prints every one.
const SECTIONS: &[(&str, bool, SectionWriter)] = &[
    ("server", true, section_server),
    ("clients", true, section_clients),
    ("memory", true, section_memory),
    ("persistence", true, section_persistence),
    ("stats", true, section_stats),
    ("replication", true, section_replication),
    ("cpu", true, section_cpu),
    ("modules", true, section_modules),
    ("commandstats", false, section_commandstats),
    ("errorstats", true, section_errorstats),
    ("cluster", true, section_cluster),
    ("keyspace", true, section_keyspace),
];

/// Which sections an INFO call asked for.
struct Selection {
    all: bool,
    names: Vec<String>,
}

impl Selection {
    fn parse(args: &[&[u8]]) -> Selection {
        let mut sel = Selection {
            all: false,
            names: Vec::new(),
        };
        if args.is_empty() {
            sel.add_defaults();
        }
        for a in args {
            let name = String::from_utf8_lossy(a).to_ascii_lowercase();
            match name.as_str() {
                "all" | "everything" => sel.all = true,
                "default" => sel.add_defaults(),
                // `module_list` is the modules section's other name.
                "module_list" => sel.names.push("modules".into()),
                _ => sel.names.push(name),
            }
        }
        sel
    }

    fn add_defaults(&mut self) {
        for (name, default, _) in SECTIONS {
            if *default {
                self.names.push((*name).into());
            }
        }
    }

    fn wants(&self, section: &str) -> bool {
        self.all || self.names.iter().any(|n| n == section)
    }
}

/// INFO [section ...]: `field:value` lines under `# Section` headers, with a
/// blank line between sections; a verbatim string in RESP3.
fn info(ctx: &mut Ctx, args: &[&[u8]]) {
    let sel = Selection::parse(&args[1..]);
    let mut text = String::new();
    for (name, _, write) in SECTIONS {
        if sel.wants(name) {
            if !text.is_empty() {
                text.push_str("\r\n");
            }
            write(&mut text, ctx);
        }
    }
    ctx.out.verbatim(text.as_bytes());
}

/// Appends `field:value\r\n`.
macro_rules! field {
    ($s:expr, $name:expr, $($val:tt)+) => {{
        let _ = write!($s, "{}:", $name);
        let _ = write!($s, $($val)+);
        $s.push_str("\r\n");
    }};
}

fn section_server(s: &mut String, ctx: &Ctx) {
    let sh = ctx.shared;
    let uptime = sh.started.elapsed().as_secs();
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let config_file = sh
        .config
        .config_file()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    s.push_str("# Server\r\n");
    field!(s, "redis_version", "{}", super::connection::REDIS_VERSION);
    field!(s, "ferrite_version", "{}", env!("CARGO_PKG_VERSION"));
    field!(
        s,
        "redis_git_sha1",
        "{}",
        crate::process::version::git_sha1()
    );
    field!(
        s,
        "redis_git_dirty",
        "{}",
        crate::process::version::git_dirty()
    );
    field!(
        s,
        "redis_build_id",
        "{}",
        crate::process::version::build_id()
    );
    field!(s, "redis_mode", "standalone");
    field!(s, "os", "{}", metrics::os_string());
    field!(s, "arch_bits", "{}", usize::BITS);
    field!(s, "monotonic_clock", "POSIX clock_gettime");
    field!(s, "multiplexing_api", "{}", multiplexing_api());
    field!(s, "process_id", "{}", std::process::id());
    field!(s, "process_supervised", "{}", sh.lifecycle.supervised());
    field!(s, "run_id", "{}", sh.run_id);
    field!(s, "tcp_port", "{}", sh.config.port());
    field!(s, "server_time_usec", "{}", crate::util::time::now_us());
    field!(s, "uptime_in_seconds", "{uptime}");
    field!(s, "uptime_in_days", "{}", uptime / 86_400);
    field!(s, "hz", "{}", sh.config.hz());
    field!(s, "configured_hz", "{}", sh.config.hz());
    let now_ms = crate::util::time::now_ms();
    field!(
        s,
        "lru_clock",
        "{}",
        crate::store::keyspace::lru_clock(now_ms)
    );
    field!(s, "executable", "{exe}");
    field!(s, "config_file", "{config_file}");
    field!(s, "io_threads_active", "0");
    field!(s, "ferrite_threads", "{}", sh.threads);
}

/// The readiness API tokio's reactor uses on this platform.
fn multiplexing_api() -> &'static str {
    if cfg!(any(target_os = "linux", target_os = "android")) {
        "epoll"
    } else if cfg!(any(
        target_os = "macos",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd"
    )) {
        "kqueue"
    } else {
        "poll"
    }
}

fn section_clients(s: &mut String, ctx: &Ctx) {
    let clients = ctx.shared.clients.snapshot();
    let count_flag = |f: u32| clients.iter().filter(|c| c.has_flag(f)).count();
    let max_of = |get: fn(&crate::server::ClientInfo) -> u64| {
        clients.iter().map(|c| get(c)).max().unwrap_or(0)
    };
    s.push_str("# Clients\r\n");
    field!(s, "connected_clients", "{}", clients.len());
    field!(s, "cluster_connections", "0");
    field!(s, "maxclients", "{}", ctx.shared.config.maxclients());
    field!(
        s,
        "client_recent_max_input_buffer",
        "{}",
        max_of(|c| c.qbuf.load(Ordering::Relaxed))
    );
    field!(
        s,
        "client_recent_max_output_buffer",
        "{}",
        max_of(|c| c.omem.load(Ordering::Relaxed))
    );
    field!(s, "blocked_clients", "{}", count_flag(cflags::BLOCKED));
    field!(s, "tracking_clients", "{}", count_flag(cflags::TRACKING));
    field!(
        s,
        "clients_in_timeout_table",
        "{}",
        count_flag(cflags::IN_TIMEOUT_TABLE)
    );
}

/// `num / den` as Redis prints ratios (`%.2f`), 0 when `den` is 0.
fn ratio(num: u64, den: u64) -> String {
    if den == 0 {
        "0.00".into()
    } else {
        format!("{:.2}", num as f64 / den as f64)
    }
}

fn section_memory(s: &mut String, ctx: &Ctx) {
    let m = metrics::memory::read();
    let used = m.allocated;
    let peak = metrics::memory::peak().max(used);
    let startup = metrics::memory::startup().min(used);
    let clients_mem: u64 = ctx
        .shared
        .clients
        .snapshot()
        .iter()
        .map(|c| c.memory_estimate())
        .sum();
    let overhead = (startup + clients_mem).min(used);
    let dataset = used - overhead;
    let net = used.saturating_sub(startup);
    let maxmemory = ctx.shared.config.maxmemory();
    let signed = |a: u64, b: u64| a as i64 - b as i64;
    let total = metrics::memory::total_system_memory();
    s.push_str("# Memory\r\n");
    field!(s, "used_memory", "{used}");
    field!(s, "used_memory_human", "{}", bytes_to_human(used));
    field!(s, "used_memory_rss", "{}", m.rss);
    field!(s, "used_memory_rss_human", "{}", bytes_to_human(m.rss));
    field!(s, "used_memory_peak", "{peak}");
    field!(s, "used_memory_peak_human", "{}", bytes_to_human(peak));
    field!(s, "used_memory_peak_perc", "{:.2}%", percent(used, peak));
    field!(s, "used_memory_overhead", "{overhead}");
    field!(s, "used_memory_startup", "{startup}");
    field!(s, "used_memory_dataset", "{dataset}");
    field!(
        s,
        "used_memory_dataset_perc",
        "{:.2}%",
        percent(dataset, net)
    );
    field!(s, "allocator_allocated", "{}", m.allocated);
    field!(s, "allocator_active", "{}", m.active);
    field!(s, "allocator_resident", "{}", m.resident);
    field!(s, "total_system_memory", "{total}");
    field!(s, "total_system_memory_human", "{}", bytes_to_human(total));
    scripts_memory(s, ctx.shared);
    field!(s, "maxmemory", "{maxmemory}");
    field!(s, "maxmemory_human", "{}", bytes_to_human(maxmemory));
    let policy = ctx
        .shared
        .config
        .value("maxmemory-policy")
        .unwrap_or_default();
    field!(s, "maxmemory_policy", "{policy}");
    field!(
        s,
        "allocator_frag_ratio",
        "{}",
        ratio(m.active, m.allocated)
    );
    field!(
        s,
        "allocator_frag_bytes",
        "{}",
        signed(m.active, m.allocated)
    );
    field!(s, "allocator_rss_ratio", "{}", ratio(m.resident, m.active));
    field!(s, "allocator_rss_bytes", "{}", signed(m.resident, m.active));
    field!(s, "rss_overhead_ratio", "{}", ratio(m.rss, m.resident));
    field!(s, "rss_overhead_bytes", "{}", signed(m.rss, m.resident));
    field!(s, "mem_fragmentation_ratio", "{}", ratio(m.rss, used));
    field!(s, "mem_fragmentation_bytes", "{}", signed(m.rss, used));
    field!(s, "mem_not_counted_for_evict", "0");
    field!(s, "mem_replication_backlog", "0");
    field!(s, "mem_total_replication_buffers", "0");
    field!(s, "mem_clients_slaves", "0");
    field!(s, "mem_clients_normal", "{clients_mem}");
    field!(s, "mem_cluster_links", "0");
    field!(s, "mem_aof_buffer", "0");
    // Ferrite's own: bytes of values retired by writes and not yet freed by
    // epoch reclamation (already part of used_memory); bounded per thread.
    field!(
        s,
        "ferrite_reclaim_pending",
        "{}",
        store::reclaim::pending_bytes()
    );
    field!(s, "mem_allocator", "{}", crate::process::version::malloc());
    field!(s, "active_defrag_running", "0");
    let (pending, freed) = ctx.shared.store.lazyfree_counts();
    field!(s, "lazyfree_pending_objects", "{pending}");
    field!(s, "lazyfreed_objects", "{freed}");
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Successful writes since start-up (or RESETSTAT): the calls of write
/// commands that did not fail. Redis counts changed keys instead; this is the
/// closest figure Ferrite tracks.
fn writes_since_start(ctx: &Ctx) -> u64 {
    ctx.shared
        .stats
        .command_totals()
        .iter()
        .filter(|(name, _)| {
            super::introspection::lookup_full(name.as_bytes()).is_some_and(|c| c.has(WRITE))
        })
        .map(|(_, st)| st.calls.saturating_sub(st.failed_calls))
        .sum()
}

fn section_persistence(s: &mut String, ctx: &Ctx) {
    s.push_str("# Persistence\r\n");
    for f in [
        "loading",
        "async_loading",
        "current_cow_peak",
        "current_cow_size",
        "current_cow_size_age",
    ] {
        field!(s, f, "0");
    }
    field!(s, "current_fork_perc", "0.00");
    field!(s, "current_save_keys_processed", "0");
    field!(s, "current_save_keys_total", "0");
    field!(
        s,
        "rdb_changes_since_last_save",
        "{}",
        writes_since_start(ctx)
    );
    field!(s, "rdb_bgsave_in_progress", "0");
    // No save has happened: Redis reports the start-up time then.
    field!(
        s,
        "rdb_last_save_time",
        "{}",
        ctx.shared.started_unix_ms / 1000
    );
    field!(s, "rdb_last_bgsave_status", "ok");
    field!(s, "rdb_last_bgsave_time_sec", "-1");
    field!(s, "rdb_current_bgsave_time_sec", "-1");
    field!(s, "rdb_saves", "0");
    field!(s, "rdb_last_cow_size", "0");
    field!(s, "rdb_last_load_keys_expired", "0");
    field!(s, "rdb_last_load_keys_loaded", "0");
    field!(s, "aof_enabled", "0");
    field!(s, "aof_rewrite_in_progress", "0");
    field!(s, "aof_rewrite_scheduled", "0");
    field!(s, "aof_last_rewrite_time_sec", "-1");
    field!(s, "aof_current_rewrite_time_sec", "-1");
    field!(s, "aof_last_bgrewrite_status", "ok");
    field!(s, "aof_rewrites", "0");
    field!(s, "aof_rewrites_consecutive_failures", "0");
    field!(s, "aof_last_write_status", "ok");
    field!(s, "aof_last_cow_size", "0");
    field!(s, "module_fork_in_progress", "0");
    field!(s, "module_fork_last_cow_size", "0");
}

fn section_stats(s: &mut String, ctx: &Ctx) {
    let st = &ctx.shared.stats;
    let inst = &st.instantaneous;
    let clients = &ctx.shared.clients;
    s.push_str("# Stats\r\n");
    field!(
        s,
        "total_connections_received",
        "{}",
        clients.total_connections.load(Ordering::Relaxed)
    );
    field!(
        s,
        "total_commands_processed",
        "{}",
        st.sum(|t| &t.processed)
    );
    field!(s, "instantaneous_ops_per_sec", "{}", inst.ops_per_sec());
    field!(
        s,
        "total_net_input_bytes",
        "{}",
        st.sum(|t| &t.net_input_bytes)
    );
    field!(
        s,
        "total_net_output_bytes",
        "{}",
        st.sum(|t| &t.net_output_bytes)
    );
    field!(s, "total_net_repl_input_bytes", "0");
    field!(s, "total_net_repl_output_bytes", "0");
    field!(s, "instantaneous_input_kbps", "{:.2}", inst.input_kbps());
    field!(s, "instantaneous_output_kbps", "{:.2}", inst.output_kbps());
    field!(s, "instantaneous_input_repl_kbps", "0.00");
    field!(s, "instantaneous_output_repl_kbps", "0.00");
    field!(
        s,
        "rejected_connections",
        "{}",
        clients.rejected_connections.load(Ordering::Relaxed)
    );
    field!(s, "sync_full", "0");
    field!(s, "sync_partial_ok", "0");
    field!(s, "sync_partial_err", "0");
    field!(s, "expired_keys", "{}", crate::store::expired_keys());
    field!(s, "evicted_keys", "{}", st.sum(|t| &t.evicted_keys));
    field!(s, "evicted_clients", "0");
    field!(s, "keyspace_hits", "{}", st.sum(|t| &t.keyspace_hits));
    field!(s, "keyspace_misses", "{}", st.sum(|t| &t.keyspace_misses));
    field!(s, "latest_fork_usec", "0");
    field!(s, "total_forks", "0");
    field!(s, "migrate_cached_sockets", "0");
    field!(s, "unexpected_error_replies", "0");
    field!(s, "total_error_replies", "{}", st.sum(|t| &t.error_replies));
    field!(s, "dump_payload_sanitizations", "0");
    field!(s, "io_threaded_reads_processed", "0");
    field!(s, "io_threaded_writes_processed", "0");
    field!(
        s,
        "acl_access_denied_auth",
        "{}",
        st.auth_failures.load(Ordering::Relaxed)
    );
    field!(s, "acl_access_denied_cmd", "0");
    field!(s, "acl_access_denied_key", "0");
    field!(s, "acl_access_denied_channel", "0");
}

/// This server's replication ID (40 hex digits, fixed for the process).
fn master_replid() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        (0..40)
            .map(|_| char::from_digit(rand::random::<u32>() % 16, 16).unwrap_or('0'))
            .collect()
    })
}

fn section_replication(s: &mut String, ctx: &Ctx) {
    s.push_str("# Replication\r\n");
    field!(s, "role", "master");
    field!(s, "connected_slaves", "0");
    field!(s, "master_failover_state", "no-failover");
    field!(s, "master_replid", "{}", master_replid());
    field!(
        s,
        "master_replid2",
        "0000000000000000000000000000000000000000"
    );
    field!(s, "master_repl_offset", "0");
    field!(s, "second_repl_offset", "-1");
    field!(s, "repl_backlog_active", "0");
    let backlog = ctx
        .shared
        .config
        .value("repl-backlog-size")
        .unwrap_or_default();
    field!(s, "repl_backlog_size", "{backlog}");
    field!(s, "repl_backlog_first_byte_offset", "0");
    field!(s, "repl_backlog_histlen", "0");
}

fn section_cpu(s: &mut String, _ctx: &Ctx) {
    let me = metrics::cpu_times(false);
    let children = metrics::cpu_times(true);
    s.push_str("# CPU\r\n");
    field!(s, "used_cpu_sys", "{:.6}", me.sys);
    field!(s, "used_cpu_user", "{:.6}", me.user);
    field!(s, "used_cpu_sys_children", "{:.6}", children.sys);
    field!(s, "used_cpu_user_children", "{:.6}", children.user);
}

fn section_modules(s: &mut String, _ctx: &Ctx) {
    s.push_str("# Modules\r\n");
}

/// INFO field names may not contain `#`, `:` or line breaks.
fn info_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if matches!(c, '#' | ':' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

fn section_commandstats(s: &mut String, ctx: &Ctx) {
    let mut totals: Vec<_> = ctx.shared.stats.command_totals().into_iter().collect();
    totals.sort_by_key(|(name, _)| *name);
    s.push_str("# Commandstats\r\n");
    for (name, st) in totals {
        if st.calls == 0 && st.failed_calls == 0 && st.rejected_calls == 0 {
            continue;
        }
        let per_call = if st.calls == 0 {
            0.0
        } else {
            st.usec as f64 / st.calls as f64
        };
        field!(
            s,
            format!("cmdstat_{}", info_safe(name)),
            "calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}",
            st.calls,
            st.usec,
            st.rejected_calls,
            st.failed_calls
        );
    }
}

fn section_errorstats(s: &mut String, ctx: &Ctx) {
    s.push_str("# Errorstats\r\n");
    for (prefix, n) in ctx.shared.stats.error_totals() {
        field!(s, format!("errorstat_{}", info_safe(&prefix)), "count={n}");
    }
}

fn section_cluster(s: &mut String, _ctx: &Ctx) {
    s.push_str("# Cluster\r\n");
    field!(s, "cluster_enabled", "0");
}

fn section_keyspace(s: &mut String, ctx: &Ctx) {
    s.push_str("# Keyspace\r\n");
    for i in 0..ctx.shared.store.num_dbs() {
        let db = ctx.db_at(i);
        let keys = db.len();
        if keys > 0 {
            field!(
                s,
                format!("db{i}"),
                "keys={keys},expires={},avg_ttl={}",
                db.expires_len(),
                db.avg_ttl()
            );
        }
    }
}

/// INFO memory's fields on scripts and functions. The Lua states are one
/// per worker thread (`scripting::vm`): their bytes are summed.
fn scripts_memory(s: &mut String, shared: &crate::server::Shared) {
    let (eval_vm, fn_vm) = crate::scripting::vm::vm_memory();
    let eval_scripts = shared.scripts.memory();
    let (functions, libraries, fn_bytes) = shared.functions.read(|libs| {
        let bytes: usize = libs
            .by_name
            .values()
            .map(|l| {
                l.code.len()
                    + l.name.len()
                    + l.functions.iter().map(|f| f.name.len() + 64).sum::<usize>()
            })
            .sum();
        (libs.function_count(), libs.by_name.len(), bytes as u64)
    });
    field!(s, "used_memory_lua", "{eval_vm}");
    field!(s, "used_memory_vm_eval", "{eval_vm}");
    field!(s, "used_memory_lua_human", "{}", bytes_to_human(eval_vm));
    field!(s, "used_memory_scripts_eval", "{eval_scripts}");
    field!(s, "number_of_cached_scripts", "{}", shared.scripts.len());
    field!(s, "number_of_functions", "{functions}");
    field!(s, "number_of_libraries", "{libraries}");
    field!(s, "used_memory_vm_functions", "{fn_vm}");
    field!(s, "used_memory_vm_total", "{}", eval_vm + fn_vm);
    field!(
        s,
        "used_memory_vm_total_human",
        "{}",
        bytes_to_human(eval_vm + fn_vm)
    );
    field!(s, "used_memory_functions", "{fn_bytes}");
    field!(s, "used_memory_scripts", "{}", eval_scripts + fn_bytes);
    field!(
        s,
        "used_memory_scripts_human",
        "{}",
        bytes_to_human(eval_scripts + fn_bytes)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b<'a>(args: &[&'a str]) -> Vec<&'a [u8]> {
        args.iter().map(|a| a.as_bytes()).collect()
    }

    #[test]
    fn shutdown_flag_combinations() {
        assert!(parse_shutdown(&b(&["shutdown"])).is_some());
        assert!(parse_shutdown(&b(&["shutdown", "NOSAVE", "now", "force"])).is_some());
        assert!(parse_shutdown(&b(&["shutdown", "save", "nosave"])).is_none());
        assert!(parse_shutdown(&b(&["shutdown", "abort", "now"])).is_none());
        assert!(parse_shutdown(&b(&["shutdown", "foo"])).is_none());
        assert!(parse_shutdown(&b(&["shutdown", "abort"])).is_some_and(|f| f.abort));
    }

    #[test]
    fn info_section_selection() {
        let sel = Selection::parse(&[]);
        assert!(sel.wants("server") && sel.wants("keyspace") && !sel.wants("commandstats"));
        let sel = Selection::parse(&b(&["COMMANDSTATS"]));
        assert!(sel.wants("commandstats") && !sel.wants("server"));
        let sel = Selection::parse(&b(&["everything"]));
        assert!(sel.wants("commandstats") && sel.wants("modules"));
        let sel = Selection::parse(&b(&["default", "cpu"]));
        assert!(sel.wants("cpu") && sel.wants("memory") && !sel.wants("commandstats"));
    }

    #[test]
    fn info_names_are_sanitised() {
        assert_eq!(info_safe("client|list"), "client|list");
        assert_eq!(info_safe("a:b#c"), "a_b_c");
    }
}
