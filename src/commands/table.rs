//! The declarative description of one command.

use super::Ctx;

pub type Handler = fn(&mut Ctx, &[&[u8]]);

/// Finds the key arguments of a command whose keys cannot be described by a
/// fixed first/last/step triple (EVAL's numkeys, ZUNIONSTORE, XREAD STREAMS,
/// SORT ... STORE): returns their positions in `args` (`args[0]` is the
/// command name). Used by COMMAND GETKEYS and by anything else that needs the
/// exact key set of one invocation.
pub type KeysFn = fn(&[&[u8]]) -> Vec<usize>;

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
}

impl Command {
    /// A command with no documentation yet attached; see [`Command::doc`].
    pub const fn new(
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
        }
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
