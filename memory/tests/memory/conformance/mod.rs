//! The contract every store keeps, written once and run against each backend: each test is an
//! `async fn(TestDb) -> anyhow::Result<()>` in a module here, and [`conformance!`] makes one
//! `#[tokio::test]` of it per backend, `conformance::sqlite::<name>` and
//! `conformance::postgres::<name>`.

mod agent;
mod concurrency;
mod context;
mod lease;
mod round_trip;
mod search;
mod sessions;

use crate::fixture::{Backend, TestDb};

pub(crate) use concurrency::write_sessions;
pub(crate) use round_trip::write_rich_session;

/// Runs `test` on a fresh database of `backend`; passes without running when PostgreSQL is
/// not installed here (see [`TestDb::new`]).
async fn run<F>(backend: Backend, test: impl FnOnce(TestDb) -> F) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    match TestDb::new(backend).await? {
        Some(db) => test(db).await,
        None => Ok(()),
    }
}

/// One test per backend for each `module::test` listed.
macro_rules! conformance {
    ($($module:ident :: $test:ident),* $(,)?) => {
        /// The conformance tests against [`SqliteMemory`](argus_memory::SqliteMemory).
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() -> anyhow::Result<()> {
                    super::run(super::Backend::Sqlite, super::$module::$test).await
                }
            )*
        }

        /// The conformance tests against [`PostgresMemory`](argus_memory::PostgresMemory).
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() -> anyhow::Result<()> {
                    super::run(super::Backend::Postgres, super::$module::$test).await
                }
            )*
        }
    };
}

conformance! {
    sessions::sessions_are_created_listed_renamed_and_deleted,
    sessions::step_ordering_rules_match_the_reference,
    sessions::deleting_a_session_removes_only_its_orphaned_images,
    sessions::the_store_accepts_and_rejects_the_same_steps_as_the_reference,
    sessions::images_whose_bytes_do_not_match_their_hash_are_rejected,
    sessions::the_consistency_check_catches_a_tampered_log,
    round_trip::everything_written_reads_back_identically,
    round_trip::export_and_import_recreate_the_session_exactly,
    round_trip::an_inconsistent_export_imports_nothing,
    round_trip::image_bytes_fill_in_an_earlier_reference,
    round_trip::observations_outlive_the_handle_and_are_keyed_by_model_question_and_images,
    round_trip::an_images_observations_go_with_its_last_session,
    context::strategies_match_select_context_and_keep_units_whole,
    search::search_ranks_matches_and_can_be_scoped_to_a_session,
    search::search_ignores_diacritics_and_case,
    search::user_text_cannot_inject_query_syntax,
    search::very_common_words_rank_the_most_recent_matches,
    concurrency::fifty_sessions_written_concurrently_lose_nothing,
    concurrency::separate_handles_writing_at_once_lose_nothing,
    lease::a_held_session_is_busy_for_the_wait_then_refused,
    lease::a_released_session_can_be_held_again_at_once,
    lease::a_dropped_lease_frees_the_session,
    lease::holding_one_session_leaves_the_others_free,
    lease::a_waiting_holder_gets_the_session_when_it_is_released,
    agent::a_second_agent_on_a_running_session_fails_busy_or_waits_its_turn,
}
