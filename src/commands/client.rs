//! CLIENT: connection management (ID, SETNAME, GETNAME, LIST, INFO, KILL,
//! PAUSE, UNPAUSE, UNBLOCK, REPLY, NO-EVICT, NO-TOUCH, SETINFO, HELP).

use super::flags::*;
use super::introspection::help_reply;
use super::{acl, errors, Command, Ctx, KeySpec};
use crate::server::client::{cflags, ClientType, Pause, ReplyMode};
use crate::server::ClientInfo;
use crate::store::waiters::Cancel;
use bytes::Bytes;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

const G: &str = "connection";
/// Flags shared by most CLIENT subcommands.
const BASE: u64 = NOSCRIPT | LOADING | STALE;
const ADMIN_ACL: u64 = acl::ADMIN | acl::SLOW | acl::DANGEROUS | acl::CONNECTION;
const CONN_ACL: u64 = acl::SLOW | acl::CONNECTION;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[Command::new("client", -2, 0, KeySpec::NONE, acl::SLOW, unknown_sub)
    .doc(G, "2.4.0", "A container for commands that inspect and manage client connections.", "Depends on subcommand.")
    .subs(SUBCOMMANDS)];

#[rustfmt::skip]
static SUBCOMMANDS: &[Command] = &[
    Command::new("client|getname", 2, BASE, KeySpec::NONE, CONN_ACL, getname)
        .doc(G, "2.6.9", "Returns the name of this connection.", "O(1)"),
    Command::new("client|help", 2, LOADING | STALE, KeySpec::NONE, CONN_ACL, help)
        .doc(G, "5.0.0", "Describes the CLIENT subcommands.", "O(1)"),
    Command::new("client|id", 2, BASE, KeySpec::NONE, CONN_ACL, id)
        .doc(G, "5.0.0", "Returns the unique ID of this connection.", "O(1)"),
    Command::new("client|info", 2, BASE, KeySpec::NONE, CONN_ACL, info)
        .doc(G, "6.2.0", "Describes this connection in the CLIENT LIST format.", "O(1)")
        .tips(&["nondeterministic_output"]),
    Command::new("client|kill", -3, ADMIN | BASE, KeySpec::NONE, ADMIN_ACL, kill)
        .doc(G, "2.4.0", "Closes the connections that match an address or a set of filters.", "O(N) where N is the number of client connections"),
    Command::new("client|list", -2, ADMIN | BASE, KeySpec::NONE, ADMIN_ACL, list)
        .doc(G, "2.4.0", "Describes every connection, optionally only those of a type or with given IDs.", "O(N) where N is the number of client connections")
        .tips(&["nondeterministic_output"]),
    Command::new("client|no-evict", 3, ADMIN | BASE, KeySpec::NONE, ADMIN_ACL, no_evict)
        .doc(G, "7.0.0", "Exempts this connection from client eviction, or makes it eligible again.", "O(1)"),
    Command::new("client|no-touch", 3, BASE, KeySpec::NONE, CONN_ACL, no_touch)
        .doc(G, "7.2.0", "Stops (or resumes) this connection's commands from updating keys' access time.", "O(1)"),
    Command::new("client|pause", -3, ADMIN | BASE, KeySpec::NONE, ADMIN_ACL, pause)
        .doc(G, "3.0.0", "Holds back commands from all clients, or only writes, for some milliseconds.", "O(1)"),
    Command::new("client|reply", 3, BASE, KeySpec::NONE, CONN_ACL, reply)
        .doc(G, "3.2.0", "Turns this connection's replies off, on, or off for the next command only.", "O(1)"),
    Command::new("client|setinfo", 4, BASE, KeySpec::NONE, CONN_ACL, setinfo)
        .doc(G, "7.2.0", "Records the client library name or version shown by CLIENT LIST.", "O(1)")
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
    Command::new("client|setname", 3, BASE, KeySpec::NONE, CONN_ACL, setname)
        .doc(G, "2.6.9", "Names this connection.", "O(1)")
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
    Command::new("client|unblock", -3, ADMIN | BASE, KeySpec::NONE, ADMIN_ACL, unblock)
        .doc(G, "5.0.0", "Unblocks a client blocked by a blocking command from a different connection.", "O(log N) where N is the number of client connections"),
    Command::new("client|unpause", 2, ADMIN | BASE, KeySpec::NONE, ADMIN_ACL, unpause)
        .doc(G, "6.2.0", "Ends a pause started by CLIENT PAUSE.", "O(N) Where N is the number of paused clients"),
];

