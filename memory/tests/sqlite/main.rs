//! Integration tests of the SQLite memory, each against a fresh temporary database file.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod bad_input;
mod common;
mod concurrency;
mod context;
mod crash;
mod migrations;
mod round_trip;
mod search;
mod sessions;
