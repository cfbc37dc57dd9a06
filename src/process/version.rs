//! `ferrite-server -v` / `--version`: one line in the shape of `redis-server --version`
//! (`Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=...`),
//! because scripts split it on spaces and `=`. INFO's `redis_git_sha1`, `redis_git_dirty`
//! and `redis_build_id` print the same values.
//!
//! The git fields come from `FERRITE_GIT_SHA1` and `FERRITE_GIT_DIRTY` at build time
//! (`FERRITE_GIT_SHA1=$(git rev-parse --short=8 HEAD) cargo build --release`); without
//! them they read `00000000` and `0`, as a Redis built outside git does. No build script
//! asks git on every build, which would rebuild the crate after every commit.

/// The version line, without a newline.
pub fn line() -> String {
    format!(
        "Ferrite server v={} sha={}:{} malloc={} bits={} build={}",
        env!("CARGO_PKG_VERSION"),
        git_sha1(),
        git_dirty(),
        malloc(),
        usize::BITS,
        build_id()
    )
}

/// The commit the binary was built from, 8 hex digits (`00000000` when unknown).
pub fn git_sha1() -> &'static str {
    option_env!("FERRITE_GIT_SHA1").unwrap_or("00000000")
}

/// `1` when the working tree had uncommitted changes at build time.
pub fn git_dirty() -> &'static str {
    option_env!("FERRITE_GIT_DIRTY").unwrap_or("0")
}

/// The allocator as INFO's `mem_allocator` names it, `jemalloc-5.3.0`.
pub fn malloc() -> String {
    let v = tikv_jemalloc_ctl::version::read().unwrap_or("5.3.0");
    format!("jemalloc-{}", v.split('-').next().unwrap_or(v))
}

/// A hex digest of what distinguishes one build from another (version, commit,
/// target, profile), like Redis's build id: equal builds print equal ids.
pub fn build_id() -> String {
    let parts = [
        env!("CARGO_PKG_VERSION"),
        git_sha1(),
        git_dirty(),
        std::env::consts::ARCH,
        std::env::consts::OS,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    ];
    // FNV-1a, 64 bits: stable across runs and Rust versions, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.join("\0").bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_redis_shape() {
        let l = line();
        let words: Vec<&str> = l.split(' ').collect();
        assert_eq!(&words[..2], ["Ferrite", "server"]);
        let fields: Vec<(&str, &str)> = words[2..]
            .iter()
            .map(|w| w.split_once('=').unwrap())
            .collect();
        let keys: Vec<&str> = fields.iter().map(|f| f.0).collect();
        assert_eq!(keys, ["v", "sha", "malloc", "bits", "build"]);
        assert_eq!(fields[0].1, env!("CARGO_PKG_VERSION"));
        let (sha, dirty) = fields[1].1.split_once(':').unwrap();
        assert_eq!(sha.len(), 8);
        assert!(dirty == "0" || dirty == "1");
        assert!(fields[2].1.starts_with("jemalloc-"));
        assert_eq!(fields[3].1, "64");
        assert!(fields[4].1.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(build_id(), build_id());
    }
}
