//! Process metrics for INFO: allocator and RSS memory, CPU time, and the
//! instantaneous rates Redis samples every 100 ms.
//!
//! Everything here is read on demand (INFO) or by one background sampler
//! thread; nothing runs on the command path.

pub mod memory;
pub mod sampler;

pub use memory::MemoryStats;
pub use sampler::{start, Instantaneous};

/// CPU time consumed, in seconds, as `getrusage` reports it.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuTimes {
    pub sys: f64,
    pub user: f64,
}

/// CPU time of the whole process (`RUSAGE_SELF`) or of its reaped children.
pub fn cpu_times(children: bool) -> CpuTimes {
    let who = if children {
        libc::RUSAGE_CHILDREN
    } else {
        libc::RUSAGE_SELF
    };
    // SAFETY: `rusage` is plain old data, so all-zero bytes are a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a live, writable `rusage` for the duration of the call,
    // which is all getrusage requires.
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return CpuTimes::default();
    }
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    CpuTimes {
        sys: secs(ru.ru_stime),
        user: secs(ru.ru_utime),
    }
}

/// `1.50M`, `12.00K`, `100B`: Redis's human-readable byte counts.
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (1 << 50, "P"),
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    if !(1024..1 << 60).contains(&n) {
        return format!("{n}B");
    }
    let (unit, suffix) = UNITS
        .iter()
        .find(|(u, _)| n >= *u)
        .copied()
        .unwrap_or((1, "B"));
    format!("{:.2}{suffix}", n as f64 / unit as f64)
}

/// `uname -s -r -m`, as INFO's `os` field shows it (cached: it never changes).
pub fn os_string() -> &'static str {
    static OS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OS.get_or_init(|| {
        // SAFETY: `utsname` is plain old data, so all-zero bytes are valid.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: `u` is a live, writable `utsname` for the duration of the call.
        if unsafe { libc::uname(&mut u) } != 0 {
            return std::env::consts::OS.to_string();
        }
        let field = |f: &[libc::c_char]| {
            let bytes: Vec<u8> = f
                .iter()
                .take_while(|c| **c != 0)
                .map(|c| *c as u8)
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        format!(
            "{} {} {}",
            field(&u.sysname),
            field(&u.release),
            field(&u.machine)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_like_redis() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1024), "1.00K");
        assert_eq!(bytes_to_human(1536), "1.50K");
        assert_eq!(bytes_to_human(2_201_520), "2.10M");
        assert_eq!(bytes_to_human(25_276_063_744), "23.54G");
    }

    #[test]
    fn cpu_and_os_are_readable() {
        let t = cpu_times(false);
        assert!(t.sys >= 0.0 && t.user >= 0.0);
        assert!(!os_string().is_empty());
    }
}
