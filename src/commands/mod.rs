//! The command table and dispatch.
//!
//! The table is declarative: one [`Command`] per command with its arity,
//! flags, key positions and ACL categories. Dispatch, COMMAND INFO/DOCS/
//! GETKEYS, and later ACL checks, MULTI key extraction and cluster slot checks
//! all read the same entries. Each command family lives in its own file and
//! exports a `COMMANDS` slice.

pub mod access;
pub mod ctx;
pub mod errors;
pub mod table;

pub mod blocking;
pub mod client;
pub mod connection;
pub mod db;
pub mod functions;
pub mod hashes;
pub mod introspection;
pub mod keys;
pub mod list_blocking;
pub mod lists;
pub mod multi;
pub mod object;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod strings;
#[cfg(feature = "test-commands")]
pub mod testing;
pub mod zset_blocking;
pub mod zsets;

pub use access::{Access, Busy, BusyKey, HeldKeys, Keys};
pub use ctx::{Ctx, Unpinned};
pub use table::{key_flags, BeginSearch, Command, FindKeys, Handler, KeySpec, KeySpecEntry};

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// Command flags, as COMMAND INFO names them.
pub mod flags {
    pub const WRITE: u64 = 1 << 0;
    pub const READONLY: u64 = 1 << 1;
    pub const DENYOOM: u64 = 1 << 2;
    pub const ADMIN: u64 = 1 << 3;
    pub const PUBSUB: u64 = 1 << 4;
    pub const NOSCRIPT: u64 = 1 << 5;
    pub const BLOCKING: u64 = 1 << 6;
    pub const LOADING: u64 = 1 << 7;
    pub const STALE: u64 = 1 << 8;
    pub const SKIP_MONITOR: u64 = 1 << 9;
    pub const SKIP_SLOWLOG: u64 = 1 << 10;
    pub const ASKING: u64 = 1 << 11;
    pub const FAST: u64 = 1 << 12;
    pub const NO_AUTH: u64 = 1 << 13;
    pub const MAY_REPLICATE: u64 = 1 << 14;
    pub const NO_MANDATORY_KEYS: u64 = 1 << 15;
    pub const NO_ASYNC_LOADING: u64 = 1 << 16;
    pub const NO_MULTI: u64 = 1 << 17;
    pub const MOVABLE_KEYS: u64 = 1 << 18;
    pub const ALLOW_BUSY: u64 = 1 << 19;

    /// Names in the order Redis prints them in COMMAND INFO. `may_replicate`
    /// is deliberately absent: Redis does not print it either.
    pub const NAMES: &[(u64, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// ACL categories, as COMMAND INFO and ACL CAT name them.
pub mod acl {
    pub const KEYSPACE: u64 = 1 << 0;
    pub const READ: u64 = 1 << 1;
    pub const WRITE: u64 = 1 << 2;
    pub const SET: u64 = 1 << 3;
    pub const SORTEDSET: u64 = 1 << 4;
    pub const LIST: u64 = 1 << 5;
    pub const HASH: u64 = 1 << 6;
    pub const STRING: u64 = 1 << 7;
    pub const BITMAP: u64 = 1 << 8;
    pub const HYPERLOGLOG: u64 = 1 << 9;
    pub const GEO: u64 = 1 << 10;
    pub const STREAM: u64 = 1 << 11;
    pub const PUBSUB: u64 = 1 << 12;
    pub const ADMIN: u64 = 1 << 13;
    pub const FAST: u64 = 1 << 14;
    pub const SLOW: u64 = 1 << 15;
    pub const BLOCKING: u64 = 1 << 16;
    pub const DANGEROUS: u64 = 1 << 17;
    pub const CONNECTION: u64 = 1 << 18;
    pub const TRANSACTION: u64 = 1 << 19;
    pub const SCRIPTING: u64 = 1 << 20;

    pub const NAMES: &[(u64, &str)] = &[
        (KEYSPACE, "keyspace"),
        (READ, "read"),
        (WRITE, "write"),
        (SET, "set"),
        (SORTEDSET, "sortedset"),
        (LIST, "list"),
        (HASH, "hash"),
        (STRING, "string"),
        (BITMAP, "bitmap"),
        (HYPERLOGLOG, "hyperloglog"),
        (GEO, "geo"),
        (STREAM, "stream"),
        (PUBSUB, "pubsub"),
        (ADMIN, "admin"),
        (FAST, "fast"),
        (SLOW, "slow"),
        (BLOCKING, "blocking"),
        (DANGEROUS, "dangerous"),
        (CONNECTION, "connection"),
        (TRANSACTION, "transaction"),
        (SCRIPTING, "scripting"),
    ];
}

/// Every command family's table, in one place.
fn families() -> Vec<&'static [Command]> {
    vec![
        connection::COMMANDS,
        strings::COMMANDS,
        hashes::COMMANDS,
        sets::COMMANDS,
        sort::COMMANDS,
        list_blocking::COMMANDS,
        lists::COMMANDS,
        zsets::COMMANDS,
        zset_blocking::COMMANDS,
        keys::COMMANDS,
        db::COMMANDS,
        object::COMMANDS,
        client::COMMANDS,
        introspection::COMMANDS,
        server::COMMANDS,
        multi::COMMANDS,
        scripting::COMMANDS,
        functions::COMMANDS,
    ]
}

/// Commands that dispatch but are not listed (see `testing`).
fn hidden() -> &'static [Command] {
    #[cfg(feature = "test-commands")]
    return testing::COMMANDS;
    #[cfg(not(feature = "test-commands"))]
    &[]
}

struct Registry {
    by_name: HashMap<Vec<u8>, &'static Command, foldhash::fast::RandomState>,
    /// Listed commands that a name still reaches (`rename-command x ""` unlists one), sorted.
    all: Vec<&'static Command>,
    /// Every command and subcommand, in [`stat_id`] order.
    by_id: Vec<&'static Command>,
    /// Full name (`get`, `client|id`) to [`stat_id`].
    ids: HashMap<&'static str, usize, foldhash::fast::RandomState>,
    /// Whether any `rename-command` applies (else every command answers to its name).
    renamed: bool,
}

/// The command table, built on first use with the configuration's renames applied.
static REGISTRY: OnceLock<Registry> = OnceLock::new();
/// The names after `rename-command`, set by [`install_renames`] before the table is built.
static RENAMED: OnceLock<CommandNames> = OnceLock::new();

/// The names commands answer to: the table's own names, edited by the `rename-command`
/// lines of the configuration. Redis applies them while it reads its config file, before
/// any client connects, so the names are fixed for the life of the process. The config
/// loader checks each line against one of these (for Redis's error texts and line
/// numbers) and dispatch uses the final one.
#[derive(Clone)]
pub struct CommandNames {
    map: HashMap<Vec<u8>, &'static Command, foldhash::fast::RandomState>,
}

impl CommandNames {
    /// Every command under its own name (test-only commands too: they dispatch).
    pub fn standard() -> CommandNames {
        let mut map = HashMap::with_hasher(foldhash::fast::RandomState::default());
        for c in families().into_iter().flatten().chain(hidden()) {
            let prev = map.insert(c.name.as_bytes().to_vec(), c);
            assert!(prev.is_none(), "command {} registered twice", c.name);
        }
        CommandNames { map }
    }

