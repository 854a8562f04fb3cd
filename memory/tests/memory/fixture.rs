//! The database under test, for either backend: a fresh SQLite file or a fresh PostgreSQL
//! database, the store opened on it, row counts and consistency checks beneath the API.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use argus_core::Memory;
use argus_memory::testkit::TestPostgres;
use argus_memory::{PostgresMemory, SqliteMemory};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection, SqliteConnection};
use tempfile::TempDir;

/// A storage backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database file in its own temporary directory (removed on drop).
pub(crate) struct TempDb {
    pub(crate) dir: TempDir,
    pub(crate) path: PathBuf,
}

impl TempDb {
    pub(crate) fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("memory.db");
        Ok(TempDb { dir, path })
    }

    pub(crate) async fn open(&self) -> anyhow::Result<SqliteMemory> {
        Ok(SqliteMemory::open(&self.path).await?)
    }
}

/// A fresh, empty database of one backend.
pub(crate) enum TestDb {
    Sqlite(TempDb),
    Postgres { url: String },
}

impl TestDb {
    /// A fresh database, or `None` when the backend is PostgreSQL and no server can be had
    /// here (the testkit printed why; in CI it panics instead).
    pub(crate) async fn new(backend: Backend) -> anyhow::Result<Option<TestDb>> {
        Ok(match backend {
            Backend::Sqlite => Some(TestDb::Sqlite(TempDb::new()?)),
            Backend::Postgres => match TestPostgres::shared() {
                Some(pg) => Some(TestDb::Postgres {
                    url: pg.fresh_database().await,
                }),
                None => None,
            },
        })
    }

    /// Another fresh database of the same backend.
    pub(crate) async fn sibling(&self) -> anyhow::Result<TestDb> {
        TestDb::new(self.backend())
            .await?
            .ok_or_else(|| anyhow::anyhow!("the PostgreSQL server went away"))
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            TestDb::Sqlite(_) => Backend::Sqlite,
            TestDb::Postgres { .. } => Backend::Postgres,
        }
    }

    /// The file path or the URL: what [`Store::open_at`] opens (a child process gets it).
    pub(crate) fn location(&self) -> String {
        match self {
            TestDb::Sqlite(db) => db.path.display().to_string(),
            TestDb::Postgres { url } => url.clone(),
        }
    }

    /// Whether the database exists yet (a SQLite file appears on first open).
    pub(crate) fn exists(&self) -> bool {
        match self {
            TestDb::Sqlite(db) => db.path.exists(),
            TestDb::Postgres { .. } => true,
        }
    }

    /// A new store handle on the database (its own connections).
    pub(crate) async fn open(&self) -> anyhow::Result<Store> {
        Store::open_at(&self.location()).await
    }

    /// Rows in `table`, counted on a plain connection.
    pub(crate) async fn count_rows(&self, table: &str) -> anyhow::Result<i64> {
        let sql = format!("SELECT count(*) FROM {table}");
        Ok(match self {
            TestDb::Sqlite(db) => {
                let mut conn = raw_sqlite(&db.path).await?;
                let count = sqlx::query_scalar(&sql).fetch_one(&mut conn).await?;
                conn.close().await?;
                count
            }
            TestDb::Postgres { url } => {
                let mut conn = PgConnection::connect(url).await?;
                let count = sqlx::query_scalar(&sql).fetch_one(&mut conn).await?;
                conn.close().await?;
                count
            }
        })
    }

    /// Runs `sql` on a plain connection, beneath the API (to tamper with the database).
    pub(crate) async fn execute(&self, sql: &str) -> anyhow::Result<()> {
        match self {
            TestDb::Sqlite(db) => {
                let mut conn = raw_sqlite(&db.path).await?;
                conn.execute(sql).await?;
                conn.close().await?;
            }
            TestDb::Postgres { url } => {
                let mut conn = PgConnection::connect(url).await?;
                conn.execute(sql).await?;
                conn.close().await?;
            }
        }
        Ok(())
    }

    /// The database is consistent beneath the API. SQLite: `PRAGMA integrity_check`, foreign
    /// keys and the full-text index. Both backends: the run log's invariants no constraint
    /// enforces ([`INVARIANTS`]). A database not yet migrated (a process killed before its
    /// first migration committed) passes.
    pub(crate) async fn assert_consistent(&self) -> anyhow::Result<()> {
        match self {
            TestDb::Sqlite(db) => {
                let mut conn = raw_sqlite(&db.path).await?;
                let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                    .fetch_all(&mut conn)
                    .await?;
                anyhow::ensure!(integrity == ["ok"], "integrity_check: {integrity:?}");
                let dangling: Vec<String> =
                    sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_check")
                        .fetch_all(&mut conn)
                        .await?;
                anyhow::ensure!(dangling.is_empty(), "foreign_key_check: {dangling:?}");
                let migrated: bool = sqlx::query_scalar(
                    "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'messages_fts'",
                )
                .fetch_one(&mut conn)
                .await?;
                if migrated {
                    // Errors out if the index does not match the messages.
                    sqlx::query(
                        "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)",
                    )
                    .execute(&mut conn)
                    .await?;
                    for (what, sql) in INVARIANTS {
                        let broken: Vec<String> =
                            sqlx::query_scalar(sql).fetch_all(&mut conn).await?;
                        anyhow::ensure!(broken.is_empty(), "{what}: {broken:?}");
                    }
                }
                conn.close().await?;
            }
            TestDb::Postgres { url } => {
                let mut conn = PgConnection::connect(url).await?;
                let migrated: bool = sqlx::query_scalar(
                    "SELECT count(*) > 0 FROM information_schema.tables
                     WHERE table_schema = current_schema() AND table_name = 'tool_calls'",
                )
                .fetch_one(&mut conn)
                .await?;
                if migrated {
                    for (what, sql) in INVARIANTS {
                        let broken: Vec<String> =
                            sqlx::query_scalar(sql).fetch_all(&mut conn).await?;
                        anyhow::ensure!(broken.is_empty(), "{what}: {broken:?}");
                    }
                }
                conn.close().await?;
            }
        }
        Ok(())
    }
}

