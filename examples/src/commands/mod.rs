//! The `argus` subcommands, one module each.

pub(crate) mod eval;
pub(crate) mod parse;
pub(crate) mod sessions;
