//! The directive table: every setting Redis 7.0 lists in `CONFIG GET *`, plus its hidden
//! ones and Ferrite's own `threads`.
//!
//! One table drives file loading, `CONFIG GET`, `CONFIG SET` and the "not implemented yet"
//! warnings, so a directive can never be accepted by one path and unknown to another.
//! Defaults are written exactly as Redis 7.0 prints them; a unit test checks that each one
//! parses and prints back unchanged.

/// Value syntax of a directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `yes` / `no`, case-insensitive.
    Bool,
    /// Strict decimal integer within `[min, max]`.
    Int(i64, i64),
    /// Byte count with optional unit (`1k`, `1kb`, `2gb` ...) within `[min, max]`.
    Mem(u64, u64),
    /// One of a fixed set of words, case-insensitive. `"a=b"` accepts `a` as a synonym of `b`.
    Enum(&'static [&'static str]),
    /// Free text with an optional validity check.
    Str(Check),
    /// Directives with their own syntax (see `values::parse_special`).
    Special(Special),
}

/// Extra checks on string directives, with Redis's error texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    None,
    /// A bare file name (no `/` or `\`).
    FileName,
    /// A bare directory name.
    DirName,
    /// Letters, digits, `-` and `.` only.
    Hostname,
    /// Process title template with known `{variables}`.
    ProcTitle,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Special {
    Save,
    Bind,
    ClientOutputBufferLimit,
    NotifyKeyspaceEvents,
    OomScoreAdjValues,
    Percentiles,
    ShutdownFlags,
    ReplicaOf,
    Octal,
    MaxmemoryClients,
    Dir,
}

/// Cannot be changed with CONFIG SET ("can't set immutable config").
pub(crate) const IMMUTABLE: u8 = 1;
/// CONFIG SET only when `enable-protected-configs` allows it.
pub(crate) const PROTECTED: u8 = 2;
/// Left out of `CONFIG GET` glob results; still readable by exact name.
pub(crate) const HIDDEN: u8 = 4;
/// A string directive whose empty value is a value of its own: CONFIG REWRITE writes it as
/// `name ""`. For the other string directives with an empty default, Redis stores an empty
/// value as "unset" and CONFIG REWRITE leaves the directive out of the file.
pub(crate) const KEEP_EMPTY: u8 = 8;

#[derive(Debug)]
pub(crate) struct Directive {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub default: &'static str,
    pub flags: u8,
}

impl Directive {
    /// Whether the directive takes several arguments on a config line (and a
    /// space-separated list in CONFIG SET).
    pub(crate) fn multi_arg(&self) -> bool {
        matches!(
            self.kind,
            Kind::Special(
                Special::Save
                    | Special::Bind
                    | Special::ClientOutputBufferLimit
                    | Special::OomScoreAdjValues
                    | Special::Percentiles
                    | Special::ShutdownFlags
                    | Special::ReplicaOf
            )
        )
    }

    const fn alias(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }
}

const fn d(name: &'static str, kind: Kind, default: &'static str, flags: u8) -> Directive {
    Directive {
        name,
        aliases: &[],
        kind,
        default,
        flags,
    }
}
const fn b(name: &'static str, default: &'static str, flags: u8) -> Directive {
    d(name, Kind::Bool, default, flags)
}
const fn i(name: &'static str, min: i64, max: i64, default: &'static str, flags: u8) -> Directive {
    d(name, Kind::Int(min, max), default, flags)
}
const fn m(name: &'static str, min: u64, max: u64, default: &'static str) -> Directive {
    d(name, Kind::Mem(min, max), default, 0)
}
const fn e(
    name: &'static str,
    v: &'static [&'static str],
    default: &'static str,
    flags: u8,
) -> Directive {
    d(name, Kind::Enum(v), default, flags)
}
const fn s(name: &'static str, default: &'static str, flags: u8) -> Directive {
    d(name, Kind::Str(Check::None), default, flags)
}
const fn x(name: &'static str, sp: Special, default: &'static str, flags: u8) -> Directive {
    d(name, Kind::Special(sp), default, flags)
}

