//! The `demo` group's trainings timed as the fastest of many runs instead of criterion's
//! median: on a shared machine a burst of load only ever adds time, so the fastest run of
//! each spelling is the steadier figure when two builds are compared a few percent apart.
//!
//! ```sh
//! cargo bench --bench demo_fastest            # 12 rounds
//! cargo bench --bench demo_fastest -- 30      # 30 rounds
//! ```
//!
//! Each round runs the hand-written training and the three `Tape<f64>` spellings once, in
//! that order, on one reused tape; the line printed gives each spelling's fastest 100-step
//! training and its ratio to the fastest hand-written one. The recorders are `demo.rs`'s
//! own, so this file builds wherever that one does (on 16fc451 too, as described there).
//! Under `cargo test` it runs one round of 3 steps.

#![allow(dead_code)]

#[path = "demo.rs"]
mod demo;

use std::time::Instant;

use tapegrad::Tape;
use tapegrad_suite::handwritten::Net;

fn main() {
    let test = demo::test_mode();
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(if test { 1 } else { 12 });
    let d = demo::Demo::new(demo::steps());
    let (mut params, mut curve) = (Vec::new(), Vec::new());
    let mut tape = Tape::new();
    let mut net = Net::from_params(&d.start);
    let mut grad = net.clone();
    let spellings = demo::TAPE_SPELLINGS;
    let mut fastest = vec![f64::MAX; spellings.len() + 1];
    for _ in 0..rounds {
        let t = Instant::now();
        demo::train_handwritten(&d, &mut net, &mut grad, &mut curve);
        fastest[0] = fastest[0].min(t.elapsed().as_secs_f64());
        for (k, (_, record)) in spellings.iter().enumerate() {
            let t = Instant::now();
            demo::train_tape(&d, *record, &mut tape, &mut params, &mut curve);
            fastest[k + 1] = fastest[k + 1].min(t.elapsed().as_secs_f64());
        }
    }
    print!(
        "fastest of {rounds}: handwritten {:.1} µs",
        fastest[0] * 1e6
    );
    for (k, (name, _)) in spellings.iter().enumerate() {
        let t = fastest[k + 1];
        print!(" | {name} {:.3} ms, {:.2}×", t * 1e3, t / fastest[0]);
    }
    println!();
}
