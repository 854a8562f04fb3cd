//! The `argus` subcommands, one module each.

pub(crate) mod parse;