const I32: i64 = i32::MAX as i64;
const I64: i64 = i64::MAX;
const U64: u64 = u64::MAX;
const M64: u64 = i64::MAX as u64;
const IM: u8 = IMMUTABLE;
const KE: u8 = KEEP_EMPTY;
const NYL: &[&str] = &["no", "yes", "local"];

/// Directives Ferrite implements. Every other directive is parsed, validated, stored and
/// reported by CONFIG GET, but has no effect; `Config::inactive_settings` names those a
/// user changed so the server can warn about them.
pub(crate) const ACTIVE: &[&str] = &[
    "port",
    "bind",
    "protected-mode",
    "databases",
    "requirepass",
    "maxclients",
    "timeout",
    "tcp-keepalive",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "hz",
    "loglevel",
    "logfile",
    "daemonize",
    "supervised",
    "pidfile",
    "dir",
    "io-threads",
    "threads",
    "list-max-listpack-size",
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "set-max-intset-entries",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "maxmemory",
    "maxmemory-policy",
    "maxmemory-samples",
    "lfu-log-factor",
    "lfu-decay-time",
    "lazyfree-lazy-eviction",
    "lazyfree-lazy-expire",
    "lazyfree-lazy-server-del",
    "lazyfree-lazy-user-del",
    "lazyfree-lazy-user-flush",
    "active-expire-effort",
    "latency-tracking",
];

/// Obsolete directives Redis 7.0 still accepts (with one argument) in a config file and
/// ignores; CONFIG SET and CONFIG GET do not know them.
pub(crate) const DEPRECATED: &[&str] = &[
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];

