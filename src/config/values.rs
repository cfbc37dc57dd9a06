//! Value syntax: turns a directive's arguments into its stored form (a number for the
//! atomics read on hot paths, and the exact text Redis 7.0's CONFIG GET prints), with
//! Redis's error messages. File loading and CONFIG SET both go through `parse`, so a value
//! is accepted or rejected the same way on either path.

use super::directives::{Check, Directive, Kind, Special};
use std::fmt::Display;
use std::path::Path;

const NOT_INT: &str = "argument couldn't be parsed into an integer";
const BAD_SAVE: &str = "Invalid save parameters";
const BAD_COBL: &str = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
const BAD_OOM: &str = "Invalid oom-score-adj-values, elements must be between -2000 and 2000.";

/// Notification class letters in the order Redis prints them when not all of `A` is set.
const NOTIFY_CLASSES: &[u8] = b"g$lshzxetdn";
/// Bits of `notify-keyspace-events`, indexed like `NOTIFY_CLASSES`; then K, E, m.
pub const NOTIFY_KEYSPACE: u32 = 1 << 11;
pub const NOTIFY_KEYEVENT: u32 = 1 << 12;
pub const NOTIFY_KEY_MISS: u32 = 1 << 13;
/// What `A` stands for: every class except `n` (new key) and `m` (key miss).
const NOTIFY_ALL: u32 = (1 << 10) - 1;

fn between(min: impl Display, max: impl Display) -> String {
    format!("argument must be between {min} and {max} inclusive")
}

/// Strict decimal integer (Redis's `string2ll`).
fn parse_i64(s: &str) -> Option<i64> {
    crate::util::num::parse_i64(s.as_bytes())
}

/// Lenient integer as C's `strtoll` used by a few Redis parsers (`save`, buffer limits):
/// leading `+`, leading zeros and an empty string (0) pass; overflow saturates.
fn parse_lenient(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if !digits.bytes().all(|c| c.is_ascii_digit()) || (digits.is_empty() && !s.is_empty()) {
        return None;
    }
    let v = digits.bytes().fold(0i64, |a, c| {
        a.saturating_mul(10).saturating_add(i64::from(c - b'0'))
    });
    Some(if neg { -v } else { v })
}

/// Memory value like Redis's `memtoull`: digits with an optional case-insensitive unit
/// (`b`, `k`=1000, `kb`=1024, `m`, `mb`, `g`, `gb`). Overflow saturates and the unit
/// multiplication wraps, exactly as Redis behaves.
pub fn parse_memory(s: &str) -> Option<u64> {
    const UNITS: [(&str, u64); 7] = [
        ("kb", 1 << 10),
        ("mb", 1 << 20),
        ("gb", 1 << 30),
        ("b", 1),
        ("k", 1_000),
        ("m", 1_000_000),
        ("g", 1_000_000_000),
    ];
    let l = s.to_ascii_lowercase();
    let (num, mul) = UNITS
        .iter()
        .find(|(u, _)| l.ends_with(u))
        .map_or((l.as_str(), 1), |(u, m)| (&l[..l.len() - u.len()], *m));
    if !num.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v = num.bytes().fold(0u64, |a, c| {
        a.saturating_mul(10).saturating_add(u64::from(c - b'0'))
    });
    Some(v.wrapping_mul(mul))
}

fn enum_error(choices: &[&str]) -> String {
    let names: Vec<&str> = choices
        .iter()
        .map(|c| c.split('=').next().unwrap_or(c))
        .collect();
    format!(
        "argument(s) must be one of the following: {}",
        names.join(", ")
    )
}

/// Index of the enum choice `arg` names (a synonym resolves to its target).
pub(crate) fn enum_index(choices: &[&str], arg: &str) -> Option<usize> {
    let c = choices.iter().find(|c| {
        c.split('=')
            .next()
            .is_some_and(|n| n.eq_ignore_ascii_case(arg))
    })?;
    let target = c.split('=').nth(1).unwrap_or(c);
    choices.iter().position(|c| *c == target)
}

