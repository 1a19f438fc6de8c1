//! Shared helpers for tapegrad's integration tests and benchmarks.