    /// `rename-command old new`, with Redis 7.0's rules: `old` must be a name that
    /// still reaches a command (any case), an empty `new` removes it, and `new` may
    /// not name another command. A renamed command keeps its own name in COMMAND
    /// replies, error messages and INFO commandstats, as in Redis.
    pub fn rename(&mut self, old: &[u8], new: &[u8]) -> Result<(), &'static str> {
        let cmd = self
            .map
            .remove(&old.to_ascii_lowercase())
            .ok_or("No such command in rename-command")?;
        if new.is_empty() {
            return Ok(());
        }
        let new = new.to_ascii_lowercase();
        if self.map.contains_key(&new) {
            return Err("Target command name already exists");
        }
        self.map.insert(new, cmd);
        Ok(())
    }
}

/// Applies the configuration's `rename-command` lines (`(old, new)` in file order) to
/// dispatch. Must run before the first command lookup, as Redis renames while loading.
pub fn install_renames(renames: &[(String, String)]) -> Result<(), String> {
    let mut names = CommandNames::standard();
    for (old, new) in renames {
        names
            .rename(old.as_bytes(), new.as_bytes())
            .map_err(|e| format!("rename-command {old} {new:?}: {e}"))?;
    }
    if renames.is_empty() {
        return Ok(());
    }
    if REGISTRY.get().is_some() {
        return Err("rename-command: the command table is already in use".into());
    }
    RENAMED
        .set(names)
        .map_err(|_| "rename-command: renames were already installed".to_string())
}

fn registry() -> &'static Registry {
    REGISTRY.get_or_init(|| {
        let by_name = RENAMED
            .get()
            .cloned()
            .unwrap_or_else(CommandNames::standard)
            .map;
        let reachable: HashSet<*const Command> =
            by_name.values().map(|c| *c as *const Command).collect();
        let mut every: Vec<&'static Command> = families().into_iter().flatten().collect();
        every.sort_by_key(|c| c.name);
        // Test-only commands dispatch and count like any other, but COMMAND does not
        // list them; nor does it list a command renamed to "" (Redis removed it).
        let all = every
            .iter()
            .copied()
            .filter(|c| reachable.contains(&(*c as *const Command)))
            .collect();
        let by_id: Vec<&'static Command> = every
            .iter()
            .flat_map(|c| std::iter::once(*c).chain(c.subcommands.iter()))
            .chain(hidden())
            .collect();
        let mut ids = HashMap::with_hasher(foldhash::fast::RandomState::default());
        for (i, c) in by_id.iter().enumerate() {
            let prev = ids.insert(c.name, i);
            assert!(prev.is_none(), "command {} registered twice", c.name);
        }
        Registry {
            by_name,
            all,
            by_id,
            ids,
            renamed: RENAMED.get().is_some(),
        }
    })
}

