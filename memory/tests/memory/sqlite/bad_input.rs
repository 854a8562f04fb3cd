//! Files that are not ours to write: each a typed error, each left byte for byte as it was.

use std::path::Path;

use argus_core::{MemoryError, Message, NewSession, RunLog, SessionStore};
use argus_memory::{Error, SqliteMemory};
use sqlx::Connection;

use crate::common::step;
use crate::fixture::{raw_sqlite as raw, TempDb};

/// Opens `path` expecting an error, and checks the file did not change and gained no
/// `-wal` companion.
async fn open_refused(path: &Path) -> anyhow::Result<Error> {
    let before = std::fs::read(path)?;
    let error = match SqliteMemory::open(path).await {
        Ok(_) => anyhow::bail!("{} was opened", path.display()),
        Err(error) => error,
    };
    assert_eq!(
        std::fs::read(path)?,
        before,
        "{} was modified",
        path.display()
    );
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    // The trait-level error says what happened too.
    let memory_error = MemoryError::from(error);
    assert!(
        memory_error.to_string().contains(&message),
        "{memory_error}"
    );
    let MemoryError::Backend {
        source: Some(source),
        ..
    } = memory_error
    else {
        anyhow::bail!("not a backend error");
    };
    Ok(*source
        .downcast::<Error>()
        .map_err(|_| anyhow::anyhow!("source is not argus_memory::Error"))?)
}

#[tokio::test]
async fn a_file_that_is_not_sqlite_is_refused_untouched() -> anyhow::Result<()> {
    let db = TempDb::new()?;
    std::fs::write(&db.path, b"my precious notes, not a database\n".repeat(100))?;
    let error = open_refused(&db.path).await?;
    assert!(matches!(error, Error::NotADatabase { .. }), "{error}");
    assert!(!db.dir.path().join("memory.db-wal").exists());

    // A valid header over garbage is caught by SQLite itself.
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend(std::iter::repeat_n(0xA5u8, 4096));
    std::fs::write(&db.path, &bytes)?;
    let error = open_refused(&db.path).await?;
    assert!(
        matches!(error, Error::NotADatabase { .. } | Error::Sqlx(_)),
        "{error}"
    );
    Ok(())
}

#[tokio::test]
async fn a_directory_is_not_a_database() -> anyhow::Result<()> {
    let db = TempDb::new()?;
    std::fs::create_dir(&db.path)?;
    let result = SqliteMemory::open(&db.path).await;
    assert!(matches!(result, Err(Error::NotADatabase { .. })));
    Ok(())
}

#[tokio::test]
async fn another_programs_database_is_refused_untouched() -> anyhow::Result<()> {
    let db = TempDb::new()?;
    let mut conn = raw(&db.path).await?;
    sqlx::query("CREATE TABLE notes (body TEXT)")
        .execute(&mut conn)
        .await?;
    sqlx::query("INSERT INTO notes VALUES ('keep me')")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let error = open_refused(&db.path).await?;
    assert!(matches!(error, Error::ForeignDatabase { .. }), "{error}");
    Ok(())
}

#[cfg(unix)]
#[tokio::test]
async fn a_read_only_file_is_refused_untouched() -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let db = TempDb::new()?;
    let memory = db.open().await?;
    let session = memory.create_session(NewSession::named("s", "S")).await?.id;
    memory
        .append_step(&session, &step("r", 0, vec![Message::user("hi")], true))
        .await?;
    memory.close().await;

    std::fs::set_permissions(&db.path, std::fs::Permissions::from_mode(0o444))?;
    let error = open_refused(&db.path).await;
    std::fs::set_permissions(&db.path, std::fs::Permissions::from_mode(0o644))?;
    let error = error?;
    assert!(matches!(error, Error::ReadOnly { .. }), "{error}");
    assert!(error.to_string().contains("read-only"));

    // Writable again, it opens with its data.
    let memory = db.open().await?;
    assert_eq!(memory.session(&session).await?.message_count, 1);
    Ok(())
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused_untouched() -> anyhow::Result<()> {
    let db = TempDb::new()?;
    db.open().await?.close().await;
    let future = 99_991_231_000_000i64;
    let mut conn = raw(&db.path).await?;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (?1, 'from the future', 1, x'00', 0)",
    )
    .bind(future)
    .execute(&mut conn)
    .await?;
    sqlx::query("CREATE TABLE future_things (x)")
        .execute(&mut conn)
        .await?;
    conn.close().await?;

    let error = open_refused(&db.path).await?;
    let Error::FutureSchema {
        found, supported, ..
    } = error
    else {
        anyhow::bail!("expected FutureSchema, got {error}");
    };
    assert_eq!(found, future);
    assert_eq!(supported, SqliteMemory::schema_version());
    Ok(())
}

#[tokio::test]
async fn an_empty_file_becomes_a_database() -> anyhow::Result<()> {
    let db = TempDb::new()?;
    std::fs::write(&db.path, b"")?;
    let memory = db.open().await?;
    memory.create_session(NewSession::named("s", "S")).await?;
    Ok(())
}

#[tokio::test]
async fn a_missing_directory_is_created() -> anyhow::Result<()> {
    let db = TempDb::new()?;
    let path = db.dir.path().join("a").join("b").join("memory.db");
    let memory = SqliteMemory::open(&path).await?;
    assert_eq!(memory.path(), Some(path.as_path()));
    assert!(path.exists());
    Ok(())
}
