//! Functions: FUNCTION LOAD/DELETE/LIST/FLUSH/DUMP/RESTORE/STATS/KILL/HELP,
//! FCALL and FCALL_RO.
//!
//! The libraries live in one registry (`scripting::functions`); each worker
//! thread loads a library into its own Lua state for functions the first
//! time it calls one of its functions (`scripting::vm::with_fn_vm`). FCALL
//! runs a function exactly as EVAL runs a script (`scripting::execute`):
//! its keys latched, undeclared keys try-latched, alone when it must.

use super::flags::*;
use super::scripting::{execute, Job, EVAL_FLAGS, EVAL_KEYS, EVAL_RO_FLAGS, EVAL_RO_KEYS};
use super::{acl, Command, Ctx, KeySpec};
use crate::persistence::dump;
use crate::scripting::busy::{self, Kill};
use crate::scripting::cache::flags as script_flags;
use crate::scripting::functions::{self, Libraries, Library, ENGINE};
use crate::scripting::vm::{self, Target};
use crate::server::Shared;
use std::sync::Arc;

const G: &str = "scripting";
const ACL: u64 = acl::SLOW | acl::SCRIPTING;
const WRITE_ACL: u64 = acl::WRITE | acl::SLOW | acl::SCRIPTING;
const ALL_SHARDS: &[&str] = &["request_policy:all_shards", "response_policy:all_succeeded"];

/// How long FUNCTION LOAD lets a library's code run (Redis's
/// LOAD_TIMEOUT_MS).
const LOAD_TIMEOUT_MS: u64 = 500;

#[rustfmt::skip]
static SUBCOMMANDS: &[Command] = &[
    Command::new("function|delete", 3, WRITE | NOSCRIPT, KeySpec::NONE, WRITE_ACL, delete)
        .doc(G, "7.0.0", "Delete a function by name", "O(1)")
        .tips(ALL_SHARDS),
    Command::new("function|dump", 2, NOSCRIPT, KeySpec::NONE, ACL, dump_cmd)
        .doc(G, "7.0.0", "Dump all functions into a serialized binary payload", "O(N) where N is the number of functions"),
    Command::new("function|flush", -2, WRITE | NOSCRIPT, KeySpec::NONE, WRITE_ACL, flush)
        .doc(G, "7.0.0", "Deleting all functions", "O(N) where N is the number of functions deleted")
        .tips(ALL_SHARDS),
    Command::new("function|help", 2, LOADING | STALE, KeySpec::NONE, ACL, help)
        .doc(G, "7.0.0", "Show helpful text about the different subcommands", "O(1)"),
    Command::new("function|kill", 2, NOSCRIPT | ALLOW_BUSY, KeySpec::NONE, ACL, kill)
        .doc(G, "7.0.0", "Kill the function currently in execution.", "O(1)")
        .tips(&["request_policy:all_shards", "response_policy:one_succeeded"]),
    Command::new("function|list", -2, NOSCRIPT, KeySpec::NONE, ACL, list)
        .doc(G, "7.0.0", "List information about all the functions", "O(N) where N is the number of functions")
        .tips(&["nondeterministic_output_order"]),
    Command::new("function|load", -3, WRITE | DENYOOM | NOSCRIPT, KeySpec::NONE, WRITE_ACL, load)
        .doc(G, "7.0.0", "Create a function with the given arguments (name, code, description)", "O(1) (considering compilation time is redundant)")
        .tips(ALL_SHARDS),
    Command::new("function|restore", -3, WRITE | DENYOOM | NOSCRIPT, KeySpec::NONE, WRITE_ACL, restore)
        .doc(G, "7.0.0", "Restore all the functions on the given payload", "O(N) where N is the number of functions on the payload")
        .tips(ALL_SHARDS),
    Command::new("function|stats", 2, NOSCRIPT | ALLOW_BUSY, KeySpec::NONE, ACL, stats)
        .doc(G, "7.0.0", "Return information about the function currently running (name, description, duration)", "O(1)")
        .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"]),
];

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    Command::new("fcall", -3, EVAL_FLAGS, KeySpec::NONE, ACL, fcall)
        .key_specs(EVAL_KEYS)
        .keys_with(super::table::keynum_keys::<2>)
        .doc(G, "7.0.0", "Invoke a function", "Depends on the function that is executed."),
    Command::new("fcall_ro", -3, EVAL_RO_FLAGS, KeySpec::NONE, ACL, fcall_ro)
        .key_specs(EVAL_RO_KEYS)
        .keys_with(super::table::keynum_keys::<2>)
        .doc(G, "7.0.0", "Invoke a read-only function", "Depends on the function that is executed."),
    Command::new("function", -2, 0, KeySpec::NONE, acl::SLOW, container)
        .doc(G, "7.0.0", "A container for function commands", "Depends on subcommand.")
        .subs(SUBCOMMANDS),
];

