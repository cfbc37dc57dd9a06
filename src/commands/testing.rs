//! Commands that exist only in builds with the `test-commands` feature, for
//! integration tests that need the server to misbehave on purpose. They are
//! hidden from COMMAND (LIST, INFO, COUNT), so the command table still
//! matches Redis's, and a release build does not have them at all.

use super::flags::*;
use super::key_flags::{INSERT, RW};
use super::{acl, Command, Ctx, KeySpec, KeySpecEntry};
use crate::types::list::{End, List};
use crate::types::{Str, Value};

pub static COMMANDS: &[Command] = &[
    Command::new(
        "ferrite-test-panic-mset",
        -3,
        WRITE,
        KeySpec::NONE,
        acl::WRITE,
        panic_mset,
    ),
    Command::new(
        "ferrite-test-panic-rpush",
        3,
        WRITE,
        KeySpec::one(1),
        acl::WRITE,
        panic_rpush,
    )
    .key_specs(&[KeySpecEntry::one(1, RW | INSERT)]),
];

/// `FERRITE-TEST-PANIC-RPUSH key element`: a single-key write, so it can
/// join a pipelined run on its key (`server::connection::runs`). It pushes
/// `element` onto the list the latch holds (in place when this latch holds
/// a private copy already), then panics. The key must be as before the
/// whole run, and none of the run's replies may be sent.
fn panic_rpush(ctx: &mut Ctx, args: &[&[u8]]) {
    let Ok(mut latch) = ctx.keys.write(args[1]) else {
        return;
    };
    let pushed = latch.update(|v| {
        if let Value::List(l) = v {
            l.push(End::Tail, args[2]);
        }
        panic!("ferrite-test-panic-rpush: deliberate panic in the middle of a change");
    });
    if pushed.is_none() {
        latch.set(Value::List(List::from_items([args[2]], -2)));
        panic!("ferrite-test-panic-rpush: deliberate panic with a new value staged");
    }
}

/// `FERRITE-TEST-PANIC-MSET key value [key value ...]`: latches every key,
/// stages every new value and part of a reply, then panics before the
/// latches are released. The keys must all stay as they were, the latches
/// must be released, and only this connection may close.
fn panic_mset(ctx: &mut Ctx, args: &[&[u8]]) {
    let keys: Vec<&[u8]> = args[1..].chunks(2).map(|p| p[0]).collect();
    let Ok(mut set) = ctx.keys.write_many(&keys) else {
        return;
    };
    for (i, p) in args[1..].chunks(2).enumerate() {
        let value = p.get(1).copied().unwrap_or(b"");
        set.nth(i)
            .set_with_expire(Value::Str(Str::from_arg(value)), None);
    }
    ctx.out.array(2);
    panic!(
        "ferrite-test-panic-mset: deliberate panic with {} keys latched",
        keys.len()
    );
}
