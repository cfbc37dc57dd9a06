//! Functions, differential against a real redis-server 7.0: FUNCTION LOAD/DELETE/LIST/FLUSH/
//! DUMP/RESTORE/STATS/KILL/HELP, FCALL and FCALL_RO, every reply compared byte for byte (errors
//! included, with redis-server's ` script: <name>, on @user_function:N.` suffix).
//!
//! * FUNCTION LOAD: the library's shebang (every metadata error), REPLACE, collisions of
//!   library and function names, compile errors, the library API a library's code runs
//!   against (only `redis.register_function`, `redis.log` and constants; every other global an
//!   error), `redis.register_function` in its positional and named forms with every error
//!   message of Redis's function_lua.c, flags, descriptions, the load timeout.
//! * FCALL / FCALL_RO: keys and arguments, numkeys errors, function names of any case, the
//!   no-writes flag, errors and their suffix, pcall, RESP3, SELECT, the globals a function
//!   sees, MULTI/EXEC and WATCH, the interplay with EVAL's script cache.
//! * FUNCTION LIST/DELETE/FLUSH/STATS/KILL/HELP and their argument errors; FUNCTION DUMP and
//!   RESTORE: round trips, payloads moved between Ferrite and redis-server in both directions,
//!   the restore policies and crafted payloads.
//!
//! Where redis-server's order is its hash-table order (the libraries of FUNCTION LIST and
//! FUNCTION DUMP, the functions of a library) the replies are compared without order:
//! [`Fx::check_list`] sorts libraries and functions; a DUMP of several libraries is only
//! restored, never compared byte for byte (a DUMP of one library is).
//!
//! The last tests are not differential: a busy function (past `busy-reply-threshold`) and
//! FUNCTION STATS/KILL, SCRIPT KILL and the -BUSY replies while it runs, on Ferrite; the same
//! scenario runs on redis-server to check the expectations, which differ in one point:
//! redis-server answers -BUSY to every command while a script is busy, Ferrite only to the
//! commands that need the script's keys.
//!
//! Nothing here calls `error({})`: redis-server 7.0.15 crashes on an error table without an
//! `err` string.

mod common;

use common::{
    bulk_bytes, fmt_command, fmt_reply, framed_payload, split_args, Differential, RawConn,
    RedisServer, Reply, Server, ServerProcess,
};
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

/// A [`Differential`] that also compares replies modulo hash-table order and counts those
/// comparisons.
struct Fx {
    d: Differential,
    extra: u64,
    name: &'static str,
}

impl Deref for Fx {
    type Target = Differential;
    fn deref(&self) -> &Differential {
        &self.d
    }
}

impl DerefMut for Fx {
    fn deref_mut(&mut self) -> &mut Differential {
        &mut self.d
    }
}

impl Drop for Fx {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            eprintln!("{}: {} checks", self.name, self.d.checked() + self.extra);
        }
    }
}

impl Fx {
    fn new(name: &'static str) -> Fx {
        Fx {
            d: Differential::new(),
            extra: 0,
            name,
        }
    }

    /// Sends a redis-cli style line to both servers and compares the replies after
    /// [`canonical_list`] (FUNCTION LIST with several libraries or functions).
    fn check_list(&mut self, line: &str) -> String {
        let args = split_args(line).expect("command line");
        let (f, r) = self.d.both(&args);
        let (cf, cr) = (canonical_list(&f), canonical_list(&r));
        assert_eq!(
            cf,
            cr,
            "{} (compared without order)\n  ferrite: {}\n  redis:   {}",
            fmt_command(&args),
            fmt_reply(&f),
            fmt_reply(&r)
        );
        self.extra += 1;
        cr
    }

    /// Compares two replies of the two servers (obtained some other way) byte for byte.
    fn same(&mut self, what: &str, f: &[u8], r: &[u8]) {
        assert_eq!(
            fmt_reply(f),
            fmt_reply(r),
            "{what}: ferrite (left) and redis (right) differ"
        );
        assert_eq!(f, r, "{what}: raw bytes differ");
        self.extra += 1;
    }
}

/// A FUNCTION LIST reply with its libraries, and each library's functions, sorted.
fn canonical_list(raw: &[u8]) -> String {
    let libs = match Reply::from_raw(raw) {
        Reply::Array(v) => v,
        other => return other.to_string(),
    };
    let mut out: Vec<String> = libs.iter().map(canonical_library).collect();
    out.sort();
    format!("[{}]", out.join(",\n "))
}

fn canonical_library(lib: &Reply) -> String {
    let (kind, pairs): (&str, Vec<(Reply, Reply)>) = match lib {
        Reply::Array(v) if v.len() % 2 == 0 => (
            "array",
            v.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect(),
        ),
        Reply::Map(m) => ("map", m.clone()),
        other => return other.to_string(),
    };
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Reply::Array(fs) if k.as_bytes() == Some(b"functions") => {
                    let mut s: Vec<String> = fs.iter().map(|f| f.to_string()).collect();
                    s.sort();
                    format!("[{}]", s.join(", "))
                }
                other => other.to_string(),
            };
            format!("{k} => {v}")
        })
        .collect();
    format!("{kind} {{{}}}", parts.join(", "))
}

/// A library's code: its shebang line and `body`.
fn lib(name: &str, body: &str) -> String {
    format!("#!lua name={name}\n{body}")
}

/// `FUNCTION LOAD REPLACE` of a library `t` with `body`, on both servers.
fn load_body(d: &mut Differential, body: &str) -> Vec<u8> {
    d.check(&["FUNCTION", "LOAD", "REPLACE", &lib("t", body)])
}

// ---------------------------------------------------------------------------------------------
// FUNCTION LOAD
// ---------------------------------------------------------------------------------------------

#[test]
fn diff_load_replace_and_collisions() {
    let mut fx = Fx::new("diff_load_replace_and_collisions");
    fx.check_all(
        r##"
        FUNCTION LOAD "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return {keys, args} end)"
        FCALL f1 2 a b c d
        # The same library again; with REPLACE (any case) it is replaced.
        FUNCTION LOAD "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return 1 end)"
        FCALL f1 0
        FUNCTION LOAD REPLACE "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return 2 end)"
        FCALL f1 0
        FUNCTION LOAD replace "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return 3 end)"
        FCALL f1 0
        FUNCTION LOAD REPLACE REPLACE "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return 4 end)"
        FCALL f1 0
        # A replacement that registers other functions: the old ones are gone.
        FUNCTION LOAD REPLACE "#!lua name=lib1\nredis.register_function('f2', function(keys, args) return 'f2' end)"
        FCALL f1 0
        FCALL f2 0
        FUNCTION LIST
        # Function names collide across libraries whatever their case.
        FUNCTION LOAD "#!lua name=lib2\nredis.register_function('f2', function() return 'lib2' end)"
        FUNCTION LOAD "#!lua name=lib2\nredis.register_function('F2', function() return 'lib2' end)"
        FUNCTION LOAD "#!lua name=lib2\nredis.register_function('g', function() return 'g' end)\nredis.register_function('F2', function() return 'lib2' end)"
        FUNCTION LOAD REPLACE "#!lua name=lib2\nredis.register_function('F2', function() return 'lib2' end)"
        FCALL g 0
        FCALL f2 0
        FCALL F2 0
        # Library names are case-sensitive.
        FUNCTION LOAD "#!lua name=LIB1\nredis.register_function('upper', function() return 'LIB1' end)"
        FCALL upper 0
        FUNCTION DELETE LIB1
        FUNCTION DELETE lib1
        FUNCTION DELETE lib1
        # A replacement whose functions collide with another library: the old library stays.
        FUNCTION LOAD "#!lua name=a\nredis.register_function('fa', function() return 'a' end)"
        FUNCTION LOAD "#!lua name=b\nredis.register_function('fb', function() return 'b' end)"
        FUNCTION LOAD REPLACE "#!lua name=a\nredis.register_function('fa2', function() return 'a2' end)\nredis.register_function('FB', function() return 'x' end)"
        FCALL fa 0
        FCALL fa2 0
        FCALL fb 0
        FUNCTION LIST LIBRARYNAME a
        # A replacement that keeps a function name.
        FUNCTION LOAD REPLACE "#!lua name=a\nredis.register_function('FA', function() return 'A' end)"
        FCALL fa 0
        FUNCTION LIST LIBRARYNAME a
        # Option errors and arity.
        FUNCTION LOAD x y "#!lua name=c\nredis.register_function('fc', function() return 1 end)"
        FUNCTION LOAD x "#!lua name=c\nredis.register_function('fc', function() return 1 end)"
        FUNCTION LOAD REPLACE x "#!lua name=c\nredis.register_function('fc', function() return 1 end)"
        FUNCTION LOAD "#!lua name=c\nredis.register_function('fc', function() return 1 end)" REPLACE
        FUNCTION LOAD
        FUNCTION LOAD REPLACE
        FUNCTION LOAD ""
        FUNCTION load "#!lua name=c\nredis.register_function('fc', function() return 1 end)"
        FCALL fc 0
        FUNCTION DELETE c
        "##,
    );
}

#[test]
fn diff_load_metadata_errors() {
    let mut fx = Fx::new("diff_load_metadata_errors");
    fx.check_all(
        r##"
        FUNCTION LOAD "return 1"
        FUNCTION LOAD " #!lua name=x\n"
        FUNCTION LOAD "#"
        FUNCTION LOAD "#!"
        FUNCTION LOAD "#!lua name=x"
        FUNCTION LOAD "#!lua name=x redis.register_function('f', function() return 1 end)"
        FUNCTION LOAD "#!\n"
        FUNCTION LOAD "#! name=x\nredis.register_function('f', function() return 1 end)"
        FUNCTION LOAD "#!python name=x\n"
        FUNCTION LOAD "#!luA name=x\nredis.register_function('eng', function() return 'engine case' end)"
        FCALL eng 0
        FUNCTION DELETE x
        FUNCTION LOAD "#!LUA name=x\nredis.register_function('eng', function() return 'engine case' end)"
        FUNCTION DELETE x
        FUNCTION LOAD "#!lua\n"
        FUNCTION LOAD "#!lua \n"
        FUNCTION LOAD "#!lua name=a name=b\n"
        FUNCTION LOAD "#!lua name=a NAME=a\n"
        FUNCTION LOAD "#!lua foo=bar\n"
        FUNCTION LOAD "#!lua name=a foo=bar\n"
        FUNCTION LOAD "#!lua name=a flags=no-writes\n"
        FUNCTION LOAD "#!lua name=a name\n"
        FUNCTION LOAD "#!lua name\n"
        FUNCTION LOAD "#!lua name=\n"
        FUNCTION LOAD "#!lua name=a-b\n"
        FUNCTION LOAD "#!lua name=a.b\n"
        FUNCTION LOAD "#!lua name=a:b\n"
        FUNCTION LOAD "#!lua name=\xc3\xa9\n"
        FUNCTION LOAD "#!python name=a-b\n"
        FUNCTION LOAD "#!python foo=bar\n"
        FUNCTION LOAD "#!lua name=\"a b\"\n"
        FUNCTION LOAD "#!lua \"name=x\"\nredis.register_function('quoted', function() return 'quoted' end)"
        FCALL quoted 0
        FUNCTION LOAD "#!lua name=x \"unbalanced\n"
        FUNCTION LOAD "#!lua   name=sp   \nredis.register_function('spaces', function() return 'spaces' end)"
        FCALL spaces 0
        FUNCTION LOAD "#!lua Name=mixed\nredis.register_function('mixed', function() return 'mixed' end)"
        FCALL mixed 0
        FUNCTION LOAD "#!lua name=Under_Score_9\nredis.register_function('us', function() return 'us' end)"
        FUNCTION LOAD "#!lua name=7\nredis.register_function('seven', function() return 7 end)"
        FCALL seven 0
        FUNCTION LOAD "#!lua name=r\rredis.register_function('cr', function() return 1 end)"
        FUNCTION LOAD "#!lua name=r\r\nredis.register_function('crlf', function() return 'crlf' end)"
        FCALL crlf 0
        @sorted FUNCTION LIST
        "##,
    );
}

