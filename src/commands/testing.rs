//! Commands that exist only in builds with the `test-commands` feature, for
//! integration tests that need the server to misbehave on purpose. They are
//! hidden from COMMAND (LIST, INFO, COUNT), so the command table still
//! matches Redis's, and a release build does not have them at all.

use super::flags::*;
use super::{acl, Command, Ctx, KeySpec};
use crate::types::{Str, Value};

pub static COMMANDS: &[Command] = &[Command::new(
    "ferrite-test-panic-mset",
    -3,
    WRITE,
    KeySpec::NONE,
    acl::WRITE,
    panic_mset,
)];

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
