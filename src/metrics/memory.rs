//! Memory figures: jemalloc's own statistics and the kernel's RSS.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// One reading of the allocator and the process, in bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryStats {
    /// Bytes handed out to the program (INFO `used_memory`, `allocator_allocated`).
    pub allocated: u64,
    /// Bytes in active pages (`allocator_active`).
    pub active: u64,
    /// Bytes in physically resident allocator pages (`allocator_resident`).
    pub resident: u64,
    /// Resident set size of the whole process (`used_memory_rss`).
    pub rss: u64,
}

/// Highest `allocated` seen so far (INFO `used_memory_peak`).
static PEAK: AtomicU64 = AtomicU64::new(0);
/// `allocated` when the server finished starting (`used_memory_startup`).
static STARTUP: OnceLock<u64> = OnceLock::new();

/// Reads the allocator's counters after refreshing them (jemalloc caches its
/// statistics until the epoch advances), and the process RSS.
pub fn read() -> MemoryStats {
    use tikv_jemalloc_ctl::{epoch, stats};
    let _ = epoch::advance();
    // The keyspace's large bucket arrays are mapped outside the allocator
    // (`store::table`): counted as allocated, active and resident alike, so
    // the ratios between them stay the allocator's.
    let mapped = crate::store::table::mapped_bytes() as u64;
    let allocated = stats::allocated::read().unwrap_or(0) as u64 + mapped;
    let s = MemoryStats {
        allocated,
        active: stats::active::read().unwrap_or(0) as u64 + mapped,
        resident: stats::resident::read().unwrap_or(0) as u64 + mapped,
        rss: rss_bytes(),
    };
    PEAK.fetch_max(allocated, Ordering::Relaxed);
    s
}

/// The peak of `allocated` over the life of the process.
pub fn peak() -> u64 {
    PEAK.load(Ordering::Relaxed)
}

/// Records the start-up baseline once (later calls do nothing).
pub fn mark_startup() {
    let now = read().allocated;
    let _ = STARTUP.set(now);
}

/// Memory in use once the server was ready, before any client data.
pub fn startup() -> u64 {
    STARTUP.get().copied().unwrap_or(0)
}

/// Resident set size from `/proc/self/statm` (pages resident × page size);
/// 0 where that file does not exist.
pub fn rss_bytes() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * page_size()
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as u64
    } else {
        4096
    }
}

/// Physical memory of the machine (INFO `total_system_memory`).
pub fn total_system_memory() -> u64 {
    static TOTAL: OnceLock<u64> = OnceLock::new();
    *TOTAL.get_or_init(|| {
        // SAFETY: sysconf has no memory-safety preconditions.
        let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
        if pages > 0 {
            pages as u64 * page_size()
        } else {
            0
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_and_system_memory_are_known_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(rss_bytes() > 0);
            assert!(total_system_memory() > 0);
        }
        let s = read();
        assert!(peak() >= s.allocated);
    }
}