/// The container itself never runs (its arity needs a subcommand); if it
/// ever did, this is what Redis answers for a bad subcommand.
fn unknown_sub(ctx: &mut Ctx, args: &[&[u8]]) {
    let sub = args.get(1).map_or(&b""[..], |a| &a[..]);
    ctx.error(&format!(
        "ERR unknown subcommand '{}'. Try CLIENT HELP.",
        errors::sanitize(sub, 128)
    ));
}

const HELP: &[&str] = &[
    "GETNAME",
    "    Reply with the name of this connection, or a null reply if it has none.",
    "ID",
    "    Reply with the unique ID of this connection.",
    "INFO",
    "    Describe this connection in the CLIENT LIST line format.",
    "KILL <ip:port>",
    "    Close the connection that comes from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Close every connection matching all of the filters:",
    "    * ID <client-id>",
    "      The connection with this ID.",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Connections coming from this address.",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Connections made to this local address.",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Connections of this type.",
    "    * USER <username>",
    "      Connections authenticated as this user.",
    "    * SKIPME (YES|NO)",
    "      Whether to spare the calling connection (default: YES).",
    "    * MAXAGE <maxage>",
    "      Connections open for at least <maxage> seconds.",
    "LIST [options ...]",
    "    Describe connections, one per line. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Only connections of this type.",
    "    * ID <client-id> [<client-id> ...]",
    "      Only the connections with these IDs.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock a client blocked in a blocking command, as if it timed out (the default) or with an error.",
    "UNPAUSE",
    "    End a pause started by CLIENT PAUSE.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Hold back every command (ALL, the default) or only writes (WRITE) for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Turn replies on, off, or off for the next command only.",
    "SETNAME <name>",
    "    Name this connection (an empty name removes it).",
    "SETINFO <option> <value>",
    "    Record client library details shown by CLIENT LIST. Options:",
    "    * LIB-NAME: the library's name.",
    "    * LIB-VER: the library's version.",
    "NO-EVICT (ON|OFF)",
    "    Exempt this connection from client eviction, or not.",
    "NO-TOUCH (ON|OFF)",
    "    Keep this connection's commands from updating keys' LRU/LFU data, or not.",
];

fn help(ctx: &mut Ctx, args: &[&[u8]]) {
    help_reply(ctx, args[0], HELP);
}

fn id(ctx: &mut Ctx, _args: &[&[u8]]) {
    ctx.out.int(ctx.client.id as i64);
}

fn getname(ctx: &mut Ctx, _args: &[&[u8]]) {
    match ctx.client.info.name() {
        Some(n) => ctx.out.bulk(&n),
        None => ctx.out.null(),
    }
}

fn setname(ctx: &mut Ctx, args: &[&[u8]]) {
    if let Err(e) = super::client_name_ok(args[2]) {
        return ctx.error(e);
    }
    ctx.client.info.set_name(args[2]);
    ctx.out.ok();
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2): an empty value clears
/// the attribute; the same character rules as client names apply.
fn setinfo(ctx: &mut Ctx, args: &[&[u8]]) {
    let attr = &args[2];
    let slot = if attr.eq_ignore_ascii_case(b"lib-name") {
        &ctx.client.info.lib_name
    } else if attr.eq_ignore_ascii_case(b"lib-ver") {
        &ctx.client.info.lib_ver
    } else {
        return ctx.error(&format!(
            "ERR Unrecognized option '{}'",
            errors::sanitize(attr, 128)
        ));
    };
    let val = &args[3];
    if val.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return ctx.error(&format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            errors::sanitize(attr, 128)
        ));
    }
    *slot.lock().unwrap_or_else(|e| e.into_inner()) =
        (!val.is_empty()).then(|| Bytes::copy_from_slice(val));
    ctx.out.ok();
}

