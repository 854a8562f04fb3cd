//! Cross-crate end-to-end tests for Argus live in `tests/`.
