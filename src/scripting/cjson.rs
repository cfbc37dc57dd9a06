//! The `cjson` library (Lua CJSON 2.1.0, as Redis loads it): `encode`,
//! `decode`, the settings `encode_sparse_array`, `encode_max_depth`,
//! `decode_max_depth`, `encode_number_precision`, `encode_keep_buffer`,
//! `encode_invalid_numbers`, `decode_invalid_numbers`, `new` (a module with
//! its own settings), `null`, `_NAME` and `_VERSION`.
//!
//! Encoding: strings with `"`, `\`, `/`, control characters and DEL
//! escaped (other bytes as they are), numbers as `%.14g` (the precision is
//! a setting), NaN and infinities refused unless allowed, `nil` and
//! `cjson.null` as `null`; a table whose keys are all whole numbers of at
//! least 1 is an array up to its largest key (holes as `null`) unless it
//! is excessively sparse, any other table an object (number keys as
//! strings, in `next` order); nesting deeper than `encode_max_depth`
//! (1000) is an error. Decoding follows the same lexer as the C library:
//! numbers through C's `strtod` (so hexadecimal, `inf` and `nan` when
//! `decode_invalid_numbers` is on, the default), a zero byte ends the
//! input, `null` decodes to `cjson.null`, and errors say what was expected
//! and what was found at which character.
//!
//! Lua C functions (see `scripting`): each module's settings are a
//! userdata of plain integers, the first upvalue of every function; output
//! and unescaped strings are built in buffers the Lua state owns
//! (`capi::new_buffer`), so a raised error leaves nothing to drop.

use super::capi::{arg_error, check_bytes, msg, new_buffer, raise};
use crate::util::num::format_g;
use mlua::ffi::{self, lua_State};
use mlua::Lua;
use std::os::raw::{c_char, c_int};

/// One module's settings (plain integers: a userdata without `__gc`).
#[derive(Clone, Copy)]
#[repr(C)]
struct Config {
    sparse_convert: c_int,
    sparse_ratio: c_int,
    sparse_safe: c_int,
    encode_max_depth: c_int,
    decode_max_depth: c_int,
    /// 0 off, 1 on, 2 as `null`.
    encode_invalid_numbers: c_int,
    decode_invalid_numbers: c_int,
    keep_buffer: c_int,
    precision: c_int,
}

const DEFAULTS: Config = Config {
    sparse_convert: 0,
    sparse_ratio: 2,
    sparse_safe: 10,
    encode_max_depth: 1000,
    decode_max_depth: 1000,
    encode_invalid_numbers: 0,
    decode_invalid_numbers: 1,
    keep_buffer: 1,
    precision: 14,
};

/// The calling function's settings.
///
/// # Safety
/// `l` is the state of a running C closure made by `module`.
unsafe fn config<'a>(l: *mut lua_State) -> &'a mut Config {
    // SAFETY: per the contract, upvalue 1 is the module's settings
    // userdata, which lives as long as the closure.
    unsafe { &mut *(ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *mut Config) }
}

/// Checks there are at most `args` arguments and pads with nils.
///
/// # Safety
/// As [`raise`].
unsafe fn arg_init(l: *mut lua_State, args: c_int) {
    // SAFETY: per the contract.
    unsafe {
        if ffi::lua_gettop(l) > args {
            arg_error(l, args + 1, b"found too many arguments");
        }
        while ffi::lua_gettop(l) < args {
            ffi::lua_pushnil(l);
        }
    }
}

/// An integer setting at `index` (unchanged when nil), pushed back.
///
/// # Safety
/// As [`raise`].
unsafe fn integer_option(
    l: *mut lua_State,
    index: c_int,
    setting: &mut c_int,
    min: c_int,
    max: c_int,
) {
    // SAFETY: per the contract.
    unsafe {
        if ffi::lua_isnil(l, index) == 0 {
            let value = ffi::luaL_checkinteger(l, index) as c_int;
            if !(min..=max).contains(&value) {
                let m = msg(format_args!("expected integer between {min} and {max}"));
                arg_error(l, 1, m.bytes());
            }
            *setting = value;
        }
        ffi::lua_pushinteger(l, *setting as ffi::lua_Integer);
    }
}

