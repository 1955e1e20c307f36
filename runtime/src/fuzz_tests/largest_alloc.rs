//! A global allocator for the unit tests that remembers, per thread, the largest single
//! allocation asked for, so that a fuzz test can assert that a decoder reading a huge length
//! from damaged bytes did not try to allocate gigabytes (a request that overcommit would grant
//! and the test would never notice).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, watched.
pub(crate) struct Watched;

thread_local! {
    // `const` and without `Drop`: reading it never allocates nor registers a destructor, so
    // it is safe to use inside the allocator.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

// SAFETY: every call is forwarded unchanged to `System`; the bookkeeping touches a
// thread-local `Cell` only.
unsafe impl GlobalAlloc for Watched {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static WATCHED: Watched = Watched;

/// The largest single allocation `f` asked for on this thread, with its result.
pub(crate) fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LARGEST.with(|largest| largest.replace(0));
    let out = f();
    let largest = LARGEST.with(|largest| largest.replace(before.max(largest.get())));
    (out, largest)
}

#[cfg(test)]
mod tests {
    use super::largest_allocation;

    #[test]
    fn a_large_allocation_is_seen() {
        let (bytes, largest) = largest_allocation(|| Vec::<u8>::with_capacity(8 << 20));
        assert!(largest >= 8 << 20, "{largest}");
        drop(bytes);
        let ((), largest) = largest_allocation(|| {});
        assert_eq!(largest, 0);
    }
}
