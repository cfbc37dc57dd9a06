//! The Redis Lua libraries Ferrite implements (`ferrite::scripting`), differential against a
//! real redis-server 7.0: each snippet runs as `EVAL <snippet> 0` on redis-server and in an
//! in-process Lua 5.1 state made as each Ferrite worker makes its own (`scripting::vm`), and
//! the replies must be identical, errors' ` script: <sha>, on @user_script:N.` suffix
//! included. (In-process, so the thousands of cases cost no round trips; `tests/scripting.rs`
//! runs EVAL on the server.) Hand-written cases cover every function, argument errors and
//! edge values; a seeded random part compares thousands of calls.

mod common;

use common::gen::Rng;
use common::{fmt_reply, RawConn, RedisServer};
use ferrite::scripting::{self, vm::Vm};

/// redis-server's reply to `EVAL body 0`.
fn redis_eval(conn: &mut RawConn, body: &str) -> Vec<u8> {
    conn.cmd(&["EVAL", body, "0"])
}

fn check(conn: &mut RawConn, lua: &mut Vm, body: &str) {
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
    let mut lua = Vm::new(0, true).expect("a Lua state");
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
        check(&mut conn, &mut lua, body);
    }
}

#[test]
fn diff_bit_random() {
    let redis = RedisServer::start();
    let mut conn = redis.raw();
    let mut lua = Vm::new(0, true).expect("a Lua state");
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
        check(&mut conn, &mut lua, &body);
    }
    eprintln!("diff_bit_random: 2000 calls, no difference (seed {seed})");
}

/// What a script returns, as a reply (`scripting::reply`).
#[test]
fn diff_return_values() {
    let redis = RedisServer::start();
    let mut conn = redis.raw();
    let mut lua = Vm::new(0, true).expect("a Lua state");
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
        check(&mut conn, &mut lua, body);
    }
}

/// Hex of a packed string, so binary results compare readably.
const HEX: &str = "local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end ";

