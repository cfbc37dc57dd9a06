//! redis.conf reading: the line tokenizer, command-line options, `include`, and the
//! "FATAL CONFIG FILE ERROR" reports. Redis's reader is the spec, so files that load in
//! Redis 7.0 load here with the same values, and bad lines fail with the same reasons.

use super::directives::{lookup, Kind, Special, DEPRECATED, TABLE};
use super::{values, Config};
use crate::util::args::split_args;
use std::path::Path;

/// Nested `include` depth at which loading gives up (Redis recurses until it crashes).
const MAX_INCLUDE_DEPTH: usize = 32;

/// Strips what Redis strips from a config line: spaces, tabs, CR and LF.
pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    let strip = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    while s.first().is_some_and(strip) {
        s = &s[1..];
    }
    while s.last().is_some_and(strip) {
        s = &s[..s.len() - 1];
    }
    s
}

/// Quotes an argument the way Redis's `sdscatrepr` does, so a command-line option becomes
/// a config line that `split_args` turns back into the same bytes.
pub fn quote(arg: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in arg {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

/// What `ferrite-server`'s arguments ask for, split as redis-server splits them.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CommandLine<'a> {
    /// The config file: the first argument, unless it starts with `-`.
    pub file: Option<&'a str>,
    /// A bare `-` as the first or last argument: config text also comes from stdin,
    /// read after the file and before the options.
    pub stdin: bool,
    /// The config text the options stand for.
    pub opts: String,
}

/// Splits `ferrite-server [configfile] [-] [--name value ...]`. Each `--name` starts a new
/// config line (`"--port 7000"` as one argument is a whole line), the words after it are
/// its quoted arguments. As in redis-server, a `--word` right after a `--name` that has no
/// value yet is that value (`--requirepass --secret`), except after `--save`, which then
/// means `save ""`, as does a final `--save`.
pub(crate) fn command_line(args: &[String]) -> CommandLine<'_> {
    let mut file = None;
    let mut rest = args;
    if let Some(first) = args.first().filter(|a| !a.starts_with('-')) {
        file = Some(first.as_str());
        rest = &args[1..];
    }
    let mut stdin = false;
    let mut opts = String::new();
    // Whether the last `--name` has a value yet (so another `--word` is a new name).
    let mut last_has_value = true;
    for (j, a) in rest.iter().enumerate() {
        let last = j + 1 == rest.len();
        if a == "-" && (std::ptr::eq(a, &args[0]) || last) {
            stdin = true;
        } else if let Some(name) = a.strip_prefix("--").filter(|_| last_has_value) {
            if !opts.is_empty() {
                opts.push('\n');
            }
            opts.push_str(name);
            opts.push(' ');
            last_has_value = split_args(a.as_bytes()).is_none_or(|w| w.len() != 1);
            if !last_has_value && a.eq_ignore_ascii_case("--save") {
                match rest.get(j + 1) {
                    Some(next) if next.starts_with("--") => {
                        opts.push_str("\"\"");
                        last_has_value = true;
                    }
                    None => opts.push_str("\"\""),
                    Some(_) => {}
                }
            }
        } else {
            opts.push_str(&quote(a.as_bytes()));
            opts.push(' ');
            last_has_value = true;
        }
    }
    CommandLine { file, stdin, opts }
}

/// The error text for a bad line, in the shape Redis prints.
pub(crate) fn fatal(line_no: usize, line: &str, reason: &str) -> String {
    format!(
        "*** FATAL CONFIG FILE ERROR (Ferrite {}) ***\nReading the configuration file, at line {line_no}\n>>> '{line}'\n{reason}",
        env!("CARGO_PKG_VERSION")
    )
}

pub(crate) fn os_error(e: &std::io::Error) -> String {
    let msg = e.to_string();
    msg.split(" (os error").next().unwrap_or(&msg).to_string()
}

pub(crate) fn read_file(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| {
        format!(
            "Fatal error, can't open config file '{path}': {}",
            os_error(&e)
        )
    })
}

/// Why a line failed: a reason to wrap with the line, or a complete message from an
/// included file.
enum Fail {
    Reason(String),
    Done(String),
}

impl From<&str> for Fail {
    fn from(s: &str) -> Self {
        Fail::Reason(s.to_string())
    }
}