/// An on/off (or named) setting at `index`, pushed back as a boolean or
/// the option's name.
///
/// # Safety
/// As [`raise`].
unsafe fn enum_option(
    l: *mut lua_State,
    index: c_int,
    setting: &mut c_int,
    names: &[&std::ffi::CStr],
) {
    // SAFETY: per the contract; `list` is a NULL-terminated array of C
    // strings that outlive the call.
    unsafe {
        if ffi::lua_isnil(l, index) == 0 {
            if ffi::lua_isboolean(l, index) != 0 {
                *setting = ffi::lua_toboolean(l, index);
            } else {
                let mut list: [*const c_char; 4] = [std::ptr::null(); 4];
                for (slot, n) in list.iter_mut().zip(names) {
                    *slot = n.as_ptr();
                }
                *setting = ffi::luaL_checkoption(l, index, std::ptr::null(), list.as_ptr());
            }
        }
        if *setting == 0 || *setting == 1 {
            ffi::lua_pushboolean(l, *setting);
        } else {
            ffi::lua_pushstring(l, names[*setting as usize].as_ptr());
        }
    }
}

const ON_OFF: &[&std::ffi::CStr] = &[c"off", c"on"];

unsafe extern "C-unwind" fn cfg_encode_sparse_array(l: *mut lua_State) -> c_int {
    // SAFETY: a C closure of `module`; plain data only in this frame.
    unsafe {
        arg_init(l, 3);
        let cfg = config(l);
        enum_option(l, 1, &mut cfg.sparse_convert, ON_OFF);
        integer_option(l, 2, &mut cfg.sparse_ratio, 0, c_int::MAX);
        integer_option(l, 3, &mut cfg.sparse_safe, 0, c_int::MAX);
    }
    3
}

macro_rules! int_setting {
    ($name:ident, $field:ident, $min:expr, $max:expr) => {
        unsafe extern "C-unwind" fn $name(l: *mut lua_State) -> c_int {
            // SAFETY: a C closure of `module`; plain data only in this frame.
            unsafe {
                arg_init(l, 1);
                let cfg = config(l);
                integer_option(l, 1, &mut cfg.$field, $min, $max);
            }
            1
        }
    };
}

int_setting!(cfg_encode_max_depth, encode_max_depth, 1, c_int::MAX);
int_setting!(cfg_decode_max_depth, decode_max_depth, 1, c_int::MAX);
int_setting!(cfg_encode_number_precision, precision, 1, 14);

macro_rules! enum_setting {
    ($name:ident, $field:ident, $names:expr) => {
        unsafe extern "C-unwind" fn $name(l: *mut lua_State) -> c_int {
            // SAFETY: a C closure of `module`; plain data only in this frame.
            unsafe {
                arg_init(l, 1);
                let cfg = config(l);
                enum_option(l, 1, &mut cfg.$field, $names);
            }
            1
        }
    };
}

enum_setting!(cfg_encode_keep_buffer, keep_buffer, ON_OFF);
enum_setting!(
    cfg_encode_invalid_numbers,
    encode_invalid_numbers,
    &[c"off", c"on", c"null"]
);
enum_setting!(cfg_decode_invalid_numbers, decode_invalid_numbers, ON_OFF);

// ----------------------------------------------------------------- encode

/// Raises "Cannot serialise <type>: <reason>" for the value at `index`.
///
/// # Safety
/// As [`raise`].
unsafe fn encode_error(l: *mut lua_State, index: c_int, reason: &str) -> ! {
    // SAFETY: per the contract; the type name is a static C string.
    unsafe {
        let name = std::ffi::CStr::from_ptr(ffi::lua_typename(l, ffi::lua_type(l, index)));
        let m = msg(format_args!(
            "Cannot serialise {}: {reason}",
            name.to_string_lossy()
        ));
        raise(l, m.bytes())
    }
}

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Appends the number at `index`.
///
/// # Safety
/// As [`raise`]; `out` points into a buffer from `new_buffer`.
unsafe fn append_number(l: *mut lua_State, cfg: &Config, out: *mut Vec<u8>, index: c_int) {
    // SAFETY: per the contract; the formatted text is dropped before any
    // call that may raise.
    unsafe {
        let n = ffi::lua_tonumber(l, index);
        match cfg.encode_invalid_numbers {
            0 => {
                if n.is_nan() || n.is_infinite() {
                    encode_error(l, index, "must not be NaN or Inf");
                }
            }
            1 => {
                if n.is_nan() {
                    (*out).extend_from_slice(b"nan");
                    return;
                }
            }
            _ => {
                if n.is_nan() || n.is_infinite() {
                    (*out).extend_from_slice(b"null");
                    return;
                }
            }
        }
        let text = format_g(n, cfg.precision as usize);
        (*out).extend_from_slice(text.as_bytes());
    }
}