#[test]
fn diff_struct() {
    let redis = RedisServer::start();
    let mut conn = redis.raw();
    let mut lua = Vm::new(0, true).expect("a Lua state");
    let packs = [
        "'>I2', 258",
        "'<I2', 258",
        "'b', -1",
        "'B', 255",
        "'B', 256",
        "'h', -2",
        "'>H', 65535",
        "'l', -3",
        "'>L', 2^53",
        "'T', 7",
        "'i', -1",
        "'>i3', 70000",
        "'<I7', 2^50 + 3",
        "'>i12', -5",
        "'<i12', -5",
        "'i32', 1",
        "'I1', 1.9",
        "'i', -1.9",
        "'I', 2^64",
        "'i8', -2^63",
        "'i8', 2^63",
        "'I8', 2^63 + 2^20",
        "'f', 1.5",
        "'>f', -0.1",
        "'d', 1/3",
        "'>d', -2.5",
        "'x'",
        "'xxb', 1",
        "'c3', 'abcdef'",
        "'c0', 'whole'",
        "'c', 'xy'",
        "'s', 'zero'",
        "'s', ''",
        "'>!4 b i', 1, 2",
        "'!4 b h b i b d', 1, 2, 3, 4, 5, 6",
        "'! b d', 1, 2",
        "'!2 b i', 1, 2",
        "'!1 b i', 1, 2",
        "'!8 b c5 i', 1, 'hello', 2",
        "'b   B', 1, 2",
        "'>b<h', 1, 2",
        "'i', '42'",
        "'s', 42",
        "''",
    ];
    for args in packs {
        check(
            &mut conn,
            &mut lua,
            &format!("{HEX}return hex(struct.pack({args}))"),
        );
    }
    let errors = [
        "return struct.pack('y', 1)",
        "return struct.pack('i33', 1)",
        "return struct.pack('i99999999999', 1)",
        "return struct.pack('!3 i', 1)",
        "return struct.pack('i')",
        "return struct.pack('i', 'x')",
        "return struct.pack('c5', 'abc')",
        "return struct.pack('b c5', 1, 'abc')",
        "return struct.pack('s')",
        "return struct.pack('d', {})",
        "return struct.pack()",
        "return struct.pack({})",
        "return {pcall(struct.pack, 'q')}",
        "return struct.size('s')",
        "return struct.size('c0')",
        "return struct.size('!3')",
        "return struct.size('#')",
        "return struct.unpack('i', 'ab')",
        "return struct.unpack('y', 'ab')",
        "return struct.unpack('s', 'abc')",
        "return struct.unpack('c0', 'abc')",
        "return struct.unpack('b c0', '\\5abc')",
        "return struct.unpack('b', 'a', 0)",
        "return struct.unpack('b', 'a', -1)",
        "return struct.unpack('b', 'a', 3)",
        "return struct.unpack('b')",
        "return struct.unpack('b', 'a', 'x')",
    ];
    for body in errors {
        check(&mut conn, &mut lua, body);
    }
    let sizes = [
        "'i'",
        "'>I2 b'",
        "'!4 b i'",
        "'! b d'",
        "'c10 b'",
        "'x x'",
        "'i3 i5 i7'",
        "'!2 b h b i'",
        "'q y z'",
        "'bBhHlLTfd'",
        "''",
    ];
    for f in sizes {
        check(&mut conn, &mut lua, &format!("return struct.size({f})"));
    }
    let unpacks = [
        "'>I2', '\\1\\2'",
        "'<I2', '\\1\\2'",
        "'b', '\\255'",
        "'B', '\\255'",
        "'>h', '\\255\\254'",
        "'>i3', '\\255\\0\\1'",
        "'<i12', string.rep('\\255', 12)",
        "'>I12', '\\1' .. string.rep('\\0', 10) .. '\\2'",
        "'f', struct.pack('f', 1.5)",
        "'>d', struct.pack('>d', -2.5)",
        "'c3', 'abcdef'",
        "'c3 c2', 'abcdef'",
        "'b c0', '\\3abcdef'",
        "'s s', 'ab\\0cd\\0rest'",
        "'x b', 'ab'",
        "'b', 'abc', 2",
        "'b', 'abc', 3",
        "'', 'abc', 4",
        "'!4 b i', struct.pack('!4 b i', 1, 2)",
        "'>!8 b d', struct.pack('>!8 b d', 7, 0.5)",
        "'b b b', 'abc'",
    ];
    for args in unpacks {
        check(
            &mut conn,
            &mut lua,
            &format!("return {{struct.unpack({args})}}"),
        );
    }
}

#[test]
fn diff_struct_random() {
    let redis = RedisServer::start();
    let mut conn = redis.raw();
    let mut lua = Vm::new(0, true).expect("a Lua state");
    let seed = common::gen::seed_from_env();
    let mut rng = Rng::new(seed ^ 0x5eed);
    let ints = ["b", "B", "h", "H", "l", "L", "T", "i", "I"];
    for _ in 0..1000 {
        let mut fmt = String::new();
        let mut args = Vec::new();
        if rng.chance(50) {
            fmt.push(*rng.pick(&['<', '>']));
        }
        if rng.chance(30) {
            let align = *rng.pick::<&str>(&["!", "!1", "!2", "!4", "!8"]);
            fmt.push_str(align);
        }
        for _ in 0..1 + rng.below(5) {
            match rng.below(5) {
                0 | 1 => {
                    let opt = *rng.pick::<&str>(&ints);
                    fmt.push_str(opt);
                    if (opt == "i" || opt == "I") && rng.chance(50) {
                        fmt.push_str(&(1 + rng.below(8)).to_string());
                    }
                    args.push(rng.range(-70000, 70000).to_string());
                }
                2 => {
                    fmt.push(*rng.pick(&['f', 'd']));
                    args.push(format!("{}/{}", rng.range(-999, 999), 1 + rng.below(7)));
                }
                3 => {
                    fmt.push_str(&format!("c{}", 1 + rng.below(4)));
                    args.push("'wxyz'".to_string());
                }
                _ => {
                    fmt.push('s');
                    args.push(format!("'{}'", "q".repeat(rng.below(4) as usize)));
                }
            }
        }
        let call = format!("'{fmt}', {}", args.join(", "));
        check(
            &mut conn,
            &mut lua,
            &format!("{HEX}return hex(struct.pack({call}))"),
        );
        check(
            &mut conn,
            &mut lua,
            &format!("local t = {{struct.unpack('{fmt}', struct.pack({call}))}} for i = 1, #t do t[i] = tostring(t[i]) end return t"),
        );
    }
    eprintln!("diff_struct_random: 1000 formats, no difference (seed {seed})");
}

