//! Keeps the daemon's resident memory close to what it uses.
//!
//! glibc's allocator keeps the memory freed after a burst (a lookalike sweep, a batch of CT
//! entries, a large page) in its arenas for later use, and opens one arena per thread up to
//! eight per CPU. For a daemon that is idle most of the time, that memory stays resident for
//! nothing. [`limit_arenas`] caps the arenas at start-up and [`trim`] hands the free memory
//! of every arena back to the system; the daemon calls it every [`TRIM_PERIOD`]. Other C
//! libraries get no-ops.

use std::time::Duration;

/// Time between two calls of [`trim`] in the daemon.
pub const TRIM_PERIOD: Duration = Duration::from_secs(30);

/// Arenas glibc may open: two serve the async runtime's worker threads and the blocking
/// pool without lock contention that shows on a 2-core machine.
const MAX_ARENAS: i32 = 2;

/// Caps the number of allocator arenas. Call it before any other thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn limit_arenas() {
    // SAFETY: mallopt only changes a setting of the allocator; called before threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, MAX_ARENAS);
    }
}

/// Caps the number of allocator arenas (no-op outside glibc).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_arenas() {}

/// Returns the allocator's free memory to the system. Returns whether any was returned.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn trim() -> bool {
    // SAFETY: malloc_trim works on the allocator's own arenas under their locks; it takes no
    // pointer from the caller.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Returns the allocator's free memory to the system (no-op outside glibc).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_returns_freed_memory() {
        // Many small blocks, then one kept above them: once the blocks are freed, their
        // pages sit below a block in use, where only a trim hands them back.
        let blocks: Vec<Vec<u8>> = (0..20_000).map(|i| vec![(i % 251) as u8; 512]).collect();
        let live_block = vec![7_u8; 512];
        assert_eq!(blocks.len(), 20_000);
        drop(blocks);
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert!(
                trim(),
                "malloc_trim returned nothing after 10 MB were freed"
            );
        }
        assert_eq!(live_block[511], 7);
    }
}