#[test]
fn diff_load_compile_and_runtime_errors() {
    let mut fx = Fx::new("diff_load_compile_and_runtime_errors");
    for body in [
        // Compile errors (the line numbers count the shebang line).
        "return +",
        "redis.register_function('f', function() return 1 +  end)",
        "\n\nlocal x = ",
        "retur 1",
        "'unfinished",
        "function f(",
        // Nothing registered.
        "",
        "return 1",
        "local x = 1",
        "return redis.REDIS_VERSION_NUM > 0",
        // The library API: only redis.register_function, redis.log and the constants.
        "redis.call('ping')",
        "redis.pcall('ping')",
        "redis.setresp(3)",
        "redis.sha1hex('x')",
        "redis.error_reply('x')",
        "redis.status_reply('x')",
        "redis.set_repl(redis.REPL_ALL)",
        "redis.acl_check_cmd('get')",
        "redis.breakpoint()",
        "redis.foo()",
        "return redis.foo",
        "string.len('x')",
        "local s = string",
        "table.insert({}, 1)",
        "math.floor(1)",
        "cjson.encode({})",
        "cmsgpack.pack(1)",
        "bit.band(1, 1)",
        "struct.pack('b', 1)",
        "tostring(1)",
        "type(1)",
        "pairs({})",
        "unpack({})",
        "pcall(function() end)",
        "print('x')",
        "local g = _G",
        "KEYS[1] = 1",
        "ARGV[1] = 1",
        "error('boom')",
        "error({err='MYERR boom'})",
        "error()",
        "assert(false)",
        "loadstring('return 1')",
        "setmetatable({}, {})",
        "getmetatable('')",
        "rawget(redis, 'call')",
        "x = 1",
        "redis = nil",
        "redis.x = 1",
        "redis.register_function = nil",
        "redis.log = nil",
        "redis.LOG_WARNING = 1",
        // Runtime errors of plain Lua.
        "local x = nil + 1",
        "local t = nil; t.x = 1",
        "local s = 'a' .. {}",
        "local f; f()",
        "local function rec() return rec() + 1 end rec()",
        "local function g() local x = nil + 1 end g()",
        "redis.register_function('ok', function() return 1 end) local x = nil + 1",
        // Strings' methods need no global.
        "local s = ('ab'):rep(2) redis.register_function(s, function() return 1 end)",
        "redis.register_function(('x'):upper(), function() return 1 end)",
        // redis.log and the constants.
        "redis.log(redis.LOG_WARNING, 'from a library') redis.register_function('logged', function() return 1 end)",
        "redis.log(redis.LOG_DEBUG, 'x', 'y') redis.register_function('logged', function() return 1 end)",
        "redis.log()",
        "redis.log('x')",
        "redis.log(99, 'x')",
        "redis.register_function('v', function() return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING, type(redis.REDIS_VERSION), type(redis.REDIS_VERSION_NUM)} end)",
    ] {
        load_body(&mut fx, body);
    }
    fx.check_all(
        r##"
        FCALL v 0
        FCALL logged 0
        FCALL XX 0
        FCALL abab 0
        FUNCTION LIST
        "##,
    );
    // The load timeout: code that runs longer than 500 ms.
    let started = Instant::now();
    load_body(&mut fx, "while true do end");
    load_body(
        &mut fx,
        "redis.register_function('early', function() return 1 end) local i = 0 while true do i = i + 1 end",
    );
    assert!(
        started.elapsed() >= Duration::from_millis(2 * 500),
        "each timed-out load runs 500 ms"
    );
    fx.check_all(
        r##"
        FCALL early 0
        FUNCTION LIST
        PING
        "##,
    );
    // A failed load leaves the library as it was.
    load_body(
        &mut fx,
        "redis.register_function('kept', function() return 'kept' end)",
    );
    for body in [
        "return +",
        "local x = nil + 1",
        "",
        "redis.register_function('kept2', function() return 'new' end) redis.call('ping')",
    ] {
        load_body(&mut fx, body);
        fx.check_all(
            r##"
            FCALL kept 0
            FCALL kept2 0
            FUNCTION LIST
            "##,
        );
    }
}

#[test]
fn diff_register_function_errors() {
    let mut fx = Fx::new("diff_register_function_errors");
    let body = |call: &str| format!("redis.register_function({call})");
    for call in [
        // Positional form.
        "",
        "'a'",
        "'a', function() end, 2",
        "'a', function() end, 'desc'",
        "{}, function() end",
        "nil, function() end",
        "true, function() end",
        "function() end, function() end",
        "'a', 'b'",
        "'a', nil",
        "'a', {}",
        "'a', 1",
        "1, 'b'",
        "'a-b', function() end",
        "'', function() end",
        "'a b', function() end",
        "'\\xc3\\xa9', function() end",
        // Named form.
        "'x'",
        "1",
        "nil",
        "function() end",
        "{}",
        "{function_name='a'}",
        "{callback=function() end}",
        "{function_name='a', callback=function() end, foo=1}",
        "{function_name='a', callback=function() end, Foo=1}",
        "{function_name='a', callback=function() end, flags='no-writes'}",
        "{function_name='a', callback=function() end, flags=1}",
        "{function_name='a', callback=function() end, flags=function() end}",
        "{function_name='a', callback=function() end, flags={'nope'}}",
        "{function_name='a', callback=function() end, flags={'no-writes', 'nope'}}",
        "{function_name='a', callback=function() end, flags={'no_writes'}}",
        "{function_name='a', callback=function() end, flags={1}}",
        "{function_name='a', callback=function() end, flags={{}}}",
        "{function_name='a', callback=function() end, flags={true}}",
        "{function_name='a', callback=function() end, flags={''}}",
        "{function_name={}, callback=function() end}",
        "{function_name=true, callback=function() end}",
        "{function_name=function() end, callback=function() end}",
        "{function_name='a', callback=1}",
        "{function_name='a', callback='f'}",
        "{function_name='a', callback={}}",
        "{function_name='a', callback=function() end, description={}}",
        "{function_name='a', callback=function() end, description=true}",
        "{function_name='a-b', callback=function() end}",
        "{function_name='', callback=function() end}",
        "{function_name='a.b', callback=function() end}",
        "{[1]='a', callback=function() end}",
        "{'a', function() end}",
        "{[{}]='a', callback=function() end}",
        "{[true]='a', callback=function() end}",
        "{[function() end]='a', callback=function() end}",
        "{function_name='a', description='d'}",
        "{description='d', flags={}}",
    ] {
        load_body(&mut fx, &body(call));
    }
    for body in [
        // A duplicate within the library.
        "redis.register_function('a', function() end) redis.register_function('a', function() end)",
        "redis.register_function('a', function() end) redis.register_function{function_name='a', callback=function() end}",
        // An error after a successful registration loses the whole library.
        "redis.register_function('ok1', function() end) redis.register_function('a', 'b')",
        "redis.register_function('ok1', function() end) redis.register_function{function_name='bad-name', callback=function() end}",
        // pcall is not in the library API either.
        "pcall(redis.register_function, 'a', 'b')",
    ] {
        load_body(&mut fx, body);
    }
    fx.check_all(
        r##"
        FCALL ok1 0
        FUNCTION LIST
        "##,
    );
}

#[test]
fn diff_register_function_forms() {
    let mut fx = Fx::new("diff_register_function_forms");
    // Every form, each alone in its library, listed exactly.
    for call in [
        "'plain', function() return 'plain' end",
        "{function_name='named', callback=function() return 'named' end}",
        "{FUNCTION_NAME='named', CallBack=function() return 'named' end}",
        "{function_name='named', callback=function() return 'named' end, description='a description'}",
        "{function_name='named', callback=function() return 'named' end, DESCRIPTION='with \\r\\n newline'}",
        "{function_name='named', callback=function() return 'named' end, description=''}",
        "{function_name='named', callback=function() return 'named' end, description=42}",
        "{function_name='named', callback=function() return 'named' end, description=1.5}",
        "{function_name='named', callback=function() return 'named' end, flags={}}",
        "{function_name='named', callback=function() return 'named' end, flags={'no-writes'}}",
        "{function_name='named', callback=function() return 'named' end, FLAGS={'NO-WRITES'}}",
        "{function_name='named', callback=function() return 'named' end, flags={'No-Writes', 'Allow-Oom'}}",
        "{function_name='named', callback=function() return 'named' end, flags={'allow-oom'}}",
        "{function_name='named', callback=function() return 'named' end, flags={'allow-stale'}}",
        "{function_name='named', callback=function() return 'named' end, flags={'no-cluster'}}",
        "{function_name='named', callback=function() return 'named' end, flags={'allow-cross-slot-keys'}}",
        "{function_name='named', callback=function() return 'named' end, flags={'allow-cross-slot-keys', 'no-cluster', 'allow-stale', 'allow-oom', 'no-writes'}}",
        "{function_name='named', callback=function() return 'named' end, flags={'no-writes', 'no-writes'}}",
        "{function_name='named', callback=function() return 'named' end, flags={'no-writes', nil, 'nope'}}",
        "{function_name='named', callback=function() return 'named' end, flags={x='nope'}}",
        "{function_name='first', callback=function() return 'named' end, function_name='named'}",
        // Numbers as names.
        "1, function() return 'one' end",
        "{function_name=5, callback=function() return 'five' end}",
        "1.5, function() return 'x' end",
        "{function_name=-3, callback=function() return 'x' end}",
        "2^53, function() return 'x' end",
    ] {
        load_body(&mut fx, &format!("redis.register_function({call})"));
        fx.check_all(
            r##"
            FUNCTION LIST
            FUNCTION LIST WITHCODE
            FCALL named 0
            FCALL plain 0
            FCALL 1 0
            FCALL 5 0
            "##,
        );
    }
    // Several functions in one library (compared without order), called in any case.
    load_body(
        &mut fx,
        "redis.register_function('one', function() return 1 end)\n\
         redis.register_function{function_name='Two', callback=function() return 2 end, description='second', flags={'no-writes'}}\n\
         redis.register_function{function_name='THREE', callback=function(k, a) return {k, a} end, flags={'allow-oom', 'allow-stale'}}",
    );
    fx.check_list("FUNCTION LIST");
    fx.check_list("FUNCTION LIST WITHCODE");
    fx.check_all(
        r##"
        FCALL one 0
        FCALL ONE 0
        FCALL two 0
        FCALL Two 0
        FCALL_RO tWO 0
        FCALL three 1 k a
        FCALL_RO three 0
        FUNCTION STATS
        "##,
    );
    // A function that registers at run time.
    load_body(
        &mut fx,
        "local r = redis\n\
         redis.register_function('reg_global', function() redis.register_function('zz', function() end) end)\n\
         redis.register_function('reg_local', function() r.register_function('zz', function() end) end)\n\
         redis.register_function('reg_pcall', function() return {pcall(r.register_function, 'zz', function() end)} end)\n\
         redis.register_function('api_call', function() return r.call('ping') end)\n\
         redis.register_function('api_log', function() r.log(r.LOG_DEBUG, 'x') return 'logged' end)",
    );
    fx.check_all(
        r##"
        FCALL reg_global 0
        FCALL reg_local 0
        FCALL reg_pcall 0
        FCALL api_call 0
        FCALL api_log 0
        FCALL zz 0
        "##,
    );
}