#[rustfmt::skip]
pub(crate) static TABLE: &[Directive] = &[
    // Network and clients.
    i("port", 0, 65535, "6379", 0),
    x("bind", Special::Bind, "* -::*", 0),
    s("bind-source-addr", "", 0),
    b("protected-mode", "yes", 0),
    i("tcp-backlog", 0, I32, "511", IM),
    i("tcp-keepalive", 0, I32, "300", 0),
    i("timeout", 0, I32, "0", 0),
    s("unixsocket", "", IM),
    x("unixsocketperm", Special::Octal, "0", IM),
    i("socket-mark-id", 0, u32::MAX as i64, "0", IM),
    i("maxclients", 1, u32::MAX as i64, "10000", 0),
    m("client-query-buffer-limit", 1 << 20, M64, "1073741824"),
    m("proto-max-bulk-len", 1 << 20, M64, "536870912"),
    x("client-output-buffer-limit", Special::ClientOutputBufferLimit,
      "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", 0),
    i("tracking-table-max-keys", 0, I64, "1000000", 0),
    i("io-threads", 1, 128, "1", IM),
    b("io-threads-do-reads", "no", IM),
    i("threads", 0, 1024, "0", IM),
    // General.
    i("databases", 1, I32, "16", IM),
    b("daemonize", "no", IM),
    e("supervised", &["upstart", "systemd", "auto", "no"], "no", IM),
    s("pidfile", "", IM),
    e("loglevel", &["debug", "verbose", "notice", "warning"], "notice", 0),
    s("logfile", "", IM | KE),
    b("syslog-enabled", "no", IM),
    s("syslog-ident", "redis", IM),
    e("syslog-facility", &["user", "local0", "local1", "local2", "local3", "local4", "local5",
        "local6", "local7"], "local0", IM),
    b("always-show-logo", "no", IM),
    b("set-proc-title", "yes", IM),
    d("proc-title-template", Kind::Str(Check::ProcTitle), "{title} {listen-addr} {server-mode}", 0),
    b("crash-log-enabled", "yes", 0),
    b("crash-memcheck-enabled", "yes", 0),
    e("enable-protected-configs", NYL, "no", IM),
    e("enable-debug-command", NYL, "no", IM),
    e("enable-module-command", NYL, "no", IM),
    s("ignore-warnings", "", KE),
    b("disable-thp", "yes", IM),
    b("jemalloc-bg-thread", "yes", 0),
    s("server_cpulist", "", IM),
    s("bio_cpulist", "", IM),
    s("aof_rewrite_cpulist", "", IM),
    s("bgsave_cpulist", "", IM),
    e("oom-score-adj", &["no", "yes", "relative=yes", "absolute"], "no", 0),
    x("oom-score-adj-values", Special::OomScoreAdjValues, "0 200 800", 0),
    x("shutdown-on-sigint", Special::ShutdownFlags, "default", 0),
    x("shutdown-on-sigterm", Special::ShutdownFlags, "default", 0),
    i("shutdown-timeout", 0, I32, "10", 0),
    i("hz", 0, I32, "10", 0),
    b("dynamic-hz", "yes", 0),
    i("active-expire-effort", 1, 10, "1", 0),
    b("activerehashing", "yes", 0),
    // Snapshotting and AOF.
    x("save", Special::Save, "3600 1 300 100 60 10000", 0),
    b("stop-writes-on-bgsave-error", "yes", 0),
    b("rdbcompression", "yes", 0),
    b("rdbchecksum", "yes", IM),
    d("dbfilename", Kind::Str(Check::FileName), "dump.rdb", PROTECTED),
    b("rdb-del-sync-files", "no", 0),
    b("rdb-save-incremental-fsync", "yes", 0),
    x("dir", Special::Dir, "", PROTECTED),
    e("sanitize-dump-payload", &["no", "yes", "clients"], "no", 0),
    b("appendonly", "no", 0),
    d("appendfilename", Kind::Str(Check::FileName), "appendonly.aof", IM),
    d("appenddirname", Kind::Str(Check::DirName), "appendonlydir", IM),
    e("appendfsync", &["everysec", "always", "no"], "everysec", 0),
    b("no-appendfsync-on-rewrite", "no", 0),
    i("auto-aof-rewrite-percentage", 0, I32, "100", 0),
    m("auto-aof-rewrite-min-size", 0, M64, "67108864"),
    b("aof-load-truncated", "yes", 0),
    b("aof-use-rdb-preamble", "yes", 0),
    b("aof-rewrite-incremental-fsync", "yes", 0),
    b("aof-timestamp-enabled", "no", 0),
    b("aof-disable-auto-gc", "no", 0),
    // Security.
    s("requirepass", "", 0),
    s("aclfile", "", IM | KE),
    i("acllog-max-len", 0, I64, "128", 0),
    e("acl-pubsub-default", &["allchannels", "resetchannels"], "resetchannels", 0),
    // Memory and eviction.
    m("maxmemory", 0, U64, "0"),
    x("maxmemory-clients", Special::MaxmemoryClients, "0", 0),
    e("maxmemory-policy", &["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
        "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"], "noeviction", 0),
    i("maxmemory-samples", 1, I32, "5", 0),
    i("maxmemory-eviction-tenacity", 0, 100, "10", 0),
    i("lfu-log-factor", 0, I32, "10", 0),
    i("lfu-decay-time", 0, I32, "1", 0),
    b("lazyfree-lazy-eviction", "no", 0),
    b("lazyfree-lazy-expire", "no", 0),
    b("lazyfree-lazy-server-del", "no", 0),
    b("lazyfree-lazy-user-del", "no", 0),
    b("lazyfree-lazy-user-flush", "no", 0),
    b("activedefrag", "no", 0),
    m("active-defrag-ignore-bytes", 1, M64, "104857600"),
    i("active-defrag-threshold-lower", 0, 1000, "10", 0),
    i("active-defrag-threshold-upper", 0, 1000, "100", 0),
    i("active-defrag-cycle-min", 1, 99, "1", 0),
    i("active-defrag-cycle-max", 1, 99, "25", 0),
    i("active-defrag-max-scan-fields", 1, I64, "1000", 0),
    // Encodings.
    i("hash-max-listpack-entries", 0, I64, "512", 0).alias(&["hash-max-ziplist-entries"]),
    m("hash-max-listpack-value", 0, M64, "64").alias(&["hash-max-ziplist-value"]),
    i("list-max-listpack-size", i32::MIN as i64, I32, "-2", 0).alias(&["list-max-ziplist-size"]),
    i("list-compress-depth", 0, I32, "0", 0),
    i("set-max-intset-entries", 0, I64, "512", 0),
    i("zset-max-listpack-entries", 0, I64, "128", 0).alias(&["zset-max-ziplist-entries"]),
    m("zset-max-listpack-value", 0, M64, "64").alias(&["zset-max-ziplist-value"]),
    m("hll-sparse-max-bytes", 0, M64, "3000"),
    m("stream-node-max-bytes", 0, M64, "4096"),
    i("stream-node-max-entries", 0, I64, "100", 0),
    // Scripting, slow log, latency, notifications.
    i("busy-reply-threshold", 0, I64, "5000", 0).alias(&["lua-time-limit"]),
    i("slowlog-log-slower-than", -1, I64, "10000", 0),
    i("slowlog-max-len", 0, I64, "128", 0),
    i("latency-monitor-threshold", 0, I64, "0", 0),
    b("latency-tracking", "yes", 0),
    x("latency-tracking-info-percentiles", Special::Percentiles, "50 99 99.9", 0),
    x("notify-keyspace-events", Special::NotifyKeyspaceEvents, "", 0),
    // Replication.
    x("replicaof", Special::ReplicaOf, "", IM).alias(&["slaveof"]),
    s("masteruser", "", 0),
    s("masterauth", "", 0),
    b("replica-serve-stale-data", "yes", 0).alias(&["slave-serve-stale-data"]),
    b("replica-read-only", "yes", 0).alias(&["slave-read-only"]),
    b("replica-ignore-maxmemory", "yes", 0).alias(&["slave-ignore-maxmemory"]),
    b("replica-lazy-flush", "no", 0).alias(&["slave-lazy-flush"]),
    b("replica-announced", "yes", 0),
    b("replica-ignore-disk-write-errors", "no", 0),
    i("replica-priority", 0, I32, "100", 0).alias(&["slave-priority"]),
    s("replica-announce-ip", "", 0).alias(&["slave-announce-ip"]),
    i("replica-announce-port", 0, 65535, "0", 0).alias(&["slave-announce-port"]),
    b("repl-diskless-sync", "yes", 0),
    i("repl-diskless-sync-delay", 0, I32, "5", 0),
    i("repl-diskless-sync-max-replicas", 0, I32, "0", 0),
    e("repl-diskless-load", &["disabled", "on-empty-db", "swapdb"], "disabled", 0),
    i("repl-ping-replica-period", 1, I32, "10", 0).alias(&["repl-ping-slave-period"]),
    i("repl-timeout", 1, I32, "60", 0),
    b("repl-disable-tcp-nodelay", "no", 0),
    m("repl-backlog-size", 1, M64, "1048576"),
    i("repl-backlog-ttl", 0, I64, "3600", 0),
    i("min-replicas-to-write", 0, I32, "0", 0).alias(&["min-slaves-to-write"]),
    i("min-replicas-max-lag", 0, I32, "10", 0).alias(&["min-slaves-max-lag"]),
    e("propagation-error-behavior", &["ignore", "panic", "panic-on-replicas"], "ignore", 0),
    // Cluster.
    b("cluster-enabled", "no", IM),
    s("cluster-config-file", "nodes.conf", IM),
    i("cluster-port", 0, 65535, "0", IM),
    i("cluster-node-timeout", 0, I64, "15000", 0),
    i("cluster-replica-validity-factor", 0, I32, "10", 0).alias(&["cluster-slave-validity-factor"]),
    i("cluster-migration-barrier", 0, I32, "1", 0),
    b("cluster-allow-replica-migration", "yes", 0),
    b("cluster-require-full-coverage", "yes", 0),
    b("cluster-replica-no-failover", "no", 0).alias(&["cluster-slave-no-failover"]),
    b("cluster-allow-reads-when-down", "no", 0),
    b("cluster-allow-pubsubshard-when-down", "yes", 0),
    m("cluster-link-sendbuf-limit", 0, U64, "0"),
    s("cluster-announce-ip", "", 0),
    d("cluster-announce-hostname", Kind::Str(Check::Hostname), "", 0),
    i("cluster-announce-port", 0, 65535, "0", 0),
    i("cluster-announce-bus-port", 0, 65535, "0", 0),
    i("cluster-announce-tls-port", 0, 65535, "0", 0),
    e("cluster-preferred-endpoint-type", &["ip", "hostname", "unknown-endpoint"], "ip", 0),
    // TLS.
    i("tls-port", 0, 65535, "0", 0),
    s("tls-cert-file", "", 0),
    s("tls-key-file", "", 0),
    s("tls-key-file-pass", "", 0),
    s("tls-client-cert-file", "", 0),
    s("tls-client-key-file", "", 0),
    s("tls-client-key-file-pass", "", 0),
    s("tls-dh-params-file", "", 0),
    s("tls-ca-cert-file", "", 0),
    s("tls-ca-cert-dir", "", 0),
    e("tls-auth-clients", &["no", "yes", "optional"], "yes", 0),
    b("tls-replication", "no", 0),
    b("tls-cluster", "no", 0),
    s("tls-protocols", "", 0),
    s("tls-ciphers", "", 0),
    s("tls-ciphersuites", "", 0),
    b("tls-prefer-server-ciphers", "no", 0),
    b("tls-session-caching", "yes", 0),
    i("tls-session-cache-size", 0, I32, "20480", 0),
    i("tls-session-cache-timeout", 0, I32, "300", 0),
    // Debugging aids Redis hides from CONFIG GET *.
    i("key-load-delay", i32::MIN as i64, I32, "0", HIDDEN),
    i("rdb-key-save-delay", i32::MIN as i64, I32, "0", HIDDEN),
    i("loading-process-events-interval-bytes", 1024, I32, "2097152", HIDDEN),
];