/// Validates `args` for directive `d`. `prev` is the current CONFIG GET text (buffer limits
/// merge into it, `dir` resolves against it, `save` appends to it when `append`).
/// Returns the atomic number and the CONFIG GET text.
pub(crate) fn parse(
    d: &Directive,
    args: &[String],
    prev: &str,
    append: bool,
) -> Result<(u64, String), String> {
    let one = || args.first().map_or("", String::as_str);
    match d.kind {
        Kind::Bool => match one().to_ascii_lowercase().as_str() {
            "yes" => Ok((1, "yes".into())),
            "no" => Ok((0, "no".into())),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Int(min, max) => {
            let v = parse_i64(one()).ok_or(NOT_INT)?;
            if v < min || v > max {
                return Err(between(min, max));
            }
            // Redis stores hz clamped to what its timer supports and reports the clamped value.
            let v = if d.name == "hz" { v.clamp(1, 500) } else { v };
            Ok((v as u64, v.to_string()))
        }
        Kind::Mem(min, max) => {
            let v = parse_memory(one()).ok_or("argument must be a memory value")?;
            if v < min || v > max {
                return Err(between(min, max));
            }
            Ok((v, v.to_string()))
        }
        Kind::Enum(choices) => {
            let i = enum_index(choices, one()).ok_or_else(|| enum_error(choices))?;
            Ok((i as u64, choices[i].to_string()))
        }
        Kind::Str(check) => check_str(d.name, check, one()).map(|()| (0, one().to_string())),
        Kind::Special(sp) => parse_special(sp, args, prev, append),
    }
}

fn check_str(name: &str, check: Check, v: &str) -> Result<(), String> {
    let ok = match check {
        Check::None => true,
        Check::FileName | Check::DirName => !v.contains(['/', '\\']),
        Check::Hostname => v
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.'),
        Check::ProcTitle => proc_title_ok(v),
    };
    match (ok, check) {
        (true, _) => Ok(()),
        (false, Check::FileName) => Err(format!("{name} can't be a path, just a filename")),
        (false, Check::DirName) => Err(format!("{name} can't be a path, just a dirname")),
        (false, Check::Hostname) => {
            Err("Hostnames may only contain alphanumeric characters, hyphens or dots".into())
        }
        (false, _) => Err("template format is invalid or contains unknown variables".into()),
    }
}

/// A template is valid when non-empty and every `{...}` names a known variable.
fn proc_title_ok(t: &str) -> bool {
    const VARS: &[&str] = &[
        "title",
        "listen-addr",
        "server-mode",
        "port",
        "tls-port",
        "unixsocket",
        "config-file",
    ];
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        let Some(len) = rest[open..].find('}') else {
            return false;
        };
        if !VARS.contains(&&rest[open + 1..open + len]) {
            return false;
        }
        rest = &rest[open + len + 1..];
    }
    !t.is_empty()
}