/// The array length of the table on top (its largest key), or -1 if it
/// must be an object.
///
/// # Safety
/// As [`raise`].
unsafe fn array_length(l: *mut lua_State, cfg: &Config) -> c_int {
    // SAFETY: per the contract; the stack is left as found.
    unsafe {
        let (mut max, mut items) = (0 as c_int, 0 as c_int);
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            if ffi::lua_type(l, -2) == ffi::LUA_TNUMBER {
                let k = ffi::lua_tonumber(l, -2);
                if k != 0.0 && k.floor() == k && k >= 1.0 {
                    if k > max as f64 {
                        // `max = k` in C.
                        max = super::c_i32(k);
                    }
                    items = items.wrapping_add(1);
                    ffi::lua_pop(l, 1);
                    continue;
                }
            }
            ffi::lua_pop(l, 2);
            return -1;
        }
        if cfg.sparse_ratio > 0
            && max > items.wrapping_mul(cfg.sparse_ratio)
            && max > cfg.sparse_safe
        {
            if cfg.sparse_convert == 0 {
                encode_error(l, -1, "excessively sparse array");
            }
            return -1;
        }
        max
    }
}

/// Appends the value on top of the stack (left there).
///
/// # Safety
/// As [`raise`]; `out` points into a buffer from `new_buffer`.
unsafe fn append_value(l: *mut lua_State, cfg: &Config, depth: c_int, out: *mut Vec<u8>) {
    // SAFETY: per the contract; `out` is borrowed only between Lua calls.
    unsafe {
        match ffi::lua_type(l, -1) {
            ffi::LUA_TSTRING => {
                let mut len = 0usize;
                let p = ffi::lua_tolstring(l, -1, &mut len);
                append_string(&mut *out, std::slice::from_raw_parts(p.cast(), len));
            }
            ffi::LUA_TNUMBER => append_number(l, cfg, out, -1),
            ffi::LUA_TBOOLEAN => (*out).extend_from_slice(if ffi::lua_toboolean(l, -1) != 0 {
                b"true"
            } else {
                b"false"
            }),
            ffi::LUA_TTABLE => {
                let depth = depth + 1;
                if depth > cfg.encode_max_depth || ffi::lua_checkstack(l, 3) == 0 {
                    let m = msg(format_args!(
                        "Cannot serialise, excessive nesting ({depth})"
                    ));
                    raise(l, m.bytes());
                }
                let len = array_length(l, cfg);
                if len > 0 {
                    (*out).push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            (*out).push(b',');
                        }
                        ffi::lua_rawgeti(l, -1, i as ffi::lua_Integer);
                        append_value(l, cfg, depth, out);
                        ffi::lua_pop(l, 1);
                    }
                    (*out).push(b']');
                } else {
                    (*out).push(b'{');
                    let mut first = true;
                    ffi::lua_pushnil(l);
                    while ffi::lua_next(l, -2) != 0 {
                        if !first {
                            (*out).push(b',');
                        }
                        first = false;
                        match ffi::lua_type(l, -2) {
                            ffi::LUA_TNUMBER => {
                                (*out).push(b'"');
                                append_number(l, cfg, out, -2);
                                (*out).extend_from_slice(b"\":");
                            }
                            ffi::LUA_TSTRING => {
                                let mut len = 0usize;
                                let p = ffi::lua_tolstring(l, -2, &mut len);
                                append_string(&mut *out, std::slice::from_raw_parts(p.cast(), len));
                                (*out).push(b':');
                            }
                            _ => encode_error(l, -2, "table key must be a number or string"),
                        }
                        append_value(l, cfg, depth, out);
                        ffi::lua_pop(l, 1);
                    }
                    (*out).push(b'}');
                }
            }
            ffi::LUA_TNIL => (*out).extend_from_slice(b"null"),
            ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(l, -1).is_null() => {
                (*out).extend_from_slice(b"null")
            }
            _ => encode_error(l, -1, "type not supported"),
        }
    }
}

