//! How much memory a rule call takes: a counting allocator keeps each thread's net
//! allocations, so that a call past `[limits] max_memory_per_call` is stopped between two
//! operations instead of exhausting the machine (rhai checks the size of each value, but not
//! the sum of many values, such as an array whose items are each a long new string).
//!
//! The `bonusrun` binary installs [`CountingAllocator`] as its global allocator. A program
//! that embeds the library and wants the memory limit enforced installs it too:
//!
//! ```no_run
//! #[global_allocator]
//! static ALLOCATOR: bonusrun::rules::memory::CountingAllocator =
//!     bonusrun::rules::memory::CountingAllocator;
//! ```
//!
//! Without it, [`net`] stays 0 and the limit is not enforced.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting each thread's net allocated bytes.
pub struct CountingAllocator;

thread_local! {
    static NET: Cell<i64> = const { Cell::new(0) };
}

fn add(bytes: i64) {
    // `try_with`: the thread-local may already be gone while a thread exits.
    let _ = NET.try_with(|n| n.set(n.get().wrapping_add(bytes)));
}

/// Bytes allocated minus bytes freed on this thread so far (0 without the counting
/// allocator). Memory freed on another thread than it was allocated on counts there.
pub fn net() -> i64 {
    NET.try_with(Cell::get).unwrap_or(0)
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counting only
// touches a thread-local integer and never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as i64 - layout.size() as i64);
        }
        p
    }
}
