//! The script cache: every script EVAL or SCRIPT LOAD has seen, by SHA1,
//! shared by all worker threads. Each thread's Lua state compiles a script
//! from here the first time it runs it (`scripting::vm`); SCRIPT FLUSH
//! empties the cache and bumps the generation, which makes every thread
//! start a fresh Lua state before its next script, as Redis resets its one
//! state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// A script's name: its SHA1 in lower-case hex.
pub type Sha = [u8; 40];

/// Script flags from a `#!lua flags=...` shebang (Redis's names).
pub mod flags {
    pub const NO_WRITES: u32 = 1 << 0;
    pub const ALLOW_OOM: u32 = 1 << 1;
    pub const ALLOW_STALE: u32 = 1 << 2;
    pub const NO_CLUSTER: u32 = 1 << 3;
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 4;
    /// No shebang: an EVAL script of before Redis 7, whose behaviour
    /// follows the commands it calls rather than declared flags.
    pub const EVAL_COMPAT: u32 = 1 << 5;

    pub const NAMES: &[(u32, &str)] = &[
        (NO_WRITES, "no-writes"),
        (ALLOW_OOM, "allow-oom"),
        (ALLOW_STALE, "allow-stale"),
        (NO_CLUSTER, "no-cluster"),
        (ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
    ];
}

/// One cached script.
pub struct Script {
    pub sha: Sha,
    pub body: Box<[u8]>,
    pub flags: u32,
    /// Bytes of the shebang line (without its newline), skipped when
    /// compiling so that line numbers stay the user's.
    pub shebang_len: usize,
}

impl Script {
    /// The code Lua compiles: the body without its shebang line (its
    /// newline kept).
    pub fn code(&self) -> &[u8] {
        &self.body[self.shebang_len..]
    }
}

/// The SHA1 of `body` as a script name.
pub fn sha_of(body: &[u8]) -> Sha {
    let mut out = [0u8; 40];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in sha1_smol::Sha1::from(body)
        .digest()
        .bytes()
        .iter()
        .enumerate()
    {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    out
}

/// A SHA given by a client (EVALSHA, SCRIPT EXISTS) as a name: `None` when
/// it cannot name a script (not 40 bytes). Upper case is accepted.
pub fn sha_arg(arg: &[u8]) -> Option<Sha> {
    let mut out: Sha = arg.try_into().ok()?;
    out.make_ascii_lowercase();
    Some(out)
}

/// Reads the flags of `body`'s shebang, as Redis 7.0 does: no shebang is
/// compatibility mode; `#!lua` may be followed by `flags=a,b`. Returns the
/// flags and the shebang's length, or the error text (without `ERR`).
pub fn parse_shebang(body: &[u8]) -> Result<(u32, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((flags::EVAL_COMPAT, 0));
    }
    let Some(len) = body.iter().position(|&b| b == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let parts = match crate::util::args::split_args(&body[..len]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err("Invalid engine in script shebang".into()),
    };
    if parts[0] != b"#!lua" {
        return Err(format!(
            "Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(&parts[0])
        ));
    }
    let mut out = 0;
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(format!(
                "Unknown lua shebang option: {}",
                String::from_utf8_lossy(part)
            ));
        };
        // An empty list names no flag; `a,,b` names an empty one.
        if list.is_empty() {
            continue;
        }
        for name in list.split(|&b| b == b',') {
            match flags::NAMES.iter().find(|(_, n)| n.as_bytes() == name) {
                Some((f, _)) => out |= f,
                None => {
                    return Err(format!(
                        "Unexpected flag in script shebang: {}",
                        String::from_utf8_lossy(name)
                    ))
                }
            }
        }
    }
    Ok((out, len))
}

/// The cache itself (`Shared::scripts`).
#[derive(Default)]
pub struct Scripts {
    map: RwLock<HashMap<Sha, Arc<Script>>>,
    /// Bumped by every flush: a thread whose Lua state was made in an
    /// older generation replaces it before running a script.
    generation: AtomicU64,
    /// Bytes of the cached bodies (INFO `used_memory_scripts_eval`).
    memory: AtomicU64,
}

impl Scripts {
    pub fn get(&self, sha: &Sha) -> Option<Arc<Script>> {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sha)
            .cloned()
    }

    pub fn contains(&self, sha: &Sha) -> bool {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(sha)
    }

    /// Adds a compiled-and-checked script (keeping the one already there).
    pub fn insert(&self, script: Arc<Script>) -> Arc<Script> {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        let size = script.body.len() as u64 + 40;
        match map.entry(script.sha) {
            std::collections::hash_map::Entry::Occupied(e) => e.get().clone(),
            std::collections::hash_map::Entry::Vacant(e) => {
                self.memory.fetch_add(size, Ordering::Relaxed);
                e.insert(script).clone()
            }
        }
    }

    /// SCRIPT FLUSH: forgets every script. Returns the old map, for the
    /// caller to drop where it likes (ASYNC: on another thread).
    pub fn flush(&self) -> HashMap<Sha, Arc<Script>> {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.memory.store(0, Ordering::Relaxed);
        std::mem::take(&mut *map)
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held by cached scripts.
    pub fn memory(&self) -> u64 {
        self.memory.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs() {
        assert_eq!(parse_shebang(b"return 1"), Ok((flags::EVAL_COMPAT, 0)));
        assert_eq!(parse_shebang(b"#!lua\nreturn 1"), Ok((0, 5)));
        assert_eq!(
            parse_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1"),
            Ok((flags::NO_WRITES | flags::ALLOW_OOM, 31))
        );
        assert_eq!(parse_shebang(b"#!lua flags=\nx"), Ok((0, 12)));
        assert_eq!(
            parse_shebang(b"#!lua"),
            Err("Invalid script shebang".to_string())
        );
        assert_eq!(
            parse_shebang(b"#!python\n"),
            Err("Unexpected engine in script shebang: #!python".to_string())
        );
        assert_eq!(
            parse_shebang(b"#!lua name=x\n"),
            Err("Unknown lua shebang option: name=x".to_string())
        );
        assert_eq!(
            parse_shebang(b"#!lua flags=no-writes,bad\n"),
            Err("Unexpected flag in script shebang: bad".to_string())
        );
    }

    #[test]
    fn shas() {
        assert_eq!(
            &sha_of(b"return 1"),
            b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        );
        assert_eq!(
            sha_arg(b"E0E1F9FABFC9D4800C877A703B823AC0578FF8DB"),
            Some(*b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
        );
        assert_eq!(sha_arg(b"abc"), None);
    }
}