/// Two functions of one library whose names differ only in case: redis-server 7.0 accepts
/// them (its check within a library is case-sensitive) and counts both; which one FCALL of
/// either name runs depends on its hash-table order, so only the kind of reply is checked.
/// (redis-server then crashes on an assertion when the library is replaced or deleted, so
/// this test never does either.)
#[test]
fn diff_function_names_differing_in_case() {
    let mut fx = Fx::new("diff_function_names_differing_in_case");
    fx.check_all(
        r##"
        FUNCTION LOAD "#!lua name=t1\nredis.register_function('a', function() return 'one' end)\nredis.register_function('A', function() return 'one' end)"
        FCALL a 0
        FCALL A 0
        FUNCTION LOAD "#!lua name=t2\nredis.register_function('B', function() return 'two' end)\nredis.register_function('b', function() return 'two' end)"
        FCALL b 0
        FCALL B 0
        FUNCTION LOAD "#!lua name=t3\nredis.register_function('b', function() return 't3' end)"
        FUNCTION LOAD "#!lua name=t3\nredis.register_function('A', function() return 't3' end)"
        "##,
    );
    fx.check_list("FUNCTION LIST");
    fx.check_all("FUNCTION STATS");
}

// ---------------------------------------------------------------------------------------------
// FCALL and FCALL_RO
// ---------------------------------------------------------------------------------------------

#[test]
fn diff_fcall_arguments() {
    let mut fx = Fx::new("diff_fcall_arguments");
    fx.check_all(
        r##"
        FUNCTION LOAD "#!lua name=args\nredis.register_function('ka', function(keys, args) return {keys, args} end)\nredis.register_function('n', function(keys, args, extra) return {#keys, #args, type(keys), type(args), type(extra), type(KEYS), type(ARGV)} end)\nredis.register_function{function_name='kr', callback=function(keys, args) return {keys, args} end, flags={'no-writes'}}"
        FCALL ka 0
        FCALL ka 2 k1 k2
        FCALL ka 2 k1 k2 a1 a2 a3
        FCALL ka 0 a1 a2
        FCALL ka 3 "" "" ""
        FCALL ka 0 ""
        FCALL n 1 k a b
        FCALL n 0
        FCALL_RO kr 1 k a
        FCALL_RO kr 0
        FCALL KA 1 k a
        FCALL Ka 1 k a
        fcall ka 1 k a
        fcall_ro KR 1 k a
        # numkeys
        FCALL ka
        FCALL ka x
        FCALL ka 1
        FCALL ka x a
        FCALL ka 1.5 a
        FCALL ka -1
        FCALL ka -1 a
        FCALL ka 2 a
        FCALL ka 3 a b
        FCALL ka 01 a
        FCALL ka +1 a
        FCALL ka " 1" a
        FCALL ka 9223372036854775808 a
        FCALL ka 2147483648 a
        FCALL ka 9223372036854775807 a
        FCALL ka -9223372036854775808 a
        FCALL_RO kr x
        FCALL_RO kr -1
        FCALL_RO kr 5 a
        # Unknown functions, before numkeys is read.
        FCALL nosuch 0
        FCALL nosuch x
        FCALL nosuch -1
        FCALL nosuch 5
        FCALL_RO nosuch 0
        FCALL "" 0
        FCALL args 0
        FCALL
        FCALL_RO
        FCALL_RO kr
        "##,
    );
    // Binary keys and arguments, many of them, a big one.
    let bin: Vec<Vec<u8>> = vec![
        b"FCALL".to_vec(),
        b"ka".to_vec(),
        b"1".to_vec(),
        b"k\x00\xff\r\n".to_vec(),
        b"\x00\x01\x02\r\n\xfe\xff".to_vec(),
        Vec::new(),
    ];
    fx.check(&bin);
    let mut many: Vec<String> = vec!["FCALL".into(), "n".into(), "300".into()];
    many.extend((0..300).map(|i| format!("key:{i}")));
    many.extend((0..500).map(|i| format!("arg-{i}")));
    fx.check(&many);
    many[1] = "ka".into();
    fx.check(&many);
    let big = "x".repeat(100_000);
    fx.check(&["FCALL", "ka", "1", big.as_str(), big.as_str()]);
}

#[test]
fn diff_fcall_ro_and_flags() {
    let mut fx = Fx::new("diff_fcall_ro_and_flags");
    fx.check_all(
        r##"
        SET k v
        LPUSH list a
        FUNCTION LOAD "#!lua name=rw\nredis.register_function('rw_get', function(keys) return redis.call('get', keys[1]) end)\nredis.register_function('rw_set', function(keys, args) return redis.call('set', keys[1], args[1]) end)"
        FCALL rw_get 1 k
        FCALL_RO rw_get 1 k
        FCALL_RO rw_set 1 k v2
        FCALL rw_set 1 k v2
        FUNCTION LOAD "#!lua name=ro\nredis.register_function{function_name='ro_get', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}\nredis.register_function{function_name='ro_set', callback=function(keys, args) return redis.call('set', keys[1], args[1]) end, flags={'no-writes'}}\nredis.register_function{function_name='ro_pset', callback=function(keys, args) return redis.pcall('set', keys[1], args[1]) end, flags={'no-writes'}}\nredis.register_function{function_name='ro_many', callback=function(keys) return {redis.call('type', keys[1]), redis.call('lrange', keys[2], 0, -1), redis.call('exists', keys[1], keys[2]), redis.pcall('lpush', keys[2], 'x'), redis.pcall('del', keys[1]), redis.pcall('expire', keys[1], 100)} end, flags={'NO-WRITES'}}\nredis.register_function{function_name='ro_dyn', callback=function(keys, args) return redis.call(args[1], keys[1]) end, flags={'no-writes'}}"
        FCALL ro_get 1 k
        FCALL_RO ro_get 1 k
        FCALL ro_set 1 k v3
        FCALL_RO ro_set 1 k v3
        FCALL ro_pset 1 k v3
        FCALL_RO ro_pset 1 k v3
        FCALL ro_many 2 k list
        FCALL_RO ro_many 2 k list
        FCALL ro_dyn 1 k get
        FCALL ro_dyn 1 k del
        FCALL ro_dyn 1 k incr
        FCALL ro_dyn 1 list lpop
        FCALL ro_dyn 1 k strlen
        GET k
        LRANGE list 0 -1
        # FCALL_RO of an unknown function, and the flag check comes before numkeys.
        FCALL_RO nosuch 0
        FCALL_RO rw_get x
        FCALL_RO ro_get x
        "##,
    );
}

#[test]
fn diff_fcall_errors() {
    let mut fx = Fx::new("diff_fcall_errors");
    fx.check_all(
        r##"
        SET str v
        LPUSH lst a
        FUNCTION LOAD "#!lua name=errs\nredis.register_function('err_string', function() error('boom') end)\nredis.register_function('err_table', function() error({err='MYERR custom'}) end)\nredis.register_function('err_table_noprefix', function() error({err='lowercase text'}) end)\nredis.register_function('err_reply', function() return redis.error_reply('E1 x') end)\nredis.register_function('err_reply_plain', function() return redis.error_reply('plain') end)\nredis.register_function('err_ret_table', function() return {err='RET table'} end)\nredis.register_function('status', function() return redis.status_reply('FINE') end)\nredis.register_function('status_table', function() return {ok='FINE2'} end)\nredis.register_function('err_runtime', function() local x = nil + 1 end)\nredis.register_function('err_number', function() error(42) end)\nredis.register_function('err_nil', function() error() end)\nredis.register_function('err_level', function() error('lvl', 2) end)\nredis.register_function('err_level0', function() error('lvl0', 0) end)\nredis.register_function('err_assert', function() assert(false, 'asserted') end)\nredis.register_function('err_global', function() return undefined_global end)\nredis.register_function('err_setglobal', function() newglobal = 1 end)"
        FCALL err_string 0
        FCALL ERR_STRING 0
        FCALL err_table 0
        FCALL err_table_noprefix 0
        FCALL err_reply 0
        FCALL err_reply_plain 0
        FCALL err_ret_table 0
        FCALL status 0
        FCALL status_table 0
        FCALL err_runtime 0
        FCALL err_number 0
        FCALL err_nil 0
        FCALL err_level 0
        FCALL err_level0 0
        FCALL err_assert 0
        FCALL err_global 0
        FCALL err_setglobal 0
        FUNCTION LOAD "#!lua name=calls\n\nredis.register_function('call_unknown', function() return redis.call('nosuch') end)\nredis.register_function('call_wrongtype', function() return redis.call('lpush', 'str', 'x') end)\nredis.register_function('call_arity', function() return redis.call('get') end)\nredis.register_function('call_noargs', function() return redis.call() end)\nredis.register_function('call_badarg', function() return redis.call('get', {}) end)\nredis.register_function('call_syntax', function() return redis.call('set', 'a', 'b', 'nx', 'xx') end)\nredis.register_function('call_forbidden', function() return redis.call('fcall', 'err_string', 0) end)\nredis.register_function('call_eval', function() return redis.call('eval', 'return 1', 0) end)\nredis.register_function('call_function', function() return redis.call('function', 'list') end)\nredis.register_function('call_multi', function() return redis.call('multi') end)\nredis.register_function('call_blocking', function() return redis.call('blpop', 'nolist', 0) end)\nredis.register_function('pcall_wrongtype', function() return redis.pcall('lpush', 'str', 'x') end)\nredis.register_function('pcall_unknown', function() return redis.pcall('nosuch') end)\nredis.register_function('pcall_fields', function() local e = redis.pcall('lpush', 'str', 'x') local t = {} for k in pairs(e) do t[#t+1] = k end table.sort(t) return t end)\nredis.register_function('lua_pcall', function() return {pcall(redis.call, 'lpush', 'str', 'x')} end)\nredis.register_function('lua_pcall_err', function() local ok, e = pcall(redis.call, 'lpush', 'str', 'x') return {ok, e.err} end)\nredis.register_function('lua_pcall_error', function() return {pcall(error, 'inner')} end)\nredis.register_function('xpcall_fields', function() return {xpcall(function() redis.call('nosuch') end, function(e) local t = {} for k in pairs(e) do t[#t+1] = k end table.sort(t) return t end)} end)\nredis.register_function('xpcall_source', function() return {xpcall(function() redis.call('nosuch') end, function(e) return {tostring(e.source), tostring(e.line)} end)} end)\nredis.register_function('write_then_error', function(keys) redis.call('set', keys[1], 'written') error('after write') end)"
        FCALL call_unknown 0
        FCALL call_wrongtype 0
        FCALL call_arity 0
        FCALL call_noargs 0
        FCALL call_badarg 0
        FCALL call_syntax 0
        FCALL call_forbidden 0
        FCALL call_eval 0
        FCALL call_function 0
        FCALL call_multi 0
        FCALL call_blocking 0
        FCALL pcall_wrongtype 0
        FCALL pcall_unknown 0
        FCALL pcall_fields 0
        FCALL lua_pcall 0
        FCALL lua_pcall_err 0
        FCALL lua_pcall_error 0
        FCALL xpcall_fields 0
        FCALL xpcall_source 0
        FCALL write_then_error 1 wk
        GET wk
        GET str
        LRANGE lst 0 -1
        "##,
    );
}

