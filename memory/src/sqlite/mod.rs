//! [`SqliteMemory`]: the run log ([`RunLog`]) and session administration ([`SessionStore`])
//! over an SQLite database.

mod checkpoint;
mod context;
mod export;
mod lock;
mod rows;
mod schema;
mod search;

use std::path::{Path, PathBuf};

use argus_core::{
    advance_run, async_trait, validate_step, ContextStrategy, LoggedStep, MemoryError, Message,
    NewSession, ObservationKey, RunId, RunLog, RunSummary, SearchHit, SearchQuery, SessionExport,
    SessionId, SessionInfo, SessionLease, SessionLocks, SessionStore, StepRecord,
};
use sqlx::{Sqlite, SqliteConnection, Transaction};

use crate::error::{failed, Error};
use crate::now_ms;
use crate::rows::{u64_to_sql, RunRow, SessionRow, SESSION_COLUMNS};
use context::load_context;
use export::{export_session, import_session, logged_steps};
use lock::SessionFiles;
use rows::insert_message;
pub use schema::Durability;
use schema::Pools;

/// Maps an SQLite error met while doing `what` into a [`MemoryError`].
pub(crate) fn db(what: &'static str) -> impl Fn(sqlx::Error) -> MemoryError + Copy {
    failed("sqlite", what)
}

/// Conversation memory in an SQLite database: sessions, messages with their images and tool
/// calls, the run log, and a full-text index.
///
/// Each [`append_step`](RunLog::append_step) is one transaction, committed before the call
/// returns; see [`Durability`] for what survives which crash. Clones share the connections.
///
/// ```
/// use argus_core::{ContextStrategy, Message, NewSession, RunId, RunLog, StepRecord};
/// use argus_memory::SqliteMemory;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let memory = SqliteMemory::open(dir.path().join("memory.db")).await?;
/// let session = memory.create_session(NewSession::named("demo", "Demo")).await?;
/// let step = StepRecord {
///     run_id: RunId::new("r1"),
///     index: 0,
///     messages: vec![Message::user("hello")],
///     usage: Default::default(),
///     is_final: false,
/// };
/// memory.append_step(&session.id, &step).await?;
/// let context = memory.load_context(&session.id, &ContextStrategy::Full).await?;
/// assert_eq!(context[0].text(), "hello");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteMemory {
    pub(crate) pools: Pools,
    path: Option<PathBuf>,
    /// Which sessions runs hold: lock files beside a database file, in-process locks for a
    /// database in memory.
    held: Held,
}

/// How a store holds sessions for runs.
#[derive(Debug, Clone)]
enum Held {
    Files(SessionFiles),
    Local(SessionLocks),
}

impl SqliteMemory {
    /// Opens the database file at `path` with [`Durability::Full`], creating it (and its
    /// directory) if missing and migrating it to the current schema.
    ///
    /// An existing file is checked before anything is written to it: it must be an SQLite
    /// database made by this crate (or empty), writable, and not from a newer schema.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_with(path, Durability::default()).await
    }

    /// [`open`](Self::open) with a chosen durability.
    pub async fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Self, Error> {
        let path = path.as_ref();
        let pools = schema::open_file(path, durability).await?;
        tracing::debug!(path = %path.display(), ?durability, "opened sqlite memory");
        Ok(SqliteMemory {
            pools,
            path: Some(path.to_path_buf()),
            held: Held::Files(SessionFiles::beside(path)),
        })
    }

    /// A private database in memory, gone when the last clone is dropped: for tests.
    pub async fn in_memory() -> Result<Self, Error> {
        Ok(SqliteMemory {
            pools: schema::open_in_memory().await?,
            path: None,
            held: Held::Local(SessionLocks::default()),
        })
    }

    /// The per-user default database path: `$XDG_DATA_HOME/argus/memory.db`, else
    /// `~/.local/share/argus/memory.db` (`~/Library/Application Support/argus/memory.db` on
    /// macOS, `%LOCALAPPDATA%\argus\memory.db` on Windows). `None` when the environment names
    /// no home directory.
    pub fn default_path() -> Option<PathBuf> {
        schema::default_path_from(|name| std::env::var_os(name))
    }

    /// The newest schema version this build reads and writes (the version of its newest
    /// migration).
    pub fn schema_version() -> i64 {
        schema::schema_version()
    }

    /// The database file, or `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Closes the connections (checkpointing the write-ahead log into the database file).
    /// Operations on any clone fail afterwards.
    pub async fn close(&self) {
        if let Some(checkpointer) = &self.pools.checkpointer {
            checkpointer.close().await;
        }
        self.pools.reader.close().await;
        self.pools.writer.close().await;
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes the write lock up front, so a writer in
    /// another process waits (busy timeout) instead of failing when it would upgrade a read.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, MemoryError> {
        let tx = self
            .pools
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("starting a write transaction"))?;
        if let Some(checkpointer) = &self.pools.checkpointer {
            checkpointer.wrote();
        }
        Ok(tx)
    }

    /// A read transaction: one consistent snapshot across several queries.
    pub(crate) async fn begin_read(&self) -> Result<Transaction<'static, Sqlite>, MemoryError> {
        self.pools
            .reader
            .begin()
            .await
            .map_err(db("starting a read transaction"))
    }
}