#[test]
fn diff_cmsgpack() {
    let redis = RedisServer::start();
    let mut conn = redis.raw();
    let mut lua = Vm::new(0, true).expect("a Lua state");
    let values = [
        "0",
        "1",
        "127",
        "128",
        "255",
        "256",
        "65535",
        "65536",
        "2^32 - 1",
        "2^32",
        "2^53",
        "2^63",
        "2^64",
        "-1",
        "-32",
        "-33",
        "-128",
        "-129",
        "-32768",
        "-32769",
        "-2^31",
        "-2^31 - 1",
        "-2^53",
        "-2^63",
        "-2^64",
        "0.5",
        "-0.25",
        "0.1",
        "1/3",
        "1/0",
        "-1/0",
        "0/0",
        "1e300",
        "''",
        "'a'",
        "string.rep('x', 31)",
        "string.rep('x', 32)",
        "string.rep('x', 255)",
        "string.rep('x', 256)",
        "string.rep('x', 65535)",
        "string.rep('x', 65536)",
        "true",
        "false",
        "nil",
        "{}",
        "{1, 2, 3}",
        "{1, 2, nil, 4}",
        "{[1]=1, [3]=3}",
        "{[2]=2}",
        "{[0]=0}",
        "{[1.5]=1}",
        "{[-1]=1}",
        "{a=1}",
        "{1, 2, a=3}",
        "{{}, {{}}}",
        "{['1']=1}",
        "tostring",
        "coroutine.create(tostring)",
    ];
    for v in values {
        check(
            &mut conn,
            &mut lua,
            &format!("{HEX}return hex(cmsgpack.pack({v}))"),
        );
    }
    let multi = [
        "1, 2, 3",
        "'a', {b=1}, nil, true",
        "string.rep('y', 40), {1, {2, {3}}}",
    ];
    for v in multi {
        check(
            &mut conn,
            &mut lua,
            &format!("{HEX}return hex(cmsgpack.pack({v}))"),
        );
    }
    // Nesting: 16 levels, then nil; a table containing itself.
    check(
        &mut conn,
        &mut lua,
        &format!("{HEX}local t = {{}} local c = t for i = 1, 20 do c[1] = {{}} c = c[1] end return hex(cmsgpack.pack(t))"),
    );
    check(
        &mut conn,
        &mut lua,
        &format!("{HEX}local t = {{}} t[1] = t return hex(cmsgpack.pack(t))"),
    );
    // __index applies to arrays.
    check(
        &mut conn,
        &mut lua,
        &format!("{HEX}local t = setmetatable({{1, 2}}, {{__index = function() return 9 end}}) return hex(cmsgpack.pack(t))"),
    );
    // Round trips and the unpack family (tables come back as nested arrays
    // of their values; maps are flattened in a fixed key order).
    let unpacks = [
        "return {cmsgpack.unpack(cmsgpack.pack(1, 'two', 3.5, true, false))}",
        "return {cmsgpack.unpack(cmsgpack.pack({1, {2, 'x'}, -7}))}",
        "local t = cmsgpack.unpack(cmsgpack.pack({a=1, b='z'})) return {t.a, t.b}",
        "return {cmsgpack.unpack(cmsgpack.pack(2^40, -2^40, 2^64, -2^63))}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 3)}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 4)}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), -1)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 1)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), -1)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3))}",
        "return {cmsgpack.unpack('')}",
        "return {cmsgpack.unpack(string.char(0xcd, 1))}",
        "return {cmsgpack.unpack(string.char(0xc1))}",
        "return {cmsgpack.unpack(string.char(0xc4, 1, 65))}",
        "return {cmsgpack.unpack(string.char(0x92, 1))}",
        "return {cmsgpack.unpack(string.char(0xdb, 0, 0, 0, 3, 65, 66, 67))}",
        "return {cmsgpack.unpack(string.char(0xdb, 0, 0, 0, 9, 65))}",
        "return {cmsgpack.unpack(string.char(0xcf, 255, 255, 255, 255, 255, 255, 255, 255))}",
        "return {cmsgpack.unpack(string.char(0xd3, 128, 0, 0, 0, 0, 0, 0, 1))}",
        "return {cmsgpack.unpack(string.char(0xca, 63, 192, 0, 0))}",
        "return {cmsgpack.unpack(string.char(0xd1, 255, 1), string.char(0xd2, 128, 0, 0, 0))}",
        "return {cmsgpack.unpack(string.char(0xd1, 255, 1) .. string.char(0xd2, 128, 0, 0, 0))}",
        "return {cmsgpack.unpack(string.char(0xde, 0, 1, 1, 2))}",
        "return {cmsgpack.unpack(string.char(0x81, 0xc0, 1))}",
        "return {cmsgpack.unpack(string.rep(string.char(0x91), 3000) .. string.char(1))} and 1",
        "return {cmsgpack.unpack(string.rep(string.char(0x91), 9000) .. string.char(1))} and 1",
        "return {cmsgpack.unpack(string.rep(string.char(1), 9000))} and 1",
        "return cmsgpack.pack()",
        "return cmsgpack.unpack()",
        "return cmsgpack.unpack({})",
        "return cmsgpack.unpack_limit('x')",
        "return cmsgpack.unpack_one('x', 'y')",
        "return {cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION}",
    ];
    for body in unpacks {
        check(&mut conn, &mut lua, body);
    }
}