#[test]
fn diff_fcall_return_values() {
    let mut fx = Fx::new("diff_fcall_return_values");
    fx.check_all(
        r##"
        FUNCTION LOAD "#!lua name=ret\nredis.register_function('r', function(keys, args) return loadstring('return ' .. args[1])() end)"
        FCALL r 0 nil
        FCALL r 0 1
        FCALL r 0 -1.9
        FCALL r 0 3.99
        FCALL r 0 "'str'"
        FCALL r 0 true
        FCALL r 0 false
        FCALL r 0 {}
        FCALL r 0 "{1,2,{3,'x'}}"
        FCALL r 0 {1,nil,3}
        FCALL r 0 "{'a',false,'c'}"
        FCALL r 0 {x=1}
        FCALL r 0 "{ok='fine'}"
        FCALL r 0 "{err='ERR bad'}"
        FCALL r 0 {double=3.5}
        FCALL r 0 {map={a=1}}
        FCALL r 0 {set={a=true}}
        FCALL r 0 "{big_number='123'}"
        "##,
    );
}

#[test]
fn diff_fcall_resp3() {
    let mut fx = Fx::new("diff_fcall_resp3");
    fx.check_all(
        r##"
        HSET h f v
        SADD s m
        ZADD z 1.5 m
        SET str v
        FUNCTION LOAD "#!lua name=r3\nredis.register_function('r', function(keys, args) return loadstring('return ' .. args[1])() end)\nredis.register_function('c2', function(keys, args) return redis.call(unpack(args)) end)\nredis.register_function('c3', function(keys, args) redis.setresp(3) return redis.call(unpack(args)) end)\nlocal function ser(v) if type(v) ~= 'table' then return type(v) .. ':' .. tostring(v) end local t = {} for k, x in pairs(v) do t[#t+1] = tostring(k) .. '=' .. ser(x) end table.sort(t) return '{' .. table.concat(t, ',') .. '}' end\nredis.register_function('c3t', function(keys, args) redis.setresp(3) return ser(redis.call(unpack(args))) end)\nredis.register_function('sr', function(keys, args) return {pcall(redis.setresp, tonumber(args[1]))} end)\nredis.register_function('sr_bad', function(keys, args) return redis.setresp(args[1]) end)"
        FCALL c2 0 hgetall h
        FCALL c3 0 hgetall h
        FCALL c3 0 smembers s
        FCALL c3 0 zscore z m
        FCALL c3 0 get nosuch
        FCALL c3t 0 hgetall h
        FCALL c3t 0 smembers s
        FCALL c3t 0 zscore z m
        FCALL c3t 0 get nosuch
        FCALL c3t 0 zrange z 0 -1 withscores
        FCALL sr 0 2
        FCALL sr 0 3
        FCALL sr 0 4
        FCALL sr_bad 0 x
        FCALL r 0 {double=3.5}
        FCALL r 0 {map={a=1}}
        FCALL r 0 {set={a=true}}
        FCALL r 0 "{big_number='123'}"
        FCALL r 0 nil
        FCALL r 0 true
        FCALL r 0 false
        "##,
    );
    fx.hello3();
    fx.check_all(
        r##"
        FCALL c2 0 hgetall h
        FCALL c3 0 hgetall h
        FCALL c3 0 smembers s
        FCALL c3 0 zscore z m
        FCALL c3 0 get nosuch
        FCALL c3 0 zrange z 0 -1 withscores
        FCALL c3 0 lpush str x
        FCALL r 0 {double=3.5}
        FCALL r 0 {map={a=1}}
        FCALL r 0 {map={a={1,2}}}
        FCALL r 0 {set={a=true}}
        FCALL r 0 "{big_number='123'}"
        FCALL r 0 nil
        FCALL r 0 true
        FCALL r 0 false
        FCALL r 0 "{err='ERR bad'}"
        FCALL nosuch 0
        FUNCTION STATS
        FUNCTION HELP
        "##,
    );
    fx.check_list("FUNCTION LIST");
    fx.check_list("FUNCTION LIST WITHCODE");
}

#[test]
fn diff_fcall_select() {
    let mut fx = Fx::new("diff_fcall_select");
    fx.check_all(
        r##"
        FUNCTION LOAD "#!lua name=sel\nredis.register_function('sel_set', function(keys, args) redis.call('select', args[1]) redis.call('set', keys[1], args[2]) return redis.call('get', keys[1]) end)\nredis.register_function('get', function(keys) return redis.call('get', keys[1]) end)\nredis.register_function('sel_err', function() redis.call('select', 1) error('fail after select') end)\nredis.register_function('sel_bad', function(keys, args) return redis.pcall('select', args[1]) end)\nredis.register_function('dbsize', function() return redis.call('dbsize') end)"
        FCALL sel_set 1 k 1 one
        GET k
        FCALL get 1 k
        SELECT 1
        GET k
        FCALL get 1 k
        FCALL sel_set 1 k 0 zero
        GET k
        SELECT 0
        GET k
        FCALL sel_err 0
        FCALL dbsize 0
        FCALL sel_bad 0 20
        FCALL sel_bad 0 -1
        FCALL sel_bad 0 x
        SELECT 5
        FCALL sel_set 1 five 5 x
        FCALL dbsize 0
        SELECT 0
        MULTI
        FCALL sel_set 1 m 9 nine
        SET m zero
        GET m
        EXEC
        GET m
        SELECT 9
        GET m
        SELECT 0
        "##,
    );
}

#[test]
fn diff_function_globals() {
    let mut fx = Fx::new("diff_function_globals");
    fx.check_all(
        r##"
        FUNCTION LOAD "#!lua name=glob\nredis.register_function('types', function() local t = {} for _, n in ipairs({'__redis__err__handler', 'debug', 'redis', 'KEYS', 'ARGV', 'loadstring', 'error', 'pcall', 'os', 'print', 'dofile', 'loadfile', 'require', 'module', 'io', 'setfenv', 'getfenv', 'newproxy', 'package', 'collectgarbage', 'gcinfo', 'cjson', 'cmsgpack', 'bit', 'struct'}) do t[#t+1] = n .. '=' .. type(rawget(_G, n)) end return t end)\nredis.register_function('redis_types', function() local t = {} for _, n in ipairs({'breakpoint', 'debug', 'replicate_commands', 'setresp', 'register_function', 'set_repl', 'call', 'pcall', 'sha1hex', 'error_reply', 'status_reply', 'log', 'acl_check_cmd', 'REDIS_VERSION', 'REDIS_VERSION_NUM', 'LOG_DEBUG', 'REPL_ALL', 'REPL_SLAVE'}) do t[#t+1] = n .. '=' .. type(rawget(redis, n)) end return t end)\nredis.register_function('g', function() local g = {} for k in pairs(_G) do g[#g+1] = k end table.sort(g) return g end)\nredis.register_function('r', function() local g = {} for k in pairs(redis) do g[#g+1] = k end table.sort(g) return g end)\nredis.register_function('eval', function(keys, args) return loadstring(args[1])() end)"
        FCALL types 0
        FCALL redis_types 0
        FCALL g 0
        FCALL r 0
        FCALL eval 0 "return __redis__err__handler"
        FCALL eval 0 "return debug"
        FCALL eval 0 "return redis.breakpoint()"
        FCALL eval 0 "return redis.debug('x')"
        FCALL eval 0 "return redis.replicate_commands()"
        FCALL eval 0 "return redis.register_function"
        FCALL eval 0 "return KEYS"
        FCALL eval 0 "return ARGV"
        FCALL eval 0 "x = 1"
        FCALL eval 0 "_G.x = 1"
        FCALL eval 0 "rawset(_G, 'x', 1)"
        FCALL eval 0 "redis.foo = 1"
        FCALL eval 0 "redis.call = nil"
        FCALL eval 0 "string.foo = 1"
        FCALL eval 0 "return _G.nope"
        FCALL eval 0 "return rawget(_G, 'nope')"
        FCALL eval 0 "return {redis.setresp(2)}"
        FCALL eval 0 "return redis.set_repl(redis.REPL_ALL)"
        FCALL eval 0 "return redis.sha1hex('abc')"
        FCALL eval 0 "return redis.acl_check_cmd('get', 'k')"
        FCALL eval 0 "return redis.log(redis.LOG_DEBUG, 'from a function')"
        FCALL eval 0 "return type(redis.REDIS_VERSION_NUM)"
        FCALL eval 0 "return cjson.encode({1,2})"
        FCALL eval 0 "return string.format('%5.2f', 1.5)"
        FCALL eval 0 "return getmetatable('').__index == string"
        FCALL eval 0 "return _VERSION"
        FCALL eval 0 "local t = {} t.x = 1 return t.x"
        "##,
    );
    // A library's own upvalues persist between calls of its functions (the same loaded
    // chunk); a table created at load keeps its contents.
    fx.check_all(
        r##"
        FUNCTION LOAD "#!lua name=state\nlocal n = 0\nlocal t = {}\nredis.register_function('inc', function() n = n + 1 return n end)\nredis.register_function('push', function(keys, args) t[#t+1] = args[1] return t end)"
        FCALL inc 0
        FCALL inc 0
        FCALL push 0 a
        FCALL push 0 b
        FUNCTION LOAD REPLACE "#!lua name=state\nlocal n = 100\nredis.register_function('inc', function() n = n + 1 return n end)"
        FCALL inc 0
        FCALL push 0 c
        "##,
    );
}

