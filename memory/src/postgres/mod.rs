//! [`PostgresMemory`]: the run log ([`RunLog`]) and session administration ([`SessionStore`])
//! over a PostgreSQL database that many processes and machines share.

mod connect;
mod export;
mod lease;
mod rows;
mod search;

use std::time::Duration;

use argus_core::{
    advance_run, async_trait, read_context, validate_step, ContextStrategy, LoggedStep,
    MemoryError, Message, NewSession, ObservationKey, RunId, RunLog, RunSummary, SearchHit,
    SearchQuery, SessionExport, SessionId, SessionInfo, SessionLease, SessionStore, StepRecord,
};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::error::{failed, Error};
use crate::now_ms;
use crate::rows::{u64_to_sql, RunRow, SessionRow, SESSION_COLUMNS};
use export::{export_session, import_session, logged_steps};
use rows::{insert_message, SessionMessages};

/// Maps a PostgreSQL error met while doing `what` into a [`MemoryError`].
pub(crate) fn db(what: &'static str) -> impl Fn(sqlx::Error) -> MemoryError + Copy {
    failed("postgres", what)
}

/// Connection settings of a [`PostgresMemory`]. The URL carries the rest (host, database,
/// user, password, `sslmode`, `sslrootcert`, `application_name`, …).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// Pooled connections for reads and writes (default 10).
    pub max_connections: u32,
    /// Connections that hold sessions for runs, one per running session (default 64); a run
    /// beyond them waits for one (up to `connect_timeout`), then fails.
    pub max_held_sessions: u32,
    /// The server cancels a statement running longer than this (default 30 s; `None`: the
    /// server's setting).
    pub statement_timeout: Option<Duration>,
    /// How long connecting, or waiting for a pooled connection, may take (default 10 s).
    pub connect_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 10,
            max_held_sessions: 64,
            statement_timeout: Some(Duration::from_secs(30)),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl PostgresOptions {
    /// Pooled connections for reads and writes.
    pub fn max_connections(mut self, connections: u32) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// Connections holding sessions for runs.
    pub fn max_held_sessions(mut self, sessions: u32) -> Self {
        self.max_held_sessions = sessions.max(1);
        self
    }

    /// The server-side statement timeout (`None`: the server's setting).
    pub fn statement_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// How long connecting, or waiting for a pooled connection, may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// Conversation memory in a PostgreSQL database: the same sessions, run log, export format and
/// rules as [`SqliteMemory`](crate::SqliteMemory), for processes on several machines sharing
/// one server. Search uses PostgreSQL's text search (`tsvector`, GIN index, `ts_rank`).
///
/// Each [`append_step`](RunLog::append_step) is one transaction. A run holds its session
/// with an advisory lock on a connection of its own ([`lock_session`](RunLog::lock_session)),
/// released when the run ends or its process dies. Clones share the connections.
///
/// ```no_run
/// use argus_core::{Agent, ScriptedModel};
/// use argus_memory::PostgresMemory;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let memory = PostgresMemory::connect("postgres://argus:secret@db.internal/argus").await?;
/// let agent = Agent::builder()
///     .model(ScriptedModel::new().then_text("hello"))
///     .memory(memory)
///     .session("support-42")
///     .build()?;
/// agent.run("hi").await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PostgresMemory {
    pool: PgPool,
    /// Connections that hold sessions (advisory locks live as long as their connection).
    leases: PgPool,
    /// The URL without credentials.
    shown_url: String,
}

impl std::fmt::Debug for PostgresMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresMemory")
            .field("url", &self.shown_url)
            .finish_non_exhaustive()
    }
}

