//! tapegrad's integration tests, one binary with a module per area (the deep-graph tests are
//! in `deep.rs`, a binary of their own).

mod coverage;
mod diagnostics;
mod forward;
mod golden;
mod higher;
mod lanes;
mod micrograd;
mod misuse;
mod programs;
mod properties;
mod reference;
mod robustness;
mod structure;
mod util;