/// The internal key and info of session `id`.
pub(crate) async fn find_session(
    conn: &mut SqliteConnection,
    id: &SessionId,
) -> Result<(i64, SessionInfo), MemoryError> {
    let row: Option<SessionRow> = sqlx::query_as(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
    ))
    .bind(id.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db("looking up a session"))?;
    match row {
        Some(row) => row.into_info(),
        None => Err(MemoryError::SessionNotFound(id.clone())),
    }
}

/// Inserts a new session row; `SessionExists` if the id is taken.
pub(crate) async fn insert_session(
    conn: &mut SqliteConnection,
    info: &SessionInfo,
) -> Result<i64, MemoryError> {
    let seq: Option<i64> = sqlx::query_scalar(
        "INSERT INTO sessions (id, title, created_at_ms, updated_at_ms, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO NOTHING
         RETURNING seq",
    )
    .bind(info.id.as_str())
    .bind(&info.title)
    .bind(info.created_at_ms)
    .bind(info.updated_at_ms)
    .bind(info.metadata.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db("creating a session"))?;
    seq.ok_or_else(|| MemoryError::SessionExists(info.id.clone()))
}

/// Appends `step` to the run log and its messages at `first_position`, checking the step
/// follows its run's last committed step ([`advance_run`]); the caller has checked its content
/// ([`validate_step`]). Returns the position after the step's messages.
pub(crate) async fn insert_step(
    conn: &mut SqliteConnection,
    session_seq: i64,
    first_position: u64,
    step: &StepRecord,
    committed_at_ms: i64,
) -> Result<u64, MemoryError> {
    let run: Option<RunRow> = sqlx::query_as(
        "SELECT id, run_id, steps, finished FROM runs WHERE session_seq = ?1 AND run_id = ?2",
    )
    .bind(session_seq)
    .bind(step.run_id.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db("looking up a run"))?;
    let run = match run {
        Some(row) => Some((row.id, row.summary()?)),
        None => None,
    };
    advance_run(run.as_ref().map(|(_, summary)| summary), step)?;
    let run_key: i64 = match run {
        Some((id, _)) => {
            sqlx::query("UPDATE runs SET steps = steps + 1, finished = ?2 WHERE id = ?1")
                .bind(id)
                .bind(step.is_final)
                .execute(&mut *conn)
                .await
                .map_err(db("updating a run"))?;
            id
        }
        None => sqlx::query_scalar(
            "INSERT INTO runs (session_seq, run_id, started_at_ms, steps, finished)
             VALUES (?1, ?2, ?3, 1, ?4) RETURNING id",
        )
        .bind(session_seq)
        .bind(step.run_id.as_str())
        .bind(committed_at_ms)
        .bind(step.is_final)
        .fetch_one(&mut *conn)
        .await
        .map_err(db("starting a run"))?,
    };

    let usage = &step.usage;
    sqlx::query(
        "INSERT INTO steps (run, idx, committed_at_ms, first_position, message_count,
             prompt_tokens, completion_tokens, cached_prompt_tokens, prompt_ms, completion_ms,
             is_final)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .bind(run_key)
    .bind(step.index)
    .bind(committed_at_ms)
    .bind(u64_to_sql(first_position))
    .bind(step.messages.len() as i64)
    .bind(u64_to_sql(usage.prompt_tokens))
    .bind(u64_to_sql(usage.completion_tokens))
    .bind(u64_to_sql(usage.cached_prompt_tokens))
    .bind(usage.prompt_ms)
    .bind(usage.completion_ms)
    .bind(step.is_final)
    .execute(&mut *conn)
    .await
    .map_err(db("logging a step"))?;

    let mut position = first_position;
    for message in &step.messages {
        insert_message(conn, session_seq, u64_to_sql(position), message).await?;
        position += 1;
    }
    Ok(position)
}

