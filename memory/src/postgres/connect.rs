//! Connecting: parsing the URL, the pools, the checks before migrating, and connection
//! failures as typed errors that name the URL without its password.

use std::collections::BTreeSet;
use std::str::FromStr;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use super::PostgresOptions;
use crate::error::Error;

/// The schema migrations in `memory/migrations/postgres/`, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// SQLSTATE 28P01 (invalid_password) and 28000 (invalid_authorization_specification).
const LOGIN_REFUSED: [&str; 2] = ["28P01", "28000"];

/// The newest schema version this build knows.
pub(crate) fn schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The pools of one database.
pub(crate) struct Pools {
    pub(crate) pool: PgPool,
    pub(crate) leases: PgPool,
}

/// Connects, checks and migrates the database at `url`.
pub(crate) async fn open(url: &str, options: &PostgresOptions) -> Result<Pools, Error> {
    let shown = argus_core::shown_url(url);
    let mut connect = PgConnectOptions::from_str(url).map_err(|error| Error::InvalidUrl {
        url: shown.clone(),
        // Parse errors quote no part of the URL but the scheme; keep them anyway to the kind.
        reason: match error {
            sqlx::Error::Configuration(_) => {
                "expected postgres://user:password@host:port/database".to_string()
            }
            other => other.to_string(),
        },
    })?;
    if let Some(timeout) = options.statement_timeout {
        connect = connect.options([("statement_timeout", format!("{}", timeout.as_millis()))]);
    }

    let mut probe = tokio::time::timeout(options.connect_timeout, connect.connect())
        .await
        .map_err(|_| Error::ServerUnreachable {
            url: shown.clone(),
            reason: format!("no answer within {:?}", options.connect_timeout),
        })?
        .map_err(|error| classify(&shown, error))?;
    check(&mut probe, &shown).await?;
    probe
        .close()
        .await
        .map_err(|error| classify(&shown, error))?;

    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.connect_timeout)
        .connect_with(connect.clone())
        .await
        .map_err(|error| classify(&shown, error))?;
    // Several processes may start at once: sqlx migrates under an advisory lock.
    match MIGRATOR.run(&pool).await {
        Ok(()) => {}
        Err(MigrateError::Execute(error)) => return Err(classify(&shown, error)),
        Err(error) => return Err(error.into()),
    }
    let leases = PgPoolOptions::new()
        .max_connections(options.max_held_sessions)
        .acquire_timeout(options.connect_timeout)
        .connect_lazy_with(connect);
    Ok(Pools { pool, leases })
}

/// The database must be Argus's (or empty) and not from a newer schema.
async fn check(conn: &mut PgConnection, url: &str) -> Result<(), Error> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = current_schema()",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|error| classify(url, error))?;
    if tables.iter().any(|t| t == "_sqlx_migrations") {
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
            .fetch_all(&mut *conn)
            .await
            .map_err(|error| classify(url, error))?;
        let known: BTreeSet<i64> = MIGRATOR.iter().map(|m| m.version).collect();
        if let Some(found) = applied.iter().filter(|v| !known.contains(v)).max() {
            return Err(Error::ServerFutureSchema {
                url: url.to_string(),
                found: *found,
                supported: schema_version(),
            });
        }
    } else if !tables.is_empty() {
        return Err(Error::ServerForeignDatabase {
            url: url.to_string(),
        });
    }
    Ok(())
}

/// Turns connection failures into their typed errors.
pub(crate) fn classify(url: &str, error: sqlx::Error) -> Error {
    let url = url.to_string();
    match &error {
        sqlx::Error::Database(db)
            if db
                .code()
                .is_some_and(|code| LOGIN_REFUSED.contains(&&*code)) =>
        {
            Error::ServerLoginRefused { url }
        }
        sqlx::Error::Io(io) => Error::ServerUnreachable {
            url,
            reason: io.to_string(),
        },
        sqlx::Error::Tls(tls) => Error::ServerUnreachable {
            url,
            reason: format!("TLS: {tls}"),
        },
        sqlx::Error::PoolTimedOut => Error::ServerUnreachable {
            url,
            reason: "timed out connecting".into(),
        },
        _ => Error::Sqlx(error),
    }
}
