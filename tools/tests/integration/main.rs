//! Integration tests of argus-tools through the public API: custom tools in the three styles,
//! registry policies, and approvals through the agent loop.
#![allow(clippy::unwrap_used, missing_docs)]

mod approval;
mod custom_tools;
mod policies;