/// Records a session's new message count and update time.
pub(crate) async fn touch_session(
    conn: &mut SqliteConnection,
    session_seq: i64,
    message_count: u64,
    updated_at_ms: i64,
) -> Result<(), MemoryError> {
    sqlx::query("UPDATE sessions SET message_count = ?2, updated_at_ms = ?3 WHERE seq = ?1")
        .bind(session_seq)
        .bind(u64_to_sql(message_count))
        .bind(updated_at_ms)
        .execute(&mut *conn)
        .await
        .map_err(db("updating a session"))?;
    Ok(())
}

#[async_trait]
impl RunLog for SqliteMemory {
    async fn create_session(&self, new: NewSession) -> Result<SessionInfo, MemoryError> {
        let info = new.into_info(now_ms());
        let mut tx = self.begin_write().await?;
        insert_session(&mut tx, &info).await?;
        tx.commit().await.map_err(db("creating a session"))?;
        Ok(info)
    }

    async fn append_step(&self, session: &SessionId, step: &StepRecord) -> Result<(), MemoryError> {
        validate_step(step)?;
        let mut tx = self.begin_write().await?;
        let (seq, info) = find_session(&mut tx, session).await?;
        let now = now_ms();
        let count = insert_step(&mut tx, seq, info.message_count, step, now).await?;
        touch_session(&mut tx, seq, count, now).await?;
        tx.commit().await.map_err(db("committing a step"))
    }

    async fn load_context(
        &self,
        session: &SessionId,
        strategy: &ContextStrategy,
    ) -> Result<Vec<Message>, MemoryError> {
        let mut tx = self.begin_read().await?;
        let (seq, info) = find_session(&mut tx, session).await?;
        let context = load_context(&mut tx, seq, info.message_count, strategy).await?;
        tx.commit().await.map_err(db("ending a read"))?;
        Ok(context)
    }

    async fn last_run(&self, session: &SessionId) -> Result<Option<RunSummary>, MemoryError> {
        let mut tx = self.begin_read().await?;
        let (seq, _) = find_session(&mut tx, session).await?;
        let row: Option<RunRow> = sqlx::query_as(
            "SELECT id, run_id, steps, finished FROM runs
             WHERE session_seq = ?1 ORDER BY id DESC LIMIT 1",
        )
        .bind(seq)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("looking up the last run"))?;
        tx.commit().await.map_err(db("ending a read"))?;
        row.map(|row| row.summary()).transpose()
    }

    async fn run_steps(
        &self,
        session: &SessionId,
        run_id: &RunId,
    ) -> Result<Vec<LoggedStep>, MemoryError> {
        let mut tx = self.begin_read().await?;
        let (seq, info) = find_session(&mut tx, session).await?;
        let steps = logged_steps(&mut tx, seq, info.message_count, Some(run_id)).await?;
        tx.commit().await.map_err(db("ending a read"))?;
        Ok(steps)
    }

    async fn observation(&self, key: &ObservationKey) -> Result<Option<String>, MemoryError> {
        // In a transaction, as every read here: a bare statement may leave its connection's
        // read snapshot open, and a later read on it would miss newer writes.
        let mut tx = self.begin_read().await?;
        let text = sqlx::query_scalar("SELECT text FROM observations WHERE key_digest = ?")
            .bind(key.digest())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("reading an observation"))?;
        tx.commit().await.map_err(db("ending a read"))?;
        Ok(text)
    }

    async fn save_observation(&self, key: &ObservationKey, text: &str) -> Result<(), MemoryError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO observations (key_digest, model, question, images, text, created_at_ms) \
             VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (key_digest) DO UPDATE SET text = excluded.text",
        )
        .bind(key.digest())
        .bind(&key.model)
        .bind(&key.question)
        .bind(key.images.join(","))
        .bind(text)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(db("saving an observation"))?;
        tx.commit().await.map_err(db("committing an observation"))
    }

    async fn lock_session(
        &self,
        session: &SessionId,
        wait: std::time::Duration,
    ) -> Result<SessionLease, MemoryError> {
        match &self.held {
            Held::Files(files) => files.lock(session, wait).await,
            Held::Local(locks) => locks.lock(session, wait).await,
        }
    }
}