/// Looks a command up by name, case-insensitively.
/// The clock `cmd` runs under for a client: `clock`, without recording
/// accesses under CLIENT NO-TOUCH (except for TOUCH itself, as in Redis).
pub fn command_clock(
    no_touch: bool,
    cmd: &Command,
    clock: crate::store::Clock,
) -> crate::store::Clock {
    if no_touch && cmd.name != "touch" {
        clock.no_touch()
    } else {
        clock
    }
}

pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        // Only a rename makes a name this long; this is the rare path.
        return registry().by_name.get(&name.to_ascii_lowercase()).copied();
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    registry().by_name.get(&lower[..]).copied()
}

/// Whether `cmd` is still dispatched under its own name (not moved or removed by
/// `rename-command`).
pub fn answers_to_own_name(cmd: &'static Command) -> bool {
    !registry().renamed || lookup(cmd.name.as_bytes()).is_some_and(|c| std::ptr::eq(c, cmd))
}

/// A dense index for `cmd` among all commands and subcommands, for per-thread
/// counter arrays (INFO commandstats).
pub fn stat_id(cmd: &Command) -> usize {
    registry().ids[cmd.name]
}

/// How many [`stat_id`]s there are.
pub fn stat_ids() -> usize {
    registry().by_id.len()
}

/// The command whose [`stat_id`] is `id`.
pub fn by_stat_id(id: usize) -> &'static Command {
    registry().by_id[id]
}

/// Every command, sorted by name (COMMAND, COMMAND COUNT/LIST).
pub fn all() -> &'static [&'static Command] {
    &registry().all
}

/// The subcommand `sub` (any case) of the container command `base`.
pub fn find_subcommand(base: &'static Command, sub: &[u8]) -> Option<&'static Command> {
    base.subcommands.iter().find(|s| {
        s.name
            .split_once('|')
            .is_some_and(|(_, n)| n.as_bytes().eq_ignore_ascii_case(sub))
    })
}

/// The command a full command line names, without checking arity (COMMAND
/// GETKEYS, error accounting): the subcommand when the command is a container
/// and one is given; `None` for an unknown command or subcommand.
pub fn lookup_line(args: &[&[u8]]) -> Option<&'static Command> {
    let base = lookup(args[0])?;
    if args.len() == 1 || base.subcommands.is_empty() {
        return Some(base);
    }
    find_subcommand(base, args[1])
}

/// Resolves `args` to the command (or subcommand) that will run, writing the
/// error Redis would send if there is none or the arity is wrong.
pub fn resolve(args: &[&[u8]]) -> Result<&'static Command, String> {
    let name = &args[0];
    let Some(cmd) = lookup(name) else {
        return Err(errors::unknown_command(name, &args[1..]));
    };
    if !cmd.subcommands.is_empty() && args.len() >= 2 {
        return match find_subcommand(cmd, args[1]) {
            Some(s) if s.arity_ok(args.len()) => Ok(s),
            Some(s) => Err(errors::wrong_arity(s.name)),
            None => Err(format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                errors::sanitize(args[1], 128),
                cmd.name.to_ascii_uppercase()
            )),
        };
    }
    if !cmd.arity_ok(args.len()) {
        return Err(errors::wrong_arity(cmd.name));
    }
    Ok(cmd)
}

/// Client names may not contain spaces, newlines or other special characters
/// (CLIENT SETNAME, HELLO SETNAME).
pub fn client_name_ok(name: &[u8]) -> Result<(), &'static str> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        Err("ERR Client names cannot contain spaces, newlines or special characters.")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Redis 7.0.15's `rename-command` rules, as measured against redis-server.
    #[test]
    fn renames_follow_redis() {
        let mut n = CommandNames::standard();
        let get = n.map[&b"get"[..]];
        n.rename(b"GET", b"Fetch").unwrap();
        assert!(!n.map.contains_key(&b"get"[..]));
        assert!(std::ptr::eq(n.map[&b"fetch"[..]], get));
        assert_eq!(
            n.rename(b"get", b"x"),
            Err("No such command in rename-command")
        );
        assert_eq!(
            n.rename(b"fetch", b"SET"),
            Err("Target command name already exists")
        );
        n = CommandNames::standard();
        n.rename(b"set", b"set").unwrap();
        n.rename(b"flushall", b"").unwrap();
        assert!(!n.map.contains_key(&b"flushall"[..]));
        assert_eq!(
            n.rename(b"config|get", b"x"),
            Err("No such command in rename-command")
        );
        // Installing nothing leaves the table alone.
        install_renames(&[]).unwrap();
        assert!(answers_to_own_name(lookup(b"get").unwrap()));
    }
}