fn info(ctx: &mut Ctx, _args: &[&[u8]]) {
    let mut s = String::new();
    client_line(&mut s, &ctx.client.info, crate::util::time::now_ms());
    s.push('\n');
    ctx.out.verbatim(s.as_bytes());
}

/// CLIENT LIST [TYPE type] | [ID id [id ...]]
fn list(ctx: &mut Ctx, args: &[&[u8]]) {
    let now = crate::util::time::now_ms();
    let mut s = String::new();
    if args.len() == 4 && args[2].eq_ignore_ascii_case(b"type") {
        let Some(t) = ClientType::parse(args[3]) else {
            return ctx.error(&unknown_type(args[3]));
        };
        for c in ctx.shared.clients.snapshot() {
            if c.client_type() == t {
                client_line(&mut s, &c, now);
                s.push('\n');
            }
        }
    } else if args.len() > 3 && args[2].eq_ignore_ascii_case(b"id") {
        let mut ids = Vec::with_capacity(args.len() - 3);
        for a in &args[3..] {
            match crate::util::num::parse_i64(a) {
                Some(v) => ids.push(v),
                None => return ctx.error("ERR Invalid client ID"),
            }
        }
        for id in ids {
            let found = u64::try_from(id)
                .ok()
                .and_then(|id| ctx.shared.clients.get(id));
            if let Some(c) = found {
                client_line(&mut s, &c, now);
                s.push('\n');
            }
        }
    } else if args.len() != 2 {
        return ctx.error(errors::SYNTAX);
    } else {
        for c in ctx.shared.clients.snapshot() {
            client_line(&mut s, &c, now);
            s.push('\n');
        }
    }
    ctx.out.verbatim(s.as_bytes());
}

fn unknown_type(name: &[u8]) -> String {
    format!("ERR Unknown client type '{}'", errors::sanitize(name, 128))
}

/// The CLIENT LIST flag letters, in Redis's order; `N` when none applies.
fn flag_letters(c: &ClientInfo) -> String {
    let f = c.flags.load(Ordering::Relaxed);
    let mut s = String::new();
    let table = [
        (cflags::MONITOR, 'O'),
        (cflags::REPLICA, 'S'),
        (cflags::MASTER, 'M'),
        (cflags::PUBSUB, 'P'),
        (cflags::MULTI, 'x'),
        (cflags::BLOCKED, 'b'),
        (cflags::TRACKING, 't'),
        (cflags::TRACKING_BCAST, 'B'),
        (cflags::DIRTY_CAS, 'd'),
        (cflags::CLOSE_AFTER_REPLY, 'c'),
        (cflags::UNBLOCKED, 'u'),
        (cflags::READONLY, 'r'),
    ];
    for (bit, letter) in table {
        // A MONITOR client is shown as `O` only, not also as a replica.
        if f & bit != 0 && !(bit == cflags::REPLICA && f & cflags::MONITOR != 0) {
            s.push(letter);
        }
    }
    if c.no_evict.load(Ordering::Relaxed) {
        s.push('e');
    }
    if c.no_touch.load(Ordering::Relaxed) {
        s.push('T');
    }
    if s.is_empty() {
        s.push('N');
    }
    s
}

