//! A process-local memory for tests and short-lived agents.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::{
    select_context, ContextStrategy, Memory, MemoryError, NewSession, RunSummary, SearchHit,
    SearchQuery, SessionId, SessionInfo, StepRecord,
};
use crate::message::Message;

#[derive(Debug)]
struct Session {
    info: SessionInfo,
    messages: Vec<Message>,
    runs: Vec<RunSummary>,
}

/// Memory held in a mutex-guarded map; nothing survives the process.
#[derive(Debug, Default)]
pub struct InMemoryMemory {
    sessions: Mutex<HashMap<SessionId, Session>>,
}

impl InMemoryMemory {
    /// An empty memory.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<SessionId, Session>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn find<'a>(
    sessions: &'a mut HashMap<SessionId, Session>,
    id: &SessionId,
) -> Result<&'a mut Session, MemoryError> {
    sessions
        .get_mut(id)
        .ok_or_else(|| MemoryError::SessionNotFound(id.clone()))
}

#[async_trait]
impl Memory for InMemoryMemory {
    async fn create_session(&self, new: NewSession) -> Result<SessionInfo, MemoryError> {
        let id = new.id.unwrap_or_else(SessionId::random);
        let mut sessions = self.lock();
        if sessions.contains_key(&id) {
            return Err(MemoryError::SessionExists(id));
        }
        let now = now_ms();
        let info = SessionInfo {
            id: id.clone(),
            title: new.title,
            created_at_ms: now,
            updated_at_ms: now,
            metadata: new.metadata,
            message_count: 0,
        };
        sessions.insert(
            id,
            Session {
                info: info.clone(),
                messages: Vec::new(),
                runs: Vec::new(),
            },
        );
        Ok(info)
    }

    async fn session(&self, id: &SessionId) -> Result<SessionInfo, MemoryError> {
        Ok(find(&mut self.lock(), id)?.info.clone())
    }

    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, MemoryError> {
        let mut list: Vec<SessionInfo> = self.lock().values().map(|s| s.info.clone()).collect();
        list.sort_by(|a, b| {
            b.updated_at_ms
                .cmp(&a.updated_at_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(list)
    }

    async fn rename_session(&self, id: &SessionId, title: &str) -> Result<(), MemoryError> {
        let mut sessions = self.lock();
        let session = find(&mut sessions, id)?;
        session.info.title = title.to_string();
        session.info.updated_at_ms = now_ms();
        Ok(())
    }

    async fn delete_session(&self, id: &SessionId) -> Result<(), MemoryError> {
        self.lock()
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| MemoryError::SessionNotFound(id.clone()))
    }

    async fn append_step(&self, session: &SessionId, step: &StepRecord) -> Result<(), MemoryError> {
        let mut sessions = self.lock();
        let session = find(&mut sessions, session)?;
        let run_index = session.runs.iter().rposition(|r| r.run_id == step.run_id);
        let expected = run_index.map_or(0, |i| session.runs[i].steps);
        if let Some(i) = run_index {
            if session.runs[i].finished {
                return Err(MemoryError::RunFinished(step.run_id.clone()));
            }
        }
        if step.index != expected {
            return Err(MemoryError::StepOutOfOrder {
                run_id: step.run_id.clone(),
                index: step.index,
                expected,
            });
        }
        match run_index {
            Some(i) => {
                session.runs[i].steps += 1;
                session.runs[i].finished = step.is_final;
            }
            None => session.runs.push(RunSummary {
                run_id: step.run_id.clone(),
                steps: 1,
                finished: step.is_final,
            }),
        }
        session.messages.extend(step.messages.iter().cloned());
        session.info.message_count = session.messages.len() as u64;
        session.info.updated_at_ms = now_ms();
        Ok(())
    }

    async fn load_context(
        &self,
        session: &SessionId,
        strategy: &ContextStrategy,
    ) -> Result<Vec<Message>, MemoryError> {
        let messages = find(&mut self.lock(), session)?.messages.clone();
        Ok(select_context(messages, strategy))
    }

    async fn last_run(&self, session: &SessionId) -> Result<Option<RunSummary>, MemoryError> {
        Ok(find(&mut self.lock(), session)?.runs.last().cloned())
    }

    async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, MemoryError> {
        let words: Vec<String> = query
            .text
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let sessions = self.lock();
        let mut hits = Vec::new();
        for (id, session) in sessions.iter() {
            if query.session.as_ref().is_some_and(|wanted| wanted != id) {
                continue;
            }
            for (position, message) in session.messages.iter().enumerate() {
                let text = message.text();
                let lower = text.to_lowercase();
                if !words.iter().all(|w| lower.contains(w.as_str())) {
                    continue;
                }
                let score = words
                    .iter()
                    .map(|w| lower.matches(w.as_str()).count())
                    .sum::<usize>();
                hits.push(SearchHit {
                    session_id: id.clone(),
                    position: position as u64,
                    role: message.role,
                    snippet: snippet(&text, 80),
                    score: score as f64,
                });
            }
        }
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.session_id.cmp(&b.session_id))
                .then_with(|| a.position.cmp(&b.position))
        });
        hits.truncate(query.limit);
        Ok(hits)
    }
}

