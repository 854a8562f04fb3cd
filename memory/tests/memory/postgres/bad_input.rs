//! Servers and databases that are not ours to write, and text PostgreSQL cannot store: each a
//! typed error, each database left as it was, no password in any error.

use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use argus_core::{MemoryError, Message, NewSession, ObservationKey, RunLog, SessionId};
use argus_memory::testkit::TestPostgres;
use argus_memory::{Error, PostgresMemory, PostgresOptions};
use sqlx::{Connection, Executor, PgConnection, Row};

use crate::common::step;
use crate::fixture::TestDb;

/// A password that appears nowhere but in the URLs of these tests.
const WRONG_PASSWORD: &str = "wr0ng-Pa55word-1234";

/// The fresh database's name, from its URL.
fn database_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or_default()
}

/// Connects to `url` expecting an error, and checks no text of it shows `password` (nor the
/// server's real one).
async fn connect_refused(url: &str, password: &str) -> anyhow::Result<Error> {
    let options = PostgresOptions::default().connect_timeout(Duration::from_secs(10));
    let error = match PostgresMemory::connect_with(url, options).await {
        Ok(_) => anyhow::bail!("{url} was opened"),
        Err(error) => error,
    };
    let mut texts = vec![error.to_string(), format!("{error:?}")];
    // The trait-level error too, which wraps it.
    let memory_error = MemoryError::from(error);
    texts.extend([memory_error.to_string(), format!("{memory_error:?}")]);
    let MemoryError::Backend {
        source: Some(source),
        ..
    } = memory_error
    else {
        anyhow::bail!("not a backend error: {memory_error:?}");
    };
    let server_password = TestPostgres::shared().map(|pg| pg.password().to_string());
    for text in &texts {
        assert!(!text.contains(password), "the password shows in {text}");
        if let Some(real) = &server_password {
            assert!(
                !text.contains(real.as_str()),
                "the password shows in {text}"
            );
        }
    }
    let error = *source
        .downcast::<Error>()
        .map_err(|_| anyhow::anyhow!("the source is not argus_memory::Error"))?;
    Ok(error)
}

/// What a refused connection must leave as it was: the tables, the schema history, the
/// sessions.
type Snapshot = (Vec<String>, Vec<(i64, Vec<u8>)>, Vec<(String, String)>);