/// math.random inside functions draws from the server's one sequence, as EVAL does: the same
/// calls on fresh servers give the same numbers.
#[test]
fn diff_function_math_random() {
    let mut fx = Fx::new("diff_function_math_random");
    fx.check_all(
        r##"
        FUNCTION LOAD "#!lua name=rnd\nredis.register_function('rnd', function() return {math.random(1000), math.random(1000), math.random(5, 10), tostring(math.random())} end)\nredis.register_function('seeded', function() math.randomseed(42) return {math.random(1000), tostring(math.random())} end)"
        FCALL rnd 0
        FCALL rnd 0
        FCALL seeded 0
        FCALL rnd 0
        "##,
    );
}

// ---------------------------------------------------------------------------------------------
// FUNCTION LIST, DELETE, FLUSH, STATS, KILL, HELP
// ---------------------------------------------------------------------------------------------

#[test]
fn diff_function_list() {
    let mut fx = Fx::new("diff_function_list");
    fx.check_all(
        r##"
        FUNCTION LIST
        FUNCTION LIST WITHCODE
        FUNCTION LIST LIBRARYNAME x
        FUNCTION LOAD "#!lua name=mylib\nredis.register_function{function_name='myfunc', callback=function() return 1 end, description='desc', flags={'no-writes', 'allow-stale'}}"
        FUNCTION LOAD "#!lua name=other_lib\nredis.register_function('otherfunc', function() return 2 end)"
        FUNCTION LOAD "#!lua name=MyLib2\nredis.register_function('f3', function() return 3 end)"
        @sorted FUNCTION LIST
        @sorted FUNCTION LIST WITHCODE
        FUNCTION LIST LIBRARYNAME mylib
        FUNCTION LIST LIBRARYNAME MYLIB
        FUNCTION LIST libraryname mylib withcode
        FUNCTION LIST WITHCODE LIBRARYNAME mylib
        FUNCTION LIST withcode libraryname MyLib
        @sorted FUNCTION LIST LIBRARYNAME my*
        @sorted FUNCTION LIST LIBRARYNAME MY*
        @sorted FUNCTION LIST LIBRARYNAME *lib*
        FUNCTION LIST LIBRARYNAME *_*
        FUNCTION LIST LIBRARYNAME mylib?
        FUNCTION LIST LIBRARYNAME mylib[0-9]
        FUNCTION LIST LIBRARYNAME mylib[^2]
        FUNCTION LIST LIBRARYNAME m?lib
        FUNCTION LIST LIBRARYNAME [a-n]ylib
        FUNCTION LIST LIBRARYNAME myfunc
        FUNCTION LIST LIBRARYNAME ""
        @sorted FUNCTION LIST LIBRARYNAME *
        FUNCTION LIST LIBRARYNAME mylib\
        # Argument errors.
        FUNCTION LIST LIBRARYNAME
        FUNCTION LIST WITHCODE LIBRARYNAME
        FUNCTION LIST x
        FUNCTION LIST WITHCODE WITHCODE
        FUNCTION LIST WITHCODE x
        FUNCTION LIST LIBRARYNAME mylib LIBRARYNAME other_lib
        FUNCTION LIST LIBRARYNAME mylib x
        FUNCTION LIST LIBRARYNAME mylib WITHCODE WITHCODE
        FUNCTION LIST WITHCODES
        FUNCTION LIST ""
        "##,
    );
    fx.check_list("FUNCTION LIST");
    fx.check_list("FUNCTION LIST WITHCODE");
    fx.check_list("FUNCTION LIST LIBRARYNAME *");
    fx.hello3();
    fx.check_all(
        r##"
        @sorted FUNCTION LIST
        @sorted FUNCTION LIST WITHCODE
        FUNCTION LIST LIBRARYNAME mylib
        FUNCTION LIST LIBRARYNAME mylib WITHCODE
        FUNCTION LIST LIBRARYNAME nothing
        FUNCTION LIST x
        "##,
    );
}

#[test]
fn diff_function_delete_and_flush() {
    let mut fx = Fx::new("diff_function_delete_and_flush");
    fx.check_all(
        r##"
        FUNCTION DELETE nosuch
        FUNCTION DELETE
        FUNCTION DELETE a b
        FUNCTION LOAD "#!lua name=dl\nredis.register_function('dlf', function() return 1 end)"
        FUNCTION DELETE DL
        FUNCTION DELETE dlf
        FCALL dlf 0
        FUNCTION DELETE dl
        FCALL dlf 0
        FUNCTION DELETE dl
        FUNCTION LIST
        FUNCTION STATS
        # The function name is free again.
        FUNCTION LOAD "#!lua name=dl2\nredis.register_function('DLF', function() return 2 end)"
        FCALL dlf 0
        # FLUSH with every option.
        FUNCTION FLUSH
        FUNCTION LIST
        FCALL dlf 0
        FUNCTION FLUSH
        FUNCTION LOAD "#!lua name=fl\nredis.register_function('flf', function() return 1 end)"
        FUNCTION FLUSH SYNC
        FCALL flf 0
        FUNCTION LOAD "#!lua name=fl\nredis.register_function('flf', function() return 1 end)"
        FUNCTION FLUSH async
        FCALL flf 0
        FUNCTION LIST
        FUNCTION LOAD "#!lua name=fl\nredis.register_function('flf', function() return 1 end)"
        FUNCTION FLUSH Sync
        FUNCTION FLUSH ASYNC
        FUNCTION FLUSH x
        FUNCTION FLUSH ""
        FUNCTION FLUSH SYNC ASYNC
        FUNCTION FLUSH SYNC x
        FUNCTION FLUSH a b c
        FUNCTION LOAD "#!lua name=fl\nredis.register_function('flf', function() return 1 end)"
        FUNCTION FLUSH x
        FCALL flf 0
        FUNCTION STATS
        # FLUSHALL and FLUSHDB keep the functions.
        FLUSHALL
        FLUSHDB
        FCALL flf 0
        "##,
    );
    // With lazyfree-lazy-user-flush on, a plain FLUSH is asynchronous: the same replies.
    fx.check_all(
        r##"
        CONFIG SET lazyfree-lazy-user-flush yes
        FUNCTION FLUSH
        FCALL flf 0
        FUNCTION LIST
        CONFIG SET lazyfree-lazy-user-flush no
        "##,
    );
}

#[test]
fn diff_function_stats_kill_help() {
    let mut fx = Fx::new("diff_function_stats_kill_help");
    fx.check_all(
        r##"
        FUNCTION STATS
        FUNCTION STATS x
        FUNCTION KILL
        FUNCTION KILL x
        SCRIPT KILL
        FUNCTION HELP
        FUNCTION help
        FUNCTION HELP x
        FUNCTION
        FUNCTION nosuch
        FUNCTION nosuch a b
        FUNCTION ""
        FUNCTION LOADX x
        FUNCTION LOAD "#!lua name=s1\nredis.register_function('s1a', function() return 1 end)\nredis.register_function('s1b', function() return 1 end)"
        FUNCTION LOAD "#!lua name=s2\nredis.register_function('s2a', function() return 1 end)"
        FUNCTION STATS
        FCALL s1a 0
        FUNCTION STATS
        FUNCTION KILL
        FUNCTION DELETE s1
        FUNCTION STATS
        FUNCTION FLUSH
        FUNCTION STATS
        COMMAND INFO fcall fcall_ro
        COMMAND GETKEYS FCALL f 2 a b c
        COMMAND GETKEYS FCALL_RO f 1 a b
        COMMAND GETKEYS FCALL f 0 a
        "##,
    );
    fx.hello3();
    fx.check_all(
        r##"
        FUNCTION LOAD "#!lua name=s3\nredis.register_function('s3a', function() return 1 end)"
        FUNCTION STATS
        FUNCTION KILL
        "##,
    );
}

// ---------------------------------------------------------------------------------------------
// FUNCTION DUMP and RESTORE
// ---------------------------------------------------------------------------------------------

/// Libraries with several functions each: their order in replies is hash-table order.
const DUMP_LIBS: &[(&str, &str)] = &[
    (
        "alpha",
        "redis.register_function('a1', function(keys, args) return {keys, args} end)\n\
         redis.register_function{function_name='a2', callback=function() return 'a2' end, description='second of alpha', flags={'no-writes'}}\n\
         redis.register_function{function_name='A3', callback=function(keys) return redis.call('incr', keys[1]) end, flags={'allow-oom', 'allow-stale'}}",
    ),
    (
        "beta",
        "local prefix = 'beta:'\n\
         redis.register_function('b1', function(keys, args) return prefix .. args[1] end)",
    ),
    (
        "gamma_3",
        "-- a comment and a long body, compressed in the payload\n\
         local data = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'\n\
         redis.register_function('g1', function() return #data end)\n\
         redis.register_function('g2', function() return data end)",
    ),
];

/// FCALLs of every function of [`DUMP_LIBS`] (or their "not found" errors).
const DUMP_CALLS: &str = r##"
    FCALL a1 1 k a
    FCALL a2 0
    FCALL_RO a2 0
    FCALL a3 1 counter
    FCALL b1 0 x
    FCALL g1 0
    FCALL g2 0
"##;

fn load_dump_libs(fx: &mut Fx) {
    for (name, body) in DUMP_LIBS {
        fx.check(&["FUNCTION", "LOAD", &lib(name, body)]);
    }
}

