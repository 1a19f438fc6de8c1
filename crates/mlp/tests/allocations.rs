//! After the first step, a training step allocates nothing that grows with the batch: the
//! trainer keeps its tape and every scratch buffer. (Its own test binary: it installs a
//! counting global allocator.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use mlp::{Mlp, Optimizer, TrainConfig, Trainer, datasets};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// (allocations, bytes) per step, measured over steps 3..13.
fn per_step(n: usize, config: TrainConfig) -> (usize, usize) {
    let data = datasets::two_moons(n, 0.1, 1);
    let mut model = Mlp::new(2, &[16, 16, 1], 1);
    let mut t = Trainer::new(config);
    for _ in 0..3 {
        t.step(&mut model, &data).unwrap();
    }
    let (a0, b0) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    for _ in 0..10 {
        t.step(&mut model, &data).unwrap();
    }
    let (a1, b1) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    ((a1 - a0) / 10, (b1 - b0) / 10)
}

#[test]
fn steps_after_the_first_do_not_allocate_per_sample() {
    let demo = TrainConfig {
        steps: 1000,
        ..TrainConfig::micrograd_demo()
    };
    let adam_minibatch = TrainConfig {
        optimizer: Optimizer::adam(0.01),
        batch_size: Some(16),
        seed: 2,
        ..demo.clone()
    };
    let small = per_step(20, demo.clone());
    let large = per_step(200, demo);
    // With 20 samples nothing is allocated at all. With 200, the only allocations are the
    // engine's `Tape::sum` gathering its operand ids (a SmallVec of 32 that spills and
    // doubles: 3 allocations, 1,792 bytes): a few, never one per sample or per node.
    assert_eq!(small, (0, 0));
    assert!(large.0 <= 4 && large.1 <= 16 * 200, "{large:?}");
    let mb = per_step(200, adam_minibatch);
    assert_eq!(mb, (0, 0));
}
