//! The `argus` command-line assistant.

fn main() {}
