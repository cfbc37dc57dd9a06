//! COMMAND and its subcommands (COUNT, INFO, DOCS, GETKEYS, GETKEYSANDFLAGS,
//! LIST, HELP), all generated from the declarative command table.

use super::flags::*;
use super::{acl, errors, key_flags, BeginSearch, Command, Ctx, FindKeys, KeySpec};
use crate::protocol::Reply;
use bytes::Bytes;

const G: &str = "server";
const F: u64 = LOADING | STALE;
const A: u64 = acl::SLOW | acl::CONNECTION;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[Command::new("command", -1, F, KeySpec::NONE, A, command_all)
    .doc(G, "2.8.13", "Describes every command the server knows.", "O(N) where N is the total number of Redis commands")
    .tips(&["nondeterministic_output_order"])
    .subs(SUBCOMMANDS)];

#[rustfmt::skip]
static SUBCOMMANDS: &[Command] = &[
    Command::new("command|count", 2, F, KeySpec::NONE, A, count)
        .doc(G, "2.8.13", "Counts the commands the server knows.", "O(1)"),
    Command::new("command|docs", -2, F, KeySpec::NONE, A, docs)
        .doc(G, "7.0.0", "Returns documentation details of some or all commands.", "O(N) where N is the number of commands to look up")
        .tips(&["nondeterministic_output_order"]),
    Command::new("command|getkeys", -3, F, KeySpec::NONE, A, getkeys)
        .doc(G, "2.8.13", "Lists the key arguments of a full command line.", "O(N) where N is the number of arguments to the command"),
    Command::new("command|getkeysandflags", -3, F, KeySpec::NONE, A, getkeysandflags)
        .doc(G, "7.0.0", "Lists the key arguments of a full command line with their access flags.", "O(N) where N is the number of arguments to the command"),
    Command::new("command|help", 2, F, KeySpec::NONE, A, help)
        .doc(G, "5.0.0", "Describes the COMMAND subcommands.", "O(1)"),
    Command::new("command|info", -2, F, KeySpec::NONE, A, info)
        .doc(G, "2.8.13", "Describes some or all commands.", "O(N) where N is the number of commands to look up")
        .tips(&["nondeterministic_output_order"]),
    Command::new("command|list", -2, F, KeySpec::NONE, A, list)
        .doc(G, "7.0.0", "Lists command names, optionally filtered by ACL category or name pattern.", "O(N) where N is the total number of Redis commands")
        .tips(&["nondeterministic_output_order"]),
];

/// Writes a HELP reply: a header naming the command, the given lines, and a
/// closing HELP entry, each as a status string (Redis's addReplyHelp shape).
pub fn help_reply(ctx: &mut Ctx, command: &[u8], lines: &[&str]) {
    let out = &mut *ctx.out;
    out.array(lines.len() + 3);
    out.simple(&format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        String::from_utf8_lossy(command).to_ascii_uppercase()
    ));
    for l in lines {
        out.simple(l);
    }
    out.simple("HELP");
    out.simple("    Prints this help.");
}

const HELP: &[&str] = &[
    "(no subcommand)",
    "    Describe every command (the same as INFO without names).",
    "COUNT",
    "    Reply with the number of commands.",
    "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
    "    Reply with the names of all commands, or of those matching the filter.",
    "INFO [<command-name> ...]",
    "    Describe the named commands, or every command when none is named.",
    "DOCS [<command-name> ...]",
    "    Reply with documentation of the named commands, or of every command",
    "    when none is named.",
    "GETKEYS <full-command>",
    "    Reply with the key arguments of a complete command line.",
    "GETKEYSANDFLAGS <full-command>",
    "    Reply with the key arguments of a complete command line and how each is accessed.",
];

fn help(ctx: &mut Ctx, args: &[&[u8]]) {
    help_reply(ctx, args[0], HELP);
}

/// Finds a command by its full name (`get`, `client|list`), case-insensitively.
pub fn lookup_full(name: &[u8]) -> Option<&'static Command> {
    let mut parts = name.split(|b| *b == b'|');
    let base = super::lookup(parts.next()?)?;
    let Some(sub) = parts.next() else {
        return Some(base);
    };
    if parts.next().is_some() {
        return None;
    }
    super::find_subcommand(base, sub)
}

/// `COMMAND` with no arguments: every command's INFO entry.
fn command_all(ctx: &mut Ctx, _args: &[&[u8]]) {
    write_all_info(ctx.out);
}

fn write_all_info(out: &mut Reply) {
    let all = super::all();
    out.array(all.len());
    for c in all {
        write_info(out, c);
    }
}

