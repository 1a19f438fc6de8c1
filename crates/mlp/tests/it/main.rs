//! The `mlp` crate's integration tests, one binary (ripgrep style).

mod common;
#[cfg(feature = "serde")]
mod files;
mod gradient;
#[cfg(feature = "serde")]
mod hostile;
mod lanes;
mod model;
mod parallel;
mod training;
