//! Built-in typed tools and tool-writing ergonomics for Argus.