/// Appends one CLIENT LIST line (without the newline) in Redis 7.2's format.
pub fn client_line(s: &mut String, c: &ClientInfo, now_ms: u64) {
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let text = |b: Option<Bytes>| {
        b.map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let (qbuf, qbuf_free, argv_mem) = (load(&c.qbuf), load(&c.qbuf_free), load(&c.argv_mem));
    let (multi_mem, rbs, rbp) = (load(&c.multi_mem), load(&c.rbs), load(&c.rbp));
    let (obl, omem) = (load(&c.obl), load(&c.omem));
    let tot_mem = c.memory_estimate();
    let _ = write!(
        s,
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} \
         qbuf={qbuf} qbuf-free={qbuf_free} argv-mem={argv_mem} multi-mem={multi_mem} rbs={rbs} rbp={rbp} \
         obl={obl} oll={} omem={omem} tot-mem={tot_mem} events=r cmd={} user={} redir=-1 resp={} \
         lib-name={} lib-ver={}",
        c.id,
        c.addr,
        c.laddr,
        c.fd,
        text(c.name()),
        now_ms.saturating_sub(c.created_ms) / 1000,
        now_ms.saturating_sub(c.last_interaction_ms.load(Ordering::Relaxed)) / 1000,
        flag_letters(c),
        c.db.load(Ordering::Relaxed),
        c.sub.load(Ordering::Relaxed),
        c.psub.load(Ordering::Relaxed),
        c.ssub.load(Ordering::Relaxed),
        c.multi.load(Ordering::Relaxed),
        u64::from(omem > 0),
        c.last_cmd_name(),
        c.user_name(),
        c.resp.load(Ordering::Relaxed),
        text(c.lib_name()),
        text(c.lib_ver()),
    );
}

/// Which connections CLIENT KILL closes.
struct KillFilter {
    addr: Option<Bytes>,
    laddr: Option<Bytes>,
    id: Option<u64>,
    ctype: Option<ClientType>,
    user: Option<String>,
    skipme: bool,
    max_age_secs: Option<u64>,
}

impl KillFilter {
    fn matches(&self, c: &ClientInfo, me: u64, now_ms: u64) -> bool {
        let addr_is = |want: &Option<Bytes>, have: std::net::SocketAddr| {
            want.as_ref()
                .is_none_or(|w| w[..] == *have.to_string().as_bytes())
        };
        addr_is(&self.addr, c.addr)
            && addr_is(&self.laddr, c.laddr)
            && self.ctype.is_none_or(|t| c.client_type() == t)
            && self.id.is_none_or(|id| c.id == id)
            && self.user.as_ref().is_none_or(|u| *u == c.user_name())
            && !(self.skipme && c.id == me)
            && self
                .max_age_secs
                .is_none_or(|m| now_ms.saturating_sub(c.created_ms) / 1000 >= m)
    }
}

/// Parses the filter form of CLIENT KILL, replying with Redis's error on a
/// bad option.
fn parse_kill_filters(ctx: &mut Ctx, args: &[&[u8]]) -> Option<KillFilter> {
    let mut f = KillFilter {
        addr: None,
        laddr: None,
        id: None,
        ctype: None,
        user: None,
        skipme: true,
        max_age_secs: None,
    };
    let mut i = 2;
    while i < args.len() {
        let (opt, val) = (&args[i], args.get(i + 1));
        let Some(val) = val else {
            ctx.error(errors::SYNTAX);
            return None;
        };
        if opt.eq_ignore_ascii_case(b"id") {
            match crate::util::num::parse_i64(val) {
                Some(v) if v >= 1 => f.id = Some(v as u64),
                _ => {
                    ctx.error("ERR client-id should be greater than 0");
                    return None;
                }
            }
        } else if opt.eq_ignore_ascii_case(b"maxage") {
            match crate::util::num::parse_i64(val) {
                Some(v) if v > 0 => f.max_age_secs = Some(v as u64),
                Some(_) => {
                    ctx.error("ERR maxage should be greater than 0");
                    return None;
                }
                None => {
                    ctx.error("ERR maxage is not an integer or out of range");
                    return None;
                }
            }
        } else if opt.eq_ignore_ascii_case(b"type") {
            let Some(t) = ClientType::parse(val) else {
                ctx.error(&unknown_type(val));
                return None;
            };
            f.ctype = Some(t);
        } else if opt.eq_ignore_ascii_case(b"addr") {
            f.addr = Some(Bytes::copy_from_slice(val));
        } else if opt.eq_ignore_ascii_case(b"laddr") {
            f.laddr = Some(Bytes::copy_from_slice(val));
        } else if opt.eq_ignore_ascii_case(b"user") {
            // Until ACL users exist, `default` is the only user.
            if &val[..] != b"default" {
                ctx.error(&format!(
                    "ERR No such user '{}'",
                    errors::sanitize(val, 128)
                ));
                return None;
            }
            f.user = Some("default".into());
        } else if opt.eq_ignore_ascii_case(b"skipme") {
            if val.eq_ignore_ascii_case(b"yes") {
                f.skipme = true;
            } else if val.eq_ignore_ascii_case(b"no") {
                f.skipme = false;
            } else {
                ctx.error(errors::SYNTAX);
                return None;
            }
        } else {
            ctx.error(errors::SYNTAX);
            return None;
        }
        i += 2;
    }
    Some(f)
}

