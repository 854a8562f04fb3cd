//! Integration tests of the memory stores: one conformance suite run against SQLite and
//! PostgreSQL, plus each backend's own tests.
//!
//! - [`conformance`]: every test of the `RunLog`/`SessionStore` contract, written once over a
//!   [`fixture::TestDb`] and generated per backend (`conformance::sqlite::…`,
//!   `conformance::postgres::…`).
//! - [`sqlite`] and [`postgres`]: what only one backend has (files, URLs, checkpoints).
//! - [`crash`]: child processes SIGKILLed at random moments, against both backends.
//!
//! PostgreSQL tests use the testkit's throwaway server and return early (passing) when
//! PostgreSQL is not installed, unless `ARGUS_REQUIRE_POSTGRES` or `CI` is set.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod common;
mod conformance;
mod crash;
mod fixture;
mod postgres;
mod sqlite;
