//! The declarative description of one command.

use super::{Ctx, Unpinned};

/// How a command runs.
#[derive(Clone, Copy)]
pub enum Handler {
    /// Under the connection's epoch pin, which covers a whole batch of
    /// pipelined commands: nearly every command.
    Pinned(fn(&mut Ctx, &[&[u8]])),
    /// With no pin held: commands that walk many keys (KEYS, SCAN) pin and
    /// re-pin as they go, so they never hold back reclamation for the length
    /// of the walk (`store::reclaim`).
    Unpinned(fn(&mut Unpinned, &[&[u8]])),
}

/// Finds the key arguments of a command whose keys cannot be described by a
/// fixed first/last/step triple (EVAL's numkeys, ZUNIONSTORE, XREAD STREAMS,
/// SORT ... STORE): returns their positions in `args` (`args[0]` is the
/// command name). Used by COMMAND GETKEYS and by anything else that needs the
/// exact key set of one invocation.
pub type KeysFn = fn(&[&[u8]]) -> Vec<usize>;

/// The [`KeysFn`] of a command with `numkeys` at argument `IDX` and that
/// many keys after it (LMPOP, BLMPOP, SINTERCARD, ZUNION, BZMPOP...).
pub fn keynum_keys<const IDX: usize>(args: &[&[u8]]) -> Vec<usize> {
    let n = args
        .get(IDX)
        .and_then(|a| crate::util::num::parse_i64(a))
        .unwrap_or(0)
        .max(0) as usize;
    (IDX + 1..args.len()).take(n).collect()
}

/// Where a command's keys are (Redis's legacy first/last/step triple, which
/// COMMAND INFO reports and COMMAND GETKEYS uses). `last` may be negative
/// (counted from the end). `first == 0` means no keys.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    pub first: i32,
    pub last: i32,
    pub step: i32,
}

impl KeySpec {
    pub const NONE: KeySpec = KeySpec {
        first: 0,
        last: 0,
        step: 0,
    };
    pub const fn one(pos: i32) -> KeySpec {
        KeySpec {
            first: pos,
            last: pos,
            step: 1,
        }
    }
    pub const fn range(first: i32, last: i32, step: i32) -> KeySpec {
        KeySpec { first, last, step }
    }
}

/// Redis 7 key-spec flags: how a command uses one group of its keys
/// (COMMAND INFO's key specifications, COMMAND GETKEYSANDFLAGS).
pub mod key_flags {
    /// Reads the value.
    pub const RO: u32 = 1 << 0;
    /// Reads and modifies the value.
    pub const RW: u32 = 1 << 1;
    /// Overwrites the value without reading it.
    pub const OW: u32 = 1 << 2;
    /// Deletes the key.
    pub const RM: u32 = 1 << 3;
    /// Returns, copies or uses the user data.
    pub const ACCESS: u32 = 1 << 4;
    /// Updates the value or its metadata.
    pub const UPDATE: u32 = 1 << 5;
    /// Adds data but never modifies or deletes existing data.
    pub const INSERT: u32 = 1 << 6;
    /// Explicitly deletes data.
    pub const DELETE: u32 = 1 << 7;
    /// The argument is not really a key (it is only used for slot checks).
    pub const NOT_KEY: u32 = 1 << 8;
    /// The spec may not find every key; ask COMMAND GETKEYS.
    pub const INCOMPLETE: u32 = 1 << 9;
    /// The flags depend on the arguments (COMMAND GETKEYSANDFLAGS reports the
    /// actual ones; see [`super::Command::key_flags_with`]).
    pub const VARIABLE_FLAGS: u32 = 1 << 10;

    /// Names in the order Redis prints them.
    pub const NAMES: &[(u32, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];
}

/// Where a key-spec's search for keys begins. Positions count `args[0]`
/// (the command name) as 0; for a subcommand, `args[1]` is the subcommand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BeginSearch {
    /// At argument `pos`.
    Index(i32),
    /// Just after the first argument equal to `keyword` (any case), searched
    /// forwards from argument `startfrom`, or backwards from the end when
    /// `startfrom` is negative (-1 = the last argument).
    Keyword {
        keyword: &'static str,
        startfrom: i32,
    },
    /// Cannot be described (COMMAND GETKEYS knows).
    Unknown,
}

