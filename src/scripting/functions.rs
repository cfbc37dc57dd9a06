//! The function libraries (FUNCTION LOAD), shared by all threads.
//!
//! A library is its code and what its code registered when it was loaded:
//! functions with a name, an optional description and flags. The registry
//! keeps them by library name (case-sensitive, as Redis) and functions by
//! name (case-insensitive, as Redis's FCALL). Each thread's Lua state for
//! functions (`scripting::vm`) loads a library's code itself the first time
//! it calls one of its functions, and drops what it loaded when the
//! library's version (a number no other load reuses) is gone.

use super::cache::flags as script_flags;
use crate::persistence::{dump, rdb};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// The only engine, as FUNCTION LIST and STATS name it.
pub const ENGINE: &str = "LUA";

/// A function a library registered.
#[derive(Clone, Debug)]
pub struct FunctionInfo {
    pub name: String,
    pub description: Option<Vec<u8>>,
    /// `scripting::cache::flags` bits.
    pub flags: u32,
}

/// A loaded library.
#[derive(Debug)]
pub struct Library {
    pub name: String,
    /// The code as given (its shebang line included).
    pub code: Box<[u8]>,
    /// Sorted by name.
    pub functions: Vec<FunctionInfo>,
    /// Unique to this load.
    pub version: u64,
}

impl Library {
    pub fn function(&self, name: &str) -> Option<&FunctionInfo> {
        self.functions.iter().find(|f| f.name == name)
    }
}

/// What a library's shebang says: `#!<engine> name=<name>`.
pub struct Metadata {
    pub engine: Vec<u8>,
    pub name: Vec<u8>,
    /// Where the code after the shebang line starts (its newline kept).
    pub code_start: usize,
}

/// Reads a library's shebang, as Redis 7.0 does. The error is the reply
/// text without `ERR`.
pub fn metadata(code: &[u8]) -> Result<Metadata, String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let parts = match crate::util::args::split_args(&code[..end]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err("Invalid library metadata".into()),
    };
    let engine = parts[0][2..].to_vec();
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_vec());
            continue;
        }
        return Err(format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    Ok(Metadata {
        engine,
        name,
        code_start: end,
    })
}

/// Redis's rule for library and function names: letters, digits and `_`,
/// at least one.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

pub const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// A function's flags, by name (case-insensitive, as `register_function`
/// reads them).
pub fn flag_named(name: &[u8]) -> Option<u32> {
    script_flags::NAMES
        .iter()
        .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|(f, _)| *f)
}

/// RDB's opcode for a library in FUNCTION DUMP payloads (and RDB files).
pub const OPCODE_FUNCTION2: u8 = 245;
/// The same in Redis 7.0's release candidates, which Redis still loads.
pub const OPCODE_FUNCTION: u8 = 246;

/// FUNCTION DUMP's payload of the libraries with `codes`: per library the
/// opcode and its code as an RDB string, then the RDB version and CRC64.
pub fn dump_payload<'a>(codes: impl Iterator<Item = &'a [u8]>, compress: bool) -> Vec<u8> {
    let mut body = Vec::new();
    for code in codes {
        body.push(OPCODE_FUNCTION2);
        rdb::string::write_bytes(&mut body, code, compress);
    }
    dump::frame(body)
}

/// The libraries' codes in a FUNCTION DUMP payload whose footer the caller
/// has verified, one by one, as Redis reads them: until the last 10 bytes
/// (the footer), each an opcode and its library; the first error (the
/// reply's text without `ERR`) ends it. A value that claims more bytes than
/// there are reads into the footer rather than failing, as in Redis.
pub fn payload_libraries(payload: &[u8]) -> impl Iterator<Item = Result<Vec<u8>, String>> + '_ {
    let mut reader = rdb::Reader::new(payload);
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || payload.len() - reader.position() <= 10 {
            return None;
        }
        let code = match reader.u8() {
            Err(_) => Err("can not read data type".to_string()),
            Ok(OPCODE_FUNCTION2) => rdb::string::read(&mut reader)
                .map(|c| c.into_bytes())
                .map_err(|_| "Failed loading library payload".to_string()),
            Ok(OPCODE_FUNCTION) => old_format(&mut reader),
            Ok(_) => Err("given type is not a function".to_string()),
        };
        failed = code.is_err();
        Some(code)
    })
}

/// A library in the format of Redis 7.0's release candidates (opcode 246):
/// name, engine, an optional description (dropped), code; made into the
/// code with its shebang as Redis does.
fn old_format(r: &mut rdb::Reader<'_>) -> Result<Vec<u8>, String> {
    let string = |r: &mut rdb::Reader<'_>, what: &str| {
        rdb::string::read(r)
            .map(|s| s.into_bytes())
            .map_err(|_| format!("Failed loading {what}"))
    };
    let name = string(r, "library name")?;
    let engine = string(r, "engine name")?;
    let has_description = r
        .plain_length()
        .map_err(|_| "Failed loading library description indicator".to_string())?;
    if has_description != 0 {
        string(r, "library description")?;
    }
    let blob = string(r, "library blob")?;
    let mut code = b"#!".to_vec();
    code.extend_from_slice(&engine);
    code.extend_from_slice(b" name=");
    code.extend_from_slice(&name);
    code.push(b'\n');
    code.extend_from_slice(&blob);
    Ok(code)
}

