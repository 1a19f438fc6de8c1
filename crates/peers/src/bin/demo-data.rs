//! Prints the demo's data, start and loss curve as JSON for `micrograd/demo_step.py`:
//! `cargo run --bin demo-data > micrograd/demo.json`.

fn main() {
    print!("{}", peers::demo_json(100));
}