/// How a key-spec finds its keys from where the search began (offset 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindKeys {
    /// Every `keystep`-th argument up to `lastkey`: an offset from the
    /// beginning, or when negative counted from the end (-1 = the last
    /// argument). With a negative `lastkey`, a `limit` above 1 takes only
    /// that fraction (1/limit) of the remaining arguments.
    Range {
        lastkey: i32,
        keystep: i32,
        limit: i32,
    },
    /// The argument at offset `keynumidx` holds the number of keys, the first
    /// of which is at offset `firstkey`; then every `keystep`-th argument.
    Keynum {
        keynumidx: i32,
        firstkey: i32,
        keystep: i32,
    },
    /// Cannot be described (COMMAND GETKEYS knows).
    Unknown,
}

/// One Redis 7 key specification, as COMMAND INFO reports it: how one group
/// of a command's keys is found and used. See [`Command::key_specs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpecEntry {
    /// Free-text remark Redis attaches to some specs (printed first).
    pub notes: Option<&'static str>,
    /// [`key_flags`] bits.
    pub flags: u32,
    pub begin_search: BeginSearch,
    pub find_keys: FindKeys,
}

impl KeySpecEntry {
    pub const fn new(flags: u32, begin_search: BeginSearch, find_keys: FindKeys) -> KeySpecEntry {
        KeySpecEntry {
            notes: None,
            flags,
            begin_search,
            find_keys,
        }
    }

    /// One key, at argument `pos`.
    pub const fn one(pos: i32, flags: u32) -> KeySpecEntry {
        KeySpecEntry::range(pos, 0, 1, flags)
    }

    /// Keys from argument `first` to `lastkey` (relative to `first`, or
    /// negative from the end), every `keystep`-th.
    pub const fn range(first: i32, lastkey: i32, keystep: i32, flags: u32) -> KeySpecEntry {
        KeySpecEntry::new(
            flags,
            BeginSearch::Index(first),
            FindKeys::Range {
                lastkey,
                keystep,
                limit: 0,
            },
        )
    }

    /// Attaches Redis's note to this spec.
    pub const fn notes(mut self, notes: &'static str) -> KeySpecEntry {
        self.notes = Some(notes);
        self
    }

    /// Positions of the keys this spec finds in one invocation (`args[0]` is
    /// the command), or `None` when it cannot say (an `Unknown` part). Keys
    /// past the end of `args` are not returned.
    pub fn positions(&self, args: &[&[u8]]) -> Option<Vec<usize>> {
        let argc = args.len() as i64;
        let begin = match self.begin_search {
            BeginSearch::Index(pos) => pos as i64,
            BeginSearch::Keyword { keyword, startfrom } => {
                let (mut i, step) = if startfrom >= 0 {
                    (startfrom as i64, 1)
                } else {
                    (argc + startfrom as i64, -1)
                };
                let mut found = None;
                while i >= 1 && i < argc {
                    if args[i as usize].eq_ignore_ascii_case(keyword.as_bytes()) {
                        found = Some(i + 1);
                        break;
                    }
                    i += step;
                }
                match found {
                    Some(b) => b,
                    None => return Some(Vec::new()),
                }
            }
            BeginSearch::Unknown => return None,
        };
        if begin < 1 || begin >= argc {
            return Some(Vec::new());
        }
        let (first, last, step) = match self.find_keys {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let (lastkey, limit) = (lastkey as i64, limit as i64);
                let last = if lastkey >= 0 {
                    begin + lastkey
                } else if limit <= 1 {
                    argc + lastkey
                } else {
                    begin + (argc - begin) / limit + lastkey
                };
                (begin, last, keystep as i64)
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let idx = begin + keynumidx as i64;
                if idx >= argc {
                    return Some(Vec::new());
                }
                let n = std::str::from_utf8(args[idx as usize])
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .filter(|n| *n >= 0)
                    .unwrap_or(0);
                let first = begin + firstkey as i64;
                let step = keystep as i64;
                (first, first + (n - 1) * step, step)
            }
            FindKeys::Unknown => return None,
        };
        if step <= 0 {
            return Some(Vec::new());
        }
        let mut out = Vec::new();
        let mut i = first;
        while i <= last && i < argc {
            out.push(i as usize);
            i += step;
        }
        Some(out)
    }
}