#[test]
fn diff_function_dump_restore_round_trips() {
    let mut fx = Fx::new("diff_function_dump_restore_round_trips");
    // Nothing loaded; then one library: the payload is byte-identical.
    fx.check_all(
        r##"
        FUNCTION DUMP
        FUNCTION DUMP x
        FUNCTION LOAD "#!lua name=one\nredis.register_function('o', function() return 'o' end)"
        FUNCTION DUMP
        CONFIG SET rdbcompression no
        FUNCTION DUMP
        CONFIG SET rdbcompression yes
        FUNCTION FLUSH
        "##,
    );
    let empty = bulk_bytes(&fx.check(&["FUNCTION", "DUMP"]));
    load_dump_libs(&mut fx);
    fx.check_list("FUNCTION LIST WITHCODE");
    fx.check_all(DUMP_CALLS);
    // Each server restores its own payload.
    let (fp, rp) = fx.both(&["FUNCTION", "DUMP"]);
    let (fp, rp) = (bulk_bytes(&fp), bulk_bytes(&rp));
    assert_eq!(
        fp.len(),
        rp.len(),
        "payload lengths (contents differ only by order)"
    );
    fx.check_all("FUNCTION FLUSH\nFUNCTION LIST\nFCALL a1 0");
    let (f, r) = (
        fx.ferrite.cmd(&[&b"FUNCTION"[..], b"RESTORE", &fp]),
        fx.redis.cmd(&[&b"FUNCTION"[..], b"RESTORE", &rp]),
    );
    fx.same("FUNCTION RESTORE of its own DUMP", &f, &r);
    fx.check_list("FUNCTION LIST WITHCODE");
    fx.check_all(DUMP_CALLS);
    fx.check_all("FUNCTION STATS");
    // Each server restores the other's payload.
    for policy in ["FLUSH", "REPLACE"] {
        let (f, r) = (
            fx.ferrite
                .cmd(&[&b"FUNCTION"[..], b"RESTORE", &rp, policy.as_bytes()]),
            fx.redis
                .cmd(&[&b"FUNCTION"[..], b"RESTORE", &fp, policy.as_bytes()]),
        );
        fx.same(&format!("FUNCTION RESTORE <other's DUMP> {policy}"), &f, &r);
        fx.check_list("FUNCTION LIST WITHCODE");
        fx.check_all(DUMP_CALLS);
    }
    fx.check_all("FUNCTION FLUSH");
    let (f, r) = (
        fx.ferrite.cmd(&[&b"FUNCTION"[..], b"RESTORE", &rp]),
        fx.redis.cmd(&[&b"FUNCTION"[..], b"RESTORE", &fp]),
    );
    fx.same("FUNCTION RESTORE <other's DUMP> (APPEND)", &f, &r);
    fx.check_list("FUNCTION LIST WITHCODE");
    fx.check_all(DUMP_CALLS);
    // APPEND of the same payload again collides.
    let (f, r) = (
        fx.ferrite.cmd(&[&b"FUNCTION"[..], b"RESTORE", &fp]),
        fx.redis.cmd(&[&b"FUNCTION"[..], b"RESTORE", &rp]),
    );
    let (pf, pr) = (Reply::from_raw(&f), Reply::from_raw(&r));
    assert!(
        matches!(&pf, Reply::Error(e) if e.starts_with("ERR Library ") && e.ends_with(" already exists")),
        "ferrite: {pf}"
    );
    assert!(
        matches!(&pr, Reply::Error(e) if e.starts_with("ERR Library ") && e.ends_with(" already exists")),
        "redis: {pr}"
    );
    // A payload of the other server after a payload of this one's: re-DUMP restores again.
    let (fp2, rp2) = fx.both(&["FUNCTION", "DUMP"]);
    let (fp2, rp2) = (bulk_bytes(&fp2), bulk_bytes(&rp2));
    fx.check_all("FUNCTION FLUSH");
    let (f, r) = (
        fx.ferrite.cmd(&[&b"FUNCTION"[..], b"RESTORE", &rp2]),
        fx.redis.cmd(&[&b"FUNCTION"[..], b"RESTORE", &fp2]),
    );
    fx.same("FUNCTION RESTORE <other's re-DUMP>", &f, &r);
    fx.check_list("FUNCTION LIST WITHCODE");
    // The empty payload: RESTORE FLUSH empties, APPEND keeps.
    let (f, r) = (
        fx.ferrite.cmd(&[&b"FUNCTION"[..], b"RESTORE", &empty]),
        fx.redis.cmd(&[&b"FUNCTION"[..], b"RESTORE", &empty]),
    );
    fx.same("FUNCTION RESTORE <empty DUMP>", &f, &r);
    fx.check_list("FUNCTION LIST");
    let (f, r) = (
        fx.ferrite
            .cmd(&[&b"FUNCTION"[..], b"RESTORE", &empty, b"FLUSH"]),
        fx.redis
            .cmd(&[&b"FUNCTION"[..], b"RESTORE", &empty, b"FLUSH"]),
    );
    fx.same("FUNCTION RESTORE <empty DUMP> FLUSH", &f, &r);
    fx.check_all("FUNCTION LIST\nFUNCTION STATS");
    fx.check_all(DUMP_CALLS);
}

/// An RDB string of up to 16383 bytes, uncompressed.
fn rdb_string(s: &str) -> Vec<u8> {
    let n = s.len();
    assert!(n < 16384);
    let mut v = if n < 64 {
        vec![n as u8]
    } else {
        vec![0x40 | (n >> 8) as u8, n as u8]
    };
    v.extend_from_slice(s.as_bytes());
    v
}

/// A library as a FUNCTION DUMP payload holds it: opcode 245 (RDB_OPCODE_FUNCTION2), its code.
fn func2(code: &str) -> Vec<u8> {
    let mut v = vec![245u8];
    v.extend(rdb_string(code));
    v
}

/// A library in the format of Redis 7.0-rc1/rc2 RDB files that 7.0 still loads: opcode 246,
/// its name, engine, an optional description and its code without a shebang.
fn func1(name: &str, engine: &str, desc: Option<&str>, code: &str) -> Vec<u8> {
    let mut v = vec![246u8];
    v.extend(rdb_string(name));
    v.extend(rdb_string(engine));
    match desc {
        Some(d) => {
            v.push(1);
            v.extend(rdb_string(d));
        }
        None => v.push(0),
    }
    v.extend(rdb_string(code));
    v
}

#[test]
fn diff_function_restore_policies() {
    let mut fx = Fx::new("diff_function_restore_policies");
    // One library per payload, so that every error names the same library or function.
    fx.check_all(
        r##"
        FUNCTION LOAD "#!lua name=lib1\nredis.register_function('f1', function() return 'v1' end)"
        "##,
    );
    let p1 = bulk_bytes(&fx.check(&["FUNCTION", "DUMP"]));
    fx.check_all(
        r##"
        FUNCTION LOAD REPLACE "#!lua name=lib1\nredis.register_function('f1', function() return 'v2' end)\nredis.register_function('f1b', function() return 'v2b' end)"
        "##,
    );
    // One library: the payloads are compared whole.
    let p1v2 = bulk_bytes(&fx.check(&["FUNCTION", "DUMP"]));
    fx.check_all(
        r##"
        FUNCTION FLUSH
        FUNCTION LOAD "#!lua name=lib2\nredis.register_function('F1', function() return 'lib2' end)"
        "##,
    );
    let p2 = bulk_bytes(&fx.check(&["FUNCTION", "DUMP"]));
    let restore = |fx: &mut Fx, payload: &[u8], policy: Option<&str>| {
        let mut args: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", payload];
        if let Some(p) = policy {
            args.push(p.as_bytes());
        }
        fx.check(&args);
    };
    // lib1 v2 has two functions: FUNCTION LIST is compared without order.
    let state = |fx: &mut Fx| {
        fx.check_list("FUNCTION LIST WITHCODE");
        fx.check_all("FCALL f1 0\nFCALL f1b 0");
    };
    // lib2 loaded; p1 has f1, which collides with lib2's F1 under every policy but FLUSH.
    restore(&mut fx, &p1, None);
    restore(&mut fx, &p1, Some("APPEND"));
    restore(&mut fx, &p1, Some("append"));
    restore(&mut fx, &p1, Some("REPLACE"));
    state(&mut fx);
    restore(&mut fx, &p1, Some("FLUSH"));
    state(&mut fx);
    // lib1 (v1) loaded: p1v2 is the same library.
    restore(&mut fx, &p1v2, None);
    restore(&mut fx, &p1v2, Some("APPEND"));
    state(&mut fx);
    restore(&mut fx, &p1v2, Some("Replace"));
    state(&mut fx);
    restore(&mut fx, &p1, Some("REPLACE"));
    state(&mut fx);
    restore(&mut fx, &p1v2, Some("flush"));
    state(&mut fx);
    // Into an empty set of libraries, then a library of other names.
    fx.check_all("FUNCTION FLUSH");
    restore(&mut fx, &p2, None);
    fx.check_all("FUNCTION LIST WITHCODE\nFCALL f1 0");
    restore(&mut fx, &p1v2, None);
    fx.check_all("FUNCTION LOAD \"#!lua name=lib3\\nredis.register_function('f3', function() return 3 end)\"");
    restore(&mut fx, &p1v2, Some("FLUSH"));
    fx.check_list("FUNCTION LIST WITHCODE");
    fx.check_all("FCALL f3 0\nFCALL f1 0");
    // Policy and arity errors, checked before the payload.
    restore(&mut fx, &p1, Some("x"));
    restore(&mut fx, &p1, Some(""));
    restore(&mut fx, b"garbage", Some("x"));
    fx.check(&[&b"FUNCTION"[..], b"RESTORE", &p1, b"FLUSH", b"x"]);
    fx.check(&[&b"FUNCTION"[..], b"RESTORE", b"garbage", b"FLUSH", b"x"]);
    fx.check_all("FUNCTION RESTORE");
    fx.check_list("FUNCTION LIST WITHCODE");
    // Bad payloads.
    restore(&mut fx, b"", None);
    restore(&mut fx, b"garbage", None);
    restore(&mut fx, b"0123456789", None);
    restore(&mut fx, &p1[..p1.len() - 1], None);
    let mut bad_crc = p1.clone();
    *bad_crc.last_mut().unwrap() ^= 1;
    restore(&mut fx, &bad_crc, None);
    let mut bad_body = p1.clone();
    bad_body[3] ^= 0x20;
    restore(&mut fx, &bad_body, Some("FLUSH"));
    fx.check_list("FUNCTION LIST WITHCODE");
    // Crafted payloads (valid frame): RDB version 10 and others, opcodes, codes.
    let code = lib(
        "crafted",
        "redis.register_function('cf', function() return 'crafted' end)",
    );
    let mut payloads: Vec<(String, Vec<u8>)> = vec![
        ("one library".into(), framed_payload(&func2(&code), 10)),
        ("RDB version 9".into(), framed_payload(&func2(&code), 9)),
        // (11 and 12, of Redis 7.2 and 7.4, Ferrite accepts on purpose: see
        // `restore_accepts_rdb_versions_of_redis_7_2_and_7_4`.)
        ("RDB version 13".into(), framed_payload(&func2(&code), 13)),
        (
            "RDB version 65535".into(),
            framed_payload(&func2(&code), 0xffff),
        ),
        ("RDB version 0".into(), framed_payload(&func2(&code), 0)),
        ("no body".into(), framed_payload(b"", 10)),
        ("opcode 0".into(), framed_payload(&[0, 1, b'x'], 10)),
        ("opcode 255".into(), framed_payload(&[255], 10)),
        (
            "truncated string".into(),
            framed_payload(&[245, 60, b'#', b'!'], 10),
        ),
        ("opcode only".into(), framed_payload(&[245], 10)),
        (
            "missing shebang".into(),
            framed_payload(&func2("return 1"), 10),
        ),
        (
            "bad engine".into(),
            framed_payload(&func2("#!py name=x\nreturn 1"), 10),
        ),
        (
            "compile error".into(),
            framed_payload(&func2("#!lua name=x\nreturn +"), 10),
        ),
        (
            "no function".into(),
            framed_payload(&func2("#!lua name=x\nreturn 1"), 10),
        ),
        (
            "runtime error".into(),
            framed_payload(&func2("#!lua name=x\nredis.call('ping')"), 10),
        ),
    ];
    let two_same = [func2(&code), func2(&code)].concat();
    payloads.push((
        "the same library twice".into(),
        framed_payload(&two_same, 10),
    ));
    let colliding = [
        func2(&code),
        func2("#!lua name=other\nredis.register_function('CF', function() end)"),
    ]
    .concat();
    payloads.push(("colliding functions".into(), framed_payload(&colliding, 10)));
    let then_bad = [func2(&code), vec![0, 1, b'x']].concat();
    payloads.push((
        "a library then a bad opcode".into(),
        framed_payload(&then_bad, 10),
    ));
    // Last (the 7.0-rc format): redis-server 7.0 still loads it.
    payloads.extend(vec![
        (
            "opcode 246, truncated".into(),
            framed_payload(&[246, 1, b'x', 1, b'y'], 10),
        ),
        (
            "opcode 246 (the 7.0-rc format)".into(),
            framed_payload(
                &func1(
                    "crafted",
                    "LUA",
                    None,
                    "redis.register_function('cf', function() return 'rc' end)",
                ),
                10,
            ),
        ),
        (
            "opcode 246 with a description".into(),
            framed_payload(
                &func1(
                    "crafted",
                    "lua",
                    Some("a library"),
                    "redis.register_function('cf', function() return 'rc2' end)",
                ),
                10,
            ),
        ),
        (
            "opcode 246, unknown engine".into(),
            framed_payload(&func1("crafted", "js", None, "return 1"), 10),
        ),
    ]);
    // Each from the same state: lib1 (f1) loaded.
    let base = lib(
        "lib1",
        "redis.register_function('f1', function() return 'base' end)",
    );
    for (what, payload) in &payloads {
        for policy in [None, Some("FLUSH")] {
            fx.check_all("FUNCTION FLUSH");
            fx.check(&["FUNCTION", "LOAD", &base]);
            let mut args: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", payload];
            if let Some(p) = policy {
                args.push(p.as_bytes());
            }
            let (f, r) = fx.both(&args);
            fx.same(&format!("FUNCTION RESTORE <{what}> {policy:?}"), &f, &r);
            fx.check_list("FUNCTION LIST WITHCODE");
            fx.check_all("FCALL cf 0\nFCALL f1 0");
        }
    }
}