fn count(ctx: &mut Ctx, _args: &[&[u8]]) {
    ctx.out.int(super::all().len() as i64);
}

fn info(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() == 2 {
        return write_all_info(ctx.out);
    }
    ctx.out.array(args.len() - 2);
    for name in &args[2..] {
        match lookup_full(name) {
            Some(c) => write_info(ctx.out, c),
            None => ctx.out.null(),
        }
    }
}

/// One COMMAND INFO entry: name, arity, flags, first key, last key, step,
/// ACL categories, tips, key specifications, subcommands.
pub fn write_info(out: &mut Reply, c: &Command) {
    out.array(10);
    out.bulk(c.name.as_bytes());
    out.int(c.arity as i64);
    let flags: Vec<&str> = super::flags::NAMES
        .iter()
        .filter(|(f, _)| c.flags & f != 0)
        .map(|(_, n)| *n)
        .collect();
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    let KeySpec { first, last, step } = c.keys;
    out.int(first as i64);
    out.int(last as i64);
    out.int(step as i64);
    let cats: Vec<&str> = acl::NAMES
        .iter()
        .filter(|(f, _)| c.acl & f != 0)
        .map(|(_, n)| *n)
        .collect();
    out.set(cats.len());
    for cat in cats {
        out.simple(&format!("@{cat}"));
    }
    out.set(c.tips.len());
    for t in c.tips {
        out.bulk(t.as_bytes());
    }
    write_key_specs(out, c);
    // Redis: an array of the subcommands' entries, or an empty set for a
    // command that has none (`~0` in RESP3).
    if c.subcommands.is_empty() {
        out.set(0);
    } else {
        out.array(c.subcommands.len());
    }
    for s in c.subcommands {
        write_info(out, s);
    }
}

/// The Redis 7 key specifications, exactly as the table declares them
/// (Redis's reply shape: a set of maps, `notes` first when present).
fn write_key_specs(out: &mut Reply, c: &Command) {
    out.set(c.key_specs.len());
    for spec in c.key_specs {
        out.map(3 + spec.notes.is_some() as usize);
        if let Some(notes) = spec.notes {
            out.bulk(b"notes");
            out.bulk(notes.as_bytes());
        }
        out.bulk(b"flags");
        write_key_flags(out, spec.flags);
        out.bulk(b"begin_search");
        match spec.begin_search {
            BeginSearch::Index(pos) => {
                write_spec_type(out, "index", 1);
                out.bulk(b"index");
                out.int(pos as i64);
            }
            BeginSearch::Keyword { keyword, startfrom } => {
                write_spec_type(out, "keyword", 2);
                out.bulk(b"keyword");
                out.bulk(keyword.as_bytes());
                out.bulk(b"startfrom");
                out.int(startfrom as i64);
            }
            BeginSearch::Unknown => write_spec_type(out, "unknown", 0),
        }
        out.bulk(b"find_keys");
        match spec.find_keys {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => {
                write_spec_type(out, "range", 3);
                for (name, v) in [("lastkey", lastkey), ("keystep", keystep), ("limit", limit)] {
                    out.bulk(name.as_bytes());
                    out.int(v as i64);
                }
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                write_spec_type(out, "keynum", 3);
                for (name, v) in [
                    ("keynumidx", keynumidx),
                    ("firstkey", firstkey),
                    ("keystep", keystep),
                ] {
                    out.bulk(name.as_bytes());
                    out.int(v as i64);
                }
            }
            FindKeys::Unknown => write_spec_type(out, "unknown", 0),
        }
    }
}

/// `type` and the head of `spec` (a map of `fields` entries, written next)
/// of a begin_search or find_keys description.
fn write_spec_type(out: &mut Reply, kind: &str, fields: usize) {
    out.map(2);
    out.bulk(b"type");
    out.bulk(kind.as_bytes());
    out.bulk(b"spec");
    out.map(fields);
}

/// Key-spec flags as a set of status strings, in Redis's order.
fn write_key_flags(out: &mut Reply, flags: u32) {
    let names: Vec<&str> = key_flags::NAMES
        .iter()
        .filter(|(f, _)| flags & f != 0)
        .map(|(_, n)| *n)
        .collect();
    out.set(names.len());
    for n in names {
        out.simple(n);
    }
}

/// COMMAND DOCS [name ...]: a map from each known name to its documentation.
fn docs(ctx: &mut Ctx, args: &[&[u8]]) {
    let found: Vec<&'static Command> = if args.len() == 2 {
        super::all().to_vec()
    } else {
        args[2..].iter().filter_map(|n| lookup_full(n)).collect()
    };
    ctx.out.map(found.len());
    for c in found {
        ctx.out.bulk(c.name.as_bytes());
        write_docs(ctx.out, c);
    }
}