unsafe extern "C-unwind" fn json_encode(l: *mut lua_State) -> c_int {
    // SAFETY: a C closure of `module`; the frame holds plain data and a
    // pointer to a Lua-owned buffer.
    unsafe {
        if ffi::lua_gettop(l) != 1 {
            arg_error(l, 1, b"expected 1 argument");
        }
        let cfg = *config(l);
        let out = new_buffer(l);
        ffi::lua_pushvalue(l, 1);
        append_value(l, &cfg, 0, out);
        let bytes = &*out;
        ffi::lua_pushlstring(l, bytes.as_ptr().cast(), bytes.len());
        *out = Vec::new();
    }
    1
}

// ----------------------------------------------------------------- decode

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number,
    Boolean,
    Null,
    Colon,
    Comma,
    End,
    /// With the error's description.
    Error(&'static str),
}

impl Tok {
    fn name(self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Number => "T_NUMBER",
            Tok::Boolean => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(what) => what,
        }
    }
}

/// A token: its kind, where it starts, and its value.
struct Token {
    kind: Tok,
    index: usize,
    number: f64,
    boolean: bool,
}

struct Parser<'a> {
    /// The input up to its first zero byte, as the C library reads it.
    data: &'a [u8],
    pos: usize,
    cfg: Config,
    depth: c_int,
    /// Unescaped string bytes (a buffer from `new_buffer`).
    tmp: *mut Vec<u8>,
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn starts_with(&self, s: &[u8]) -> bool {
        self.data[self.pos..].starts_with(s)
    }

    /// Whether the number at `pos` is one JSON forbids (`+`, hex, a
    /// leading zero, `inf`, `nan`).
    fn invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let rest = &self.data[p.min(self.data.len())..];
        let ci = |w: &[u8]| rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(w);
        ci(b"inf") || ci(b"nan")
    }

    fn number(&mut self, t: &mut Token) {
        let (v, used) = c_strtod(&self.data[self.pos..]);
        if used == 0 {
            t.kind = Tok::Error("invalid number");
            t.index = self.pos;
        } else {
            t.kind = Tok::Number;
            t.number = v;
            self.pos += used;
        }
    }

    /// The string token at `pos` (a `"`), unescaped into `tmp`.
    ///
    /// # Safety
    /// `tmp` is valid.
    unsafe fn string(&mut self, t: &mut Token) {
        // SAFETY: per the contract; `tmp` is not otherwise borrowed.
        let tmp = unsafe { &mut *self.tmp };
        tmp.clear();
        self.pos += 1;
        loop {
            let c = self.at(self.pos);
            if c == b'"' {
                break;
            }
            if c == 0 {
                t.kind = Tok::Error("unexpected end of string");
                t.index = self.pos;
                return;
            }
            if c == b'\\' {
                let e = match self.at(self.pos + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 0x08,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => 0x0c,
                    b'r' => b'\r',
                    b'u' => {
                        if self.unicode_escape(tmp) {
                            continue;
                        }
                        t.kind = Tok::Error("invalid unicode escape code");
                        t.index = self.pos;
                        return;
                    }
                    _ => {
                        t.kind = Tok::Error("invalid escape code");
                        t.index = self.pos;
                        return;
                    }
                };
                tmp.push(e);
                self.pos += 2;
                continue;
            }
            tmp.push(c);
            self.pos += 1;
        }
        self.pos += 1;
        t.kind = Tok::Str;
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            let d = (self.at(at + i) as char).to_digit(16)?;
            v = (v << 4) | d;
        }
        Some(v)
    }

    /// `\uXXXX` (or a surrogate pair) at `pos`, as UTF-8.
    fn unicode_escape(&mut self, tmp: &mut Vec<u8>) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xf800 == 0xd800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xfc00 != 0xdc00 {
                return false;
            }
            cp = (((cp & 0x3ff) << 10) | (low & 0x3ff)) + 0x10000;
            len = 12;
        }
        // Encoded as the C library does (no check for surrogates or range
        // beyond its own).
        match cp {
            0..=0x7f => tmp.push(cp as u8),
            0x80..=0x7ff => {
                tmp.extend_from_slice(&[(cp >> 6) as u8 | 0xc0, (cp & 0x3f) as u8 | 0x80])
            }
            0x800..=0xffff => tmp.extend_from_slice(&[
                (cp >> 12) as u8 | 0xe0,
                ((cp >> 6) & 0x3f) as u8 | 0x80,
                (cp & 0x3f) as u8 | 0x80,
            ]),
            _ => tmp.extend_from_slice(&[
                (cp >> 18) as u8 | 0xf0,
                ((cp >> 12) & 0x3f) as u8 | 0x80,
                ((cp >> 6) & 0x3f) as u8 | 0x80,
                (cp & 0x3f) as u8 | 0x80,
            ]),
        }
        self.pos += len;
        true
    }

    /// The next token.
    ///
    /// # Safety
    /// `tmp` is valid.
    unsafe fn next(&mut self) -> Token {
        let mut t = Token {
            kind: Tok::End,
            index: 0,
            number: 0.0,
            boolean: false,
        };
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        t.index = self.pos;
        let c = self.at(self.pos);
        let single = match c {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            0 => {
                t.kind = Tok::End;
                return t;
            }
            _ => None,
        };
        if let Some(kind) = single {
            t.kind = kind;
            self.pos += 1;
            return t;
        }
        let unknown = matches!(
            c,
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9'
        );
        if !unknown {
            t.kind = Tok::Error("invalid token");
            return t;
        }
        if c == b'"' {
            // SAFETY: per this function's contract.
            unsafe { self.string(&mut t) };
        } else if c == b'-' || c.is_ascii_digit() {
            if self.cfg.decode_invalid_numbers == 0 && self.invalid_number() {
                t.kind = Tok::Error("invalid number");
            } else {
                self.number(&mut t);
            }
        } else if self.starts_with(b"true") {
            t.kind = Tok::Boolean;
            t.boolean = true;
            self.pos += 4;
        } else if self.starts_with(b"false") {
            t.kind = Tok::Boolean;
            self.pos += 5;
        } else if self.starts_with(b"null") {
            t.kind = Tok::Null;
            self.pos += 4;
        } else if self.cfg.decode_invalid_numbers != 0 && self.invalid_number() {
            self.number(&mut t);
        } else {
            t.kind = Tok::Error("invalid token");
        }
        t
    }
}

