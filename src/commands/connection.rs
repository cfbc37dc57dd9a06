//! Connection commands: PING ECHO QUIT SELECT HELLO AUTH RESET.

use super::flags::*;
use super::{acl, errors, Command, Ctx, KeySpec};
use crate::server::client::ReplyMode;

/// The Redis version Ferrite reports (INFO, HELLO): the one whose behaviour it
/// implements, so clients enable the right features.
pub const REDIS_VERSION: &str = "7.2.4";

/// [`REDIS_VERSION`] as Redis encodes it (`0x00MMmmpp`), for scripts'
/// `redis.REDIS_VERSION_NUM`.
pub const REDIS_VERSION_NUM: i32 = 0x0007_0204;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    Command::new("ping", -1, FAST, KeySpec::NONE, acl::FAST | acl::CONNECTION, ping)
        .doc("connection", "1.0.0", "Returns the server's liveliness response.", "O(1)")
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    Command::new("echo", 2, LOADING | STALE | FAST, KeySpec::NONE, acl::FAST | acl::CONNECTION, echo)
        .doc("connection", "1.0.0", "Returns the given string.", "O(1)"),
    Command::new("quit", -1, ALLOW_BUSY | NOSCRIPT | NO_AUTH | LOADING | STALE | FAST, KeySpec::NONE, acl::FAST | acl::CONNECTION, quit)
        .doc("connection", "1.0.0", "Closes the connection.", "O(1)"),
    Command::new("select", 2, LOADING | STALE | FAST, KeySpec::NONE, acl::FAST | acl::CONNECTION, select)
        .doc("connection", "1.0.0", "Changes the selected database.", "O(1)"),
    Command::new("hello", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, KeySpec::NONE, acl::FAST | acl::CONNECTION, hello)
        .doc("connection", "6.0.0", "Handshakes with the Redis server.", "O(1)"),
    Command::new("auth", -2, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, KeySpec::NONE, acl::FAST | acl::CONNECTION, auth)
        .doc("connection", "1.0.0", "Authenticates the connection.", "O(N) where N is the number of passwords defined for the user"),
    Command::new("reset", 1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, KeySpec::NONE, acl::FAST | acl::CONNECTION, reset)
        .doc("connection", "6.2.0", "Resets the connection.", "O(1)"),
];

fn ping(ctx: &mut Ctx, args: &[&[u8]]) {
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(args[1]),
        _ => ctx.error(&errors::wrong_arity("ping")),
    }
}

fn echo(ctx: &mut Ctx, args: &[&[u8]]) {
    ctx.out.bulk(args[1]);
}

fn quit(ctx: &mut Ctx, _args: &[&[u8]]) {
    ctx.out.ok();
    ctx.client.close_after_reply = true;
}

fn select(ctx: &mut Ctx, args: &[&[u8]]) {
    if let Some(db) = ctx.db_index_arg(args[1]) {
        ctx.select(db);
        ctx.out.ok();
    }
}

/// Checks a password against `requirepass` in constant time with respect to
/// the password's contents.
fn password_ok(ctx: &Ctx, user: &[u8], pass: &[u8]) -> bool {
    let Some(expected) = ctx.shared.config.requirepass() else {
        return user == b"default";
    };
    if user != b"default" {
        return false;
    }
    let mut diff = (expected.len() != pass.len()) as u8;
    for (i, b) in expected.iter().enumerate() {
        diff |= b ^ pass.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn auth(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() > 3 {
        return ctx.error(errors::SYNTAX);
    }
    let (user, pass): (&[u8], &[u8]) = if args.len() == 2 {
        if ctx.shared.config.requirepass().is_none() {
            return ctx.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
        }
        (b"default", args[1])
    } else {
        (args[1], args[2])
    };
    if password_ok(ctx, user, pass) {
        ctx.client.authenticated = true;
        ctx.out.ok();
    } else {
        auth_failed(ctx);
    }
}

/// Replies WRONGPASS and counts the failure (INFO `acl_access_denied_auth`).
fn auth_failed(ctx: &mut Ctx) {
    ctx.shared
        .stats
        .auth_failures
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ctx.error(WRONGPASS);
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]: checks
/// the version and options (a bad client name fails before any AUTH), then
/// authenticates, names the connection and switches protocol.
fn hello(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut proto = None;
    if args.len() >= 2 {
        match crate::util::num::parse_i64(args[1]) {
            Some(v) if v == 2 || v == 3 => proto = Some(v as u8),
            Some(_) => return ctx.error("NOPROTO unsupported protocol version"),
            None => return ctx.error("ERR Protocol version is not an integer or out of range"),
        }
    }
    let mut i = 2;
    let mut auth_pair = None;
    let mut setname = None;
    while i < args.len() {
        let more = args.len() - i - 1;
        if args[i].eq_ignore_ascii_case(b"AUTH") && more >= 2 {
            auth_pair = Some((args[i + 1], args[i + 2]));
            i += 3;
        } else if args[i].eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
            if let Err(e) = super::client_name_ok(args[i + 1]) {
                return ctx.error(e);
            }
            setname = Some(args[i + 1]);
            i += 2;
        } else {
            return ctx.error(&format!(
                "ERR Syntax error in HELLO option '{}'",
                errors::sanitize(args[i], 128)
            ));
        }
    }
    if let Some((user, pass)) = &auth_pair {
        if !password_ok(ctx, user, pass) {
            return auth_failed(ctx);
        }
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return ctx.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(name) = &setname {
        ctx.client.info.set_name(name);
    }
    if let Some(p) = proto {
        ctx.client.resp = p;
        ctx.client
            .info
            .resp
            .store(p, std::sync::atomic::Ordering::Relaxed);
        ctx.out.resp3 = p == 3;
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(ctx.client.resp as i64);
    out.bulk(b"id");
    out.int(ctx.client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
}

fn reset(ctx: &mut Ctx, _args: &[&[u8]]) {
    super::multi::end(ctx.client, ctx.shared);
    ctx.select(0);
    let c = &mut *ctx.client;
    c.resp = 2;
    c.info.resp.store(2, std::sync::atomic::Ordering::Relaxed);
    c.reply_mode = ReplyMode::On;
    c.no_touch = false;
    c.no_evict = false;
    c.info
        .no_touch
        .store(false, std::sync::atomic::Ordering::Relaxed);
    c.info
        .no_evict
        .store(false, std::sync::atomic::Ordering::Relaxed);
    *c.info.name.lock().unwrap_or_else(|e| e.into_inner()) = None;
    c.authenticated = ctx.shared.config.requirepass().is_none();
    ctx.out.resp3 = false;
    ctx.out.simple("RESET");
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_number_matches_version() {
        let parts: Vec<i32> = super::REDIS_VERSION
            .split('.')
            .map(|p| p.parse().expect("numeric version"))
            .collect();
        assert_eq!(
            super::REDIS_VERSION_NUM,
            (parts[0] << 16) | (parts[1] << 8) | parts[2]
        );
    }
}