#[test]
fn diff_cmsgpack_random() {
    let redis = RedisServer::start();
    let mut conn = redis.raw();
    let mut lua = Vm::new(0, true).expect("a Lua state");
    let seed = common::gen::seed_from_env();
    let mut rng = Rng::new(seed ^ 0xc0de);
    fn value(rng: &mut Rng, depth: u32) -> String {
        match rng.below(if depth > 3 { 5 } else { 7 }) {
            0 => rng.range(-70000, 70000).to_string(),
            1 => format!("{}", rng.next_u64() as i64),
            2 => format!("{}/{}", rng.range(-1000, 1000), 1 + rng.below(9)),
            3 => format!("string.rep('s', {})", rng.below(70)),
            4 => rng.pick(&["true", "false", "nil"]).to_string(),
            5 => {
                let n = rng.below(5);
                let items: Vec<String> = (0..n).map(|_| value(rng, depth + 1)).collect();
                format!("{{{}}}", items.join(", "))
            }
            _ => format!("{{k{}={}}}", rng.below(3), value(rng, depth + 1)),
        }
    }
    for _ in 0..500 {
        let n = 1 + rng.below(3);
        let args: Vec<String> = (0..n).map(|_| value(&mut rng, 0)).collect();
        let args = args.join(", ");
        check(
            &mut conn,
            &mut lua,
            &format!("{HEX}return hex(cmsgpack.pack({args}))"),
        );
        check(
            &mut conn,
            &mut lua,
            &format!("{HEX}return hex(cmsgpack.pack(cmsgpack.unpack(cmsgpack.pack({args}))))"),
        );
    }
    eprintln!("diff_cmsgpack_random: 500 packs, no difference (seed {seed})");
}