fn snippet(text: &str, max_chars: usize) -> String {
    let mut out: String = text.chars().take(max_chars).collect();
    if text.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::memory::RunId;

    fn step(run: &str, index: u32, text: &str, is_final: bool) -> StepRecord {
        StepRecord {
            run_id: RunId::new(run),
            index,
            messages: vec![Message::user(text)],
            usage: Default::default(),
            is_final,
        }
    }

    #[tokio::test]
    async fn steps_append_in_order_and_runs_are_tracked() {
        let memory = InMemoryMemory::new();
        let id = memory
            .create_session(NewSession::named("s", "Title"))
            .await
            .unwrap()
            .id;
        memory
            .append_step(&id, &step("r", 0, "a", false))
            .await
            .unwrap();
        let gap = memory.append_step(&id, &step("r", 2, "c", false)).await;
        assert!(matches!(
            gap,
            Err(MemoryError::StepOutOfOrder { expected: 1, .. })
        ));
        memory
            .append_step(&id, &step("r", 1, "b", true))
            .await
            .unwrap();
        let after_final = memory.append_step(&id, &step("r", 2, "c", false)).await;
        assert!(matches!(after_final, Err(MemoryError::RunFinished(_))));
        let run = memory.last_run(&id).await.unwrap().unwrap();
        assert_eq!((run.steps, run.finished), (2, true));
        assert_eq!(memory.session(&id).await.unwrap().message_count, 2);
    }

    #[tokio::test]
    async fn sessions_are_created_listed_renamed_and_deleted() {
        let memory = InMemoryMemory::new();
        memory
            .create_session(NewSession::named("a", "A"))
            .await
            .unwrap();
        assert!(matches!(
            memory.create_session(NewSession::named("a", "A")).await,
            Err(MemoryError::SessionExists(_))
        ));
        memory.rename_session(&"a".into(), "B").await.unwrap();
        assert_eq!(memory.list_sessions().await.unwrap()[0].title, "B");
        memory.delete_session(&"a".into()).await.unwrap();
        assert!(matches!(
            memory.session(&"a".into()).await,
            Err(MemoryError::SessionNotFound(_))
        ));
    }

    #[tokio::test]
    async fn search_finds_all_words_in_one_or_all_sessions() {
        let memory = InMemoryMemory::new();
        for name in ["one", "two"] {
            let id = memory
                .create_session(NewSession::named(name, name))
                .await
                .unwrap()
                .id;
            memory
                .append_step(&id, &step("r", 0, &format!("The cat of {name} sat"), false))
                .await
                .unwrap();
        }
        assert_eq!(
            memory
                .search(&SearchQuery::new("CAT sat"))
                .await
                .unwrap()
                .len(),
            2
        );
        let hits = memory
            .search(&SearchQuery::new("cat").in_session("two".into()))
            .await
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].snippet, "The cat of two sat");
        assert!(memory
            .search(&SearchQuery::new("dog"))
            .await
            .unwrap()
            .is_empty());
    }
}
