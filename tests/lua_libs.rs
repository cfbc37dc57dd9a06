//! The Redis Lua libraries Ferrite implements (`ferrite::scripting`), differential against a
//! real redis-server 7.0: each snippet runs as `EVAL <snippet> 0` on redis-server and in an
//! in-process Lua 5.1 state with Ferrite's libraries, and the replies must be identical
//! (redis-server's ` script: <sha>, on @user_script:N.` suffix on errors is left out: EVAL
//! adds it, and EVAL is not built yet). Hand-written cases cover every function, argument
//! errors and edge values; a seeded random part compares thousands of calls.

mod common;

use common::gen::Rng;
use common::{fmt_reply, RawConn, RedisServer};
use ferrite::scripting;

/// redis-server's reply to `EVAL body 0`, without the script suffix of errors.
fn redis_eval(conn: &mut RawConn, body: &str) -> Vec<u8> {
    let reply = conn.cmd(&["EVAL", body, "0"]);
    if reply.first() == Some(&b'-') {
        let text = String::from_utf8_lossy(&reply).into_owned();
        if let Some(at) = text.find(" script: ") {
            return format!("{}\r\n", &text[..at]).into_bytes();
        }
    }
    reply
}

fn check(conn: &mut RawConn, lua: &mlua::Lua, body: &str) {
    let ours = scripting::eval_to_resp2(lua, body);
    let theirs = redis_eval(conn, body);
    assert_eq!(
        fmt_reply(&ours),
        fmt_reply(&theirs),
        "script: {body}\n  ferrite: {:?}\n  redis:   {:?}",
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );
}

#[test]
fn diff_bit() {
    let redis = RedisServer::start();
    let mut conn = redis.raw();
    let lua = scripting::libraries_vm().expect("a Lua state");
    for body in [
        "return bit.tobit(2.5)",
        "return bit.tobit(1.5)",
        "return bit.tobit(-1.5)",
        "return bit.tobit(-2.5)",
        "return bit.tobit(0.5)",
        "return bit.tobit(2^32 + 5)",
        "return bit.tobit(2^31)",
        "return bit.tobit(-2^31 - 1)",
        "return bit.tobit(2^53)",
        "return bit.tobit(1e300)",
        "return bit.tobit('0x10')",
        "return bit.tobit(' 12 ')",
        "return bit.tohex(65535)",
        "return bit.tohex(-1)",
        "return bit.tohex(-1, -4)",
        "return bit.tohex(255, 0)",
        "return bit.tohex(255, 12)",
        "return bit.tohex(0x12345678, 3)",
        "return bit.tohex(0x12345678, -3)",
        "return bit.tohex(1, 2.9)",
        "return bit.tohex(1, '4')",
        "return bit.bnot(0)",
        "return bit.bnot(-1)",
        "return bit.band(0xff, 0x0f, 7)",
        "return bit.band(-1)",
        "return bit.bor(1, 2, 4, 8)",
        "return bit.bxor(0xff, 0x0f)",
        "return bit.bxor(5)",
        "return bit.lshift(1, 40)",
        "return bit.lshift(1, 31)",
        "return bit.lshift(1, -1)",
        "return bit.rshift(-256, 4)",
        "return bit.arshift(-256, 4)",
        "return bit.arshift(256, 36)",
        "return bit.rol(0x12345678, 12)",
        "return bit.ror(0x12345678, 12)",
        "return bit.rol(1, -1)",
        "return bit.bswap(0x12345678)",
        "return bit.bswap(-1)",
        "return bit.band()",
        "return bit.band('x')",
        "return bit.band(1, nil)",
        "return bit.band(1, 2, {})",
        "return bit.bor(true)",
        "return bit.lshift(1)",
        "return bit.lshift()",
        "return bit.tobit()",
        "return bit.tohex()",
        "return bit.tohex(1, 'a')",
        "return bit.tohex(1, nil)",
        "return {pcall(bit.band)}",
        "return {pcall(function() return bit.rol('z', 1) end)}",
        "local b = bit.bxor return b(1, 2)",
        "return type(bit)",
        "return type(bit.tobit)",
    ] {
        check(&mut conn, &lua, body);
    }
}

#[test]
fn diff_bit_random() {
    let redis = RedisServer::start();
    let mut conn = redis.raw();
    let lua = scripting::libraries_vm().expect("a Lua state");
    let seed = common::gen::seed_from_env();
    let mut rng = Rng::new(seed);
    let fns = [
        "tobit", "bnot", "bswap", "band", "bor", "bxor", "lshift", "rshift", "arshift", "rol",
        "ror", "tohex",
    ];
    let number = |rng: &mut Rng| -> String {
        match rng.below(6) {
            0 => rng.range(-40, 40).to_string(),
            1 => rng.range(i32::MIN as i64, i32::MAX as i64).to_string(),
            2 => format!("{}.5", rng.range(-100, 100)),
            3 => format!("2^{}", rng.range(0, 60)),
            4 => format!("-2^{} + {}", rng.range(0, 60), rng.range(-3, 3)),
            _ => format!("{}", rng.next_u64() as i64),
        }
    };
    for _ in 0..2000 {
        let f = fns[rng.below(fns.len() as u64) as usize];
        let argc = 1 + rng.below(3) as usize;
        let args: Vec<String> = (0..argc).map(|_| number(&mut rng)).collect();
        let body = format!("return bit.{f}({})", args.join(", "));
        check(&mut conn, &lua, &body);
    }
    eprintln!("diff_bit_random: 2000 calls, no difference (seed {seed})");
}

/// What a script returns, as a reply (`scripting::reply`).
#[test]
fn diff_return_values() {
    let redis = RedisServer::start();
    let mut conn = redis.raw();
    let lua = scripting::libraries_vm().expect("a Lua state");
    for body in [
        "return 'x'",
        "return ''",
        "return 3.99",
        "return -3.99",
        "return 0",
        "return 2^53",
        "return true",
        "return false",
        "return nil",
        "return",
        "return {}",
        "return {1, 'a', {2, 3, {}}, true, false, 'z'}",
        "return {1, 2, nil, 4}",
        "return {ok='fine'}",
        "return {ok='two\\nlines\\r'}",
        "return {err='BAD thing'}",
        "return {err='x\\r\\ny'}",
        "return {err='E', ok='both'}",
        "return {ok=1}",
        "return {err=2}",
        "return {double=1.5}",
        "return {double=3}",
        "return {{ok='nested'}, {err='NESTED e'}}",
        "return setmetatable({}, {__index=function() return 1 end})",
        "return function() end",
        "return {x=1, y=2}",
        "return {1, 2, x=3}",
        "return 'with\\0zero'",
        "error('boom')",
        "error('no position', 0)",
        "return {pcall(error, 'inner')}",
    ] {
        check(&mut conn, &lua, body);
    }
}