fn write_docs(out: &mut Reply, c: &Command) {
    let has_subs = !c.subcommands.is_empty();
    let n =
        2 + !c.summary.is_empty() as usize + !c.complexity.is_empty() as usize + has_subs as usize;
    out.map(n);
    if !c.summary.is_empty() {
        out.bulk(b"summary");
        out.bulk(c.summary.as_bytes());
    }
    out.bulk(b"since");
    out.bulk(c.since.as_bytes());
    out.bulk(b"group");
    out.bulk(c.group.as_bytes());
    if !c.complexity.is_empty() {
        out.bulk(b"complexity");
        out.bulk(c.complexity.as_bytes());
    }
    if has_subs {
        out.bulk(b"subcommands");
        out.map(c.subcommands.len());
        for s in c.subcommands {
            out.bulk(s.name.as_bytes());
            write_docs(out, s);
        }
    }
}

fn getkeys(ctx: &mut Ctx, args: &[&[u8]]) {
    getkeys_impl(ctx, args, false);
}

fn getkeysandflags(ctx: &mut Ctx, args: &[&[u8]]) {
    getkeys_impl(ctx, args, true);
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS <full command line>.
fn getkeys_impl(ctx: &mut Ctx, args: &[&[u8]], with_flags: bool) {
    let line = &args[2..];
    let Some(cmd) = super::lookup_line(line) else {
        return ctx.error("ERR Invalid command specified");
    };
    if !cmd.has_keys() {
        return ctx.error("ERR The command has no key arguments");
    }
    if !cmd.arity_ok(line.len()) {
        return ctx.error("ERR Invalid number of arguments specified for command");
    }
    let keys = cmd.keys_and_flags(line);
    if keys.is_empty() && !cmd.has(NO_MANDATORY_KEYS) {
        return ctx.error("ERR Invalid arguments specified for command");
    }
    let out = &mut *ctx.out;
    out.array(keys.len());
    for (p, flags) in keys {
        if with_flags {
            out.array(2);
            out.bulk(line[p]);
            write_key_flags(out, flags);
        } else {
            out.bulk(line[p]);
        }
    }
}

/// Which commands COMMAND LIST reports.
enum ListFilter {
    All,
    /// No modules exist, so nothing matches.
    Module,
    /// `None` for an unknown category (matches nothing, as Redis).
    AclCat(Option<u64>),
    Pattern(Bytes),
}

impl ListFilter {
    fn matches(&self, c: &Command) -> bool {
        match self {
            ListFilter::All => true,
            ListFilter::Module => false,
            ListFilter::AclCat(cat) => cat.is_some_and(|cat| c.acl & cat != 0),
            ListFilter::Pattern(p) => crate::util::glob::glob_match(p, c.name.as_bytes(), true),
        }
    }
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]
fn list(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut filter = ListFilter::All;
    let mut i = 2;
    while i < args.len() {
        if !(args[i].eq_ignore_ascii_case(b"filterby") && args.len() - 1 - i == 2) {
            return ctx.error(errors::SYNTAX);
        }
        let (kind, arg) = (&args[i + 1], &args[i + 2]);
        filter = if kind.eq_ignore_ascii_case(b"module") {
            ListFilter::Module
        } else if kind.eq_ignore_ascii_case(b"aclcat") {
            let cat = acl::NAMES
                .iter()
                .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(arg))
                .map(|(f, _)| *f);
            ListFilter::AclCat(cat)
        } else if kind.eq_ignore_ascii_case(b"pattern") {
            ListFilter::Pattern(Bytes::copy_from_slice(arg))
        } else {
            return ctx.error(errors::SYNTAX);
        };
        i += 3;
    }
    let mut names = Vec::new();
    for c in super::all() {
        for c in std::iter::once(*c).chain(c.subcommands.iter()) {
            if filter.matches(c) {
                names.push(c.name);
            }
        }
    }
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_command() -> Vec<&'static Command> {
        let mut v = Vec::new();
        for c in crate::commands::all() {
            v.push(*c);
            v.extend(c.subcommands.iter());
        }
        v
    }

    #[test]
    fn every_command_is_documented() {
        let missing: Vec<&str> = every_command()
            .into_iter()
            .filter(|c| {
                c.group.is_empty()
                    || c.summary.is_empty()
                    || c.complexity.is_empty()
                    || c.since.is_empty()
            })
            .map(|c| c.name)
            .collect();
        assert!(
            missing.is_empty(),
            "commands without group/summary/complexity/since: {missing:?}"
        );
    }

    #[test]
    fn names_are_lowercase_and_arities_nonzero() {
        for c in every_command() {
            assert_eq!(
                c.name,
                c.name.to_ascii_lowercase(),
                "{} is not lowercase",
                c.name
            );
            assert_ne!(c.arity, 0, "{} has arity 0", c.name);
            assert!(!c.name.contains(' '), "{} contains a space", c.name);
        }
    }

    #[test]
    fn subcommands_are_named_after_their_container() {
        for c in crate::commands::all() {
            for s in c.subcommands {
                let (base, sub) = s.name.split_once('|').expect("subcommand name has a |");
                assert_eq!(base, c.name);
                assert!(
                    !sub.is_empty() && !sub.contains('|'),
                    "bad subcommand name {}",
                    s.name
                );
                assert!(s.subcommands.is_empty(), "{} nests subcommands", s.name);
            }
        }
    }

    #[test]
    fn key_ranges_are_consistent() {
        for c in every_command() {
            let KeySpec { first, last, step } = c.keys;
            if first == 0 {
                assert!(
                    last == 0 && step == 0,
                    "{}: no first key but last/step set",
                    c.name
                );
            } else {
                assert!(first > 0 && step > 0, "{}: bad key range", c.name);
                assert!(
                    last < 0 || last >= first,
                    "{}: last key before first",
                    c.name
                );
            }
        }
    }

    #[test]
    fn key_specs_agree_with_the_legacy_triple_and_flags() {
        use crate::commands::table::key_flags::*;
        for c in every_command() {
            let (legacy, movable) = Command::legacy_range(c.key_specs);
            assert_eq!(
                (legacy.first, legacy.last, legacy.step),
                (c.keys.first, c.keys.last, c.keys.step),
                "{}: the legacy key triple does not match its key specs",
                c.name
            );
            if movable {
                assert!(
                    c.has(MOVABLE_KEYS) && c.keys_fn.is_some(),
                    "{}: its key specs make its keys movable: set MOVABLE_KEYS and a key finder",
                    c.name
                );
            }
            let needs_flags_fn = c.key_specs.iter().any(|s| {
                s.flags & VARIABLE_FLAGS != 0
                    || s.begin_search == BeginSearch::Unknown
                    || s.find_keys == FindKeys::Unknown
            });
            assert_eq!(
                needs_flags_fn,
                c.key_flags_fn.is_some(),
                "{}: a key-flags function goes with variable_flags or unknown key specs",
                c.name
            );
            for s in c.key_specs {
                let access = [RO, RW, OW, RM].iter().filter(|f| s.flags & **f != 0);
                assert_eq!(
                    access.count(),
                    1,
                    "{}: a key spec needs one of RO/RW/OW/RM",
                    c.name
                );
            }
        }
    }

    #[test]
    fn key_flags_follow_the_specs() {
        use crate::commands::table::key_flags::*;
        let rename = crate::commands::lookup(b"rename").unwrap();
        assert_eq!(
            rename.keys_and_flags(&[b"rename", b"a", b"b"]),
            vec![(1, RW | ACCESS | DELETE), (2, OW | UPDATE)]
        );
        let set = crate::commands::lookup(b"set").unwrap();
        assert_eq!(
            set.keys_and_flags(&[b"set", b"k", b"v"]),
            vec![(1, OW | UPDATE)]
        );
        assert_eq!(
            set.keys_and_flags(&[b"set", b"k", b"v", b"EX", b"1", b"get"]),
            vec![(1, RW | ACCESS | UPDATE)]
        );
    }

    #[test]
    fn lookup_by_full_name() {
        assert_eq!(lookup_full(b"COMMAND").map(|c| c.name), Some("command"));
        assert_eq!(
            lookup_full(b"command|INFO").map(|c| c.name),
            Some("command|info")
        );
        assert!(lookup_full(b"command|nosuch").is_none());
        assert!(lookup_full(b"command|info|x").is_none());
    }

    #[test]
    fn info_entry_shape() {
        let mut out = Reply::new();
        write_info(&mut out, lookup_full(b"command|count").unwrap());
        assert_eq!(
            &out.buf[..],
            &b"*10\r\n$13\r\ncommand|count\r\n:2\r\n*2\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n\
               *2\r\n+@slow\r\n+@connection\r\n*0\r\n*0\r\n*0\r\n"[..]
        );
    }
}