fn container(ctx: &mut Ctx, args: &[&[u8]]) {
    let sub = args.get(1).map_or(&b""[..], |a| &a[..]);
    ctx.error(&format!(
        "ERR unknown subcommand '{}'. Try FUNCTION HELP.",
        super::errors::sanitize(sub, 128)
    ));
}

fn syntax_error(ctx: &mut Ctx, args: &[&[u8]]) {
    ctx.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
        super::errors::sanitize(args[1], 128)
    ));
}

/// Loads a library's code in this thread's state for functions and makes
/// it a [`Library`] (not linked yet). `exists`: whether a library of that
/// name is already there (an error unless `replace`). The error is the
/// reply's text.
fn create(
    shared: &Shared,
    code: &[u8],
    exists: &dyn Fn(&str) -> bool,
    replace: bool,
    timeout_ms: u64,
) -> Result<Arc<Library>, String> {
    let md = functions::metadata(code).map_err(|e| format!("ERR {e}"))?;
    if !functions::valid_name(&md.name) {
        return Err(format!("ERR {}", functions::BAD_NAME));
    }
    if !md.engine.eq_ignore_ascii_case(ENGINE.as_bytes()) {
        return Err(format!(
            "ERR Engine '{}' not found",
            String::from_utf8_lossy(&md.engine)
        ));
    }
    let name = String::from_utf8_lossy(&md.name).into_owned();
    if !replace && exists(&name) {
        return Err(format!("ERR Library '{name}' already exists"));
    }
    let version = shared.functions.next_version();
    let registered = vm::with_fn_vm(&shared.functions, |vm| {
        vm.load_library(&name, version, &code[md.code_start..], timeout_ms)
    })
    .map_err(|e| format!("ERR {e}"))?;
    if registered.is_empty() {
        unload(shared, &name, version);
        return Err("ERR No functions registered".into());
    }
    let mut functions = registered;
    functions.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Arc::new(Library {
        name,
        code: code.into(),
        functions,
        version,
    }))
}

/// Drops a library this thread loaded but that was not linked.
fn unload(shared: &Shared, name: &str, version: u64) {
    vm::with_fn_vm(&shared.functions, |vm| vm.unload_library(name, version));
}

fn load(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut replace = false;
    let mut pos = 2;
    while pos < args.len() - 1 {
        if args[pos].eq_ignore_ascii_case(b"replace") {
            replace = true;
            pos += 1;
            continue;
        }
        return ctx.error(&format!(
            "ERR Unknown option given: {}",
            String::from_utf8_lossy(args[pos])
        ));
    }
    let shared = ctx.shared;
    let exists = |name: &str| {
        shared
            .functions
            .read(|libs| libs.by_name.contains_key(name))
    };
    let lib = match create(shared, args[pos], &exists, replace, LOAD_TIMEOUT_MS) {
        Ok(lib) => lib,
        Err(e) => return ctx.error(&e),
    };
    let linked = shared.functions.write(|libs| {
        if !replace && libs.by_name.contains_key(&lib.name) {
            return Err(format!("ERR Library '{}' already exists", lib.name));
        }
        let old = libs.unlink(&lib.name);
        if let Some(f) = libs.collision(&lib) {
            if let Some(old) = old {
                libs.link(old);
            }
            return Err(format!("ERR Function {f} already exists"));
        }
        libs.link(lib.clone());
        Ok(())
    });
    match linked {
        Ok(()) => {
            if replace {
                vm::release_everywhere();
            }
            ctx.out.bulk(lib.name.as_bytes())
        }
        Err(e) => {
            unload(shared, &lib.name, lib.version);
            ctx.error(&e);
        }
    }
}