#[test]
fn diff_cjson() {
    let redis = RedisServer::start();
    let mut conn = redis.raw();
    let mut lua = Vm::new(0, true).expect("a Lua state");
    let encodes = [
        "1",
        "-1",
        "0",
        "0.1",
        "1/3",
        "-2.5e-10",
        "1e300",
        "2^53",
        "2^63",
        "123456789012345",
        "1234567890123456",
        "0.1 + 0.2",
        "'plain'",
        "''",
        "'quote\" back\\\\ slash/ ctl\\1\\31\\127 é'",
        "'\\0zero'",
        "true",
        "false",
        "nil",
        "cjson.null",
        "{}",
        "{1, 2, 3}",
        "{1, nil, 3}",
        "{[1]=1, [2]=2, [4]=4}",
        "{[1]=1, [30]=30}",
        "{[2]=2}",
        "{[0]=0}",
        "{[-1]=1}",
        "{[1.5]=1}",
        "{a=1}",
        "{a={b={c={}}}}",
        "{1, 'two', {3}, {x=false}}",
        "{[true]=1}",
        "{['1']=1, ['2']=2}",
        "{[1]=1, a=2}",
        "{{}, {{}}}",
        "1/0",
        "-1/0",
        "0/0",
        "{1/0}",
        "{[1/0]=1}",
        "tostring",
        "{tostring}",
        "coroutine.create(tostring)",
    ];
    for v in encodes {
        check(&mut conn, &mut lua, &format!("return cjson.encode({v})"));
    }
    let scripts = [
        "return cjson.encode()",
        "return cjson.encode(1, 2)",
        "local t = {} local c = t for i = 1, 1005 do c[1] = {} c = c[1] end return cjson.encode(t)",
        "local t = {} t[1] = t return cjson.encode(t)",
        "local c = cjson.new() c.encode_max_depth(3) return {pcall(c.encode, {{{{1}}}})}",
        "local c = cjson.new() c.encode_max_depth(4) return c.encode({{{{1}}}})",
        "local c = cjson.new() return {c.encode_sparse_array(true), c.encode({[1]=1, [30]=30})}",
        "local c = cjson.new() return {c.encode_sparse_array(false, 0), c.encode({[1]=1, [30]=30})}",
        "local c = cjson.new() return {c.encode_sparse_array(nil, 3, 40), c.encode({[1]=1, [30]=30})}",
        "local c = cjson.new() return {pcall(c.encode_sparse_array, 'maybe')}",
        "local c = cjson.new() return {pcall(c.encode_sparse_array, 'on', -1)}",
        "local c = cjson.new() return {pcall(c.encode_sparse_array, 1, 2, 3, 4)}",
        "local c = cjson.new() return {c.encode_sparse_array()}",
        "local c = cjson.new() return {c.encode_number_precision(3), c.encode(1/3), c.encode(12345)}",
        "local c = cjson.new() return {pcall(c.encode_number_precision, 15)}",
        "local c = cjson.new() return {pcall(c.encode_number_precision, 'x')}",
        "local c = cjson.new() return {c.encode_invalid_numbers(true), c.encode({1/0, -1/0, 0/0})}",
        "local c = cjson.new() return {c.encode_invalid_numbers('null'), c.encode({1/0, 0/0})}",
        "local c = cjson.new() return {c.encode_invalid_numbers('off'), pcall(c.encode, 0/0)}",
        "local c = cjson.new() return {c.encode_keep_buffer(false), c.encode_keep_buffer('on')}",
        "local c = cjson.new() return {c.decode_invalid_numbers(false), pcall(c.decode, '0x10')}",
        "local c = cjson.new() return {c.decode_max_depth(2), pcall(c.decode, '[[[1]]]')}",
        "return {cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision()}",
        "return {cjson._NAME, cjson._VERSION, type(cjson.null), type(cjson.new)}",
        "return cjson.decode('null') == cjson.null",
    ];
    for body in scripts {
        check(&mut conn, &mut lua, body);
    }
    let decodes = [
        "'1'",
        "'-1.5e3'",
        "'0.1'",
        "'  7  '",
        "'\"str\"'",
        "'\"esc \\\\\" \\\\\\\\ \\\\/ \\\\b\\\\f\\\\n\\\\r\\\\t\"'",
        "'\"\\\\u0041\\\\u00e9\\\\u20ac\\\\ud83d\\\\ude00\"'",
        "'true'",
        "'false'",
        "'[1,2,3]'",
        "'[]'",
        "'{}'",
        "'[[1],[2,[3]]]'",
        "'{\"a\":1}'",
        "'0x10'",
        "'Infinity'",
        "'-inf'",
        "'+5'",
        "'012'",
        "'1.'",
        "'.5'",
        "'1e5'",
        "'1E+2'",
        "'[1,2]x'",
        "''",
        "' '",
        "'['",
        "'[1,'",
        "'[1 2]'",
        "'{1:2}'",
        "'{\"a\" 1}'",
        "'{\"a\":1,}'",
        "'[1,]'",
        "'\"unterminated'",
        "'\"bad \\\\q\"'",
        "'\"bad \\\\u12\"'",
        "'\"lone \\\\ude00\"'",
        "'\"pair \\\\ud800\\\\u0041\"'",
        "'\"pair \\\\ud800x\"'",
        "'tru'",
        "'nul'",
        "'nan'",
        "'NaN'",
        "'infinity'",
        "'-'",
        "'--1'",
        "'\\0'",
        "'1\\0garbage'",
        "'\"a\\0b\"'",
        "'@'",
        "'[1]\\n'",
        "'\"ctl\\1\"'",
        "string.rep('[', 1001) .. string.rep(']', 1001)",
        "string.rep('[', 999) .. string.rep(']', 999)",
    ];
    for d in decodes {
        check(
            &mut conn,
            &mut lua,
            &format!("return cjson.encode({{cjson.decode({d})}})"),
        );
        check(
            &mut conn,
            &mut lua,
            &format!("local ok, v = pcall(cjson.decode, {d}) if type(v) == 'table' then v = cjson.encode(v) end return {{ok, v}}"),
        );
    }
    check(&mut conn, &mut lua, "return cjson.decode()");
    check(&mut conn, &mut lua, "return cjson.decode({})");
    check(&mut conn, &mut lua, "return cjson.decode('1', 2)");
}

