//! A count of the heap: [`CountingAllocator`] wraps the system allocator and keeps the bytes
//! allocated now and at most, so that a program that registers it as its global allocator can
//! say how much memory a run holds and what it consists of
//! ([`crate::sim::world::World::memory_parts`]). The command line registers it for
//! `run --memory`; the memory test does too. It counts only once [`start_counting`] has been
//! called: until then an allocation costs one relaxed load more, so the command line runs at
//! full speed without `--memory`.

use std::alloc::{GlobalAlloc, Layout, System};

/// The allocator our WebAssembly modules register (the page's, the engine's, the engine
/// benchmark's): Talc, in place of Rust's default dlmalloc, which is slower on the many small
/// allocations a query makes (a row's values, its cells' text). Our modules are
/// single-threaded. Each binary registers it with
/// `#[global_allocator] static ALLOCATOR: WasmAllocator = wasm_allocator();`.
#[cfg(target_arch = "wasm32")]
pub type WasmAllocator = talc::wasm::WasmDynamicTalc;

/// A [`WasmAllocator`] for a `#[global_allocator]` static.
#[cfg(target_arch = "wasm32")]
pub const fn wasm_allocator() -> WasmAllocator {
    talc::wasm::new_wasm_dynamic_allocator()
}
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

static COUNTING: AtomicBool = AtomicBool::new(false);
// Signed: memory allocated before counting started and freed after takes the count below 0.
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

/// Counts every allocation and release from now on (what was allocated before is not
/// counted).
pub fn start_counting() {
    COUNTING.store(true, Ordering::Relaxed);
}

/// The system allocator, counting: register with `#[global_allocator]`.
pub struct CountingAllocator;

/// Bytes allocated since counting started and not yet freed (0 where the counting allocator
/// is not registered or has not started).
pub fn live_bytes() -> usize {
    usize::try_from(LIVE.load(Ordering::Relaxed)).unwrap_or(0)
}

/// The most bytes allocated at once since counting started.
pub fn peak_bytes() -> usize {
    usize::try_from(PEAK.load(Ordering::Relaxed)).unwrap_or(0)
}

fn grew(bytes: usize) {
    if COUNTING.load(Ordering::Relaxed) {
        let bytes = isize::try_from(bytes).unwrap_or(isize::MAX);
        let now = LIVE
            .fetch_add(bytes, Ordering::Relaxed)
            .saturating_add(bytes);
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

fn shrank(bytes: usize) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE.fetch_sub(isize::try_from(bytes).unwrap_or(0), Ordering::Relaxed);
    }
}

// SAFETY: every call is passed on to the system allocator unchanged; the counts are only
// updated after it succeeded.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is the system allocator's.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: `pointer` came from this allocator, that is from the system's, with `layout`.
        unsafe { System.dealloc(pointer, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; `new_size` is the caller's, checked by its contract.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        moved
    }
}
