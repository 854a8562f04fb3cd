//! A process-local memory for tests and short-lived agents.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::window::select_context_of;
use super::{
    advance_run, validate_export, validate_step, ContextStrategy, LoggedStep, MemoryError,
    NewSession, ObservationKey, RunId, RunLog, RunSummary, SearchHit, SearchQuery, SessionExport,
    SessionId, SessionInfo, SessionLease, SessionLocks, SessionStore, StepRecord,
};
use crate::message::{ImageRef, Message};
use crate::usage::Usage;

#[derive(Debug)]
struct Session {
    info: SessionInfo,
    messages: Vec<Message>,
    /// Runs in the order they started.
    runs: Vec<RunSummary>,
    /// The run log in commit order.
    steps: Vec<StoredStep>,
}

/// A committed step; its messages are a range of the session's.
#[derive(Debug)]
struct StoredStep {
    run_id: RunId,
    index: u32,
    usage: Usage,
    is_final: bool,
    committed_at_ms: i64,
    messages: Range<usize>,
}

#[derive(Debug, Default)]
struct Store {
    sessions: HashMap<SessionId, Session>,
    /// Images with bytes, once per hash: those messages carried and those imported.
    images: HashMap<String, ImageRef>,
    /// Observations by [`ObservationKey::digest`], with the images they saw.
    observations: HashMap<String, (Vec<String>, String)>,
}

/// Memory held in a mutex-guarded map; nothing survives the process.
///
/// It follows the same rules as every store (see [`validate_step`]) and chooses context with
/// the same walk ([`select_context`](super::select_context)).
#[derive(Debug, Default)]
pub struct InMemoryMemory {
    store: Mutex<Store>,
    sessions_held: SessionLocks,
}

impl InMemoryMemory {
    /// An empty memory.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Store {
    fn find(&self, id: &SessionId) -> Result<&Session, MemoryError> {
        self.sessions
            .get(id)
            .ok_or_else(|| MemoryError::SessionNotFound(id.clone()))
    }

    fn find_mut(&mut self, id: &SessionId) -> Result<&mut Session, MemoryError> {
        self.sessions
            .get_mut(id)
            .ok_or_else(|| MemoryError::SessionNotFound(id.clone()))
    }

    fn insert_session(&mut self, info: SessionInfo) -> Result<(), MemoryError> {
        if self.sessions.contains_key(&info.id) {
            return Err(MemoryError::SessionExists(info.id));
        }
        self.sessions.insert(
            info.id.clone(),
            Session {
                info,
                messages: Vec::new(),
                runs: Vec::new(),
                steps: Vec::new(),
            },
        );
        Ok(())
    }

    /// Keeps the bytes of the images `messages` carry.
    fn keep_images<'a>(&mut self, messages: impl IntoIterator<Item = &'a Message>) {
        for image in messages.into_iter().flat_map(Message::images) {
            if image.data.is_some() {
                self.images
                    .entry(image.sha256.clone())
                    .or_insert_with(|| image.clone());
            }
        }
    }
}

impl Session {
    /// Appends a valid step: checks its order, then logs it.
    fn append(&mut self, step: &StepRecord, committed_at_ms: i64) -> Result<(), MemoryError> {
        let run = self.runs.iter().rposition(|r| r.run_id == step.run_id);
        let next = advance_run(run.map(|i| &self.runs[i]), step)?;
        match run {
            Some(i) => self.runs[i] = next,
            None => self.runs.push(next),
        }
        let first = self.messages.len();
        self.messages.extend(step.messages.iter().cloned());
        self.steps.push(StoredStep {
            run_id: step.run_id.clone(),
            index: step.index,
            usage: step.usage,
            is_final: step.is_final,
            committed_at_ms,
            messages: first..self.messages.len(),
        });
        self.info.message_count = self.messages.len() as u64;
        Ok(())
    }

    fn logged(&self, step: &StoredStep) -> LoggedStep {
        LoggedStep {
            step: StepRecord {
                run_id: step.run_id.clone(),
                index: step.index,
                messages: self.messages[step.messages.clone()].to_vec(),
                usage: step.usage,
                is_final: step.is_final,
            },
            committed_at_ms: step.committed_at_ms,
        }
    }
}

#[async_trait]
impl RunLog for InMemoryMemory {
    async fn create_session(&self, new: NewSession) -> Result<SessionInfo, MemoryError> {
        let info = new.into_info(now_ms());
        self.lock().insert_session(info.clone())?;
        Ok(info)
    }