/// Applies config text to a fresh `Config`.
pub(crate) struct Loader<'a> {
    pub cfg: &'a Config,
    /// `save` lines accumulate, but the first one in a load replaces the default.
    save_seen: bool,
    /// Whether the text being read is still the text that started the current
    /// `load_text`. Redis 7.0 clears its "reading the config file" state when an included
    /// file ends, so every `save` line after an `include` (the command-line options too)
    /// replaces the save points instead of adding to them; Ferrite does the same, so a
    /// config loads to the same values in both.
    reading: bool,
    depth: usize,
    pub users: Vec<Vec<String>>,
    /// `rename-command` lines as `(old, new)`, in order, each checked against `names`.
    pub renames: Vec<(String, String)>,
    names: Option<crate::commands::CommandNames>,
}

impl<'a> Loader<'a> {
    pub fn new(cfg: &'a Config) -> Self {
        Loader {
            cfg,
            save_seen: false,
            reading: false,
            depth: 0,
            users: Vec::new(),
            renames: Vec::new(),
            names: None,
        }
    }

    pub fn load_text(&mut self, text: &[u8]) -> Result<(), String> {
        self.reading = true;
        let r = self.load_lines(text);
        self.reading = false;
        r
    }

    fn load_lines(&mut self, text: &[u8]) -> Result<(), String> {
        for (n, raw) in text.split(|&c| c == b'\n').enumerate() {
            let line = trim(raw);
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            let shown = String::from_utf8_lossy(line);
            let result = match split_args(line) {
                None => Err("Unbalanced quotes in configuration line".into()),
                Some(argv) if argv.is_empty() => Ok(()),
                Some(argv) => {
                    let argv: Vec<String> = argv
                        .iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect();
                    self.directive(&argv)
                }
            };
            match result {
                Ok(()) => {}
                Err(Fail::Reason(r)) => return Err(fatal(n + 1, &shown, &r)),
                Err(Fail::Done(msg)) => return Err(msg),
            }
        }
        Ok(())
    }

    fn directive(&mut self, argv: &[String]) -> Result<(), Fail> {
        const BAD: &str = "Bad directive or wrong number of arguments";
        let name = argv[0].to_ascii_lowercase();
        let args = &argv[1..];
        match name.as_str() {
            "include" if args.len() == 1 => return self.include(&args[0]).map_err(Fail::Done),
            "user" if !args.is_empty() => {
                self.users.push(args.to_vec());
                return Ok(());
            }
            "rename-command" if args.len() == 2 => {
                let names = self
                    .names
                    .get_or_insert_with(crate::commands::CommandNames::standard);
                names.rename(args[0].as_bytes(), args[1].as_bytes())?;
                self.renames.push((args[0].clone(), args[1].clone()));
                return Ok(());
            }
            "loadmodule" => return Err("Ferrite does not support Redis modules".into()),
            "sentinel" => return Err("Ferrite does not run as Redis Sentinel".into()),
            n if DEPRECATED.contains(&n) => {
                return if args.len() == 1 {
                    Ok(())
                } else {
                    Err(BAD.into())
                }
            }
            _ => {}
        }
        let i = lookup(&name).ok_or(BAD)?;
        let d = &TABLE[i];
        let mut args = args.to_vec();
        if d.multi_arg() && args.len() == 1 {
            // One quoted value stands for its space-separated words; an empty one means
            // "none" for the list-like directives and is an error for the others.
            match d.kind {
                _ if !args[0].is_empty() => args = args[0].split(' ').map(String::from).collect(),
                Kind::Special(Special::Save | Special::Bind | Special::Percentiles) => args.clear(),
                _ => {}
            }
        }
        let wanted = match d.kind {
            Kind::Special(Special::ReplicaOf) => Some(2),
            _ if d.multi_arg() => None,
            _ => Some(1),
        };
        if wanted.is_some_and(|w| w != args.len()) {
            return Err("wrong number of arguments".into());
        }
        let is_save = d.kind == Kind::Special(Special::Save);
        let append = is_save && self.reading && self.save_seen && !args.is_empty();
        self.save_seen |= is_save && self.reading;
        let (num, text) =
            values::parse(d, &args, &self.cfg.text(i), append).map_err(Fail::Reason)?;
        self.cfg.store(i, num, text);
        Ok(())
    }

