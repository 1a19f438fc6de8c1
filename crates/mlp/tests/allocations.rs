//! After the first step, a training step allocates nothing that grows with the batch: the
//! trainer keeps its tapes and every scratch buffer. On one thread it allocates nothing at
//! all; with more, `Trainer::step` spawns its threads anew and only that allocates, the same
//! amount every step, while `Trainer::train` spawns them once per run and its steps allocate
//! nothing. (Its own test binary: it installs a counting global allocator.)

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

/// (allocations, bytes) per step, measured over `steps` steps after 3 warm-up steps.
fn per_step_over(n: usize, config: TrainConfig, steps: usize) -> (usize, usize) {
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
    for _ in 0..steps {
        t.step(&mut model, &data).unwrap();
    }
    let (a1, b1) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    ((a1 - a0) / steps, (b1 - b0) / steps)
}

/// (allocations, bytes) per step, measured over steps 3..13: the least of three runs, since
/// the test harness's own thread may allocate (printing) while a run is measured.
fn per_step(n: usize, config: TrainConfig) -> (usize, usize) {
    (0..3)
        .map(|_| per_step_over(n, config.clone(), 10))
        .min()
        .unwrap()
}

// One test function: the counters are global, and tests running side by side (or the
// harness printing a result) would add their allocations.
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
    // On one thread nothing is allocated at all: the trainer keeps its tape and every
    // scratch buffer, one chunk or several (200 samples are 4 chunks).
    assert_eq!(per_step(20, demo.clone()), (0, 0));
    assert_eq!(per_step(200, demo.clone()), (0, 0));
    assert_eq!(per_step(200, adam_minibatch.clone()), (0, 0));

    // With two threads, `step` allocates only to spawn the second thread (its handle, the
    // boxed closure, the two channels to it): the same few every step, whatever the batch
    // size or the number of steps so far, never per chunk, sample or node.
    let two = |c: &TrainConfig| TrainConfig {
        threads: 2,
        ..c.clone()
    };
    let spawn = per_step(200, two(&demo));
    assert!(spawn.0 > 0 && spawn.0 <= 24 && spawn.1 <= 8192, "{spawn:?}");
    let longer = (0..3)
        .map(|_| per_step_over(200, two(&demo), 30))
        .min()
        .unwrap();
    assert_same_cost(longer, spawn);
    assert_same_cost(per_step(2000, two(&demo)), spawn);
    // A batch of one chunk runs on the calling thread alone: nothing to spawn.
    assert_eq!(per_step(200, two(&adam_minibatch)), (0, 0));
    let minibatch_of_4_chunks = TrainConfig {
        batch_size: Some(200),
        ..two(&adam_minibatch)
    };
    assert_same_cost(per_step(500, minibatch_of_4_chunks), spawn);
    eprintln!("two threads: {spawn:?} (allocations, bytes) per step");

    // `train` spawns once per run: a run of 40 steps allocates as often as one of 10 (its
    // steps allocate nothing), and so does a run on one thread. (Give or take the wait
    // contexts of the two threads, as above.)
    for config in [demo.clone(), two(&demo), two(&adam_minibatch)] {
        let (short, long) = (run_allocs(500, &config, 10), run_allocs(500, &config, 40));
        assert!(short.abs_diff(long) <= 2, "{short} vs {long}: {config:?}");
    }
}

/// The same allocations per step give or take two, of about the same size. A thread that
/// waits long enough to block on a channel (likelier in this debug build) allocates the
/// channel's wait context, so a step whose new thread blocks allocates a little more than
/// one whose thread does not: measured 14 allocations per step, at times 15 or 16. Anything
/// per chunk, sample or node would show as dozens more (2,000 samples are 32 chunks).
#[track_caller]
fn assert_same_cost(a: (usize, usize), b: (usize, usize)) {
    assert!(
        a.0.abs_diff(b.0) <= 2 && a.1.abs_diff(b.1) <= 512,
        "{a:?} vs {b:?}"
    );
}

/// The allocations of a whole `train` run of `steps` steps on `n` samples, from a new
/// trainer and model: the least of three runs (see `per_step`).
fn run_allocs(n: usize, config: &TrainConfig, steps: usize) -> usize {
    let data = datasets::two_moons(n, 0.1, 1);
    (0..3)
        .map(|_| {
            let mut model = Mlp::new(2, &[16, 16, 1], 1);
            let mut t = Trainer::new(TrainConfig {
                steps,
                ..config.clone()
            });
            let a0 = ALLOCS.load(Ordering::Relaxed);
            t.train(&mut model, &data, |_| {}).unwrap();
            ALLOCS.load(Ordering::Relaxed) - a0
        })
        .min()
        .unwrap()
}