async fn snapshot(conn: &mut PgConnection) -> anyhow::Result<Snapshot> {
    let versions = conn
        .fetch_all("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let sessions = conn
        .fetch_all("SELECT id, title FROM sessions ORDER BY id")
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    Ok((tables(conn).await?, versions, sessions))
}

/// The names of the database's tables, sorted.
async fn tables(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    let rows = conn
        .fetch_all(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() ORDER BY 1",
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

#[tokio::test]
async fn a_wrong_password_is_a_refused_login_that_shows_no_password() -> anyhow::Result<()> {
    let Some(pg) = TestPostgres::shared() else {
        return Ok(());
    };
    let url = pg.fresh_database().await;
    let wrong = pg.url_with_password(database_name(&url), WRONG_PASSWORD);
    let error = connect_refused(&wrong, WRONG_PASSWORD).await?;
    let Error::ServerLoginRefused { url: shown } = &error else {
        anyhow::bail!("expected ServerLoginRefused, got {error:?}");
    };
    assert_eq!(*shown, argus_core::shown_url(&wrong));
    assert!(
        shown.contains(&format!("127.0.0.1:{}", pg.port())),
        "{shown}"
    );
    assert!(error.to_string().contains(shown.as_str()), "{error}");
    // Nothing was created.
    let mut conn = PgConnection::connect(&url).await?;
    assert!(tables(&mut conn).await?.is_empty());
    conn.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_closed_port_is_an_unreachable_server() -> anyhow::Result<()> {
    // A port that was free a moment ago, now closed: nothing listens there.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port();
    let url = format!("postgres://argus:{WRONG_PASSWORD}@127.0.0.1:{port}/argus");
    let error = connect_refused(&url, WRONG_PASSWORD).await?;
    let Error::ServerUnreachable { url: shown, .. } = &error else {
        anyhow::bail!("expected ServerUnreachable, got {error:?}");
    };
    assert_eq!(*shown, format!("postgres://127.0.0.1:{port}/argus"));
    Ok(())
}

#[tokio::test]
async fn an_invalid_url_is_refused_before_connecting() -> anyhow::Result<()> {
    for url in [
        format!("postgres://argus:{WRONG_PASSWORD}@127.0.0.1:notaport/argus"),
        format!("postgres://argus:{WRONG_PASSWORD}@[::1/argus"),
        format!("postgres://argus:{WRONG_PASSWORD}@127.0.0.1:5432/argus?sslmode=sometimes"),
    ] {
        let error = connect_refused(&url, WRONG_PASSWORD).await?;
        assert!(
            matches!(error, Error::InvalidUrl { .. }),
            "{url}: expected InvalidUrl, got {error:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn another_programs_database_is_refused_untouched() -> anyhow::Result<()> {
    let Some(pg) = TestPostgres::shared() else {
        return Ok(());
    };
    let url = pg.fresh_database().await;
    let mut conn = PgConnection::connect(&url).await?;
    conn.execute("CREATE TABLE notes (body TEXT NOT NULL)")
        .await?;
    conn.execute("INSERT INTO notes VALUES ('keep me')").await?;

    let error = connect_refused(&url, pg.password()).await?;
    let Error::ServerForeignDatabase { url: shown } = &error else {
        anyhow::bail!("expected ServerForeignDatabase, got {error:?}");
    };
    assert_eq!(*shown, argus_core::shown_url(&url));
    assert_eq!(tables(&mut conn).await?, ["notes"]);
    let bodies = conn.fetch_all("SELECT body FROM notes").await?;
    let bodies: Vec<String> = bodies.iter().map(|row| row.get(0)).collect();
    assert_eq!(bodies, ["keep me"]);
    conn.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused_untouched() -> anyhow::Result<()> {
    let Some(pg) = TestPostgres::shared() else {
        return Ok(());
    };
    let url = pg.fresh_database().await;
    let memory = PostgresMemory::connect(&url).await?;
    memory
        .create_session(NewSession::named("old", "Old"))
        .await?;
    memory.close().await;
    let future = PostgresMemory::schema_version() + 1_000_000;
    let mut conn = PgConnection::connect(&url).await?;
    conn.execute(
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES ($1, 'from the future', true, '\\x00', 0)",
        )
        .bind(future),
    )
    .await?;
    conn.execute("CREATE TABLE future_things (x BIGINT)")
        .await?;
    let before = snapshot(&mut conn).await?;

    let error = connect_refused(&url, pg.password()).await?;
    let Error::ServerFutureSchema {
        url: shown,
        found,
        supported,
    } = &error
    else {
        anyhow::bail!("expected ServerFutureSchema, got {error:?}");
    };
    assert_eq!(*shown, argus_core::shown_url(&url));
    assert_eq!(
        (*found, *supported),
        (future, PostgresMemory::schema_version())
    );
    assert_eq!(snapshot(&mut conn).await?, before);
    conn.close().await?;
    Ok(())
}

/// PostgreSQL's `text` cannot hold NUL: every way in refuses such text as invalid input, and
/// writes nothing of it.
#[tokio::test]
async fn text_with_a_nul_character_is_refused_and_nothing_is_written() -> anyhow::Result<()> {
    let Some(db) = TestDb::new(crate::fixture::Backend::Postgres).await? else {
        return Ok(());
    };
    let memory = db.open().await?;
    let invalid = |result: Result<(), MemoryError>, what: &str| {
        assert!(
            matches!(&result, Err(MemoryError::InvalidInput(reason)) if reason.contains("NUL")),
            "{what}: {result:?}"
        );
    };
    invalid(
        memory
            .create_session(NewSession::named("a\0b", "title"))
            .await
            .map(drop),
        "a session id",
    );
    invalid(
        memory
            .create_session(NewSession::named("s1", "ti\0tle"))
            .await
            .map(drop),
        "a session title",
    );
    assert!(memory.list_sessions().await?.is_empty());

    let session = memory.create_session(NewSession::named("s", "S")).await?.id;
    // A valid first message, a NUL in the second: the step is refused whole.
    let bad = step(
        "r",
        0,
        vec![Message::user("fine"), Message::assistant("not\0fine")],
        false,
    );
    invalid(memory.append_step(&session, &bad).await, "a message");
    invalid(
        memory
            .append_step(&session, &step("r\0", 0, vec![Message::user("x")], false))
            .await,
        "a run id",
    );
    invalid(
        memory.rename_session(&session, "re\0named").await,
        "a rename",
    );
    let key = ObservationKey::new(vec!["ab".repeat(32)], "what?", "m");
    invalid(
        memory.save_observation(&key, "se\0en").await,
        "an observation",
    );
    assert_eq!(memory.observation(&key).await?, None);

    let info = memory.session(&session).await?;
    assert_eq!((info.title.as_str(), info.message_count), ("S", 0));
    assert_eq!(memory.last_run(&session).await?, None);
    for table in ["messages", "steps", "runs", "observations"] {
        assert_eq!(db.count_rows(table).await?, 0, "{table}");
    }

    // An export holding such text imports nothing.
    memory
        .append_step(&session, &step("r", 0, vec![Message::user("fine")], true))
        .await?;
    let mut export = memory.export_session(&session).await?;
    export.session.id = SessionId::new("copy");
    export.steps[0].step.messages[0] = Message::user("no\0pe");
    invalid(memory.import_session(&export).await.map(drop), "an import");
    assert!(matches!(
        memory.session(&"copy".into()).await,
        Err(MemoryError::SessionNotFound(_))
    ));
    assert_eq!(db.count_rows("sessions").await?, 1);
    assert_eq!(db.count_rows("messages").await?, 1);
    memory.close().await;
    db.assert_consistent().await
}