fn delete(ctx: &mut Ctx, args: &[&[u8]]) {
    let name = String::from_utf8_lossy(args[2]);
    match ctx.shared.functions.write(|libs| libs.unlink(&name)) {
        Some(_) => {
            vm::release_everywhere();
            ctx.out.ok()
        }
        None => ctx.error("ERR Library not found"),
    }
}

fn list(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        if !with_code && args[i].eq_ignore_ascii_case(b"withcode") {
            with_code = true;
        } else if pattern.is_none() && args[i].eq_ignore_ascii_case(b"libraryname") {
            if i >= args.len() - 1 {
                return ctx.error("ERR library name argument was not given");
            }
            i += 1;
            pattern = Some(args[i]);
        } else {
            return ctx.error(&format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(args[i])
            ));
        }
        i += 1;
    }
    let libs: Vec<Arc<Library>> = ctx.shared.functions.read(|libs| {
        libs.by_name
            .values()
            .filter(|l| {
                pattern.is_none_or(|p| crate::util::glob::glob_match(p, l.name.as_bytes(), true))
            })
            .cloned()
            .collect()
    });
    let out = &mut *ctx.out;
    out.array(libs.len());
    for lib in libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(ENGINE.as_bytes());
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for f in &lib.functions {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names: Vec<&str> = script_flags::NAMES
                .iter()
                .filter(|(bit, _)| f.flags & bit != 0)
                .map(|(_, n)| *n)
                .collect();
            out.set(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
}

fn flush(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() > 3 {
        return syntax_error(ctx, args);
    }
    let is_async = match args.get(2) {
        None => ctx.shared.config.lazyfree_lazy_user_flush(),
        Some(a) if a.eq_ignore_ascii_case(b"sync") => false,
        Some(a) if a.eq_ignore_ascii_case(b"async") => true,
        Some(_) => return ctx.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
    };
    let old = ctx.shared.functions.write(std::mem::take);
    if is_async {
        std::thread::spawn(move || drop(old));
    }
    vm::release_everywhere();
    ctx.out.ok();
}

fn dump_cmd(ctx: &mut Ctx, _args: &[&[u8]]) {
    let compress = super::keys::rdb_compression(ctx);
    let payload = ctx
        .shared
        .functions
        .read(|libs| functions::dump_payload(libs.by_name.values().map(|l| &l.code[..]), compress));
    ctx.out.bulk(&payload);
}

fn restore(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() > 4 {
        return syntax_error(ctx, args);
    }
    #[derive(PartialEq)]
    enum Policy {
        Append,
        Replace,
        Flush,
    }
    let policy =
        match args.get(3) {
            None => Policy::Append,
            Some(p) if p.eq_ignore_ascii_case(b"append") => Policy::Append,
            Some(p) if p.eq_ignore_ascii_case(b"replace") => Policy::Replace,
            Some(p) if p.eq_ignore_ascii_case(b"flush") => Policy::Flush,
            Some(_) => return ctx.error(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ),
        };
    let payload = args[2];
    if dump::verify(payload).is_err() {
        return ctx.error("ERR DUMP payload version or checksum are wrong");
    }
    let shared = ctx.shared;
    let mut restored = Libraries::default();
    let mut loaded: Vec<(String, u64)> = Vec::new();
    let mut err = None;
    for code in functions::payload_libraries(payload) {
        let code = match code {
            Ok(code) => code,
            Err(e) => {
                err = Some(format!("ERR {e}"));
                break;
            }
        };
        let exists = |name: &str| restored.by_name.contains_key(name);
        match create(shared, &code, &exists, false, 0) {
            Ok(lib) => {
                loaded.push((lib.name.clone(), lib.version));
                if let Some(f) = restored.collision(&lib) {
                    err = Some(format!("ERR Function {f} already exists"));
                    break;
                }
                restored.link(lib);
            }
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    if err.is_none() {
        err = shared
            .functions
            .write(|libs| {
                if policy == Policy::Flush {
                    *libs = std::mem::take(&mut restored);
                    Ok(())
                } else {
                    libs.join(std::mem::take(&mut restored), policy == Policy::Replace)
                }
            })
            .err()
            .map(|e| format!("ERR {e}"));
    }
    match err {
        None => {
            vm::release_everywhere();
            ctx.out.ok()
        }
        Some(e) => {
            for (name, version) in loaded {
                unload(shared, &name, version);
            }
            ctx.error(&e);
        }
    }
}

fn stats(ctx: &mut Ctx, _args: &[&[u8]]) {
    let running = busy::running();
    if running.iter().any(|b| b.eval) {
        return ctx.error(busy::busy_error(true));
    }
    let (libraries, functions) = ctx
        .shared
        .functions
        .read(|libs| (libs.by_name.len(), libs.function_count()));
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    match running.first() {
        None => out.null(),
        Some(b) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(b.name.as_bytes());
            out.bulk(b"command");
            out.array(b.command.len());
            for a in &b.command {
                out.bulk(a);
            }
            out.bulk(b"duration_ms");
            out.int(b.started.elapsed().as_millis() as i64);
        }
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(ENGINE.as_bytes());
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(libraries as i64);
    out.bulk(b"functions_count");
    out.int(functions as i64);
}

fn kill(ctx: &mut Ctx, _args: &[&[u8]]) {
    match busy::kill(false) {
        Kill::Killed => ctx.out.ok(),
        Kill::NotBusy => ctx.error("NOTBUSY No scripts in execution right now."),
        Kill::Unkillable => ctx.error(busy::UNKILLABLE),
        Kill::OtherKind => ctx.error(busy::busy_error(true)),
    }
}

const HELP: &[&str] = &[
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
];

fn help(ctx: &mut Ctx, args: &[&[u8]]) {
    super::introspection::help_reply(ctx, args[0], HELP);
}

fn fcall(ctx: &mut Ctx, args: &[&[u8]]) {
    fcall_generic(ctx, args, false);
}

fn fcall_ro(ctx: &mut Ctx, args: &[&[u8]]) {
    fcall_generic(ctx, args, true);
}

fn fcall_generic(ctx: &mut Ctx, args: &[&[u8]], ro: bool) {
    let shared = ctx.shared;
    let name = String::from_utf8_lossy(args[1]);
    let Some((lib, idx)) = shared.functions.read(|libs| libs.function(&name)) else {
        return ctx.error("ERR Function not found");
    };
    let Some(numkeys) = crate::util::num::parse_i64(args[2]) else {
        return ctx.error("ERR Bad number of keys provided");
    };
    if numkeys > (args.len() - 3) as i64 {
        return ctx.error("ERR Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return ctx.error("ERR Number of keys can't be negative");
    }
    let info = &lib.functions[idx];
    if info.flags & script_flags::NO_WRITES == 0 && ro {
        return ctx.error("ERR Can not execute a script with write flag using *_ro command.");
    }
    let read_only = ro || info.flags & script_flags::NO_WRITES != 0;
    let (keys, argv) = args[3..].split_at(numkeys as usize);
    vm::with_fn_vm(&shared.functions, |vm| {
        let func = match vm.function(&lib, &info.name) {
            Ok(f) => f,
            Err(e) => return ctx.error(&format!("ERR {e}")),
        };
        let job = Job {
            vm,
            target: Target::Function {
                func,
                name: &info.name,
            },
            name: info.name.as_bytes(),
            command: args,
            keys,
            argv,
            read_only,
        };
        execute(ctx, job);
    });
}
