//! Generic key commands.

use super::flags::*;
use super::{acl, Command, Ctx, KeySpec};
use crate::store::{lock_many, read_many, Keyspace};
use bytes::Bytes;

const G: &str = "generic";

pub static COMMANDS: &[Command] = &[
    Command::new("del", -2, WRITE, KeySpec::range(1, -1, 1), acl::KEYSPACE | acl::WRITE | acl::SLOW, del)
        .doc(G, "1.0.0", "Deletes one or more keys.", "O(N) where N is the number of keys that will be removed."),
    Command::new("exists", -2, READONLY | FAST, KeySpec::range(1, -1, 1), acl::KEYSPACE | acl::READ | acl::FAST, exists)
        .doc(G, "1.0.0", "Determines whether one or more keys exist.", "O(N) where N is the number of keys to check."),
];

fn del(ctx: &mut Ctx, args: &[Bytes]) {
    let db: &Keyspace = ctx.db();
    let pairs: Vec<(&Keyspace, &[u8])> = args[1..].iter().map(|k| (db, &k[..])).collect();
    let mut set = lock_many(&pairs, ctx.clock.no_touch(), ctx.guard);
    let mut n = 0;
    for k in &args[1..] {
        if set.get(db, k).delete() {
            n += 1;
        }
    }
    drop(set);
    ctx.out.int(n);
}

fn exists(ctx: &mut Ctx, args: &[Bytes]) {
    let keys: Vec<&[u8]> = args[1..].iter().map(|a| &a[..]).collect();
    let n = read_many(ctx.db(), &keys, ctx.clock, ctx.guard)
        .iter()
        .filter(|v| v.is_some())
        .count();
    ctx.out.int(n as i64);
}