/// Index of a directive by canonical name, usable in constants (panics at compile time
/// when the name is missing, so a typo in an accessor cannot ship).
pub(crate) const fn idx(name: &str) -> usize {
    let mut i = 0;
    while i < TABLE.len() {
        if const_eq(TABLE[i].name.as_bytes(), name.as_bytes()) {
            return i;
        }
        i += 1;
    }
    panic!("unknown directive");
}

const fn const_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Finds a directive by canonical name or alias, case-insensitively.
pub(crate) fn lookup(name: &str) -> Option<usize> {
    TABLE.iter().position(|d| {
        d.name.eq_ignore_ascii_case(name) || d.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut all: Vec<&str> = TABLE
            .iter()
            .flat_map(|d| d.aliases.iter().copied().chain([d.name]))
            .collect();
        all.extend(DEPRECATED);
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "duplicate directive name");
        assert!(all
            .iter()
            .all(|s| !s.bytes().any(|c| c.is_ascii_uppercase())));
        for a in ACTIVE {
            assert!(TABLE.iter().any(|d| d.name == *a), "{a} not in table");
        }
    }

    #[test]
    fn lookup_finds_aliases() {
        assert_eq!(lookup("SLAVEOF"), Some(idx("replicaof")));
        assert_eq!(
            lookup("hash-max-ziplist-entries"),
            Some(idx("hash-max-listpack-entries"))
        );
        assert_eq!(lookup("lua-time-limit"), Some(idx("busy-reply-threshold")));
        assert_eq!(lookup("nope"), None);
        // Redis 7.0 lists 192 names in CONFIG GET * (aliases included) plus 3 hidden ones;
        // Ferrite adds `threads`.
        let names: usize = TABLE.iter().map(|d| 1 + d.aliases.len()).sum();
        assert_eq!(names, 192 + 3 + 1);
    }
}