    async fn append_step(&self, session: &SessionId, step: &StepRecord) -> Result<(), MemoryError> {
        validate_step(step)?;
        let mut store = self.lock();
        let now = now_ms();
        let session = store.find_mut(session)?;
        session.append(step, now)?;
        session.info.updated_at_ms = now;
        store.keep_images(&step.messages);
        Ok(())
    }

    async fn load_context(
        &self,
        session: &SessionId,
        strategy: &ContextStrategy,
    ) -> Result<Vec<Message>, MemoryError> {
        let store = self.lock();
        Ok(select_context_of(&store.find(session)?.messages, strategy))
    }

    async fn last_run(&self, session: &SessionId) -> Result<Option<RunSummary>, MemoryError> {
        Ok(self.lock().find(session)?.runs.last().cloned())
    }

    async fn run_steps(
        &self,
        session: &SessionId,
        run_id: &RunId,
    ) -> Result<Vec<LoggedStep>, MemoryError> {
        let store = self.lock();
        let session = store.find(session)?;
        Ok(session
            .steps
            .iter()
            .filter(|step| &step.run_id == run_id)
            .map(|step| session.logged(step))
            .collect())
    }

    async fn observation(&self, key: &ObservationKey) -> Result<Option<String>, MemoryError> {
        Ok(self
            .lock()
            .observations
            .get(&key.digest())
            .map(|(_, text)| text.clone()))
    }

    async fn save_observation(&self, key: &ObservationKey, text: &str) -> Result<(), MemoryError> {
        self.lock()
            .observations
            .insert(key.digest(), (key.images.clone(), text.to_string()));
        Ok(())
    }

    async fn lock_session(
        &self,
        session: &SessionId,
        wait: std::time::Duration,
    ) -> Result<SessionLease, MemoryError> {
        self.sessions_held.lock(session, wait).await
    }
}

