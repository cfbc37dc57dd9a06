//! Redis's error texts, in one place so that every command says exactly what
//! Redis says.

pub const SYNTAX: &str = "ERR syntax error";
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
pub const DB_INDEX: &str = "ERR DB index is out of range";
/// An integer argument Redis reads as a C `int` that does not fit one.
pub const NOT_INT32: &str =
    "ERR value is out of range, value must between -2147483648 and 2147483647";
pub const INVALID_EXPIRE: &str = "ERR invalid expire time in '{}' command";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// `ERR wrong number of arguments for 'get' command`
pub fn wrong_arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// `ERR invalid expire time in 'set' command`
pub fn invalid_expire(cmd: &str) -> String {
    INVALID_EXPIRE.replace("{}", cmd)
}

/// Redis's unknown-command text, quoting the first arguments.
pub fn unknown_command(name: &[u8], args: &[&[u8]]) -> String {
    let mut s = format!(
        "ERR unknown command '{}', with args beginning with: ",
        sanitize(name, 128)
    );
    let mut quoted = String::new();
    for a in args {
        if quoted.len() >= 128 {
            break;
        }
        let shown = sanitize(a, 128 - quoted.len());
        quoted.push('\'');
        quoted.push_str(&shown);
        quoted.push_str("' ");
    }
    s.push_str(&quoted);
    s
}

/// Makes client bytes safe to quote in an error line (no CR/LF, bounded).
pub fn sanitize(b: &[u8], max: usize) -> String {
    let cut = &b[..b.len().min(max)];
    String::from_utf8_lossy(cut)
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}