/// A set of libraries: the current one, or one being restored.
#[derive(Default, Clone)]
pub struct Libraries {
    pub by_name: BTreeMap<String, Arc<Library>>,
    /// Lower-cased function name -> its library's name.
    functions: BTreeMap<String, String>,
}

impl Libraries {
    /// The library of function `name` (any case) and the function's index
    /// in it.
    pub fn function(&self, name: &str) -> Option<(Arc<Library>, usize)> {
        let lib = self.functions.get(&name.to_ascii_lowercase())?;
        let lib = self.by_name.get(lib)?;
        let idx = lib
            .functions
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(name))?;
        Some((lib.clone(), idx))
    }

    /// Adds `lib`, which must not collide (checked by [`Libraries::check`]).
    pub fn link(&mut self, lib: Arc<Library>) {
        for f in &lib.functions {
            self.functions
                .insert(f.name.to_ascii_lowercase(), lib.name.clone());
        }
        self.by_name.insert(lib.name.clone(), lib);
    }

    pub fn unlink(&mut self, name: &str) -> Option<Arc<Library>> {
        let lib = self.by_name.remove(name)?;
        for f in &lib.functions {
            self.functions.remove(&f.name.to_ascii_lowercase());
        }
        Some(lib)
    }

    /// The first function of `lib` that another library already has.
    pub fn collision(&self, lib: &Library) -> Option<String> {
        lib.functions
            .iter()
            .find(|f| self.functions.contains_key(&f.name.to_ascii_lowercase()))
            .map(|f| f.name.clone())
    }

    /// Functions over all libraries (FUNCTION STATS, INFO), counted per
    /// library as Redis does.
    pub fn function_count(&self) -> usize {
        self.by_name.values().map(|l| l.functions.len()).sum()
    }

    /// Adds every library of `other` (FUNCTION RESTORE APPEND/REPLACE).
    /// On a collision nothing changes; the error is the reply text without
    /// `ERR`.
    pub fn join(&mut self, other: Libraries, replace: bool) -> Result<(), String> {
        let mut merged = self.clone();
        for name in other.by_name.keys() {
            if merged.by_name.contains_key(name) {
                if !replace {
                    return Err(format!("Library {name} already exists"));
                }
                merged.unlink(name);
            }
        }
        for lib in other.by_name.values() {
            if let Some(f) = merged.collision(lib) {
                return Err(format!("Function {f} already exists"));
            }
        }
        for lib in other.by_name.into_values() {
            merged.link(lib);
        }
        *self = merged;
        Ok(())
    }
}

/// The registry (`Shared::functions`).
#[derive(Default)]
pub struct Registry {
    current: RwLock<Libraries>,
    /// Bumped by every change, so a thread checks its loaded libraries
    /// only when something changed.
    generation: AtomicU64,
    versions: AtomicU64,
}

impl Registry {
    pub fn read<R>(&self, f: impl FnOnce(&Libraries) -> R) -> R {
        f(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Changes the libraries under the registry's lock.
    pub fn write<R>(&self, f: impl FnOnce(&mut Libraries) -> R) -> R {
        let mut libs = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let r = f(&mut libs);
        self.generation.fetch_add(1, Ordering::AcqRel);
        r
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A version number no other load has.
    pub fn next_version(&self) -> u64 {
        self.versions.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Whether the library `name` is loaded at `version`.
    pub fn has_version(&self, name: &str, version: u64) -> bool {
        self.read(|libs| libs.by_name.get(name).is_some_and(|l| l.version == version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs() {
        let md = metadata(b"#!lua name=mylib\nreturn 1").unwrap();
        assert_eq!(md.engine, b"lua");
        assert_eq!(md.name, b"mylib");
        assert_eq!(md.code_start, 16);
        assert_eq!(
            metadata(b"return 1").err().unwrap(),
            "Missing library metadata"
        );
        assert_eq!(
            metadata(b"#!lua name=x").err().unwrap(),
            "Invalid library metadata"
        );
        assert_eq!(
            metadata(b"#!lua\n").err().unwrap(),
            "Library name was not given"
        );
        assert_eq!(
            metadata(b"#!lua name=a NAME=b\n").err().unwrap(),
            "Invalid metadata value, name argument was given multiple times"
        );
        assert_eq!(
            metadata(b"#!lua foo=bar\n").err().unwrap(),
            "Invalid metadata value given: foo=bar"
        );
        assert!(valid_name(b"a_1"));
        assert!(!valid_name(b""));
        assert!(!valid_name(b"a-b"));
        assert_eq!(flag_named(b"NO-WRITES"), Some(script_flags::NO_WRITES));
    }
}