    /// Loads an included file; a relative path is taken from `dir`, where Redis would have
    /// `chdir`ed by then.
    fn include(&mut self, path: &str) -> Result<(), String> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(format!(
                "Fatal error, too many nested include files at '{path}'"
            ));
        }
        let full = Path::new(&self.cfg.text(super::ix::DIR)).join(path);
        let text = read_file(&full.to_string_lossy())?;
        self.depth += 1;
        let r = self.load_text(&text);
        self.depth -= 1;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8(a).unwrap())
                .collect()
        })
    }

    /// The reader relies on `util::args` for Redis's exact quoting rules.
    #[test]
    fn tokenizer_matches_sdssplitargs() {
        assert_eq!(
            split("  save  3600 1\t300 100 ").unwrap(),
            ["save", "3600", "1", "300", "100"]
        );
        assert_eq!(
            split(r#"save "3600 1 300 100""#).unwrap(),
            ["save", "3600 1 300 100"]
        );
        assert_eq!(
            split(r#"a "x\x41\n\t\"\\\q" b"#).unwrap(),
            ["a", "xA\n\t\"\\q", "b"]
        );
        assert_eq!(split(r#""\xzz\x4""#).unwrap(), ["xzzx4"]);
        assert_eq!(split(r"'it\'s' 'a\nb'").unwrap(), ["it's", r"a\nb"]);
        assert_eq!(split(r#"a"b" c'd'"#).unwrap(), ["ab", "cd"]);
        assert_eq!(split(r#""" ''"#).unwrap(), ["", ""]);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        for bad in [
            r#""abc"#, r#"'abc"#, r#""a"b"#, r#"'a'b"#, r#""a\"#, r#""a\""#,
        ] {
            assert_eq!(split(bad), None, "{bad}");
        }
        assert_eq!(split_args(b"\"\\x00\\xff\"").unwrap(), [vec![0u8, 255]]);
    }

    #[test]
    fn quote_round_trips() {
        let samples: [&[u8]; 4] = [
            b"abc",
            b"",
            b"a b\"c\\d\n\r\t\x07\x08",
            &[0, 1, 0x7f, 0xff, b'\''],
        ];
        for s in samples {
            assert_eq!(split_args(quote(s).as_bytes()).unwrap(), vec![s.to_vec()]);
        }
        assert_eq!(quote(b"a\x01"), r#""a\x01""#);
    }

    #[test]
    fn command_line_options() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let line = |file, stdin, opts: &str| CommandLine {
            file,
            stdin,
            opts: opts.to_string(),
        };
        let args = a(&[
            "/etc/r.conf",
            "--port",
            "7000",
            "--save",
            "--bind",
            "127.0.0.1",
            "-::1",
        ]);
        assert_eq!(
            command_line(&args),
            line(
                Some("/etc/r.conf"),
                false,
                "port \"7000\" \nsave \"\"\nbind \"127.0.0.1\" \"-::1\" "
            )
        );
        let args = a(&["-", "--save"]);
        assert_eq!(command_line(&args), line(None, true, "save \"\""));
        let args = a(&["r.conf", "--hz", "1", "-"]);
        assert_eq!(command_line(&args), line(Some("r.conf"), true, "hz \"1\" "));
        let args = a(&["--threads", "4"]);
        assert_eq!(command_line(&args), line(None, false, "threads \"4\" "));
        assert_eq!(command_line(&[]), line(None, false, ""));
        // `--requirepass --x`: the second is the value; `--save --x`: `save ""`.
        let args = a(&[
            "--requirepass",
            "--x",
            "--save",
            "--hz",
            "3",
            "--logfile",
            "-",
        ]);
        assert_eq!(
            command_line(&args),
            line(
                None,
                true,
                "requirepass \"--x\" \nsave \"\"\nhz \"3\" \nlogfile "
            )
        );
        // A first argument starting with `-` is not a config file.
        let args = a(&["-x", "--hz", "3"]);
        assert_eq!(command_line(&args), line(None, false, "\"-x\" \nhz \"3\" "));
        let args = a(&["--hz 3", "--port", "1"]);
        assert_eq!(command_line(&args), line(None, false, "hz 3 \nport \"1\" "));
    }
}