/// Raises "Expected <what> but found <token> at character <n>".
///
/// # Safety
/// As [`raise`].
unsafe fn parse_error(l: *mut lua_State, expected: &str, t: &Token) -> ! {
    let m = msg(format_args!(
        "Expected {expected} but found {} at character {}",
        t.kind.name(),
        t.index + 1
    ));
    // SAFETY: per the contract.
    unsafe { raise(l, m.bytes()) }
}

/// Enters a nested value needing `slots` stack slots.
///
/// # Safety
/// As [`raise`].
unsafe fn descend(l: *mut lua_State, p: &mut Parser<'_>, slots: c_int) {
    p.depth += 1;
    // SAFETY: per the contract.
    unsafe {
        if p.depth <= p.cfg.decode_max_depth && ffi::lua_checkstack(l, slots) != 0 {
            return;
        }
        let m = msg(format_args!(
            "Found too many nested data structures ({}) at character {}",
            p.depth, p.pos
        ));
        raise(l, m.bytes())
    }
}

/// Pushes the value starting with token `t`.
///
/// # Safety
/// As [`raise`]; `p.tmp` is valid.
unsafe fn value(l: *mut lua_State, p: &mut Parser<'_>, t: &Token) {
    // SAFETY: per the contract.
    unsafe {
        match t.kind {
            Tok::Str => {
                let s = &*p.tmp;
                ffi::lua_pushlstring(l, s.as_ptr().cast(), s.len());
            }
            Tok::Number => ffi::lua_pushnumber(l, t.number),
            Tok::Boolean => ffi::lua_pushboolean(l, t.boolean as c_int),
            Tok::Null => ffi::lua_pushlightuserdata(l, std::ptr::null_mut()),
            Tok::ObjBegin => {
                descend(l, p, 3);
                ffi::lua_createtable(l, 0, 0);
                let mut t = p.next();
                if t.kind == Tok::ObjEnd {
                    p.depth -= 1;
                    return;
                }
                loop {
                    if t.kind != Tok::Str {
                        parse_error(l, "object key string", &t);
                    }
                    let key = &*p.tmp;
                    ffi::lua_pushlstring(l, key.as_ptr().cast(), key.len());
                    t = p.next();
                    if t.kind != Tok::Colon {
                        parse_error(l, "colon", &t);
                    }
                    t = p.next();
                    value(l, p, &t);
                    ffi::lua_rawset(l, -3);
                    t = p.next();
                    if t.kind == Tok::ObjEnd {
                        p.depth -= 1;
                        return;
                    }
                    if t.kind != Tok::Comma {
                        parse_error(l, "comma or object end", &t);
                    }
                    t = p.next();
                }
            }
            Tok::ArrBegin => {
                descend(l, p, 2);
                ffi::lua_createtable(l, 0, 0);
                let mut t = p.next();
                if t.kind == Tok::ArrEnd {
                    p.depth -= 1;
                    return;
                }
                let mut i: ffi::lua_Integer = 1;
                loop {
                    value(l, p, &t);
                    ffi::lua_rawseti(l, -2, i);
                    i += 1;
                    t = p.next();
                    if t.kind == Tok::ArrEnd {
                        p.depth -= 1;
                        return;
                    }
                    if t.kind != Tok::Comma {
                        parse_error(l, "comma or array end", &t);
                    }
                    t = p.next();
                }
            }
            _ => parse_error(l, "value", t),
        }
    }
}

