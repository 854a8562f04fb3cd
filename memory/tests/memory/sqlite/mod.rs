//! What only the SQLite store has: files (refused, created, upgraded), the background
//! checkpoint, databases in memory.

mod bad_input;
mod checkpoint;
mod in_memory;
mod migrations;