#[test]
fn diff_cjson_random() {
    let redis = RedisServer::start();
    let mut conn = redis.raw();
    let mut lua = Vm::new(0, true).expect("a Lua state");
    let seed = common::gen::seed_from_env();
    let mut rng = Rng::new(seed ^ 0x15011);
    fn value(rng: &mut Rng, depth: u32) -> String {
        match rng.below(if depth > 3 { 5 } else { 7 }) {
            0 => rng.range(-70000, 70000).to_string(),
            1 => format!("{}/{}", rng.range(-99999, 99999), 1 + rng.below(999)),
            2 => format!("{}e{}", rng.range(-99, 99), rng.range(-30, 30)),
            3 => {
                let chars = ["a", "\\\"", "\\\\", "/", "\\n", "\\1", "é", " "];
                let n = rng.below(6);
                let s: String = (0..n).map(|_| *rng.pick(&chars)).collect();
                format!("'{s}'")
            }
            4 => rng.pick(&["true", "false", "cjson.null"]).to_string(),
            5 => {
                let n = rng.below(5);
                let items: Vec<String> = (0..n).map(|_| value(rng, depth + 1)).collect();
                format!("{{{}}}", items.join(", "))
            }
            _ => {
                let n = rng.below(4);
                let items: Vec<String> = (0..n)
                    .map(|i| format!("k{i}={}", value(rng, depth + 1)))
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
        }
    }
    for _ in 0..500 {
        let v = value(&mut rng, 0);
        check(&mut conn, &mut lua, &format!("return cjson.encode({v})"));
        check(
            &mut conn,
            &mut lua,
            &format!("return cjson.encode(cjson.decode(cjson.encode({v})))"),
        );
    }
    eprintln!("diff_cjson_random: 500 values, no difference (seed {seed})");
}

/// `math.random` draws from one sequence for the whole server, from the state a server starts
/// with: the same scripts on a fresh redis-server and on a fresh generator give the same
/// numbers. (The only test here that draws random numbers: the generator is process-wide.)
#[test]
fn diff_math_random() {
    let redis = RedisServer::start();
    let mut conn = redis.raw();
    let mut lua = Vm::new(0, true).expect("a Lua state");
    scripting::random::reset();
    for body in [
        "return {math.random(1000), math.random(1000), math.random(5, 10)}",
        "return tostring(math.random())",
        "return {math.random(1), math.random(-5, -5), math.random(-3, 3)}",
        "return {pcall(math.random, 0)}",
        "return {pcall(math.random, 5, 1)}",
        "return {pcall(math.random, 1, 2, 3)}",
        "return math.random(0)",
        "return math.random('x')",
        "return math.random(2^40)",
        "math.randomseed(42) return {math.random(1000), tostring(math.random())}",
        "math.randomseed(-7) return math.random(100000)",
        "math.randomseed(2^33 + 5) return math.random(100000)",
        "return {pcall(math.randomseed)}",
        "local t = {} for i = 1, 50 do t[i] = math.random(1000000) end return t",
    ] {
        check(&mut conn, &mut lua, body);
    }
}

/// The globals scripts see (`scripting::sandbox`): Redis's set, read-only, reading a missing one
/// an error, and the ways around metamethods closed. Redis also has `redis`, `KEYS`, `ARGV`
/// and `__redis__err__handler`, which come with EVAL; the listing below leaves them out.
#[test]
fn diff_sandbox() {
    let redis = RedisServer::start();
    let mut conn = redis.raw();
    let mut lua = Vm::new(0, true).expect("a Lua state");
    for body in [
        "local t = {} for k in pairs(_G) do if k ~= 'redis' and k ~= 'KEYS' and k ~= 'ARGV' and k ~= '__redis__err__handler' then t[#t+1] = k end end table.sort(t) return t",
        "x = 1",
        "return x",
        "return os",
        "return print",
        "return dofile",
        "return loadfile",
        "return setfenv",
        "return getfenv",
        "return newproxy",
        "return require",
        "return debug",
        "return io",
        "_G.x = 1",
        "return _G.x",
        "return _G.string == string",
        "return rawequal(_G, _G._G)",
        "rawset(_G, 'y', 1)",
        "return {pcall(rawset, _G, 'y', 1)}",
        "return rawget(_G, 'string') == string",
        "return rawget(_G, 'nothing')",
        "return {pcall(rawset, 1, 2, 3)}",
        "return rawset({}, 'a', 1).a",
        "string.x = 1",
        "string.upper = nil",
        "math.pi = 3",
        "cjson.encode = nil",
        "bit.band = nil",
        "return string.nothing",
        "return ('x'):upper()",
        "getmetatable('').__index = nil return 1",
        "getmetatable('').__index.upper = nil return 1",
        "return getmetatable('').__index == string",
        "return type(getmetatable(string))",
        "return type(getmetatable(_G))",
        "return type(getmetatable(_G).__index)",
        "getmetatable(_G).__index = nil return 1",
        "setmetatable(_G, {})",
        "return {pcall(setmetatable, string, nil)}",
        "return {pcall(setmetatable, 1, {})}",
        "return {pcall(setmetatable, {}, 1)}",
        "local t = setmetatable({}, {__metatable = 'locked'}) return {getmetatable(t), pcall(setmetatable, t, {})}",
        "return getmetatable(setmetatable({}, {__index = {a = 5}})).__index.a",
        "local t = {} for k, v in pairs(string) do t[#t+1] = k end table.sort(t) return t",
        "local n = 0 for k, v in next, math do n = n + 1 end return n",
        "local t = {} for k, v in pairs(_G) do if type(v) == 'table' and k ~= '_G' and k ~= 'redis' and k ~= 'KEYS' and k ~= 'ARGV' then local ok = pcall(function() v.injected = 1 end) t[#t+1] = k .. '=' .. tostring(ok) end end table.sort(t) return t",
        "local k, v = next(_G, nil) return type(k)",
        "loadstring('z = 1')() return 1",
        "return loadstring('return 1 + 1')()",
        "return {pcall(loadstring('return undefined_global'))}",
        "local co = coroutine.create(function() w = 1 end) return {coroutine.resume(co)}",
        "local co = coroutine.wrap(function() return string.rep('a', 3) end) return co()",
        "return {pcall(function() q = 1 end)}",
        "local ok, e = pcall(function() return nope end) return e",
        "local t = {} t.x = 1 rawset(t, 'y', 2) return {t.x, t.y, rawget(t, 'y')}",
        "return _VERSION",
        "return type(gcinfo())",
        "return select('#', 1, 2, 3)",
        "return unpack({1, 2, 3})",
        "return tostring(nil)",
        "return {pcall(error, {err='E x'})}",
        "return {pcall(error, {err=7})}",
        "local ok, e, extra = pcall(error, {err={}}) return {ok, type(e), type(extra)}",
        "local ok, e = pcall(error, {x=1}) return {ok, type(e)}",
        "return {pcall(error, 'plain')}",
        "return {pcall(error)}",
        "return {pcall()}",
        "return {pcall(function(...) return select('#', ...), ... end, 1, nil, 3)}",
        "return {pcall(pcall, error, 'inner')}",
        "return {xpcall(function() error('x') end, function(e) return 'handled ' .. e end)}",
    ] {
        check(&mut conn, &mut lua, body);
    }
}

/// The parts of the `redis` table that need no server (`scripting::redis_api`).
#[test]
fn diff_redis_api_pure() {
    let redis = RedisServer::start();
    let mut conn = redis.raw();
    let mut lua = Vm::new(0, true).expect("a Lua state");
    for body in [
        "return redis.sha1hex('abc')",
        "return redis.sha1hex('')",
        "return redis.sha1hex(123)",
        "return redis.sha1hex(nil)",
        "return redis.sha1hex({})",
        "return redis.sha1hex()",
        "return redis.sha1hex('a', 'b')",
        "return {pcall(redis.sha1hex)}",
        "return redis.status_reply('FINE')",
        "return redis.status_reply('two words')",
        "return redis.status_reply(1)",
        "return redis.status_reply()",
        "return redis.error_reply('MY err')",
        "return redis.error_reply('noprefix')",
        "return redis.error_reply('-CODE with words')",
        "return redis.error_reply('-NOSPACE')",
        "return redis.error_reply('trailing\\r\\n')",
        "return redis.error_reply('')",
        "return redis.error_reply(5)",
        "return redis.error_reply()",
        "return {redis.error_reply('X y')}",
        "local e = redis.error_reply('X y') return e.err",
        "local e = redis.status_reply('S') return e.ok",
        "return type(redis)",
        "redis.x = 1",
        "return redis.nothing",
        "error(redis.error_reply('RAISED now'))",
        "return {pcall(error, redis.error_reply('CAUGHT here'))}",
    ] {
        check(&mut conn, &mut lua, body);
    }
}
