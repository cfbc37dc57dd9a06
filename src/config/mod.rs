//! Configuration: redis.conf and command-line loading, CONFIG GET / CONFIG SET /
//! CONFIG REWRITE, and lock-free typed access for the values read on every request.
//!
//! Every directive of Redis 7.0 is accepted, validated and reported (see `directives`), so an
//! existing redis.conf loads unchanged; those Ferrite does not implement yet are listed by
//! [`Config::inactive_settings`]. Each directive has one slot holding an atomic number (for
//! hot accessors, read with `Relaxed`: a request seeing the old value for a moment is what
//! Redis's single thread would also allow around a CONFIG SET) and the CONFIG GET text.

mod directives;
mod parse;
mod rewrite;
mod values;

pub use parse::quote;
pub use rewrite::RewriteError;
pub use values::{parse_memory, NOTIFY_KEYEVENT, NOTIFY_KEYSPACE, NOTIFY_KEY_MISS};

use directives::{idx, lookup, ACTIVE, HIDDEN, IMMUTABLE, PROTECTED, TABLE};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError, RwLock};

/// Called after a successful CONFIG SET with the canonical directive name and its new
/// CONFIG GET value, once per directive set. Must not call `set_many` (it would deadlock).
pub type ChangeListener = Box<dyn Fn(&str, &str) + Send + Sync>;

/// `loglevel` values, from most to least verbose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
}

/// `supervised` values, in the order of the directive table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Supervised {
    Upstart,
    Systemd,
    Auto,
    No,
}

/// `maxmemory-policy` values, in the order of the directive table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxmemoryPolicy {
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    NoEviction,
}

/// Indices of directives with typed accessors, resolved at compile time.
mod ix {
    use super::idx;
    pub const DIR: usize = idx("dir");
    pub const REQUIREPASS: usize = idx("requirepass");
    pub const BIND: usize = idx("bind");
    pub const LOGFILE: usize = idx("logfile");
    pub const PIDFILE: usize = idx("pidfile");
    pub const DBFILENAME: usize = idx("dbfilename");
    pub const SAVE: usize = idx("save");
    pub const ENABLE_PROTECTED: usize = idx("enable-protected-configs");
}

struct Slot {
    num: AtomicU64,
    text: RwLock<String>,
}

/// The server's configuration, shared as `Arc<Config>` by every thread.
pub struct Config {
    slots: Box<[Slot]>,
    /// Serialises CONFIG SET so that validate-then-commit is all-or-nothing, and CONFIG
    /// REWRITE so that it writes one consistent configuration.
    set_lock: Mutex<()>,
    generation: AtomicU64,
    listeners: RwLock<Vec<ChangeListener>>,
    config_file: Option<PathBuf>,
    users: Vec<Vec<String>>,
    renames: Vec<(String, String)>,
}

/// Loads the configuration from `ferrite-server`'s arguments (everything after argv[0]):
/// an optional config file, then config text from stdin when an argument is `-`, then
/// `--directive value ...` options, read in that order as one text, as redis-server does:
/// an option overrides the file's value of a single-value directive, and adds to the
/// multi-value ones (`save`, `rename-command`, `user`, `include`, and
/// `client-output-buffer-limit` class by class).
pub fn load(args: &[String]) -> Result<Config, String> {
    Config::load(args)
}

/// Arguments of a default or a CONFIG SET value: multi-argument directives take a
/// space-separated list (empty string: no arguments), others the value as is.
fn split_value(d: &directives::Directive, v: &str) -> Vec<String> {
    match (d.multi_arg(), v) {
        (true, "") => vec![],
        (true, v) => v.split(' ').map(String::from).collect(),
        (false, v) => vec![v.to_string()],
    }
}

