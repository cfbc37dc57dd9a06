//! What a script returns, as a reply: Redis's conversion of a Lua value.
//!
//! RESP2 (a script that has not called `redis.setresp(3)`):
//!
//! * a string is a bulk string, a number an integer (truncated towards
//!   zero), `true` the integer 1, `false` and `nil` a nil bulk string;
//! * a table with a string field `err` is an error reply, one with a
//!   string field `ok` a status reply (CR and LF become spaces in both);
//!   one with a number field `double` a double;
//! * any other table is an array of its elements 1, 2, ... up to the first
//!   nil (fields found with raw access, so metatables do not apply);
//! * anything else (a function, userdata) is a nil bulk string.

use crate::protocol::Reply;
use mlua::{Table, Value};

/// Appends `v` to `out` as a reply.
pub fn lua_to_reply(v: &Value, out: &mut Reply) {
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Integer(n) => out.int(*n),
        Value::Number(n) => out.int(super::c_i64(*n)),
        Value::Boolean(true) => out.int(1),
        Value::Table(t) => table_to_reply(t, out),
        _ => out.null(),
    }
}

fn table_to_reply(t: &Table, out: &mut Reply) {
    if let Ok(Value::String(err)) = t.raw_get::<Value>("err") {
        out.raw(b"-");
        out.raw(&one_line(&err.as_bytes()));
        out.raw(b"\r\n");
        return;
    }
    if let Ok(Value::String(ok)) = t.raw_get::<Value>("ok") {
        out.raw(b"+");
        out.raw(&one_line(&ok.as_bytes()));
        out.raw(b"\r\n");
        return;
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(d)) => return out.double(d),
        Ok(Value::Integer(d)) => return out.double(d as f64),
        _ => {}
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    out.array(items.len());
    for v in &items {
        lua_to_reply(v, out);
    }
}

/// `text` with CR and LF replaced by spaces, as Redis sanitizes the status
/// and error texts a script returns.
fn one_line(text: &[u8]) -> Vec<u8> {
    text.iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect()
}

/// The message of a Lua error, without mlua's wrapping (a callback's error
/// carries the error it came from).
pub fn error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(msg) | mlua::Error::SyntaxError { message: msg, .. } => {
            msg.clone()
        }
        mlua::Error::CallbackError { cause, .. } => error_text(cause),
        other => other.to_string(),
    }
}