/// The run log's invariants, as queries (valid in SQLite and PostgreSQL alike) returning what
/// breaks them.
const INVARIANTS: [(&str, &str); 9] = [
    (
        "sessions whose message_count is not their number of messages",
        "SELECT s.id FROM sessions s
         WHERE s.message_count <> (SELECT count(*) FROM messages m WHERE m.session_seq = s.seq)",
    ),
    (
        "sessions whose message positions are not 0..n",
        "SELECT s.id FROM sessions s JOIN messages m ON m.session_seq = s.seq
         GROUP BY s.seq, s.id
         HAVING min(m.position) <> 0 OR max(m.position) <> count(*) - 1",
    ),
    (
        "steps whose messages are not where the steps before them end, or not in the session",
        "SELECT s.id || ' step ' || CAST(t.seq AS TEXT)
         FROM (SELECT st.seq, r.session_seq, st.first_position, st.message_count,
                      COALESCE(sum(st.message_count) OVER (
                          PARTITION BY r.session_seq ORDER BY st.seq
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS expected
               FROM steps st JOIN runs r ON r.id = st.run) t
         JOIN sessions s ON s.seq = t.session_seq
         WHERE t.first_position <> t.expected OR t.message_count < 0
            OR t.first_position + t.message_count > s.message_count",
    ),
    (
        "sessions whose messages are not all in steps",
        "SELECT s.id FROM sessions s
         WHERE s.message_count <> (SELECT COALESCE(sum(st.message_count), 0)
                                   FROM steps st JOIN runs r ON r.id = st.run
                                   WHERE r.session_seq = s.seq)",
    ),
    (
        "runs whose step count or indexes do not match their steps",
        "SELECT r.run_id FROM runs r LEFT JOIN steps st ON st.run = r.id
         GROUP BY r.id, r.run_id, r.steps
         HAVING r.steps <> count(st.seq) OR count(st.seq) = 0
             OR min(st.idx) <> 0 OR max(st.idx) <> count(st.seq) - 1",
    ),
    (
        "runs finished other than by their last step, or final steps that are not last",
        "SELECT r.run_id FROM runs r
         WHERE r.finished <> (SELECT st.is_final FROM steps st WHERE st.run = r.id
                              ORDER BY st.idx DESC LIMIT 1)
            OR EXISTS (SELECT 1 FROM steps st
                       WHERE st.run = r.id AND st.is_final AND st.idx <> r.steps - 1)",
    ),
    (
        "tool calls not followed by their result in their step",
        "SELECT tc.call_id FROM tool_calls tc
         JOIN messages m ON m.id = tc.message_id
         JOIN runs r ON r.session_seq = m.session_seq
         JOIN steps st ON st.run = r.id AND m.position >= st.first_position
                      AND m.position < st.first_position + st.message_count
         LEFT JOIN messages res ON res.session_seq = m.session_seq
                               AND res.position = m.position + 1 + tc.ord
         WHERE m.role <> 'assistant' OR res.id IS NULL OR res.role <> 'tool'
            OR res.tool_call_id IS NULL OR res.tool_call_id <> tc.call_id
            OR res.tool_name <> tc.name
            OR res.position >= st.first_position + st.message_count",
    ),
    (
        "tool results that answer no call",
        "SELECT res.tool_call_id FROM messages res
         WHERE res.role = 'tool' AND NOT EXISTS (
             SELECT 1 FROM messages m JOIN tool_calls tc ON tc.message_id = m.id
             WHERE m.session_seq = res.session_seq AND m.position + 1 + tc.ord = res.position
               AND tc.call_id = res.tool_call_id)",
    ),
    (
        "messages whose parts or calls are not numbered 0..n",
        "SELECT CAST(message_id AS TEXT) FROM message_parts GROUP BY message_id
         HAVING min(ord) <> 0 OR max(ord) <> count(*) - 1
         UNION ALL
         SELECT CAST(message_id AS TEXT) FROM tool_calls GROUP BY message_id
         HAVING min(ord) <> 0 OR max(ord) <> count(*) - 1",
    ),
];

/// A plain connection to an SQLite file, for checks beneath the API.
pub(crate) async fn raw_sqlite(path: &Path) -> anyhow::Result<SqliteConnection> {
    Ok(SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .connect()
        .await?)
}

/// A store of either backend; derefs to `dyn Memory`, so the whole API is at hand.
#[derive(Debug, Clone)]
pub(crate) enum Store {
    Sqlite(SqliteMemory),
    Postgres(PostgresMemory),
}

impl Store {
    /// Opens a `postgres://` URL with [`PostgresMemory`], anything else as an SQLite file.
    pub(crate) async fn open_at(location: &str) -> anyhow::Result<Store> {
        Ok(if location.starts_with("postgres://") {
            Store::Postgres(PostgresMemory::connect(location).await?)
        } else {
            Store::Sqlite(SqliteMemory::open(location).await?)
        })
    }

    /// The store as the agent takes it.
    pub(crate) fn shared(&self) -> Arc<dyn Memory> {
        match self {
            Store::Sqlite(memory) => Arc::new(memory.clone()),
            Store::Postgres(memory) => Arc::new(memory.clone()),
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Store::Sqlite(memory) => memory.close().await,
            Store::Postgres(memory) => memory.close().await,
        }
    }
}

impl Deref for Store {
    type Target = dyn Memory;

    fn deref(&self) -> &Self::Target {
        match self {
            Store::Sqlite(memory) => memory,
            Store::Postgres(memory) => memory,
        }
    }
}
