//! What only the PostgreSQL store has: URLs, servers, and text PostgreSQL cannot hold.

mod bad_input;
mod search;
mod upgrade;
