//! Context loading: the kernel's walk ([`argus_core::read_context`]) over messages read by
//! position, so only the tail of a session the context needs is read.

use std::ops::Range;

use argus_core::{async_trait, read_context, ContextStrategy, MemoryError, Message, MessageSource};
use sqlx::SqliteConnection;

use super::rows::{load_messages, Selection};

/// One session's messages, read inside the caller's transaction.
pub(crate) struct SessionMessages<'c> {
    pub(crate) conn: &'c mut SqliteConnection,
    pub(crate) session_seq: i64,
}

#[async_trait]
impl MessageSource for SessionMessages<'_> {
    async fn messages(&mut self, positions: Range<u64>) -> Result<Vec<Message>, MemoryError> {
        let rows = load_messages(self.conn, self.session_seq, &Selection::range(positions)).await?;
        Ok(rows.into_iter().map(|(_, message)| message).collect())
    }

    async fn system_messages(
        &mut self,
        positions: Range<u64>,
    ) -> Result<Vec<(u64, Message)>, MemoryError> {
        load_messages(self.conn, self.session_seq, &Selection::system(positions)).await
    }
}

/// The context of a session of `count` messages for `strategy`.
pub(crate) async fn load_context(
    conn: &mut SqliteConnection,
    session_seq: i64,
    count: u64,
    strategy: &ContextStrategy,
) -> Result<Vec<Message>, MemoryError> {
    let mut source = SessionMessages { conn, session_seq };
    read_context(&mut source, count, strategy).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::{
        any_conversation, read_context_in_chunks, select_context, NewSession, RunId, RunLog,
        StepRecord, TokenCounter,
    };
    use proptest::strategy::{Strategy as _, ValueTree};

    use crate::now_ms;
    use crate::sqlite::{find_session, insert_step, touch_session};

    /// Tiny first chunks force many chunk extensions across every kind of unit boundary.
    #[tokio::test]
    async fn chunked_loading_matches_select_context_for_any_chunk_size() {
        let memory = crate::SqliteMemory::in_memory().await.unwrap();
        let id = memory
            .create_session(NewSession::named("s", "S"))
            .await
            .unwrap()
            .id;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let mut all = Vec::new();
        for _ in 0..6 {
            all.extend(any_conversation().new_tree(&mut runner).unwrap().current());
        }
        let step = StepRecord {
            run_id: RunId::new("r"),
            index: 0,
            messages: all.clone(),
            usage: Default::default(),
            is_final: true,
        };
        // Written beneath `append_step`, which refuses the stray tool results.
        let mut tx = memory.begin_write().await.unwrap();
        let (seq, _) = find_session(&mut tx, &id).await.unwrap();
        let count = insert_step(&mut tx, seq, 0, &step, now_ms()).await.unwrap();
        touch_session(&mut tx, seq, count, now_ms()).await.unwrap();
        tx.commit().await.unwrap();

        let mut conn = memory.pools.reader.acquire().await.unwrap();
        let mut source = SessionMessages {
            conn: &mut conn,
            session_seq: seq,
        };
        let count = all.len() as u64;
        for first_chunk in [1, 2, 3, 5, 8] {
            for n in [0, 1, 2, 3, 4, 7, 20, 100] {
                let strategy = ContextStrategy::LastMessages(n);
                let got = read_context_in_chunks(&mut source, count, &strategy, first_chunk)
                    .await
                    .unwrap();
                assert_eq!(
                    got,
                    select_context(all.clone(), &strategy),
                    "{n} {first_chunk}"
                );
            }
            for max_tokens in [0, 5, 30, 100, 300, 1_000, 5_000] {
                let strategy = ContextStrategy::TokenBudget {
                    max_tokens,
                    counter: TokenCounter::estimate(),
                };
                let got = read_context_in_chunks(&mut source, count, &strategy, first_chunk)
                    .await
                    .unwrap();
                assert_eq!(got, select_context(all.clone(), &strategy), "{max_tokens}");
            }
        }
    }
}