impl PostgresMemory {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`) with
    /// the default [`PostgresOptions`], and migrates it to the current schema.
    ///
    /// The database is checked before anything is written to it: it must be Argus's (or
    /// empty) and not from a newer schema. Errors name the URL without its password.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// [`connect`](Self::connect) with chosen options.
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, Error> {
        let pools = connect::open(url, &options).await?;
        let shown_url = argus_core::shown_url(url);
        tracing::debug!(url = %shown_url, "opened postgres memory");
        Ok(PostgresMemory {
            pool: pools.pool,
            leases: pools.leases,
            shown_url,
        })
    }

    /// The newest schema version this build reads and writes.
    pub fn schema_version() -> i64 {
        connect::schema_version()
    }

    /// The database's URL without user name, password or query: what logs may show.
    pub fn shown_url(&self) -> &str {
        &self.shown_url
    }

    /// Closes the connections. Operations on any clone fail afterwards.
    pub async fn close(&self) {
        self.leases.close().await;
        self.pool.close().await;
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, MemoryError> {
        self.pool
            .begin()
            .await
            .map_err(db("starting a transaction"))
    }

    /// A read-only transaction that sees one snapshot across its queries.
    async fn begin_read(&self) -> Result<Transaction<'static, Postgres>, MemoryError> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(db("starting a read transaction"))
    }
}

/// The internal key and info of session `id`; with `for_update`, the row stays locked until
/// the transaction ends, so writers to one session take turns.
pub(crate) async fn find_session(
    conn: &mut PgConnection,
    id: &SessionId,
    for_update: bool,
) -> Result<(i64, SessionInfo), MemoryError> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let row: Option<SessionRow> = sqlx::query_as(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1{lock}"
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
    conn: &mut PgConnection,
    info: &SessionInfo,
) -> Result<i64, MemoryError> {
    rows::check_text(info.id.as_str(), "a session id")?;
    rows::check_text(&info.title, "a session title")?;
    let seq: Option<i64> = sqlx::query_scalar(
        "INSERT INTO sessions (id, title, created_at_ms, updated_at_ms, metadata)
         VALUES ($1, $2, $3, $4, $5)
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
    conn: &mut PgConnection,
    session_seq: i64,
    first_position: u64,
    step: &StepRecord,
    committed_at_ms: i64,
) -> Result<u64, MemoryError> {
    rows::check_text(step.run_id.as_str(), "a run id")?;
    let run: Option<RunRow> = sqlx::query_as(
        "SELECT id, run_id, steps, finished FROM runs WHERE session_seq = $1 AND run_id = $2",
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
            sqlx::query("UPDATE runs SET steps = steps + 1, finished = $2 WHERE id = $1")
                .bind(id)
                .bind(step.is_final)
                .execute(&mut *conn)
                .await
                .map_err(db("updating a run"))?;
            id
        }
        None => sqlx::query_scalar(
            "INSERT INTO runs (session_seq, run_id, started_at_ms, steps, finished)
             VALUES ($1, $2, $3, 1, $4) RETURNING id",
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
    let finite = |ms: f64| ms.is_finite().then_some(ms);
    sqlx::query(
        "INSERT INTO steps (run, idx, committed_at_ms, first_position, message_count,
             prompt_tokens, completion_tokens, cached_prompt_tokens, prompt_ms, completion_ms,
             is_final)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(run_key)
    .bind(i64::from(step.index))
    .bind(committed_at_ms)
    .bind(u64_to_sql(first_position))
    .bind(step.messages.len() as i64)
    .bind(u64_to_sql(usage.prompt_tokens))
    .bind(u64_to_sql(usage.completion_tokens))
    .bind(u64_to_sql(usage.cached_prompt_tokens))
    .bind(finite(usage.prompt_ms))
    .bind(finite(usage.completion_ms))
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
    conn: &mut PgConnection,
    session_seq: i64,
    message_count: u64,
    updated_at_ms: i64,
) -> Result<(), MemoryError> {
    sqlx::query("UPDATE sessions SET message_count = $2, updated_at_ms = $3 WHERE seq = $1")
        .bind(session_seq)
        .bind(u64_to_sql(message_count))
        .bind(updated_at_ms)
        .execute(&mut *conn)
        .await
        .map_err(db("updating a session"))?;
    Ok(())
}

#[async_trait]
impl RunLog for PostgresMemory {
    async fn create_session(&self, new: NewSession) -> Result<SessionInfo, MemoryError> {
        let info = new.into_info(now_ms());
        let mut tx = self.begin().await?;
        insert_session(&mut tx, &info).await?;
        tx.commit().await.map_err(db("creating a session"))?;
        Ok(info)
    }

    async fn append_step(&self, session: &SessionId, step: &StepRecord) -> Result<(), MemoryError> {
        validate_step(step)?;
        let mut tx = self.begin().await?;
        let (seq, info) = find_session(&mut tx, session, true).await?;
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
        let (session_seq, info) = find_session(&mut tx, session, false).await?;
        let mut source = SessionMessages {
            conn: &mut tx,
            session_seq,
        };
        let context = read_context(&mut source, info.message_count, strategy).await?;
        tx.commit().await.map_err(db("ending a read"))?;
        Ok(context)
    }

    async fn last_run(&self, session: &SessionId) -> Result<Option<RunSummary>, MemoryError> {
        let mut tx = self.begin_read().await?;
        let (seq, _) = find_session(&mut tx, session, false).await?;
        let row: Option<RunRow> = sqlx::query_as(
            "SELECT id, run_id, steps, finished FROM runs
             WHERE session_seq = $1 ORDER BY id DESC LIMIT 1",
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
        let (seq, info) = find_session(&mut tx, session, false).await?;
        let steps = logged_steps(&mut tx, seq, info.message_count, Some(run_id)).await?;
        tx.commit().await.map_err(db("ending a read"))?;
        Ok(steps)
    }

    async fn observation(&self, key: &ObservationKey) -> Result<Option<String>, MemoryError> {
        sqlx::query_scalar("SELECT text FROM observations WHERE key_digest = $1")
            .bind(key.digest())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading an observation"))
    }

    async fn save_observation(&self, key: &ObservationKey, text: &str) -> Result<(), MemoryError> {
        rows::check_text(text, "an observation")?;
        rows::check_text(&key.question, "an observation's question")?;
        sqlx::query(
            "INSERT INTO observations (key_digest, model, question, images, text, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (key_digest) DO UPDATE SET text = excluded.text",
        )
        .bind(key.digest())
        .bind(&key.model)
        .bind(&key.question)
        .bind(key.images.join(","))
        .bind(text)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db("saving an observation"))?;
        Ok(())
    }

    async fn lock_session(
        &self,
        session: &SessionId,
        wait: Duration,
    ) -> Result<SessionLease, MemoryError> {
        lease::lock(&self.leases, session, wait).await
    }
}

#[async_trait]
impl SessionStore for PostgresMemory {
    async fn session(&self, id: &SessionId) -> Result<SessionInfo, MemoryError> {
        let mut conn = self.pool.acquire().await.map_err(db("connecting"))?;
        Ok(find_session(&mut conn, id, false).await?.1)
    }

    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, MemoryError> {
        let rows: Vec<SessionRow> = sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions ORDER BY updated_at_ms DESC, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing sessions"))?;
        rows.into_iter()
            .map(|row| row.into_info().map(|(_, info)| info))
            .collect()
    }

    async fn rename_session(&self, id: &SessionId, title: &str) -> Result<(), MemoryError> {
        rows::check_text(title, "a session title")?;
        let renamed =
            sqlx::query("UPDATE sessions SET title = $2, updated_at_ms = $3 WHERE id = $1")
                .bind(id.as_str())
                .bind(title)
                .bind(now_ms())
                .execute(&self.pool)
                .await
                .map_err(db("renaming a session"))?;
        if renamed.rows_affected() == 0 {
            return Err(MemoryError::SessionNotFound(id.clone()));
        }
        Ok(())
    }

    async fn delete_session(&self, id: &SessionId) -> Result<(), MemoryError> {
        let mut tx = self.begin().await?;
        let (seq, _) = find_session(&mut tx, id, true).await?;
        let images: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT p.image_sha256
             FROM messages m JOIN message_parts p ON p.message_id = m.id
             WHERE m.session_seq = $1 AND p.image_sha256 IS NOT NULL",
        )
        .bind(seq)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("finding a session's images"))?;
        // Cascades to runs, steps, messages, parts and tool calls.
        sqlx::query("DELETE FROM sessions WHERE seq = $1")
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(db("deleting a session"))?;
        for sha256 in images {
            let orphaned = sqlx::query(
                "DELETE FROM images WHERE sha256 = $1
                 AND NOT EXISTS (SELECT 1 FROM message_parts WHERE image_sha256 = $1)",
            )
            .bind(&sha256)
            .execute(&mut *tx)
            .await
            .map_err(db("deleting orphaned images"))?
            .rows_affected()
                > 0;
            if orphaned {
                // What was seen in an image goes with its last copy.
                sqlx::query("DELETE FROM observations WHERE strpos(images, $1) > 0")
                    .bind(&sha256)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("deleting an orphaned image's observations"))?;
            }
        }
        tx.commit().await.map_err(db("deleting a session"))
    }

    async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, MemoryError> {
        search::search(&self.pool, query).await
    }

    async fn export_session(&self, id: &SessionId) -> Result<SessionExport, MemoryError> {
        let mut tx = self.begin_read().await?;
        let export = export_session(&mut tx, id).await?;
        tx.commit().await.map_err(db("ending a read"))?;
        Ok(export)
    }

    async fn import_session(&self, export: &SessionExport) -> Result<SessionInfo, MemoryError> {
        let mut tx = self.begin().await?;
        let info = import_session(&mut tx, export).await?;
        tx.commit().await.map_err(db("importing a session"))?;
        Ok(info)
    }
}