/// Like RESTORE (tests/dump.rs), FUNCTION RESTORE accepts the RDB versions of Redis 7.2 (11)
/// and 7.4 (12), whose function payloads are the same; redis-server 7.0 refuses them.
#[test]
fn restore_accepts_rdb_versions_of_redis_7_2_and_7_4() {
    let server = Server::start();
    let mut c = server.raw();
    let code = lib(
        "v",
        "redis.register_function('vf', function() return 'v' end)",
    );
    let body = func2(&code);
    for version in [11u16, 12] {
        let p = framed_payload(&body, version);
        assert_eq!(
            c.cmd(&[&b"FUNCTION"[..], b"RESTORE", &p, b"FLUSH"]),
            b"+OK\r\n",
            "RDB version {version}"
        );
        assert_eq!(c.cmd(&["FCALL", "vf", "0"]), b"$1\r\nv\r\n");
    }
}

// ---------------------------------------------------------------------------------------------
// Transactions, WATCH, EVAL
// ---------------------------------------------------------------------------------------------

#[test]
fn diff_functions_in_multi() {
    let mut fx = Fx::new("diff_functions_in_multi");
    fx.check_all(
        r##"
        MULTI
        FUNCTION LOAD "#!lua name=m\nredis.register_function('minc', function(keys) return redis.call('incr', keys[1]) end)\nredis.register_function{function_name='mget', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}\nredis.register_function('merr', function() error('inside') end)"
        FCALL minc 1 c
        FCALL minc 1 c
        FCALL_RO mget 1 c
        FCALL_RO minc 1 c
        FCALL merr 0
        FCALL nosuch 0
        FCALL minc x
        FUNCTION STATS
        FUNCTION DELETE m
        FCALL minc 1 c
        EXEC
        GET c
        FUNCTION LOAD "#!lua name=m\nredis.register_function('minc', function(keys) return redis.call('incr', keys[1]) end)"
        MULTI
        FCALL minc 1 c
        FCALL minc
        FCALL minc 1 c
        EXEC
        GET c
        MULTI
        FCALL minc 1 c
        FUNCTION LOAD
        EXEC
        MULTI
        FUNCTION FLUSH
        FCALL minc 1 c
        FUNCTION LOAD "#!lua name=m\nredis.register_function('minc', function(keys) return redis.call('incrby', keys[1], 10) end)"
        FCALL minc 1 c
        FUNCTION STATS
        FUNCTION KILL
        FUNCTION DUMP
        FUNCTION HELP
        EXEC
        MULTI
        FCALL minc 1 c
        DISCARD
        GET c
        "##,
    );
    // FUNCTION RESTORE inside a transaction.
    let payload = bulk_bytes(&fx.check(&["FUNCTION", "DUMP"]));
    fx.check_all("MULTI\nFUNCTION FLUSH\nFCALL minc 1 c");
    fx.check(&[&b"FUNCTION"[..], b"RESTORE", &payload]);
    fx.check_all("FCALL minc 1 c\nEXEC\nGET c");
}

#[test]
fn diff_watch_and_functions() {
    let mut fx = Fx::new("diff_watch_and_functions");
    fx.check_two_clients(
        r##"
        FUNCTION LOAD "#!lua name=w\nredis.register_function('wset', function(keys, args) return redis.call('set', keys[1], args[1]) end)\nredis.register_function{function_name='wget', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}\nredis.register_function('wother', function() return redis.call('set', 'other', '1') end)\nredis.register_function('wfail', function(keys) return redis.pcall('lpush', keys[1], 'x') end)\nredis.register_function('wdel', function(keys) return redis.call('del', keys[1]) end)\nredis.register_function('werr', function(keys) redis.call('set', keys[1], 'e') error('after write') end)"
        SET w 1
        # A function that only reads the watched key: EXEC runs.
        WATCH w
        @2 FCALL wget 1 w
        @2 FCALL_RO wget 1 w
        MULTI
        GET w
        EXEC
        # A function of another client writes it: EXEC returns nil.
        WATCH w
        @2 FCALL wset 1 w 2
        MULTI
        GET w
        EXEC
        GET w
        # Writing another key does not count; a failed write does not either.
        WATCH w
        @2 FCALL wother 0
        @2 FCALL wfail 1 w
        MULTI
        GET w
        EXEC
        # A write before the function failed stays and counts.
        WATCH w
        @2 FCALL werr 1 w
        MULTI
        GET w
        EXEC
        GET w
        # The client's own function before MULTI counts.
        WATCH w
        FCALL wset 1 w 3
        MULTI
        GET w
        EXEC
        # Deleted by a function; then deleting a missing key does not count.
        WATCH w
        @2 FCALL wdel 1 w
        MULTI
        FCALL wget 1 w
        EXEC
        WATCH w
        @2 FCALL wdel 1 w
        MULTI
        FCALL wget 1 w
        EXEC
        # Writing the same value still counts.
        SET w same
        WATCH w
        @2 FCALL wset 1 w same
        MULTI
        GET w
        EXEC
        # Loading, deleting or flushing functions does not touch watched keys.
        WATCH w
        @2 FUNCTION LOAD "#!lua name=w2\nredis.register_function('w2', function() return 1 end)"
        @2 FUNCTION DELETE w2
        @2 FUNCTION FLUSH
        MULTI
        GET w
        EXEC
        "##,
    );
}

#[test]
fn diff_functions_and_eval() {
    let mut fx = Fx::new("diff_functions_and_eval");
    fx.check_all(
        r##"
        FUNCTION LOAD "#!lua name=fe\nredis.register_function('fe', function() return 'function' end)"
        SCRIPT LOAD "return 'script'"
        EVALSHA fb88974c6eef33706e77fb4669a046bc28979a72 0
        SCRIPT FLUSH
        FCALL fe 0
        FUNCTION LIST
        SCRIPT EXISTS fb88974c6eef33706e77fb4669a046bc28979a72
        SCRIPT LOAD "return 'script'"
        FUNCTION FLUSH
        EVALSHA fb88974c6eef33706e77fb4669a046bc28979a72 0
        SCRIPT EXISTS fb88974c6eef33706e77fb4669a046bc28979a72
        FCALL fe 0
        # A library's code is no script; a script's body is no library.
        FUNCTION LOAD "#!lua name=fe\nredis.register_function('fe', function() return 'function' end)"
        EVAL "#!lua name=fe\nredis.register_function('fe', function() return 'function' end)" 0
        EVAL "return redis.call('fcall', 'fe', 0)" 0
        EVAL "return redis.pcall('fcall', 'fe', 0)" 0
        EVAL "return redis.pcall('function', 'list')" 0
        EVAL "return redis.register_function" 0
        EVAL "return type(redis.setresp)" 0
        FUNCTION LOAD "return 'script'"
        SCRIPT FLUSH ASYNC
        FUNCTION FLUSH ASYNC
        FCALL fe 0
        "##,
    );
}

// ---------------------------------------------------------------------------------------------
// Busy functions (not differential)
// ---------------------------------------------------------------------------------------------

/// `assert_eq!` of two replies (raw bytes), shown escaped.
macro_rules! assert_reply {
    ($got:expr, $want:expr $(,)?) => {
        assert_eq!(common::escape(AsRef::<[u8]>::as_ref(&$got)), common::escape(AsRef::<[u8]>::as_ref(&$want)))
    };
    ($got:expr, $want:expr, $($msg:tt)+) => {
        assert_eq!(common::escape(AsRef::<[u8]>::as_ref(&$got)), common::escape(AsRef::<[u8]>::as_ref(&$want)), $($msg)+)
    };
}

const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
const BUSY_SCRIPT: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";

fn error_line(e: &str) -> Vec<u8> {
    format!("-{e}\r\n").into_bytes()
}