/// CLIENT KILL ip:port (replies OK or an error, may kill the caller) or
/// CLIENT KILL <filter> <value> ... (replies with the number killed). Each
/// matching connection is closed by its own task as soon as it is woken.
fn kill(ctx: &mut Ctx, args: &[&[u8]]) {
    let old_form = args.len() == 3;
    let filter = if old_form {
        KillFilter {
            addr: Some(Bytes::copy_from_slice(args[2])),
            laddr: None,
            id: None,
            ctype: None,
            user: None,
            skipme: false,
            max_age_secs: None,
        }
    } else {
        match parse_kill_filters(ctx, args) {
            Some(f) => f,
            None => return,
        }
    };
    let me = ctx.client.id;
    let now = crate::util::time::now_ms();
    let mut killed = 0;
    let mut kill_me = false;
    for c in ctx.shared.clients.snapshot() {
        if !filter.matches(&c, me, now) {
            continue;
        }
        if c.id == me {
            kill_me = true;
        } else {
            c.request_kill();
        }
        killed += 1;
    }
    if old_form {
        if killed == 0 {
            ctx.error("ERR No such client");
        } else {
            ctx.out.ok();
        }
    } else {
        ctx.out.int(killed);
    }
    if kill_me {
        ctx.client.close_after_reply = true;
    }
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if the client was blocked on keys
/// and is now unblocked, 0 otherwise.
fn unblock(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() > 4 {
        return ctx.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            errors::sanitize(args[1], 128)
        ));
    }
    let mut why = Cancel::Timeout;
    if args.len() == 4 {
        if args[3].eq_ignore_ascii_case(b"error") {
            why = Cancel::Error;
        } else if !args[3].eq_ignore_ascii_case(b"timeout") {
            return ctx.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        }
    }
    let Some(id) = ctx.int_arg(args[2]) else {
        return;
    };
    let waiter = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.shared.clients.get(id))
        .and_then(|c| crate::server::client::lock(&c.waiter).clone());
    let done = waiter.is_some_and(|w| super::blocking::unblock(&w, why));
    ctx.out.int(i64::from(done));
}

/// CLIENT PAUSE timeout [WRITE|ALL]
fn pause(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() > 4 {
        return ctx.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            errors::sanitize(args[1], 128)
        ));
    }
    let mut all = true;
    if args.len() == 4 {
        if args[3].eq_ignore_ascii_case(b"write") {
            all = false;
        } else if !args[3].eq_ignore_ascii_case(b"all") {
            return ctx.error("ERR CLIENT PAUSE mode must be WRITE or ALL");
        }
    }
    let Some(ms) = crate::util::num::parse_i64(args[2]) else {
        return ctx.error("ERR timeout is not an integer or out of range");
    };
    if ms < 0 {
        return ctx.error("ERR timeout is negative");
    }
    let until_ms = crate::util::time::now_ms().saturating_add(ms as u64);
    ctx.shared.pause.pause(Pause { until_ms, all });
    ctx.out.ok();
}

fn unpause(ctx: &mut Ctx, _args: &[&[u8]]) {
    ctx.shared.pause.unpause();
    ctx.out.ok();
}

/// CLIENT REPLY ON|OFF|SKIP. ON answers OK; OFF and SKIP answer nothing (the
/// connection drops the reply of this command and, for OFF, of every
/// following one; for SKIP, of the next one).
fn reply(ctx: &mut Ctx, args: &[&[u8]]) {
    let mode = &args[2];
    if mode.eq_ignore_ascii_case(b"on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if mode.eq_ignore_ascii_case(b"off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if mode.eq_ignore_ascii_case(b"skip") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        ctx.error(errors::SYNTAX);
    }
}

