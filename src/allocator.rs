//! The global allocator (mimalloc): the settings Meridian gives it at startup, and the one
//! request it makes of it (return free memory to the OS).
//!
//! Owns every call into `libmimalloc_sys` and the process's transparent-huge-page switch; the
//! binaries install [`Mimalloc`] as the global allocator, the server calls [`init`] and
//! [`configure`] once at startup and [`release_free_memory`] after bulk work.

use std::alloc::{GlobalAlloc, Layout};
use std::os::raw::{c_long, c_void};

use libmimalloc_sys as mi;

/// The global allocator: mimalloc, asked for plain blocks whenever the alignment allows.
///
/// Why not `mimalloc::MiMalloc`: it passes every request to `mi_malloc_aligned`, and mimalloc
/// v3 serves an aligned request from the size class's free list only on its fast path; when
/// that list is empty it over-allocates `size + align - 1` from the next class up instead of
/// refilling the list, even for an alignment every block already has. A 384-byte index page
/// then costs a 448-byte block. Measured with `examples/store_mem` (1M points, huge pages off,
/// purge delay 0): a page vector allocated at its final size (`Vec::with_capacity`, as
/// `index.rs` does since) made the bulk-loaded store 68.2 -> 70.2 MiB through
/// `mimalloc::MiMalloc`, and 67.8 MiB through this.
pub struct Mimalloc;

/// Every mimalloc block is aligned to at least a machine word.
const WORD: usize = std::mem::size_of::<usize>();

// SAFETY: mimalloc returns blocks of at least the requested size, aligned to a word always and
// to `align` through the aligned calls; it frees and reallocates any block it returned.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= WORD {
            mi::mi_malloc(layout.size()).cast()
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= WORD {
            mi::mi_zalloc(layout.size()).cast()
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr.cast::<c_void>());
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= WORD {
            mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
        } else {
            mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
        }
    }
}

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_t` (libmimalloc-sys 0.1.49 builds v3
/// and exports no constant for it): milliseconds a freed span waits before it is returned to
/// the OS. The `purge_delay_option_is_mimallocs` test checks the number against the default.
const MI_OPTION_PURGE_DELAY: mi::mi_option_t = 15;

/// Turns transparent huge pages off for the process (`PR_SET_THP_DISABLE`). Called first
/// thing in `main`, before the config is read, because memory faulted in as a huge page stays
/// one; [`configure`] turns them back on if the config asks for them.
///
/// Why off: a huge page is resident as a whole (2 MiB) however little of it is in use, and a
/// heap spread over several threads' pages leaves many partly used. mimalloc asks for huge
/// pages on its arenas unless built with `no_thp`, as it is here (Cargo.toml: libmimalloc-sys); this switch
/// covers systems whose policy is `always`. Measured on a pipelined load of 1M points: RSS
/// after the load 105-116 MiB with huge pages, 87-89 MiB without; idle 14 -> 7 MiB; after a
/// restart 90-94 -> 78 MiB, and the restart was no slower (2.9 s against 3.7 s, same busy
/// machine). Switched off after reading the config instead, idle RSS was 12 MiB and RSS after
/// the load 91-93 MiB: the pages touched before the switch stay huge.
pub fn init() {
    set_thp_disabled(true);
}

/// Applies the allocator settings from the config (`allocator-thp`,
/// `allocator-purge-delay-ms`), once, before the runtime and the data set exist.
///
/// `purge_delay_ms` is how long mimalloc keeps a freed span before returning it to the OS
/// (its default is 1000 ms). A load that grows tables by doubling frees the old copies as it
/// goes; with a shorter delay they are returned before the load ends. Measured on the same
/// load with huge pages off: 89.7-94.8 MiB at 1000 ms, 87.1-88.9 MiB at 100 ms, no better at
/// 10 or 0 ms.
pub fn configure(thp: bool, purge_delay_ms: u64) {
    if thp {
        set_thp_disabled(false);
    }
    let delay = c_long::try_from(purge_delay_ms).unwrap_or(c_long::MAX);
    // SAFETY: mi_option_set stores a number in mimalloc's option table; any value is valid
    // for this option and it may be called at any time from any thread.
    unsafe { mi::mi_option_set(MI_OPTION_PURGE_DELAY, delay) }
}

#[cfg(target_os = "linux")]
fn set_thp_disabled(disabled: bool) {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and only sets a flag on this process
    // (inherited by children, of which the server has none).
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_THP_DISABLE,
            libc::c_ulong::from(disabled),
            0,
            0,
            0,
        )
    };
    if rc != 0 {
        // Kernels without the flag: huge pages stay as the system configures them. Logging
        // may not be set up yet, hence stderr.
        eprintln!(
            "meridian: could not switch transparent huge pages: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn set_thp_disabled(_disabled: bool) {}

/// Asks the allocator to return the memory freed so far to the OS. Called once after the AOF
/// load: replay and the bulk builds free their temporary buffers in one go, on threads that
/// are gone by then, and mimalloc would otherwise keep those pages (measured on 1M points:
/// RSS after a restart 141 MiB, against 105 MiB after the same data was loaded by clients).
/// Also the GC command.
pub fn release_free_memory() {
    // SAFETY: mi_collect only walks mimalloc's own free lists; it takes no pointers from us and
    // is safe to call at any time from any thread.
    unsafe { mi::mi_collect(true) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_and_keep_their_bytes_through_realloc() {
        let a = Mimalloc;
        for align in [1usize, 2, 4, 8, 16, 64, 4096] {
            for size in [1usize, 7, 12, 24, 100, 384, 1000, 5000, 70_000] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: non-zero sizes; every block is freed with the layout it has.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(
                        !p.is_null() && (p as usize).is_multiple_of(align),
                        "{size}/{align}"
                    );
                    std::ptr::write_bytes(p, 0xa5, size);
                    let q = a.realloc(p, layout, size * 3);
                    assert!(
                        !q.is_null() && (q as usize).is_multiple_of(align),
                        "{size}/{align}"
                    );
                    assert!((0..size).all(|i| *q.add(i) == 0xa5), "{size}/{align}");
                    a.dealloc(q, Layout::from_size_align(size * 3, align).unwrap());
                    let z = a.alloc_zeroed(layout);
                    assert!(
                        (z as usize).is_multiple_of(align) && (0..size).all(|i| *z.add(i) == 0)
                    );
                    a.dealloc(z, layout);
                }
            }
        }
    }

    #[test]
    fn purge_delay_option_is_mimallocs() {
        // mimalloc v3's default purge delay is 1000 ms; a different number here means the
        // option's position in mi_option_t moved and MI_OPTION_PURGE_DELAY must follow it.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // SAFETY: reads one entry of mimalloc's option table.
            let v = unsafe { mi::mi_option_get(MI_OPTION_PURGE_DELAY) };
            assert_eq!(v, 1000);
        }
    }
}