#[async_trait]
impl SessionStore for InMemoryMemory {
    async fn session(&self, id: &SessionId) -> Result<SessionInfo, MemoryError> {
        Ok(self.lock().find(id)?.info.clone())
    }

    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, MemoryError> {
        let mut list: Vec<SessionInfo> = self
            .lock()
            .sessions
            .values()
            .map(|s| s.info.clone())
            .collect();
        list.sort_by(|a, b| {
            b.updated_at_ms
                .cmp(&a.updated_at_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(list)
    }

    async fn rename_session(&self, id: &SessionId, title: &str) -> Result<(), MemoryError> {
        let mut store = self.lock();
        let session = store.find_mut(id)?;
        session.info.title = title.to_string();
        session.info.updated_at_ms = now_ms();
        Ok(())
    }

    async fn delete_session(&self, id: &SessionId) -> Result<(), MemoryError> {
        let mut store = self.lock();
        let removed = store
            .sessions
            .remove(id)
            .ok_or_else(|| MemoryError::SessionNotFound(id.clone()))?;
        let used: BTreeSet<&str> = store
            .sessions
            .values()
            .flat_map(|s| &s.messages)
            .flat_map(Message::images)
            .map(|image| image.sha256.as_str())
            .collect();
        let orphans: Vec<String> = removed
            .messages
            .iter()
            .flat_map(Message::images)
            .map(|image| image.sha256.clone())
            .filter(|sha256| !used.contains(sha256.as_str()))
            .collect();
        for sha256 in orphans {
            store.images.remove(&sha256);
            // What was seen in an image goes with its last copy.
            store
                .observations
                .retain(|_, (images, _)| !images.contains(&sha256));
        }
        Ok(())
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
        let store = self.lock();
        let mut hits = Vec::new();
        for (id, session) in store.sessions.iter() {
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

    async fn export_session(&self, id: &SessionId) -> Result<SessionExport, MemoryError> {
        let store = self.lock();
        let session = store.find(id)?;
        let steps: Vec<LoggedStep> = session.steps.iter().map(|s| session.logged(s)).collect();
        let carried: BTreeSet<&str> = session
            .messages
            .iter()
            .flat_map(Message::images)
            .filter(|image| image.data.is_some())
            .map(|image| image.sha256.as_str())
            .collect();
        let referenced: BTreeSet<&str> = session
            .messages
            .iter()
            .flat_map(Message::images)
            .map(|image| image.sha256.as_str())
            .filter(|sha256| !carried.contains(sha256))
            .collect();
        let images = referenced
            .into_iter()
            .filter_map(|sha256| store.images.get(sha256).cloned())
            .collect();
        Ok(SessionExport {
            format: SessionExport::FORMAT,
            session: session.info.clone(),
            steps,
            images,
        })
    }

    async fn import_session(&self, export: &SessionExport) -> Result<SessionInfo, MemoryError> {
        validate_export(export)?;
        let referenced: BTreeSet<&str> = export
            .steps
            .iter()
            .flat_map(|s| &s.step.messages)
            .flat_map(Message::images)
            .map(|image| image.sha256.as_str())
            .collect();
        let mut session = Session {
            info: SessionInfo {
                message_count: 0,
                ..export.session.clone()
            },
            messages: Vec::new(),
            runs: Vec::new(),
            steps: Vec::new(),
        };
        for logged in &export.steps {
            session.append(&logged.step, logged.committed_at_ms)?;
        }
        let info = session.info.clone();
        let mut store = self.lock();
        if store.sessions.contains_key(&info.id) {
            return Err(MemoryError::SessionExists(info.id));
        }
        store.keep_images(&session.messages);
        for image in &export.images {
            if image.data.is_some() && referenced.contains(image.sha256.as_str()) {
                store
                    .images
                    .entry(image.sha256.clone())
                    .or_insert_with(|| image.clone());
            }
        }
        store.sessions.insert(info.id.clone(), session);
        Ok(info)
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

    #[tokio::test]
    async fn the_log_reads_back_and_exports_images_it_holds_bytes_of() {
        let memory = InMemoryMemory::new();
        let image = ImageRef::from_bytes(b"png bytes".to_vec(), "image/png");
        for name in ["a", "b"] {
            memory
                .create_session(NewSession::named(name, name))
                .await
                .unwrap();
        }
        let with_bytes = StepRecord {
            messages: vec![Message::user_with_images("look", vec![image.clone()])],
            ..step("r", 0, "", false)
        };
        memory.append_step(&"a".into(), &with_bytes).await.unwrap();
        let reference = StepRecord {
            messages: vec![Message::user_with_images(
                "again",
                vec![image.without_data()],
            )],
            ..step("r", 0, "", true)
        };
        memory.append_step(&"b".into(), &reference).await.unwrap();
        memory
            .append_step(&"b".into(), &step("r2", 0, "other run", false))
            .await
            .unwrap();

        let logged = memory
            .run_steps(&"b".into(), &RunId::new("r"))
            .await
            .unwrap();
        assert_eq!(logged.len(), 1);
        assert_eq!(logged[0].step, reference);
        assert!(memory
            .run_steps(&"b".into(), &RunId::new("none"))
            .await
            .unwrap()
            .is_empty());

        // Session b refers to the image without its bytes: the export carries them.
        let export = memory.export_session(&"b".into()).await.unwrap();
        assert_eq!(export.images, std::slice::from_ref(&image));
        assert_eq!(export.steps.len(), 2);
        let copy = InMemoryMemory::new();
        let info = copy.import_session(&export).await.unwrap();
        assert_eq!((info.message_count, info.title.as_str()), (2, "b"));
        assert_eq!(copy.export_session(&"b".into()).await.unwrap(), export);
        assert!(matches!(
            copy.import_session(&export).await,
            Err(MemoryError::SessionExists(_))
        ));

        // Once no session refers to the image, its bytes are gone.
        memory.delete_session(&"a".into()).await.unwrap();
        assert_eq!(
            memory.export_session(&"b".into()).await.unwrap().images,
            [image]
        );
        memory.delete_session(&"b".into()).await.unwrap();
        assert!(memory.lock().images.is_empty());
    }

    #[tokio::test]
    async fn an_images_observations_go_with_its_last_session() {
        let memory = InMemoryMemory::new();
        let image = ImageRef::from_bytes(b"png bytes".to_vec(), "image/png");
        memory
            .create_session(NewSession::named("a", "a"))
            .await
            .unwrap();
        let looked = StepRecord {
            messages: vec![Message::user_with_images("look", vec![image.clone()])],
            ..step("r", 0, "", false)
        };
        memory.append_step(&"a".into(), &looked).await.unwrap();
        let key = ObservationKey::new(vec![image.sha256.clone()], "look", "m");
        memory.save_observation(&key, "a square").await.unwrap();
        assert_eq!(
            memory.observation(&key).await.unwrap().as_deref(),
            Some("a square")
        );
        memory.delete_session(&"a".into()).await.unwrap();
        assert_eq!(memory.observation(&key).await.unwrap(), None);
    }
}