#[async_trait]
impl SessionStore for SqliteMemory {
    async fn session(&self, id: &SessionId) -> Result<SessionInfo, MemoryError> {
        let mut conn = self
            .pools
            .reader
            .acquire()
            .await
            .map_err(db("connecting"))?;
        Ok(find_session(&mut conn, id).await?.1)
    }

    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, MemoryError> {
        let rows: Vec<SessionRow> = sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions ORDER BY updated_at_ms DESC, id"
        ))
        .fetch_all(&self.pools.reader)
        .await
        .map_err(db("listing sessions"))?;
        rows.into_iter()
            .map(|row| row.into_info().map(|(_, info)| info))
            .collect()
    }

    async fn rename_session(&self, id: &SessionId, title: &str) -> Result<(), MemoryError> {
        let mut tx = self.begin_write().await?;
        let renamed =
            sqlx::query("UPDATE sessions SET title = ?2, updated_at_ms = ?3 WHERE id = ?1")
                .bind(id.as_str())
                .bind(title)
                .bind(now_ms())
                .execute(&mut *tx)
                .await
                .map_err(db("renaming a session"))?;
        if renamed.rows_affected() == 0 {
            return Err(MemoryError::SessionNotFound(id.clone()));
        }
        tx.commit().await.map_err(db("renaming a session"))
    }

    async fn delete_session(&self, id: &SessionId) -> Result<(), MemoryError> {
        let mut tx = self.begin_write().await?;
        let (seq, _) = find_session(&mut tx, id).await?;
        let images: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT p.image_sha256
             FROM messages m JOIN message_parts p ON p.message_id = m.id
             WHERE m.session_seq = ?1 AND p.image_sha256 IS NOT NULL",
        )
        .bind(seq)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("finding a session's images"))?;
        // Cascades to runs, steps, messages, parts and tool calls; triggers clean the index.
        sqlx::query("DELETE FROM sessions WHERE seq = ?1")
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(db("deleting a session"))?;
        for sha256 in images {
            let orphaned = sqlx::query(
                "DELETE FROM images WHERE sha256 = ?1
                 AND NOT EXISTS (SELECT 1 FROM message_parts WHERE image_sha256 = ?1)",
            )
            .bind(&sha256)
            .execute(&mut *tx)
            .await
            .map_err(db("deleting orphaned images"))?
            .rows_affected()
                > 0;
            if orphaned {
                // What was seen in an image goes with its last copy.
                sqlx::query("DELETE FROM observations WHERE instr(images, ?1) > 0")
                    .bind(&sha256)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("deleting an orphaned image's observations"))?;
            }
        }
        tx.commit().await.map_err(db("deleting a session"))
    }

    async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, MemoryError> {
        search::search(&self.pools.reader, query).await
    }

    async fn export_session(&self, id: &SessionId) -> Result<SessionExport, MemoryError> {
        export_session(self, id).await
    }

    async fn import_session(&self, export: &SessionExport) -> Result<SessionInfo, MemoryError> {
        import_session(self, export).await
    }
}