macro_rules! accessors {
    ($($(#[$doc:meta])* $name:ident -> $t:ty = $directive:literal $(, $conv:expr)?;)*) => {$(
        $(#[$doc])*
        #[inline]
        pub fn $name(&self) -> $t {
            const I: usize = idx($directive);
            let n = self.slots[I].num.load(Relaxed);
            accessors!(@conv n $t $(, $conv)?)
        }
    )*};
    (@conv $n:ident $t:ty, $conv:expr) => { ($conv)($n) };
    (@conv $n:ident $t:ty) => { $n as $t };
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    /// All defaults; `dir` is the current directory.
    pub fn new() -> Config {
        let cwd = std::env::current_dir()
            .map_or_else(|_| "/".into(), |p| p.to_string_lossy().into_owned());
        let slots = TABLE
            .iter()
            .map(|d| {
                let (num, text) = if d.name == "dir" {
                    (0, cwd.clone())
                } else {
                    values::parse(d, &split_value(d, d.default), "", false)
                        .expect("directive default is valid")
                };
                Slot {
                    num: AtomicU64::new(num),
                    text: RwLock::new(text),
                }
            })
            .collect();
        Config {
            slots,
            set_lock: Mutex::new(()),
            generation: AtomicU64::new(0),
            listeners: RwLock::new(Vec::new()),
            config_file: None,
            users: Vec::new(),
            renames: Vec::new(),
        }
    }

    /// See [`load`].
    pub fn load(args: &[String]) -> Result<Config, String> {
        let line = parse::command_line(args);
        let mut text = match line.file {
            Some(f) => parse::read_file(f)?,
            None => Vec::new(),
        };
        if line.stdin {
            // Joined to the file without a separator, as redis-server does.
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut text)
                .map_err(|e| format!("Fatal error, can't read config from stdin: {e}"))?;
        }
        text.push(b'\n');
        text.extend_from_slice(line.opts.as_bytes());
        let mut cfg = Self::from_text(&text)?;
        cfg.config_file = line
            .file
            .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.into()));
        Ok(cfg)
    }

    /// Defaults overridden by config-file text (`include` allowed).
    pub fn from_text(text: &[u8]) -> Result<Config, String> {
        let mut cfg = Config::new();
        let mut loader = parse::Loader::new(&cfg);
        loader.load_text(text)?;
        let (users, renames) = (loader.users, loader.renames);
        cfg.users = users;
        cfg.renames = renames;
        Ok(cfg)
    }

    pub(crate) fn text(&self, i: usize) -> String {
        self.slots[i]
            .text
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn store(&self, i: usize, num: u64, text: String) {
        *self.slots[i]
            .text
            .write()
            .unwrap_or_else(PoisonError::into_inner) = text;
        self.slots[i].num.store(num, Relaxed);
    }

    /// Absolute path of the config file given on the command line, if any (INFO, REWRITE).
    pub fn config_file(&self) -> Option<&Path> {
        self.config_file.as_deref()
    }

    /// Arguments of each `user` line of the config file, in order, for the ACL module.
    pub fn acl_users(&self) -> &[Vec<String>] {
        &self.users
    }

    /// `rename-command` lines as `(old, new)` in the order they were read; already
    /// checked, for `commands::install_renames`.
    pub fn renamed_commands(&self) -> &[(String, String)] {
        &self.renames
    }

    /// CONFIG GET value of one directive (canonical name or alias), if it exists.
    pub fn value(&self, name: &str) -> Option<String> {
        lookup(name).map(|i| self.text(i))
    }

    /// Bumped by every successful CONFIG SET, so a module can cache derived state and
    /// recompute it when the number changes.
    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// Registers a listener for CONFIG SET changes (e.g. to apply `loglevel` live).
    pub fn subscribe(&self, f: ChangeListener) {
        self.listeners
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(f);
    }

    accessors! {
        port -> u16 = "port";
        databases -> usize = "databases";
        /// Largest bulk string a client may send.
        proto_max_bulk_len -> u64 = "proto-max-bulk-len";
        client_query_buffer_limit -> u64 = "client-query-buffer-limit";
        maxclients -> u32 = "maxclients";
        /// Idle seconds before a client is closed; 0 = never.
        timeout -> u64 = "timeout";
        tcp_keepalive -> u64 = "tcp-keepalive";
        /// Already clamped to 1..=500, as Redis does.
        hz -> u32 = "hz";
        protected_mode -> bool = "protected-mode", |n| n != 0;
        maxmemory -> u64 = "maxmemory";
        /// Milliseconds after which a running script is busy (0: never).
        busy_reply_threshold -> u64 = "busy-reply-threshold";
        maxmemory_samples -> u32 = "maxmemory-samples";
        lfu_log_factor -> u32 = "lfu-log-factor";
        lfu_decay_time -> u32 = "lfu-decay-time";
        active_expire_effort -> u32 = "active-expire-effort";
        latency_tracking -> bool = "latency-tracking", |n| n != 0;
        list_max_listpack_size -> i32 = "list-max-listpack-size", |n: u64| n as i64 as i32;
        hash_max_listpack_entries -> u64 = "hash-max-listpack-entries";
        hash_max_listpack_value -> u64 = "hash-max-listpack-value";
        set_max_intset_entries -> u64 = "set-max-intset-entries";
        zset_max_listpack_entries -> u64 = "zset-max-listpack-entries";
        zset_max_listpack_value -> u64 = "zset-max-listpack-value";
        lazyfree_lazy_eviction -> bool = "lazyfree-lazy-eviction", |n| n != 0;
        lazyfree_lazy_expire -> bool = "lazyfree-lazy-expire", |n| n != 0;
        lazyfree_lazy_server_del -> bool = "lazyfree-lazy-server-del", |n| n != 0;
        lazyfree_lazy_user_del -> bool = "lazyfree-lazy-user-del", |n| n != 0;
        lazyfree_lazy_user_flush -> bool = "lazyfree-lazy-user-flush", |n| n != 0;
        /// Bit set of `notify-keyspace-events` (classes, then `NOTIFY_KEYSPACE`...).
        notify_keyspace_events -> u32 = "notify-keyspace-events";
        /// Detach from the terminal at start-up (unless a supervisor was detected).
        daemonize -> bool = "daemonize", |n| n != 0;
        /// `supervised` as the configuration says it (before detection).
        supervised -> Supervised = "supervised",
            |n| [Supervised::Upstart, Supervised::Systemd, Supervised::Auto, Supervised::No][n as usize];
        /// Worker threads (Ferrite's `threads`); 0 = one per core less one
        /// (`server::default_worker_threads`).
        threads -> usize = "threads";
        /// `loglevel` as a level.
        log_level -> LogLevel = "loglevel",
            |n| [LogLevel::Debug, LogLevel::Verbose, LogLevel::Notice, LogLevel::Warning][n as usize];
        maxmemory_policy -> MaxmemoryPolicy = "maxmemory-policy", |n| {
            use MaxmemoryPolicy::*;
            [VolatileLru, VolatileLfu, VolatileRandom, VolatileTtl, AllkeysLru, AllkeysLfu, AllkeysRandom, NoEviction]
                [n as usize]
        };
    }

    /// `loglevel` as Redis spells it (`debug`, `verbose`, `notice`, `warning`).
    pub fn loglevel(&self) -> &'static str {
        ["debug", "verbose", "notice", "warning"][self.log_level() as usize]
    }

    /// `None` when no password is set (read at AUTH time only).
    pub fn requirepass(&self) -> Option<Vec<u8>> {
        Some(self.text(ix::REQUIREPASS).into_bytes()).filter(|p| !p.is_empty())
    }

    /// Addresses to listen on; a leading `-` marks one that may fail to bind.
    pub fn bind(&self) -> Vec<String> {
        self.text(ix::BIND)
            .split_whitespace()
            .map(String::from)
            .collect()
    }

    /// Pid file path; empty means none (a daemon then writes `/var/run/redis.pid`).
    pub fn pidfile(&self) -> String {
        self.text(ix::PIDFILE)
    }

    /// Log file path; empty means standard output.
    pub fn logfile(&self) -> String {
        self.text(ix::LOGFILE)
    }

    /// Absolute working directory for RDB/AOF files.
    pub fn dir(&self) -> String {
        self.text(ix::DIR)
    }

    pub fn dbfilename(&self) -> String {
        self.text(ix::DBFILENAME)
    }

    /// `save` as (seconds, changes) pairs.
    pub fn save_params(&self) -> Vec<(u64, u64)> {
        let nums: Vec<u64> = self
            .text(ix::SAVE)
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        nums.chunks_exact(2).map(|p| (p[0], p[1])).collect()
    }

    /// CONFIG GET with one pattern.
    pub fn get(&self, pattern: &[u8]) -> Vec<(String, String)> {
        self.get_many(&[pattern])
    }

    /// CONFIG GET with several patterns, as Redis 7: a pattern without glob characters
    /// finds one directive (hidden ones too) and is echoed as typed; a glob matches names
    /// and aliases case-insensitively, skipping hidden directives. Each name appears once.
    pub fn get_many(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut add = |name: String, i: usize, out: &mut Vec<(String, String)>| {
            if seen.insert(name.to_ascii_lowercase()) {
                out.push((name, self.text(i)));
            }
        };
        for pat in patterns {
            if !pat.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
                let name = String::from_utf8_lossy(pat).into_owned();
                if let Some(i) = lookup(&name) {
                    add(name, i, &mut out);
                }
                continue;
            }
            for (i, d) in TABLE
                .iter()
                .enumerate()
                .filter(|(_, d)| d.flags & HIDDEN == 0)
            {
                for name in std::iter::once(&d.name).chain(d.aliases) {
                    if crate::util::glob::glob_match(pat, name.as_bytes(), true) {
                        add(name.to_string(), i, &mut out);
                    }
                }
            }
        }
        out
    }

    /// CONFIG SET from a client that is not local; see [`Config::set_many_ext`].
    pub fn set_many(&self, pairs: &[(&[u8], &[u8])]) -> Result<(), String> {
        self.set_many_ext(pairs, false)
    }

    /// CONFIG SET name value [name value ...], all or nothing. Names are checked first
    /// (unknown, immutable, protected, duplicate), then every value is validated, then all
    /// are stored and listeners are told. Errors carry Redis 7.0's text, `ERR` included.
    /// `local_client` allows protected directives under `enable-protected-configs local`.
    pub fn set_many_ext(&self, pairs: &[(&[u8], &[u8])], local_client: bool) -> Result<(), String> {
        let _serial = self.set_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let fail = |name: &str, why: &str| {
            format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
        };
        let protected_ok = match self.slots[ix::ENABLE_PROTECTED].num.load(Relaxed) {
            1 => true,
            2 => local_client,
            _ => false,
        };
        let mut targets = Vec::with_capacity(pairs.len());
        let mut seen = HashSet::new();
        for (name, _) in pairs {
            let name = String::from_utf8_lossy(name);
            let Some(i) = lookup(&name) else {
                return Err(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                ));
            };
            if TABLE[i].flags & IMMUTABLE != 0 {
                return Err(fail(&name, "can't set immutable config"));
            }
            if TABLE[i].flags & PROTECTED != 0 && !protected_ok {
                return Err(fail(&name, "can't set protected config"));
            }
            if !seen.insert(name.to_ascii_lowercase()) {
                return Err(fail(&name, "duplicate parameter"));
            }
            targets.push(i);
        }
        let mut staged: Vec<(usize, u64, String)> = Vec::with_capacity(pairs.len());
        for ((name, value), &i) in pairs.iter().zip(&targets) {
            let d = &TABLE[i];
            let prev = match staged.iter().rev().find(|s| s.0 == i) {
                Some(s) => s.2.clone(),
                None => self.text(i),
            };
            let args = split_value(d, &String::from_utf8_lossy(value));
            let (mut num, mut text) = values::parse(d, &args, &prev, false)
                .map_err(|e| fail(&String::from_utf8_lossy(name), &e))?;
            if d.name == "repl-backlog-size" && num < 16 << 10 {
                // Redis raises a tiny backlog to 16kb when set at runtime (not at load).
                (num, text) = (16 << 10, "16384".into());
            }
            staged.push((i, num, text));
        }
        for (i, num, text) in &staged {
            self.store(*i, *num, text.clone());
        }
        self.generation.fetch_add(1, Relaxed);
        let listeners = self
            .listeners
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        for (i, _, text) in &staged {
            for f in listeners.iter() {
                f(TABLE[*i].name, text);
            }
        }
        Ok(())
    }

    /// Directives for features Ferrite does not implement yet whose value differs from the
    /// default, so the server can warn that they have no effect.
    pub fn inactive_settings(&self) -> Vec<String> {
        TABLE
            .iter()
            .enumerate()
            .filter(|(i, d)| {
                !ACTIVE.contains(&d.name) && d.flags & HIDDEN == 0 && self.text(*i) != d.default
            })
            .map(|(_, d)| d.name.to_string())
            .collect()
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("port", &self.port())
            .field("generation", &self.generation())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn cfg(text: &str) -> Result<Config, String> {
        Config::from_text(text.as_bytes())
    }

    fn get1(c: &Config, pat: &str) -> Vec<(String, String)> {
        c.get(pat.as_bytes())
    }

    fn set(c: &Config, pairs: &[(&str, &str)]) -> Result<(), String> {
        let pairs: Vec<(&[u8], &[u8])> = pairs
            .iter()
            .map(|(a, b)| (a.as_bytes(), b.as_bytes()))
            .collect();
        c.set_many(&pairs)
    }

    #[test]
    fn defaults_print_as_redis_does() {
        for d in TABLE.iter().filter(|d| d.name != "dir") {
            let (_, text) = values::parse(d, &split_value(d, d.default), "", false).unwrap();
            assert_eq!(text, d.default, "{}", d.name);
        }
        let c = Config::new();
        let all = get1(&c, "*");
        assert_eq!(all.len(), 192 + 1, "Redis 7.0's CONFIG GET * plus threads");
        let v = |n: &str| all.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(v("save").as_deref(), Some("3600 1 300 100 60 10000"));
        assert_eq!(v("slaveof").as_deref(), Some(""));
        assert_eq!(v("hash-max-ziplist-entries").as_deref(), Some("512"));
        assert_eq!(v("key-load-delay"), None, "hidden from globs");
        assert_eq!(c.port(), 6379);
        assert_eq!(c.databases(), 16);
        assert_eq!(c.hz(), 10);
        assert_eq!(c.bind(), ["*", "-::*"]);
        assert_eq!(c.requirepass(), None);
        assert_eq!((c.log_level(), c.loglevel()), (LogLevel::Notice, "notice"));
        assert_eq!(c.maxmemory_policy(), MaxmemoryPolicy::NoEviction);
        assert_eq!(c.list_max_listpack_size(), -2);
        assert_eq!(c.proto_max_bulk_len(), 512 << 20);
        assert_eq!(c.save_params(), [(3600, 1), (300, 100), (60, 10000)]);
        assert!(c.protected_mode() && c.latency_tracking() && !c.lazyfree_lazy_user_flush());
        assert!(c.inactive_settings().is_empty());
        assert!(Path::new(&c.dir()).is_absolute());
    }

    #[test]
    fn config_get_patterns() {
        let c = Config::new();
        assert_eq!(
            get1(&c, "HZ"),
            [("HZ".to_string(), "10".to_string())],
            "exact names echo as typed"
        );
        assert_eq!(
            get1(&c, "key-load-delay").len(),
            1,
            "hidden but readable by name"
        );
        assert_eq!(get1(&c, "nope"), []);
        let names = |v: Vec<(String, String)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(names(get1(&c, "H?")), ["hz"]);
        let zl = names(get1(&c, "*max-ziplist*"));
        assert_eq!(zl.len(), 5, "{zl:?}");
        let many = c.get_many(&[b"hz", b"HZ", b"h?", b"port"]);
        assert_eq!(names(many), ["hz", "port"]);
        let many = c.get_many(&[b"hash-max-ziplist-entries", b"hash-max-*"]);
        assert_eq!(many.len(), 4);
    }

    #[test]
    fn config_set_errors_match_redis() {
        let c = Config::new();
        let e = |p: &[(&str, &str)]| set(&c, p).unwrap_err();
        assert_eq!(
            e(&[("foo", "bar")]),
            "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
        );
        assert_eq!(
            e(&[("port", "abc"), ("foo", "bar")]),
            "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
        );
        assert_eq!(
            e(&[("port", "abc"), ("databases", "1")]),
            "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"
        );
        assert_eq!(e(&[("dir", "/")]), "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config");
        assert_eq!(
            e(&[("maxmemory", "1"), ("MAXMEMORY", "2")]),
            "ERR CONFIG SET failed (possibly related to argument 'MAXMEMORY') - duplicate parameter"
        );
        assert_eq!(
            e(&[("port", "99999")]),
            "ERR CONFIG SET failed (possibly related to argument 'port') - argument must be between 0 and 65535 inclusive"
        );
        assert!(e(&[("list-max-ziplist-entries", "1")]).starts_with("ERR Unknown option"));
        // All or nothing.
        assert!(set(&c, &[("hz", "5"), ("lfu-log-factor", "x")]).is_err());
        assert_eq!(c.hz(), 10);
    }

    #[test]
    fn config_set_applies_and_notifies() {
        let c = Arc::new(Config::new());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        c.subscribe(Box::new(move |n, v| {
            s2.lock().unwrap().push(format!("{n}={v}"))
        }));
        let g = c.generation();
        set(
            &c,
            &[
                ("hz", "1000"),
                ("Loglevel", "WARNING"),
                ("maxmemory", "1gb"),
                ("save", ""),
            ],
        )
        .unwrap();
        assert_eq!(
            (c.hz(), c.log_level(), c.maxmemory()),
            (500, LogLevel::Warning, 1 << 30)
        );
        assert_eq!(c.save_params(), []);
        assert_eq!(c.generation(), g + 1);
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "hz=500",
                "loglevel=warning",
                "maxmemory=1073741824",
                "save="
            ]
        );
        set(&c, &[("repl-backlog-size", "1k")]).unwrap();
        assert_eq!(c.value("repl-backlog-size").unwrap(), "16384");
        set(
            &c,
            &[
                ("hash-max-ziplist-entries", "1"),
                ("hash-max-listpack-entries", "2"),
            ],
        )
        .unwrap();
        assert_eq!(c.hash_max_listpack_entries(), 2);
        set(
            &c,
            &[("client-output-buffer-limit", "pubsub 1 2 3 normal 4 5 6")],
        )
        .unwrap();
        assert_eq!(
            c.value("client-output-buffer-limit").unwrap(),
            "normal 4 5 6 slave 268435456 67108864 60 pubsub 1 2 3"
        );
        set(&c, &[("requirepass", "secret"), ("bind", "127.0.0.1 -::1")]).unwrap();
        assert_eq!(c.requirepass().as_deref(), Some(&b"secret"[..]));
        assert_eq!(c.bind(), ["127.0.0.1", "-::1"]);
        set(&c, &[("notify-keyspace-events", "Ex")]).unwrap();
        assert_eq!(
            c.notify_keyspace_events() & (NOTIFY_KEYEVENT | NOTIFY_KEYSPACE),
            NOTIFY_KEYEVENT
        );
        assert_eq!(
            c.inactive_settings(),
            [
                "client-output-buffer-limit",
                "save",
                "notify-keyspace-events",
                "repl-backlog-size"
            ]
        );
    }

    #[test]
    fn protected_configs() {
        let c = cfg("enable-protected-configs yes").unwrap();
        set(&c, &[("dir", "/")]).unwrap();
        assert_eq!(c.dir(), "/");
        let c = cfg("enable-protected-configs local").unwrap();
        assert!(set(&c, &[("dbfilename", "x.rdb")]).is_err());
        c.set_many_ext(&[(b"dbfilename", b"x.rdb")], true).unwrap();
        assert_eq!(c.dbfilename(), "x.rdb");
    }

    #[test]
    fn file_errors_name_the_line() {
        let err = |t: &str| cfg(t).unwrap_err();
        let e = err("# comment\n\n  port abc  \n");
        assert!(
            e.contains("at line 3\n>>> 'port abc'\nargument couldn't be parsed into an integer"),
            "{e}"
        );
        assert!(e.starts_with("*** FATAL CONFIG FILE ERROR (Ferrite "));
        assert!(err("foo bar").ends_with("'foo bar'\nBad directive or wrong number of arguments"));
        assert!(err("port 1 2").ends_with("wrong number of arguments"));
        assert!(err("port").ends_with("wrong number of arguments"));
        assert!(err("appendonly maybe").ends_with("argument must be 'yes' or 'no'"));
        assert!(
            err("hz 99999999999").ends_with("argument must be between 0 and 2147483647 inclusive")
        );
        assert!(err("bind \"127.0.0.1").ends_with("Unbalanced quotes in configuration line"));
        assert!(err("replicaof a").ends_with("wrong number of arguments"));
        assert!(err("include").ends_with("Bad directive or wrong number of arguments"));
        assert!(err("rename-command nosuch x").ends_with("No such command in rename-command"));
        assert!(err("rename-command get set").ends_with("Target command name already exists"));
        let e = err("rename-command get fetch\nrename-command GET x");
        assert!(
            e.contains("at line 2\n>>> 'rename-command GET x'\nNo such command in rename-command"),
            "{e}"
        );
        assert!(err("rename-command get").ends_with("Bad directive or wrong number of arguments"));
        assert!(err("daemonize maybe").ends_with("argument must be 'yes' or 'no'"));
        assert!(err("supervised bogus")
            .ends_with("argument(s) must be one of the following: upstart, systemd, auto, no"));
        assert!(err("list-max-ziplist-entries 1 2")
            .ends_with("Bad directive or wrong number of arguments"));
        assert!(err("include /nonexistent/ferrite.conf")
            .starts_with("Fatal error, can't open config file '/nonexistent/ferrite.conf'"));
    }

    #[test]
    fn file_semantics() {
        let c = cfg("PORT 7000\nsave 900 1\nsave \"300\" 10\nSLAVEOF localhost 6380\nlist-max-ziplist-entries 5\n\
                     client-output-buffer-limit normal 1k 2kb 3 pubsub 1 2 3\nbind 127.0.0.1 -::1\nuser alice on >pw ~* +@all\n\
                     lua-time-limit 100\nrepl-backlog-size 100\nthreads 4\ndaemonize no\nio-threads 4\nmaxmemory-clients 10%")
        .unwrap();
        assert_eq!(c.port(), 7000);
        assert_eq!(c.value("save").unwrap(), "900 1 300 10");
        assert_eq!(c.value("repl-backlog-size").unwrap(), "100");
        assert_eq!(c.value("replicaof").unwrap(), "localhost 6380");
        assert_eq!(
            c.value("client-output-buffer-limit").unwrap(),
            "normal 1000 2048 3 slave 268435456 67108864 60 pubsub 1 2 3"
        );
        assert_eq!(c.bind(), ["127.0.0.1", "-::1"]);
        assert_eq!(c.acl_users(), [["alice", "on", ">pw", "~*", "+@all"]]);
        assert_eq!(c.value("busy-reply-threshold").unwrap(), "100");
        assert_eq!(c.threads(), 4);
        assert_eq!(c.value("maxmemory-clients").unwrap(), "10%");
        let mut inactive = c.inactive_settings();
        inactive.sort();
        assert_eq!(
            inactive,
            [
                "busy-reply-threshold",
                "client-output-buffer-limit",
                "maxmemory-clients",
                "repl-backlog-size",
                "replicaof",
                "save"
            ]
        );
        assert_eq!(
            cfg("save 900 1\nsave \"\"\nsave 60 5")
                .unwrap()
                .save_params(),
            [(60, 5)]
        );
        assert_eq!(cfg("save").unwrap().save_params(), []);
        // A single multi-argument value is split on spaces, as Redis does.
        let c = cfg("save \"900 1\"\nreplicaof \"h 1\"\noom-score-adj-values \"1 2 3\"\nlatency-tracking-info-percentiles \"\"").unwrap();
        assert_eq!(c.save_params(), [(900, 1)]);
        assert_eq!(c.value("replicaof").unwrap(), "h 1");
        assert_eq!(c.value("oom-score-adj-values").unwrap(), "1 2 3");
        assert_eq!(c.value("latency-tracking-info-percentiles").unwrap(), "");
        assert!(cfg("client-output-buffer-limit \"\"")
            .unwrap_err()
            .ends_with("Wrong number of arguments in buffer limit configuration."));
    }

    #[test]
    fn start_up_directives_and_renames() {
        let c = cfg("daemonize yes\nsupervised auto\npidfile /run/x.pid\n\
                     rename-command FLUSHALL \"\"\nrename-command dbsize MySize\nrename-command GET get")
        .unwrap();
        assert!(c.daemonize());
        assert_eq!(c.supervised(), Supervised::Auto);
        assert_eq!(c.pidfile(), "/run/x.pid");
        assert_eq!(
            c.renamed_commands(),
            [
                ("FLUSHALL".to_string(), String::new()),
                ("dbsize".to_string(), "MySize".to_string()),
                ("GET".to_string(), "get".to_string())
            ]
        );
        let d = Config::new();
        assert!(!d.daemonize() && d.pidfile().is_empty());
        assert_eq!(d.supervised(), Supervised::No);
        assert!(cfg("daemonize yes\nsupervised systemd")
            .unwrap()
            .inactive_settings()
            .is_empty());
    }

    /// What redis-server 7.0.15 loads for the same files and arguments (run side by side):
    /// the command line overrides single-value directives and adds to the others; after an
    /// `include`, each `save` line replaces the save points (Redis stops counting itself
    /// as reading the config file once an included file ends).
    #[test]
    fn precedence_matches_redis() {
        let dir = std::env::temp_dir().join(format!("ferrite-precedence-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = |n: &str| dir.join(n).to_string_lossy().into_owned();
        std::fs::write(path("s1.conf"), "save 900 1\nsave 300 10\ndaemonize yes\n").unwrap();
        std::fs::write(path("inc.conf"), "save 5 5\nhz 33\n").unwrap();
        std::fs::write(
            path("s2.conf"),
            format!("save 900 1\ninclude {}\nsave 300 10\n", path("inc.conf")),
        )
        .unwrap();
        let load = |a: &[&str]| load(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let save = |a: &[&str]| load(a).unwrap().value("save").unwrap();
        let s1 = path("s1.conf");
        let s2 = path("s2.conf");
        assert_eq!(save(&[&s1]), "900 1 300 10");
        assert_eq!(save(&[&s1, "--save", "60", "5"]), "900 1 300 10 60 5");
        assert_eq!(
            save(&[&s1, "--save", "60", "5", "--save", "30", "2"]),
            "900 1 300 10 60 5 30 2"
        );
        assert_eq!(
            save(&["--save", "60", "5", "--save", "30", "2"]),
            "60 5 30 2"
        );
        assert_eq!(save(&[&s1, "--save", ""]), "");
        assert_eq!(save(&[&s1, "--save"]), "");
        assert_eq!(save(&[&s1, "--save", "--hz", "7"]), "");
        assert_eq!(
            save(&[&s1, "--save", "60 5", "--save", "", "--save", "7", "7"]),
            "7 7"
        );
        assert_eq!(save(&[&s2]), "300 10");
        assert_eq!(save(&[&s2, "--save", "1", "1"]), "1 1");
        let c = load(&[&s1, "--daemonize", "no", "--hz", "5", "--hz", "6"]).unwrap();
        assert!(!c.daemonize());
        assert_eq!(c.hz(), 6);
        // A `--word` right after a `--name` without a value is that value.
        let c = load(&["--requirepass", "--secret", "--maxclients", "5"]).unwrap();
        assert_eq!(c.requirepass().as_deref(), Some(&b"--secret"[..]));
        assert_eq!(c.maxclients(), 5);
        let e = load(&["--requirepass", "--maxclients", "7"]).unwrap_err();
        assert!(
            e.contains(">>> 'requirepass \"--maxclients\" \"7\"'\nwrong number of arguments"),
            "{e}"
        );
        // One argument may hold a whole option line.
        assert_eq!(
            load(&["--maxclients 6", "--hz", "7"]).unwrap().maxclients(),
            6
        );
        // Buffer limits merge class by class; users and renames accumulate.
        std::fs::write(
            path("m.conf"),
            "client-output-buffer-limit pubsub 1mb 1mb 1\nuser alice on\nrename-command dbsize mysize\n",
        )
        .unwrap();
        let c = load(&[
            &path("m.conf"),
            "--client-output-buffer-limit",
            "normal 5mb 5mb 5",
            "--user",
            "bob",
            "on",
            "--rename-command",
            "get",
            "fetch",
        ])
        .unwrap();
        assert_eq!(
            c.value("client-output-buffer-limit").unwrap(),
            "normal 5242880 5242880 5 slave 268435456 67108864 60 pubsub 1048576 1048576 1"
        );
        assert_eq!(c.acl_users(), [vec!["alice", "on"], vec!["bob", "on"]]);
        assert_eq!(c.renamed_commands().len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn command_line_and_includes() {
        let dir = std::env::temp_dir().join(format!("ferrite-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("inc.conf"), "hz 20\n").unwrap();
        let main = dir.join("main.conf");
        std::fs::write(
            &main,
            format!("dir {}\ninclude inc.conf\nport 7001\n", dir.display()),
        )
        .unwrap();
        let args: Vec<String> = [
            main.to_str().unwrap(),
            "--port",
            "7002",
            "--maxmemory",
            "1mb",
            "--save",
            "--bind",
            "::1",
            "1.2.3.4",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let c = load(&args).unwrap();
        assert_eq!((c.port(), c.hz(), c.maxmemory()), (7002, 20, 1 << 20));
        assert_eq!(c.save_params(), []);
        assert_eq!(c.bind(), ["::1", "1.2.3.4"]);
        assert_eq!(c.config_file(), Some(main.as_path()));
        // Options continue the file's line numbering, after one blank separator line.
        let args: Vec<String> = [main.to_str().unwrap(), "--hz", "1 2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let e = load(&args).unwrap_err();
        assert!(e.contains("at line 5\n>>> 'hz \"1 2\"'"), "{e}");
        let e = load(&["--port".into(), "abc".into()]).unwrap_err();
        assert!(e.contains("at line 2\n>>> 'port \"abc\"'"), "{e}");
        std::fs::write(dir.join("loop.conf"), "include loop.conf\n").unwrap();
        let e = cfg(&format!("dir {}\ninclude loop.conf", dir.display())).unwrap_err();
        assert!(e.contains("too many nested include files"), "{e}");
        assert!(load(&["/nonexistent/x.conf".into()])
            .unwrap_err()
            .contains("No such file or directory"));
        assert_eq!(
            load(&["-".into(), "--threads".into(), "3".into()])
                .unwrap()
                .threads(),
            3
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