/// Parses ON/OFF, replying with a syntax error otherwise.
fn on_off(ctx: &mut Ctx, arg: &[u8]) -> Option<bool> {
    if arg.eq_ignore_ascii_case(b"on") {
        Some(true)
    } else if arg.eq_ignore_ascii_case(b"off") {
        Some(false)
    } else {
        ctx.error(errors::SYNTAX);
        None
    }
}

fn no_evict(ctx: &mut Ctx, args: &[&[u8]]) {
    if let Some(on) = on_off(ctx, args[2]) {
        ctx.client.no_evict = on;
        ctx.client.info.no_evict.store(on, Ordering::Relaxed);
        ctx.out.ok();
    }
}

/// CLIENT NO-TOUCH ON: this connection's commands stop updating keys' access
/// time (except TOUCH itself), so OBJECT IDLETIME and eviction are unaffected.
fn no_touch(ctx: &mut Ctx, args: &[&[u8]]) {
    if let Some(on) = on_off(ctx, args[2]) {
        ctx.client.no_touch = on;
        ctx.client.info.no_touch.store(on, Ordering::Relaxed);
        ctx.out.ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn info() -> Arc<ClientInfo> {
        Arc::new(ClientInfo::new(
            7,
            "127.0.0.1:5000".parse().unwrap(),
            "127.0.0.1:6379".parse().unwrap(),
            9,
        ))
    }

    #[test]
    fn list_line_has_redis_72_fields_in_order() {
        let c = info();
        let mut s = String::new();
        client_line(&mut s, &c, c.created_ms);
        let keys: Vec<&str> = s
            .split(' ')
            .map(|kv| kv.split('=').next().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "addr",
                "laddr",
                "fd",
                "name",
                "age",
                "idle",
                "flags",
                "db",
                "sub",
                "psub",
                "ssub",
                "multi",
                "qbuf",
                "qbuf-free",
                "argv-mem",
                "multi-mem",
                "rbs",
                "rbp",
                "obl",
                "oll",
                "omem",
                "tot-mem",
                "events",
                "cmd",
                "user",
                "redir",
                "resp",
                "lib-name",
                "lib-ver"
            ]
        );
        assert!(s.starts_with(
            "id=7 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=9 name= age=0 idle=0 flags=N db=0"
        ));
        assert!(s.contains(" multi=-1 "));
        assert!(s.contains(" cmd=NULL user=default redir=-1 resp=2 lib-name= lib-ver="));
    }

    #[test]
    fn flags_follow_redis_order() {
        let c = info();
        c.set_flag(cflags::BLOCKED);
        c.set_flag(cflags::PUBSUB);
        c.no_touch.store(true, Ordering::Relaxed);
        assert_eq!(flag_letters(&c), "PbT");
        assert_eq!(c.client_type(), ClientType::Pubsub);
        c.set_flag(cflags::MONITOR | cflags::REPLICA);
        assert!(flag_letters(&c).starts_with('O'));
        assert_eq!(c.client_type(), ClientType::Pubsub);
    }

    #[test]
    fn kill_filter_matching() {
        let c = info();
        let mut f = KillFilter {
            addr: Some(Bytes::from_static(b"127.0.0.1:5000")),
            laddr: None,
            id: None,
            ctype: Some(ClientType::Normal),
            user: None,
            skipme: true,
            max_age_secs: None,
        };
        assert!(f.matches(&c, 1, c.created_ms));
        assert!(!f.matches(&c, 7, c.created_ms), "skipme spares the caller");
        f.max_age_secs = Some(10);
        assert!(!f.matches(&c, 1, c.created_ms + 9_000));
        assert!(f.matches(&c, 1, c.created_ms + 10_000));
        f.laddr = Some(Bytes::from_static(b"127.0.0.1:1"));
        assert!(!f.matches(&c, 1, c.created_ms + 10_000));
    }
}