fn parse_special(
    sp: Special,
    args: &[String],
    prev: &str,
    append: bool,
) -> Result<(u64, String), String> {
    let text = |s: String| Ok((0, s));
    match sp {
        Special::Save => {
            if !args.len().is_multiple_of(2) {
                return Err(BAD_SAVE.into());
            }
            let mut out: Vec<String> = if append {
                prev.split_whitespace().map(String::from).collect()
            } else {
                vec![]
            };
            for (k, a) in args.iter().enumerate() {
                // Seconds must be positive, changes non-negative.
                match parse_lenient(a) {
                    Some(v) if v > 0 || (k % 2 == 1 && v == 0) => out.push(v.to_string()),
                    _ => return Err(BAD_SAVE.into()),
                }
            }
            text(out.join(" "))
        }
        Special::Bind if args.len() > 16 => Err("Too many bind addresses specified.".into()),
        Special::Bind => text(args.join(" ")),
        Special::ClientOutputBufferLimit => parse_cobl(args, prev),
        Special::NotifyKeyspaceEvents => {
            let flags = parse_notify(args.first().map_or("", String::as_str))
                .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?;
            Ok((u64::from(flags), format_notify(flags)))
        }
        Special::OomScoreAdjValues => {
            if args.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            let mut out = Vec::with_capacity(3);
            for a in args {
                match parse_lenient(a) {
                    Some(v) if (-2000..=2000).contains(&v) && !a.is_empty() => {
                        out.push(v.to_string())
                    }
                    _ => return Err(BAD_OOM.into()),
                }
            }
            text(out.join(" "))
        }
        Special::Percentiles => {
            let mut out = Vec::with_capacity(args.len());
            for a in args {
                let v = crate::util::num::parse_f64(a.as_bytes());
                let v = v.ok_or("Invalid latency-tracking-info-percentiles parameters")?;
                // strtod reports overflow (`1e500`) as an error; a literal `inf` is only out of range.
                if v.is_infinite() && !a.to_ascii_lowercase().contains("inf") {
                    return Err("Invalid latency-tracking-info-percentiles parameters".into());
                }
                if !(0.0..=100.0).contains(&v) {
                    return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                }
                // Redis prints with %f and strips trailing zeros.
                let s = format!("{v:.6}");
                out.push(s.trim_end_matches('0').trim_end_matches('.').to_string());
            }
            text(out.join(" "))
        }
        Special::ShutdownFlags => {
            const NAMES: [&str; 5] = ["default", "save", "nosave", "now", "force"];
            let mut flags = 0u64;
            for a in args {
                let i = NAMES
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case(a))
                    .ok_or_else(|| enum_error(&NAMES))?;
                flags |= (1 << i) >> 1;
            }
            if args.is_empty() {
                return Err(enum_error(&NAMES));
            }
            if flags & 3 == 3 {
                return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
            }
            let set: Vec<&str> = (1..5)
                .filter(|i| flags & (1 << (i - 1)) != 0)
                .map(|i| NAMES[i])
                .collect();
            Ok((
                flags,
                if set.is_empty() {
                    "default".into()
                } else {
                    set.join(" ")
                },
            ))
        }
        Special::ReplicaOf => match args {
            [h, p] if h.eq_ignore_ascii_case("no") && p.eq_ignore_ascii_case("one") => {
                text(String::new())
            }
            [h, p] => match parse_i64(p) {
                Some(port) if (0..=65535).contains(&port) => text(format!("{h} {port}")),
                _ => Err("Invalid master port".into()),
            },
            [] => text(String::new()),
            _ => Err("wrong number of arguments".into()),
        },
        Special::Octal => {
            let a = args.first().map_or("", String::as_str);
            let digits = a.strip_prefix(['-', '+']).unwrap_or(a);
            if !digits.bytes().all(|c| (b'0'..=b'7').contains(&c))
                || (digits.is_empty() && !a.is_empty())
            {
                return Err("argument couldn't be parsed as an octal number".into());
            }
            let v = digits.bytes().fold(0i64, |v, c| {
                v.saturating_mul(8).saturating_add(i64::from(c - b'0'))
            });
            let v = if a.starts_with('-') { -v } else { v };
            if !(0..=0o777).contains(&v) {
                return Err(between(0, 777));
            }
            Ok((v as u64, format!("{v:o}")))
        }
        Special::MaxmemoryClients => {
            let a = args.first().map_or("", String::as_str);
            let bad = || "argument must be a memory or percent value".to_string();
            let pct = match a.strip_suffix('%') {
                Some(p) => parse_i64(p).filter(|p| *p >= 0).ok_or_else(bad)? as u64,
                None => match parse_memory(a).ok_or_else(bad)? {
                    // Redis keeps this signed: byte counts past i64::MAX read as percentages.
                    v if v > i64::MAX as u64 => (v as i64).unsigned_abs(),
                    v => return text(v.to_string()),
                },
            };
            match pct {
                101.. => Err("percentage argument must be less or equal to 100".into()),
                0 => text("0".into()),
                p => text(format!("{p}%")),
            }
        }
        Special::Dir => {
            let path = Path::new(prev).join(args.first().map_or("", String::as_str));
            let os = |e: std::io::Error| {
                let msg = e.to_string();
                msg.split(" (os error").next().unwrap_or(&msg).to_string()
            };
            let abs = std::fs::canonicalize(&path).map_err(os)?;
            if !abs.is_dir() {
                return Err("Not a directory".into());
            }
            text(abs.to_string_lossy().into_owned())
        }
    }
}

