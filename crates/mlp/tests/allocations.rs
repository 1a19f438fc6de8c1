//! What training allocates, counted by a global allocator (its own test binary):
//!
//! - on one thread, a step after the first allocates nothing at all: the trainer keeps its
//!   tape and every scratch buffer;
//! - with more threads, the pool's threads start in the first step and the trainer's own
//!   work allocates nothing after it either; the pool's scheduler may allocate now and then
//!   (its queues grow), never per chunk, sample or node;
//! - `train` reserves room for its reports as they come, not for the steps it was asked for.
//!
//! The counts cover the steps only (never thread start-up), so they do not depend on how
//! the threads happen to be scheduled.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use mlp::{Mlp, Optimizer, Schedule, StepReport, TrainConfig, TrainError, Trainer, datasets};

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

fn counters() -> (usize, usize) {
    (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    )
}

/// (allocations, bytes) of `steps` calls to `Trainer::step` on `n` two-moons samples, after
/// 3 warm-up steps on the same trainer (the first starts the threads, if any).
fn steps_cost(n: usize, config: &TrainConfig, steps: usize) -> (usize, usize) {
    let data = datasets::two_moons(n, 0.1, 1);
    let mut model = Mlp::new(2, &[16, 16, 1], 1);
    let mut t = Trainer::new(config.clone());
    for _ in 0..3 {
        t.step(&mut model, &data).unwrap();
    }
    let (a0, b0) = counters();
    for _ in 0..steps {
        t.step(&mut model, &data).unwrap();
    }
    let (a1, b1) = counters();
    (a1 - a0, b1 - b0)
}

/// The least of three measurements: the test harness's own thread may allocate (a timer, a
/// line of output) while one is running; the trainer's allocations show in all three.
fn least(measure: impl Fn() -> (usize, usize)) -> (usize, usize) {
    (0..3).map(|_| measure()).min().unwrap()
}

fn demo() -> TrainConfig {
    TrainConfig {
        steps: 1000,
        ..TrainConfig::micrograd_demo()
    }
}

fn adam_minibatch() -> TrainConfig {
    TrainConfig {
        optimizer: Optimizer::adam(0.01),
        batch_size: Some(16),
        seed: 2,
        ..demo()
    }
}

fn threads(config: TrainConfig, threads: usize) -> TrainConfig {
    TrainConfig { threads, ..config }
}

// The counters are global, so every measurement runs in this one test, one at a time.
#[test]
fn steps_after_the_first_do_not_allocate() {
    // One thread: nothing at all, for one chunk (20 samples) or several (200 samples are 4
    // chunks), full batch or mini-batches.
    assert_eq!(least(|| steps_cost(20, &demo(), 10)), (0, 0));
    assert_eq!(least(|| steps_cost(200, &demo(), 10)), (0, 0));
    assert_eq!(least(|| steps_cost(200, &adam_minibatch(), 10)), (0, 0));
    // Lane tapes keep their buffers as the scalar tape does, padded groups included.
    for lanes in [4, 8, 16] {
        let config = TrainConfig { lanes, ..demo() };
        assert_eq!(least(|| steps_cost(100, &config, 10)), (0, 0), "{lanes}");
        let config = TrainConfig {
            lanes,
            ..threads(adam_minibatch(), 2)
        };
        assert_eq!(least(|| steps_cost(200, &config, 10)), (0, 0), "{lanes}");
    }
    // A batch of one chunk is recorded on the calling thread whatever the thread count.
    assert_eq!(
        least(|| steps_cost(200, &threads(adam_minibatch(), 2), 10)),
        (0, 0)
    );

    // Before any pool exists: a pool's threads may still be exiting (and allocating) after
    // their trainer is dropped.
    train_grows_its_reports_as_they_come();
    a_huge_step_count_costs_what_the_steps_run_cost();

    // More threads: 20 steps of 16 chunks each are 320 chunks and over 800,000 nodes; one
    // allocation per chunk would show as 320. What may show is the scheduler's own
    // bookkeeping (and that of the threads of the trainers measured before, as they exit),
    // far less than one allocation per step.
    for t in [2, 3] {
        let (count, bytes) = least(|| steps_cost(1000, &threads(demo(), t), 20));
        assert!(
            count < 20 && bytes < 20 * 1024,
            "{t} threads: {count} allocations, {bytes} bytes"
        );
    }
    let minibatch_of_4_chunks = TrainConfig {
        batch_size: Some(200),
        ..threads(adam_minibatch(), 2)
    };
    let (count, _) = least(|| steps_cost(500, &minibatch_of_4_chunks, 20));
    assert!(count < 20, "{count}");
}

/// `train` on one thread: after its first steps, the only allocations between two steps'
/// callbacks are the growth of the report vector, at most one block at a time and only
/// when its length doubles.
fn train_grows_its_reports_as_they_come() {
    let data = datasets::two_moons(100, 0.1, 1);
    let mut model = Mlp::new(2, &[16, 16, 1], 1);
    let steps = 150;
    let mut t = Trainer::new(TrainConfig { steps, ..demo() });
    let mut windows = Vec::with_capacity(steps);
    let mut last = counters();
    t.train(&mut model, &data, |_| {
        let now = counters();
        windows.push(now.0 - last.0);
        last = counters();
    })
    .unwrap();
    // Windows 0 and 1 hold the first steps (sizing every buffer) and the first report.
    let later = &windows[3..];
    assert!(later.iter().all(|&a| a <= 1), "{later:?}");
    let growths = later.iter().filter(|&&a| a == 1).count();
    assert!(growths <= 8, "{growths} growths in {} steps", later.len());
}

/// A run whose learning rate diverges stops at the same step, with the same allocations,
/// whether it was asked for 1,000 steps or `usize::MAX`: nothing is reserved for steps that
/// were not run. (Regression: `train` reserved `steps` reports up front, so 100 billion
/// steps aborted the process on a 4 TB allocation instead of returning `NonFinite`.)
fn a_huge_step_count_costs_what_the_steps_run_cost() {
    let data = datasets::two_moons(50, 0.1, 1);
    let run = |steps: usize| -> ((usize, usize), Result<Vec<StepReport>, TrainError>) {
        let mut model = Mlp::new(2, &[16, 16, 1], 1);
        let mut t = Trainer::new(TrainConfig {
            steps,
            optimizer: Optimizer::Sgd {
                schedule: Schedule::Constant(1e6),
            },
            ..TrainConfig::micrograd_demo()
        });
        let before = counters();
        let result = t.train(&mut model, &data, |_| {});
        let after = counters();
        ((after.0 - before.0, after.1 - before.1), result)
    };
    let (small_cost, small) = run(1000);
    let Err(TrainError::NonFinite { step, .. }) = &small else {
        panic!("the diverging run did not stop: {small:?}");
    };
    assert!(*step < 1000);
    for steps in [100_000_000_000, usize::MAX] {
        let (cost, result) = run(steps);
        assert_eq!(result, small, "steps {steps}");
        assert_eq!(cost, small_cost, "steps {steps}");
    }
}
