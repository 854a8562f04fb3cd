//! The `argus` subcommands, one module each.

pub(crate) mod chat;
#[cfg(feature = "local")]
pub(crate) mod demo_model;
pub(crate) mod eval;
pub(crate) mod mcp;
#[cfg(feature = "local")]
pub(crate) mod models;
pub(crate) mod parse;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod sessions;