/// Client output buffer limits: groups of `class hard soft seconds` merged into `prev`.
/// Everything is validated before anything changes.
fn parse_cobl(args: &[String], prev: &str) -> Result<(u64, String), String> {
    let mut cur: Vec<String> = prev.split_whitespace().map(String::from).collect();
    if cur.len() != 12 {
        cur = "normal 0 0 0 slave 0 0 0 pubsub 0 0 0"
            .split(' ')
            .map(String::from)
            .collect();
    }
    if !args.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    for g in args.chunks(4) {
        let class = match g[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let hard = parse_memory(&g[1]).ok_or(BAD_COBL)?;
        let soft = parse_memory(&g[2]).ok_or(BAD_COBL)?;
        let secs = parse_lenient(&g[3])
            .filter(|s| *s >= 0 && *s < i64::MAX)
            .ok_or(BAD_COBL)?;
        cur[class * 4 + 1..class * 4 + 4].clone_from_slice(&[
            hard.to_string(),
            soft.to_string(),
            secs.to_string(),
        ]);
    }
    Ok((0, cur.join(" ")))
}

/// `notify-keyspace-events` letters to bits; `None` on an unknown letter.
pub fn parse_notify(s: &str) -> Option<u32> {
    s.bytes().try_fold(0u32, |f, c| {
        Some(
            f | match c {
                b'A' => NOTIFY_ALL,
                b'K' => NOTIFY_KEYSPACE,
                b'E' => NOTIFY_KEYEVENT,
                b'm' => NOTIFY_KEY_MISS,
                _ => 1 << NOTIFY_CLASSES.iter().position(|&l| l == c)?,
            },
        )
    })
}

fn format_notify(f: u32) -> String {
    let mut s = String::new();
    if f & NOTIFY_ALL == NOTIFY_ALL {
        s.push('A');
    } else {
        s.extend(
            NOTIFY_CLASSES
                .iter()
                .enumerate()
                .filter(|(i, _)| f & (1 << i) != 0)
                .map(|(_, &c)| c as char),
        );
    }
    for (bit, c) in [
        (NOTIFY_KEYSPACE, 'K'),
        (NOTIFY_KEYEVENT, 'E'),
        (NOTIFY_KEY_MISS, 'm'),
    ] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::directives::{idx, TABLE};
    use super::*;

    fn p(name: &str, args: &[&str]) -> Result<String, String> {
        let d = &TABLE[idx(name)];
        let prev = if d.name == "dir" { "/" } else { d.default };
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(d, &args, prev, false).map(|(_, t)| t)
    }

    #[test]
    fn integers_follow_string2ll() {
        for ok in [
            "0",
            "-1",
            "9223372036854775807",
            "-9223372036854775808",
            "42",
        ] {
            assert_eq!(parse_i64(ok).map(|v| v.to_string()).as_deref(), Some(ok));
        }
        for bad in [
            "",
            "-",
            "+1",
            " 1",
            "1 ",
            "01",
            "-0",
            "1.0",
            "0x10",
            "9223372036854775808",
        ] {
            assert_eq!(p("port", &[bad]).unwrap_err(), NOT_INT, "{bad}");
        }
        assert_eq!(p("port", &["abc"]).unwrap_err(), NOT_INT);
        assert_eq!(
            p("port", &["99999"]).unwrap_err(),
            "argument must be between 0 and 65535 inclusive"
        );
        assert_eq!(p("hz", &["0"]).unwrap(), "1");
        assert_eq!(p("hz", &["1000"]).unwrap(), "500");
        assert_eq!(p("list-max-listpack-size", &["-5"]).unwrap(), "-5");
    }

    #[test]
    fn memory_units() {
        let cases = [
            ("1k", 1000),
            ("1kb", 1024),
            ("1KB", 1024),
            ("1m", 1_000_000),
            ("1Mb", 1 << 20),
            ("1G", 1_000_000_000),
            ("2gb", 2 << 30),
            ("5B", 5),
            ("01k", 1000),
            ("", 0),
            ("kb", 0),
            ("99999999999999999999", u64::MAX),
        ];
        for (s, v) in cases {
            assert_eq!(parse_memory(s), Some(v), "{s}");
        }
        for bad in ["1x", "-1", "+1", " 1", "1.5gb", "1bb", "0x10", "1t", "1 kb"] {
            assert_eq!(parse_memory(bad), None, "{bad}");
        }
        assert_eq!(
            p("maxmemory", &["1x"]).unwrap_err(),
            "argument must be a memory value"
        );
        assert_eq!(
            p("proto-max-bulk-len", &["1m"]).unwrap_err(),
            "argument must be between 1048576 and 9223372036854775807 inclusive"
        );
        assert_eq!(
            p("maxmemory", &["18446744073709551615"]).unwrap(),
            "18446744073709551615"
        );
    }

    #[test]
    fn bools_and_enums() {
        assert_eq!(p("appendonly", &["YES"]).unwrap(), "yes");
        assert_eq!(
            p("appendonly", &["maybe"]).unwrap_err(),
            "argument must be 'yes' or 'no'"
        );
        assert_eq!(
            p("maxmemory-policy", &["ALLKEYS-LRU"]).unwrap(),
            "allkeys-lru"
        );
        assert_eq!(
            p("loglevel", &["x"]).unwrap_err(),
            "argument(s) must be one of the following: debug, verbose, notice, warning"
        );
        assert_eq!(p("oom-score-adj", &["relative"]).unwrap(), "yes");
        assert_eq!(
            p("oom-score-adj", &["x"]).unwrap_err(),
            "argument(s) must be one of the following: no, yes, relative, absolute"
        );
    }

    #[test]
    fn strings_checks() {
        assert_eq!(
            p("dbfilename", &["a/b"]).unwrap_err(),
            "dbfilename can't be a path, just a filename"
        );
        assert_eq!(
            p("appenddirname", &["a\\b"]).unwrap_err(),
            "appenddirname can't be a path, just a dirname"
        );
        assert!(p("cluster-announce-hostname", &["a_b"]).is_err());
        assert!(p("cluster-announce-hostname", &["a-b.c"]).is_ok());
        assert!(p("proc-title-template", &["abc"]).is_ok());
        assert!(p("proc-title-template", &["{title} }{port}"]).is_ok());
        for bad in ["", "{title", "{x}"] {
            assert!(p("proc-title-template", &[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn save_and_buffer_limits() {
        assert_eq!(
            p("save", &["900", "1", "300", "10"]).unwrap(),
            "900 1 300 10"
        );
        assert_eq!(p("save", &[]).unwrap(), "");
        assert_eq!(p("save", &["+5", "", "010", "-0"]).unwrap(), "5 0 10 0");
        for bad in [&["1"][..], &["0", "1"], &["1", "-2"], &["a", "b"]] {
            assert_eq!(p("save", bad).unwrap_err(), BAD_SAVE);
        }
        let d = &TABLE[idx("save")];
        let s = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse(d, &s(&["60", "5"]), "900 1", true).unwrap().1,
            "900 1 60 5"
        );
        assert_eq!(
            p(
                "client-output-buffer-limit",
                &["Replica", "1k", "2kb", "+3"]
            )
            .unwrap(),
            "normal 0 0 0 slave 1000 2048 3 pubsub 33554432 8388608 60"
        );
        assert_eq!(
            p("client-output-buffer-limit", &[]).unwrap(),
            TABLE[idx("client-output-buffer-limit")].default
        );
        assert_eq!(
            p("client-output-buffer-limit", &["normal", "1", "2"]).unwrap_err(),
            "Wrong number of arguments in buffer limit configuration."
        );
        assert_eq!(
            p("client-output-buffer-limit", &["master", "1", "2", "3"]).unwrap_err(),
            "Invalid client class specified in buffer limit configuration."
        );
        assert_eq!(
            p("client-output-buffer-limit", &["normal", "-1", "2", "3"]).unwrap_err(),
            BAD_COBL
        );
    }

    #[test]
    fn notify_flags() {
        let n = |s: &str| p("notify-keyspace-events", &[s]);
        assert_eq!(n("KEA").unwrap(), "AKE");
        assert_eq!(n("mgK").unwrap(), "gKm");
        assert_eq!(n("nKtdEz").unwrap(), "ztdnKE");
        assert_eq!(n("AmnKE").unwrap(), "AKEm");
        assert_eq!(n("dtexzhsl$g").unwrap(), "A");
        assert_eq!(n("").unwrap(), "");
        assert_eq!(
            n("Q").unwrap_err(),
            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
        );
    }

    #[test]
    fn other_specials() {
        assert_eq!(
            p("oom-score-adj-values", &["+1", "010", "-2000"]).unwrap(),
            "1 10 -2000"
        );
        assert_eq!(
            p("oom-score-adj-values", &["1", "2"]).unwrap_err(),
            "wrong number of arguments"
        );
        assert_eq!(
            p("oom-score-adj-values", &["1", "2", "3000"]).unwrap_err(),
            BAD_OOM
        );
        assert_eq!(
            p(
                "latency-tracking-info-percentiles",
                &["1e1", "99.9", "33.333333333"]
            )
            .unwrap(),
            "10 99.9 33.333333"
        );
        assert!(p("latency-tracking-info-percentiles", &["200"])
            .unwrap_err()
            .contains("[0.0,100.0]"));
        assert!(p("latency-tracking-info-percentiles", &["nan"])
            .unwrap_err()
            .starts_with("Invalid"));
        assert_eq!(
            p("shutdown-on-sigint", &["now", "NOSAVE", "force"]).unwrap(),
            "nosave now force"
        );
        assert_eq!(p("shutdown-on-sigint", &["default", "now"]).unwrap(), "now");
        assert!(p("shutdown-on-sigint", &["save", "nosave"])
            .unwrap_err()
            .contains("simultaneously"));
        assert!(p("shutdown-on-sigint", &[]).is_err());
        assert_eq!(p("replicaof", &["NO", "ONE"]).unwrap(), "");
        assert_eq!(p("replicaof", &["h", "6379"]).unwrap(), "h 6379");
        assert_eq!(
            p("replicaof", &["h", "-1"]).unwrap_err(),
            "Invalid master port"
        );
        assert_eq!(p("unixsocketperm", &["0700"]).unwrap(), "700");
        assert_eq!(p("unixsocketperm", &[""]).unwrap(), "0");
        assert_eq!(
            p("unixsocketperm", &["999"]).unwrap_err(),
            "argument couldn't be parsed as an octal number"
        );
        assert_eq!(
            p("unixsocketperm", &["7777"]).unwrap_err(),
            "argument must be between 0 and 777 inclusive"
        );
        assert_eq!(p("maxmemory-clients", &["10%"]).unwrap(), "10%");
        assert_eq!(p("maxmemory-clients", &["0%"]).unwrap(), "0");
        assert_eq!(p("maxmemory-clients", &["1kb"]).unwrap(), "1024");
        assert!(p("maxmemory-clients", &["101%"])
            .unwrap_err()
            .starts_with("percentage"));
        assert!(p("maxmemory-clients", &["-5%"])
            .unwrap_err()
            .contains("percent value"));
        assert_eq!(p("bind", &["127.0.0.1", "-::1"]).unwrap(), "127.0.0.1 -::1");
        assert_eq!(
            p("bind", &["x"; 17]).unwrap_err(),
            "Too many bind addresses specified."
        );
        assert_eq!(
            p("dir", &["/nonexistent-ferrite"]).unwrap_err(),
            "No such file or directory"
        );
        assert_eq!(p("dir", &["/etc/passwd"]).unwrap_err(), "Not a directory");
        assert_eq!(p("dir", &["tmp/.."]).unwrap(), "/");
    }
}