/// Reports the actual [`key_flags`] of the key at `pos` in `args`, for a
/// command whose key-specs say `variable_flags` (SET ... GET) or that has
/// keys only its [`KeysFn`] finds.
pub type KeyFlagsFn = fn(&[&[u8]], usize) -> u32;

pub struct Command {
    /// Lowercase name; subcommands are `container|sub`.
    pub name: &'static str,
    /// Redis arity: positive = exact argument count (with the name), negative
    /// = at least that many.
    pub arity: i32,
    pub flags: u64,
    pub keys: KeySpec,
    pub acl: u64,
    pub handler: Handler,
    pub subcommands: &'static [Command],
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub complexity: &'static str,
    /// Redis 7 command tips (`nondeterministic_output`,
    /// `request_policy:all_shards`...), reported by COMMAND INFO.
    pub tips: &'static [&'static str],
    /// Key finder for commands with movable keys; see [`KeysFn`].
    pub keys_fn: Option<KeysFn>,
    /// The Redis 7 key specifications COMMAND INFO reports, exactly as
    /// declared (empty for a command without keys). They must agree with
    /// `keys`, the legacy triple; see [`Command::legacy_range`].
    pub key_specs: &'static [KeySpecEntry],
    /// Actual key flags for `variable_flags` specs; see [`KeyFlagsFn`].
    pub key_flags_fn: Option<KeyFlagsFn>,
}

impl Command {
    /// A command with no documentation yet attached; see [`Command::doc`].
    pub const fn new(
        name: &'static str,
        arity: i32,
        flags: u64,
        keys: KeySpec,
        acl: u64,
        handler: fn(&mut Ctx, &[&[u8]]),
    ) -> Command {
        Command::with_handler(name, arity, flags, keys, acl, Handler::Pinned(handler))
    }

    /// A command that walks the keyspace and pins the epoch itself; see
    /// [`Handler::Unpinned`].
    pub const fn unpinned(
        name: &'static str,
        arity: i32,
        flags: u64,
        keys: KeySpec,
        acl: u64,
        handler: fn(&mut Unpinned, &[&[u8]]),
    ) -> Command {
        Command::with_handler(name, arity, flags, keys, acl, Handler::Unpinned(handler))
    }

    const fn with_handler(
        name: &'static str,
        arity: i32,
        flags: u64,
        keys: KeySpec,
        acl: u64,
        handler: Handler,
    ) -> Command {
        Command {
            name,
            arity,
            flags,
            keys,
            acl,
            handler,
            subcommands: &[],
            group: "generic",
            since: "1.0.0",
            summary: "",
            complexity: "",
            tips: &[],
            keys_fn: None,
            key_specs: &[],
            key_flags_fn: None,
        }
    }

    /// Declares the Redis 7 key specifications (COMMAND INFO's ninth field).
    /// Every command with keys declares them; a plain index+range spec list
    /// must describe the same keys as the legacy triple.
    pub const fn key_specs(mut self, specs: &'static [KeySpecEntry]) -> Command {
        self.key_specs = specs;
        self
    }

    /// Declares how to compute the actual flags of each key of one
    /// invocation, for a command with `variable_flags` or `unknown` specs.
    pub const fn key_flags_with(mut self, f: KeyFlagsFn) -> Command {
        self.key_flags_fn = Some(f);
        self
    }

