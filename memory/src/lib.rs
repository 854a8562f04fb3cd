//! Durable SQLite conversation memory for Argus.
