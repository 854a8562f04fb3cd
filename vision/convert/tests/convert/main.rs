//! Integration tests for `argus-convert`: error cases on synthetic GGUFs, a full synthetic conversion, and the
//! real Gemma 3 270M GGUF when `ARGUS_GEMMA_GGUF` is set.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod errors;
mod real;
mod synthetic;
mod synthetic_model;