    /// Attaches Redis 7 command tips (lowercase, as COMMAND INFO prints them).
    pub const fn tips(mut self, tips: &'static [&'static str]) -> Command {
        self.tips = tips;
        self
    }

    /// Declares a key finder for a command whose key positions depend on its
    /// arguments (set `MOVABLE_KEYS` in its flags too, as Redis reports it).
    pub const fn keys_with(mut self, f: KeysFn) -> Command {
        self.keys_fn = Some(f);
        self
    }

    /// Attaches the COMMAND DOCS fields.
    pub const fn doc(
        mut self,
        group: &'static str,
        since: &'static str,
        summary: &'static str,
        complexity: &'static str,
    ) -> Command {
        self.group = group;
        self.since = since;
        self.summary = summary;
        self.complexity = complexity;
        self
    }

    /// Makes this a container command (CLIENT, OBJECT, CONFIG...).
    pub const fn subs(mut self, subs: &'static [Command]) -> Command {
        self.subcommands = subs;
        self
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let a = self.arity as i64;
        if a >= 0 {
            argc == a
        } else {
            argc >= -a
        }
    }

    pub fn has(&self, flag: u64) -> bool {
        self.flags & flag != 0
    }

    /// Positions of the key arguments of one invocation: the command's key
    /// finder when it has one, else its first/last/step range. `args[0]` is
    /// the command (for a subcommand, `args[1]` is the subcommand).
    pub fn keys_of(&self, args: &[&[u8]]) -> Vec<usize> {
        let mut out = self.key_positions(args.len());
        if let Some(f) = self.keys_fn {
            for p in f(args) {
                if p < args.len() && !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// The keys of one invocation (as [`Command::keys_of`]) with the
    /// [`key_flags`] each is used with (COMMAND GETKEYSANDFLAGS): from the
    /// command's [`KeyFlagsFn`] when it has one, else from the first key-spec
    /// that finds that position.
    pub fn keys_and_flags(&self, args: &[&[u8]]) -> Vec<(usize, u32)> {
        let keys = self.keys_of(args);
        if let Some(f) = self.key_flags_fn {
            return keys.into_iter().map(|p| (p, f(args, p))).collect();
        }
        let mut by_pos = vec![0u32; args.len()];
        for spec in self.key_specs.iter().rev() {
            for p in spec.positions(args).unwrap_or_default() {
                by_pos[p] = spec.flags;
            }
        }
        keys.into_iter().map(|p| (p, by_pos[p])).collect()
    }

    /// The legacy first/last/step triple that `specs` imply, and whether
    /// they make the command's keys movable. One index+range spec is the
    /// triple as it is. Otherwise the triple spans the index+range specs with
    /// step 1 that each start right after the previous one ends; a spec it
    /// cannot include (keyword, keynum or unknown search, another step, a
    /// gap), or one flagged incomplete, makes the keys movable.
    pub fn legacy_range(specs: &[KeySpecEntry]) -> (KeySpec, bool) {
        let plain = |s: &KeySpecEntry| match (s.begin_search, s.find_keys) {
            (
                BeginSearch::Index(pos),
                FindKeys::Range {
                    lastkey, keystep, ..
                },
            ) => {
                // `last`: absolute when the range is fixed, else from the end.
                let last = if lastkey < 0 { lastkey } else { pos + lastkey };
                Some((pos, last, keystep))
            }
            _ => None,
        };
        let mut movable = specs.iter().any(|s| s.flags & key_flags::INCOMPLETE != 0);
        if let [only] = specs {
            if let Some((pos, last, step)) = plain(only) {
                return (KeySpec::range(pos, last, step), movable);
            }
        }
        let mut span: Option<(i32, i32)> = None;
        for s in specs {
            match (plain(s), span) {
                (Some((pos, last, 1)), None) => span = Some((pos, last)),
                (Some((pos, last, 1)), Some((first, prev))) if prev >= 0 && prev == pos - 1 => {
                    span = Some((first, last))
                }
                _ => movable = true,
            }
        }
        match span {
            Some((first, last)) => (KeySpec::range(first, last, 1), movable),
            None => (KeySpec::NONE, movable || !specs.is_empty()),
        }
    }

    /// Whether the command has key arguments at all (COMMAND GETKEYS refuses
    /// commands that have none).
    pub fn has_keys(&self) -> bool {
        self.keys.first > 0 || self.keys_fn.is_some()
    }

    /// Positions of the key arguments in `args` (COMMAND GETKEYS, and the key
    /// set a transaction latches).
    pub fn key_positions(&self, argc: usize) -> Vec<usize> {
        let KeySpec { first, last, step } = self.keys;
        if first <= 0 || step <= 0 {
            return Vec::new();
        }
        let last = if last < 0 { argc as i32 + last } else { last };
        let mut out = Vec::new();
        let mut i = first;
        while i <= last && (i as usize) < argc {
            out.push(i as usize);
            i += step;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::key_flags::*;
    use super::*;

    fn args(line: &str) -> Vec<&[u8]> {
        line.split(' ').map(str::as_bytes).collect()
    }

    #[test]
    fn index_and_range_positions() {
        let one = KeySpecEntry::one(1, RO);
        assert_eq!(one.positions(&args("get k")), Some(vec![1]));
        assert_eq!(one.positions(&args("get")), Some(vec![]));
        let pairs = KeySpecEntry::range(1, -1, 2, OW);
        assert_eq!(pairs.positions(&args("mset a 1 b 2")), Some(vec![1, 3]));
        let two = KeySpecEntry::range(1, 1, 1, RO);
        assert_eq!(two.positions(&args("lcs a b IDX")), Some(vec![1, 2]));
    }

    #[test]
    fn keyword_keynum_and_limit_positions() {
        // XREAD-like: the keys are the first half of what follows STREAMS.
        let streams = KeySpecEntry::new(
            RO,
            BeginSearch::Keyword {
                keyword: "STREAMS",
                startfrom: 1,
            },
            FindKeys::Range {
                lastkey: -1,
                keystep: 1,
                limit: 2,
            },
        );
        let line = args("xread COUNT 2 streams a b 0 0");
        assert_eq!(streams.positions(&line), Some(vec![4, 5]));
        assert_eq!(streams.positions(&args("xread COUNT 2")), Some(vec![]));
        // Searching backwards from the end.
        let store = KeySpecEntry::new(
            OW,
            BeginSearch::Keyword {
                keyword: "store",
                startfrom: -1,
            },
            FindKeys::Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        );
        assert_eq!(store.positions(&args("sort k STORE d")), Some(vec![3]));
        // EVAL-like: a key count, then the keys.
        let numkeys = KeySpecEntry::new(
            RW,
            BeginSearch::Index(2),
            FindKeys::Keynum {
                keynumidx: 0,
                firstkey: 1,
                keystep: 1,
            },
        );
        assert_eq!(numkeys.positions(&args("eval s 2 a b c")), Some(vec![3, 4]));
        assert_eq!(numkeys.positions(&args("eval s 0 a")), Some(vec![]));
        assert_eq!(numkeys.positions(&args("eval s 9 a")), Some(vec![3]));
        let unknown = KeySpecEntry::new(RO, BeginSearch::Unknown, FindKeys::Unknown);
        assert_eq!(unknown.positions(&args("sort k")), None);
    }

    #[test]
    fn legacy_range_from_specs() {
        let rename = [KeySpecEntry::one(1, RW), KeySpecEntry::one(2, OW)];
        let (k, movable) = Command::legacy_range(&rename);
        assert_eq!((k.first, k.last, k.step, movable), (1, 2, 1, false));
        let mset = [KeySpecEntry::range(1, -1, 2, OW)];
        let (k, movable) = Command::legacy_range(&mset);
        assert_eq!((k.first, k.last, k.step, movable), (1, -1, 2, false));
        let gap = [KeySpecEntry::one(1, RW), KeySpecEntry::one(3, OW)];
        let (k, movable) = Command::legacy_range(&gap);
        assert_eq!((k.first, k.last, k.step, movable), (1, 1, 1, true));
        let (k, movable) = Command::legacy_range(&[]);
        assert_eq!((k.first, movable), (0, false));
    }
}