unsafe extern "C-unwind" fn json_decode(l: *mut lua_State) -> c_int {
    // The frame holds plain data, slices of the input string (which stays
    // at index 1) and a pointer to a Lua-owned buffer.
    // SAFETY: a C closure of `module`, so nothing to drop if it raises.
    unsafe {
        if ffi::lua_gettop(l) != 1 {
            arg_error(l, 1, b"expected 1 argument");
        }
        let cfg = *config(l);
        let input = check_bytes(l, 1);
        if input.len() >= 2 && (input[0] == 0 || input[1] == 0) {
            raise(l, b"JSON parser does not support UTF-16 or UTF-32");
        }
        let data = input.split(|&b| b == 0).next().unwrap_or(&[]);
        let tmp = new_buffer(l);
        let mut p = Parser {
            data,
            pos: 0,
            cfg,
            depth: 0,
            tmp,
        };
        let t = p.next();
        value(l, &mut p, &t);
        let t = p.next();
        if t.kind != Tok::End {
            parse_error(l, "the end", &t);
        }
        *tmp = Vec::new();
        // The buffer sits below the value: move the value down over it.
        ffi::lua_replace(l, -2);
    }
    1
}

/// C's `strtod` on `s` (no leading spaces at the call sites): the value and
/// how many bytes it used (0: none).
pub fn c_strtod(s: &[u8]) -> (f64, usize) {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let negative = match at(0) {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if negative { -v } else { v };
    let rest = &s[i.min(s.len())..];
    let word = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if word(b"infinity") {
        return (sign(f64::INFINITY), i + 8);
    }
    if word(b"inf") {
        return (sign(f64::INFINITY), i + 3);
    }
    if word(b"nan") {
        let mut end = i + 3;
        if at(end) == b'(' {
            let mut j = end + 1;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                end = j + 1;
            }
        }
        return (sign(f64::NAN), end);
    }
    if at(i) == b'0' && at(i + 1) | 0x20 == b'x' {
        if let Some((v, used)) = hex_float(&s[i + 2..]) {
            return (sign(v), i + 2 + used);
        }
        // "0x" without hex digits: just the zero.
        return (sign(0.0), i + 1);
    }
    let start = i;
    let mut digits = 0;
    while at(i).is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if at(i) == b'.' {
        i += 1;
        while at(i).is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return (0.0, 0);
    }
    if at(i) | 0x20 == b'e' {
        let mut j = i + 1;
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            while at(j).is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    let text = std::str::from_utf8(&s[start..i]).expect("ASCII");
    let v: f64 = text.parse().unwrap_or(0.0);
    (sign(v), i)
}

/// A hexadecimal float after "0x": (value, bytes used), if it has a digit.
fn hex_float(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let mut mant: u64 = 0;
    let mut exp: i64 = 0;
    let mut digits = 0;
    let mut sticky = false;
    let mut take = |d: u64, fraction: bool, exp: &mut i64| {
        if mant >> 56 == 0 {
            mant = (mant << 4) | d;
            if fraction {
                *exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !fraction {
                *exp += 4;
            }
        }
    };
    while let Some(d) = (at(i) as char).to_digit(16) {
        take(d as u64, false, &mut exp);
        i += 1;
        digits += 1;
    }
    if at(i) == b'.' {
        let mut j = i + 1;
        let mut frac = 0;
        while let Some(d) = (at(j) as char).to_digit(16) {
            take(d as u64, true, &mut exp);
            j += 1;
            frac += 1;
        }
        if digits + frac > 0 {
            i = j;
            digits += frac;
        }
    }
    if digits == 0 {
        return None;
    }
    if at(i) | 0x20 == b'p' {
        let mut j = i + 1;
        let neg = at(j) == b'-';
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            let mut e: i64 = 0;
            while at(j).is_ascii_digit() {
                e = (e * 10 + (at(j) - b'0') as i64).min(1 << 20);
                j += 1;
            }
            exp += if neg { -e } else { e };
            i = j;
        }
    }
    let m = (mant | sticky as u64) as f64;
    Some((m * 2f64.powi(exp.clamp(-2000, 2000) as i32), i))
}

/// Builds a module table (its own settings) on the stack.
///
/// # Safety
/// `l` is the state of a running C function call.
unsafe extern "C-unwind" fn module(l: *mut lua_State) -> c_int {
    let fns: [(&std::ffi::CStr, ffi::lua_CFunction); 10] = [
        (c"encode", json_encode),
        (c"decode", json_decode),
        (c"encode_sparse_array", cfg_encode_sparse_array),
        (c"encode_max_depth", cfg_encode_max_depth),
        (c"decode_max_depth", cfg_decode_max_depth),
        (c"encode_number_precision", cfg_encode_number_precision),
        (c"encode_keep_buffer", cfg_encode_keep_buffer),
        (c"encode_invalid_numbers", cfg_encode_invalid_numbers),
        (c"decode_invalid_numbers", cfg_decode_invalid_numbers),
        (c"new", module),
    ];
    // The settings userdata is plain integers, written before it is
    // shared; each closure gets it as its only upvalue.
    // SAFETY: called by Lua as a C function (also as `cjson.new`).
    unsafe {
        ffi::lua_createtable(l, 0, 13);
        let cfg = ffi::lua_newuserdata(l, std::mem::size_of::<Config>()) as *mut Config;
        cfg.write(DEFAULTS);
        for (name, f) in fns {
            ffi::lua_pushvalue(l, -1);
            ffi::lua_pushcclosure(l, f, 1);
            ffi::lua_setfield(l, -3, name.as_ptr());
        }
        ffi::lua_pop(l, 1);
        ffi::lua_pushlightuserdata(l, std::ptr::null_mut());
        ffi::lua_setfield(l, -2, c"null".as_ptr());
        ffi::lua_pushstring(l, c"cjson".as_ptr());
        ffi::lua_setfield(l, -2, c"_NAME".as_ptr());
        ffi::lua_pushstring(l, c"2.1.0".as_ptr());
        ffi::lua_setfield(l, -2, c"_VERSION".as_ptr());
    }
    1
}

/// Registers the global `cjson` table.
pub fn register(lua: &Lua) -> mlua::Result<()> {
    // SAFETY: `module` follows the C function protocol.
    let make = unsafe { lua.create_c_function(module)? };
    let t: mlua::Table = make.call(())?;
    lua.globals().set("cjson", t)
}

#[cfg(test)]
mod tests {
    use super::c_strtod;

    #[test]
    fn strtod_prefixes() {
        assert_eq!(c_strtod(b"12abc"), (12.0, 2));
        assert_eq!(c_strtod(b"-1.5e3,"), (-1500.0, 6));
        assert_eq!(c_strtod(b"1e"), (1.0, 1));
        assert_eq!(c_strtod(b"1e+"), (1.0, 1));
        assert_eq!(c_strtod(b".5"), (0.5, 2));
        assert_eq!(c_strtod(b"-"), (0.0, 0));
        assert_eq!(c_strtod(b"0x1F"), (31.0, 4));
        assert_eq!(c_strtod(b"0x"), (0.0, 1));
        assert_eq!(c_strtod(b"0x1p4"), (16.0, 5));
        assert_eq!(c_strtod(b"Infinity"), (f64::INFINITY, 8));
        assert_eq!(c_strtod(b"-inf"), (f64::NEG_INFINITY, 4));
        assert!(c_strtod(b"nan(12)").0.is_nan());
        assert_eq!(c_strtod(b"nan(12)").1, 7);
    }
}