/// Waits 400 ms (past the 200 ms busy-reply-threshold), then (bounded) until FUNCTION STATS
/// shows a running function.
fn wait_busy(c: &mut RawConn, what: &str) {
    std::thread::sleep(Duration::from_millis(400));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = c.cmd_parsed(&["FUNCTION", "STATS"]);
        if matches!(&r, Reply::Array(v) if v.len() == 4 && matches!(v[1], Reply::Array(_))) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: no busy function after 5 s: FUNCTION STATS answered {r}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The busy-function scenario on `server` (started with `--busy-reply-threshold 200`).
/// `redis` tells which server it is: redis-server answers -BUSY to every command.
fn busy_function_scenario(server: &ServerProcess, redis: bool) {
    let what = if redis { "redis-server" } else { "ferrite" };
    let mut admin = server.raw();
    let code = lib(
        "busy",
        "redis.register_function('spin', function(keys) redis.call('get', keys[1]) while true do end end)\n\
         redis.register_function('quick', function() return 'quick' end)",
    );
    assert_reply!(
        admin.cmd(&["FUNCTION", "LOAD", &code]),
        b"$4\r\nbusy\r\n",
        "{what}"
    );
    assert_reply!(admin.cmd(&["SET", "bk", "1"]), b"+OK\r\n");
    assert_reply!(admin.cmd(&["SET", "other", "2"]), b"+OK\r\n");
    let mut caller = server.raw();
    caller.send(&["FCALL", "spin", "1", "bk"]);
    let started = Instant::now();
    let mut c = server.raw();
    wait_busy(&mut c, what);

    // FUNCTION STATS: the running function, its command and how long it has run.
    let stats = c.cmd_parsed(&["FUNCTION", "STATS"]);
    let Reply::Array(top) = &stats else {
        panic!("{what}: FUNCTION STATS: {stats}")
    };
    assert_eq!(top.len(), 4, "{what}: FUNCTION STATS: {stats}");
    assert_eq!(top[0], Reply::Bulk(b"running_script".to_vec()), "{what}");
    let Reply::Array(running) = &top[1] else {
        panic!("{what}: running_script: {}", top[1])
    };
    assert_eq!(running.len(), 6, "{what}: running_script: {}", top[1]);
    assert_eq!(running[0], Reply::Bulk(b"name".to_vec()), "{what}");
    assert_eq!(running[1], Reply::Bulk(b"spin".to_vec()), "{what}");
    assert_eq!(running[2], Reply::Bulk(b"command".to_vec()), "{what}");
    assert_eq!(
        running[3],
        Reply::Array(
            ["FCALL", "spin", "1", "bk"]
                .iter()
                .map(|a| Reply::Bulk(a.as_bytes().to_vec()))
                .collect()
        ),
        "{what}: the command"
    );
    assert_eq!(running[4], Reply::Bulk(b"duration_ms".to_vec()), "{what}");
    let ms = running[5].as_int().expect("duration_ms is an integer");
    let elapsed = started.elapsed().as_millis() as i64;
    assert!(
        (300..=elapsed + 50).contains(&ms),
        "{what}: duration_ms {ms}, {elapsed} ms since the FCALL was sent"
    );
    assert_eq!(top[2], Reply::Bulk(b"engines".to_vec()), "{what}");
    assert_eq!(
        top[3].to_string(),
        Reply::Array(vec![
            Reply::Bulk(b"LUA".to_vec()),
            Reply::Array(vec![
                Reply::Bulk(b"libraries_count".to_vec()),
                Reply::Integer(1),
                Reply::Bulk(b"functions_count".to_vec()),
                Reply::Integer(2),
            ]),
        ])
        .to_string(),
        "{what}: engines"
    );
    // The same in RESP3: maps.
    let mut c3 = server.raw();
    let hello = c3.cmd(&["HELLO", "3"]);
    if hello.starts_with(b"-BUSY") {
        assert!(redis, "{what}: HELLO 3: {}", fmt_reply(&hello));
    } else {
        assert!(
            hello.starts_with(b"%"),
            "{what}: HELLO 3: {}",
            fmt_reply(&hello)
        );
        let stats3 = c3.cmd_parsed(&["FUNCTION", "STATS"]);
        let Reply::Map(m) = &stats3 else {
            panic!("{what}: FUNCTION STATS in RESP3: {stats3}")
        };
        assert_eq!(m.len(), 2, "{what}: {stats3}");
        assert!(
            matches!(&m[0].1, Reply::Map(r) if r.len() == 3),
            "{what}: {stats3}"
        );
    }

    // SCRIPT KILL names FUNCTION KILL; the function's key is busy, other keys are not
    // (redis-server: every command is busy).
    let busy = error_line(BUSY_FUNCTION);
    assert_reply!(c.cmd(&["SCRIPT", "KILL"]), busy, "{what}: SCRIPT KILL");
    assert_reply!(
        c.cmd(&["GET", "bk"]),
        busy,
        "{what}: GET of the function's key"
    );
    assert_reply!(
        c.cmd(&["SET", "bk", "x"]),
        busy,
        "{what}: SET of the function's key"
    );
    assert_reply!(
        c.cmd(&["FCALL", "spin", "1", "bk"]),
        busy,
        "{what}: FCALL of the function's key"
    );
    if redis {
        assert_reply!(c.cmd(&["GET", "other"]), busy, "{what}: GET of another key");
        assert_reply!(c.cmd(&["PING"]), busy, "{what}: PING");
    } else {
        assert_reply!(
            c.cmd(&["GET", "other"]),
            b"$1\r\n2\r\n",
            "{what}: GET of another key"
        );
        assert_reply!(
            c.cmd(&["SET", "other2", "3"]),
            b"+OK\r\n",
            "{what}: SET of another key"
        );
        assert_reply!(c.cmd(&["PING"]), b"+PONG\r\n", "{what}: PING");
    }
    // The caller is still waiting.
    assert!(
        caller.try_read_reply(Duration::from_millis(50)).is_err(),
        "{what}: the caller got a reply while its function spins"
    );

    // FUNCTION KILL stops it; the caller gets the error.
    assert_reply!(
        c.cmd(&["FUNCTION", "KILL"]),
        b"+OK\r\n",
        "{what}: FUNCTION KILL"
    );
    let reply = caller.read_reply();
    assert_eq!(
        reply,
        error_line(
            "ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2."
        ),
        "{what}: the caller's reply: {}",
        fmt_reply(&reply)
    );
    // Back to normal.
    assert_reply!(c.cmd(&["GET", "bk"]), b"$1\r\n1\r\n", "{what}");
    assert_reply!(
        c.cmd(&["FCALL", "quick", "0"]),
        b"$5\r\nquick\r\n",
        "{what}"
    );
    assert_reply!(
        c.cmd(&["FUNCTION", "KILL"]),
        error_line("NOTBUSY No scripts in execution right now."),
        "{what}"
    );
    let stats = c.cmd_parsed(&["FUNCTION", "STATS"]);
    assert!(
        matches!(&stats, Reply::Array(v) if v.len() == 4 && v[1] == Reply::NullBulk),
        "{what}: FUNCTION STATS after the kill: {stats}"
    );
    assert_reply!(
        caller.cmd(&["PING"]),
        b"+PONG\r\n",
        "{what}: the caller is usable"
    );
}

/// The busy-EVAL scenario: FUNCTION KILL and FUNCTION STATS answer -BUSY naming SCRIPT KILL.
fn busy_eval_scenario(server: &ServerProcess, redis: bool) {
    let what = if redis { "redis-server" } else { "ferrite" };
    let mut caller = server.raw();
    caller.send(&[
        "EVAL",
        "redis.call('get', KEYS[1]) while true do end",
        "1",
        "ek",
    ]);
    let mut c = server.raw();
    std::thread::sleep(Duration::from_millis(400));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = c.cmd(&["FUNCTION", "KILL"]);
        if r == error_line(BUSY_SCRIPT) {
            break;
        }
        assert!(
            Instant::now() < deadline && r.starts_with(b"-NOTBUSY"),
            "{what}: FUNCTION KILL during a busy EVAL: {}",
            fmt_reply(&r)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let busy = error_line(BUSY_SCRIPT);
    assert_reply!(
        c.cmd(&["FUNCTION", "STATS"]),
        busy,
        "{what}: FUNCTION STATS"
    );
    assert_reply!(
        c.cmd(&["GET", "ek"]),
        busy,
        "{what}: GET of the script's key"
    );
    if !redis {
        assert_reply!(
            c.cmd(&["GET", "nokey"]),
            b"$-1\r\n",
            "{what}: GET of another key"
        );
    }
    assert_reply!(
        c.cmd(&["SCRIPT", "KILL"]),
        b"+OK\r\n",
        "{what}: SCRIPT KILL"
    );
    let reply = caller.read_reply();
    let text = String::from_utf8_lossy(&reply).into_owned();
    assert!(
        text.starts_with("-ERR Script killed by user with SCRIPT KILL... script: ")
            && text.ends_with(", on @user_script:1.\r\n"),
        "{what}: the caller's reply: {}",
        fmt_reply(&reply)
    );
    let stats = c.cmd(&["FUNCTION", "STATS"]);
    assert!(
        stats.starts_with(b"*4\r\n$14\r\nrunning_script\r\n$-1\r\n"),
        "{what}: FUNCTION STATS after the kill: {}",
        fmt_reply(&stats)
    );
    assert_reply!(
        c.cmd(&["SCRIPT", "KILL"]),
        error_line("NOTBUSY No scripts in execution right now."),
        "{what}"
    );
}

/// A busy function (or, `eval`, a busy EVAL) that wrote: FUNCTION KILL and SCRIPT KILL both
/// answer UNKILLABLE (redis-server checks for writes before the kind of script); SHUTDOWN
/// NOSAVE ends it.
fn unkillable_scenario(server: &mut ServerProcess, redis: bool, eval: bool) {
    let what = match (redis, eval) {
        (true, false) => "redis-server, function",
        (true, true) => "redis-server, EVAL",
        (false, false) => "ferrite, function",
        (false, true) => "ferrite, EVAL",
    };
    let mut caller = server.raw();
    let body = "redis.call('set', KEYS[1], 'w') while true do end";
    if eval {
        caller.send(&["EVAL", body, "1", "wk"]);
    } else {
        let code = lib(
            "wbusy",
            "redis.register_function('wspin', function(keys) redis.call('set', keys[1], 'w') while true do end end)",
        );
        assert_reply!(
            caller.cmd(&["FUNCTION", "LOAD", &code]),
            b"$5\r\nwbusy\r\n",
            "{what}"
        );
        caller.send(&["FCALL", "wspin", "1", "wk"]);
    }
    let mut c = server.raw();
    std::thread::sleep(Duration::from_millis(400));
    let deadline = Instant::now() + Duration::from_secs(5);
    let busy = error_line(if eval { BUSY_SCRIPT } else { BUSY_FUNCTION });
    loop {
        // GET of the script's key: -BUSY once the script is busy.
        let r = c.cmd(&["GET", "wk"]);
        if r == busy {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: GET of the key of a script that should be busy: {}",
            fmt_reply(&r)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (own, other) = if eval {
        ("SCRIPT", "FUNCTION")
    } else {
        ("FUNCTION", "SCRIPT")
    };
    assert_reply!(
        c.cmd(&[own, "KILL"]),
        error_line(UNKILLABLE),
        "{what}: {own} KILL of a script that wrote"
    );
    assert_reply!(
        c.cmd(&[other, "KILL"]),
        error_line(UNKILLABLE),
        "{what}: {other} KILL of a script that wrote"
    );
    c.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(
        server.wait_exit(Duration::from_secs(10)).is_some(),
        "{what}: SHUTDOWN NOSAVE ends the server during a busy script"
    );
}

#[test]
fn busy_function_ferrite() {
    let server = Server::with_args(&["--busy-reply-threshold", "200"]);
    busy_function_scenario(&server, false);
    busy_eval_scenario(&server, false);
}

#[test]
fn busy_function_unkillable_ferrite() {
    let mut server = Server::with_args(&["--busy-reply-threshold", "200"]);
    unkillable_scenario(&mut server, false, false);
}

#[test]
fn busy_eval_unkillable_ferrite() {
    let mut server = Server::with_args(&["--busy-reply-threshold", "200"]);
    unkillable_scenario(&mut server, false, true);
}

/// The expectations of the busy tests hold on redis-server (but for its -BUSY to every
/// command).
#[test]
fn busy_function_redis_reference() {
    let server = RedisServer::with_args(&["--busy-reply-threshold", "200"]);
    busy_function_scenario(&server, true);
    busy_eval_scenario(&server, true);
    for eval in [false, true] {
        let mut server = RedisServer::with_args(&["--busy-reply-threshold", "200"]);
        unkillable_scenario(&mut server, true, eval);
    }
}
