//! Choosing where memory is stored: a SQLite file (the default, per user) or a PostgreSQL
//! database (`--db postgres://…` or `ARGUS_DATABASE_URL`), opened as one `dyn Memory`.

use std::convert::Infallible;
use std::fmt;
use std::ops::Deref;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use argus_core::Memory;
use argus_memory::{PostgresMemory, PostgresOptions, SqliteMemory};

use crate::exit::UserError;

/// Where sessions are stored, shared by `run`, `chat` and `sessions`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DbArgs {
    /// The memory database: a SQLite file path or `sqlite://PATH` URL, or a PostgreSQL URL
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (default: the per-user SQLite database,
    /// e.g. ~/.local/share/argus/memory.db). Passwords are never printed.
    #[arg(
        long,
        global = true,
        env = "ARGUS_DATABASE_URL",
        hide_env_values = true,
        value_name = "PATH|URL"
    )]
    pub(crate) db: Option<DbLocation>,
    /// PostgreSQL: pooled connections (default 10). Ignored with SQLite.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) db_pool: Option<u32>,
    /// PostgreSQL: the server cancels a statement running longer than this (default 30; 0: the
    /// server's own setting). Ignored with SQLite.
    #[arg(long, global = true, value_name = "SECS", value_parser = parse_secs)]
    pub(crate) db_statement_timeout: Option<Duration>,
    /// PostgreSQL: how long connecting, or waiting for a pooled connection, may take (default
    /// 10). Ignored with SQLite.
    #[arg(long, global = true, value_name = "SECS", value_parser = parse_secs)]
    pub(crate) db_connect_timeout: Option<Duration>,
}

/// A `--db` value as given. Its `Debug` and `Display` never show a password.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct DbLocation(String);

impl FromStr for DbLocation {
    type Err = Infallible;

    fn from_str(text: &str) -> Result<Self, Infallible> {
        Ok(DbLocation(text.to_string()))
    }
}

impl fmt::Debug for DbLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbLocation({:?})", without_password(&self.0))
    }
}

impl fmt::Display for DbLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&without_password(&self.0))
    }
}

/// What a `--db` value names.
#[derive(Debug, PartialEq)]
enum Target {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (with its password, if any).
    Postgres(String),
}

impl DbLocation {
    /// Refuses a location that names no store this build has (exit code 2).
    pub(crate) fn check(&self) -> Result<(), UserError> {
        self.target().map(drop)
    }

    /// What this names: a SQLite file or a PostgreSQL database. Any other URL is refused (exit
    /// code 2) rather than taken for a file name.
    fn target(&self) -> Result<Target, UserError> {
        let location = self.0.as_str();
        if let Some(path) = location
            .strip_prefix("sqlite://")
            .or_else(|| location.strip_prefix("sqlite:"))
        {
            return Ok(Target::Sqlite(PathBuf::from(path)));
        }
        match url_scheme(location) {
            Some(scheme)
                if scheme.eq_ignore_ascii_case("postgres")
                    || scheme.eq_ignore_ascii_case("postgresql") =>
            {
                Ok(Target::Postgres(location.to_string()))
            }
            Some(scheme) => Err(UserError::usage(format!(
                "--db {self}: `{scheme}` databases are not supported; give a SQLite file path, a \
                 sqlite://PATH URL or a postgres://USER@HOST/DATABASE URL"
            ))),
            None => Ok(Target::Sqlite(PathBuf::from(location))),
        }
    }
}

impl DbArgs {
    /// Refuses a `--db` value that names no store this build has, before anything else runs.
    pub(crate) fn check(&self) -> Result<(), UserError> {
        self.location().map_or(Ok(()), DbLocation::check)
    }

    /// The `--db` value (or `ARGUS_DATABASE_URL`), unless empty.
    pub(crate) fn location(&self) -> Option<&DbLocation> {
        self.db.as_ref().filter(|location| !location.0.is_empty())
    }

    /// Opens the database `--db` names (the per-user SQLite database by default), creating
    /// and migrating it as needed.
    pub(crate) async fn open(&self) -> anyhow::Result<OpenMemory> {
        self.open_at(self.location()).await
    }

    /// Opens the database at `location` (the per-user SQLite database when `None`) with
    /// these options.
    pub(crate) async fn open_at(
        &self,
        location: Option<&DbLocation>,
    ) -> anyhow::Result<OpenMemory> {
        let target = match location {
            Some(location) => location.target()?,
            None => Target::Sqlite(SqliteMemory::default_path().ok_or_else(|| {
                UserError::invalid("no home directory to keep memory in: pass --db PATH")
            })?),
        };
        match target {
            Target::Sqlite(path) => SqliteMemory::open(&path)
                .await
                .map(OpenMemory::Sqlite)
                .map_err(open_error),
            Target::Postgres(url) => PostgresMemory::connect_with(&url, self.postgres_options())
                .await
                .map(OpenMemory::Postgres)
                .map_err(|error| match error {
                    // Named as given (password masked): the parser could not show it.
                    argus_memory::Error::InvalidUrl { reason, .. } => UserError::usage(format!(
                        "`{}` is not a usable PostgreSQL URL: {reason}",
                        DbLocation(url)
                    ))
                    .into(),
                    other => open_error(other),
                }),
        }
    }

    /// The PostgreSQL connection settings the flags give.
    fn postgres_options(&self) -> PostgresOptions {
        let mut options = PostgresOptions::default();
        if let Some(connections) = self.db_pool {
            options = options.max_connections(connections);
        }
        if let Some(timeout) = self.db_statement_timeout {
            options = options.statement_timeout((!timeout.is_zero()).then_some(timeout));
        }
        if let Some(timeout) = self.db_connect_timeout {
            options = options.connect_timeout(timeout);
        }
        options
    }
}

/// A database that cannot be used as given is the user's to fix: a URL that does not parse
/// is a bad command line (exit code 2); a file or server that is not an Argus database, is
/// newer, refuses the login or does not answer is invalid input (exit code 4). Every message
/// names the database without its password.
fn open_error(error: argus_memory::Error) -> anyhow::Error {
    use argus_memory::Error;
    match error {
        Error::InvalidUrl { .. } => UserError::usage(error.to_string()).into(),
        Error::NotADatabase { .. }
        | Error::ForeignDatabase { .. }
        | Error::FutureSchema { .. }
        | Error::ServerUnreachable { .. }
        | Error::ServerLoginRefused { .. }
        | Error::ServerForeignDatabase { .. }
        | Error::ServerFutureSchema { .. } => UserError::invalid(error.to_string()).into(),
        other => anyhow::Error::new(other),
    }
}

/// An open memory database, whichever kind.
#[derive(Debug, Clone)]
pub(crate) enum OpenMemory {
    /// A SQLite file.
    Sqlite(SqliteMemory),
    /// A PostgreSQL database.
    Postgres(PostgresMemory),
}

impl OpenMemory {
    /// The memory as agents and tools take it.
    pub(crate) fn shared(&self) -> Arc<dyn Memory> {
        match self {
            OpenMemory::Sqlite(memory) => Arc::new(memory.clone()),
            OpenMemory::Postgres(memory) => Arc::new(memory.clone()),
        }
    }

    /// Closes the connections (a SQLite file checkpoints its write-ahead log).
    pub(crate) async fn close(&self) {
        match self {
            OpenMemory::Sqlite(memory) => memory.close().await,
            OpenMemory::Postgres(memory) => memory.close().await,
        }
    }
}

impl Deref for OpenMemory {
    type Target = dyn Memory;

    fn deref(&self) -> &(dyn Memory + 'static) {
        match self {
            OpenMemory::Sqlite(memory) => memory,
            OpenMemory::Postgres(memory) => memory,
        }
    }
}

/// A number of seconds (fractions allowed), as a duration.
pub(crate) fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("expected a number of seconds, got `{text}`"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("`{text}` is not a duration in seconds"))
}

/// The scheme of `text` when it is a URL (`scheme://…`, or a database scheme followed by `:`).
fn url_scheme(text: &str) -> Option<&str> {
    const DATABASE_SCHEMES: &[&str] = &["postgres", "postgresql", "mysql", "mariadb", "mssql"];
    let (scheme, rest) = text.split_once(':')?;
    let is_scheme = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let is_url = rest.starts_with("//")
        || DATABASE_SCHEMES
            .iter()
            .any(|known| scheme.eq_ignore_ascii_case(known));
    (is_scheme && is_url).then_some(scheme)
}

/// `location` as messages may show it: a URL with the password of its user information
/// (`user:password@`) masked and its query (which may carry `password=`) left out; a path as
/// it is.
fn without_password(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else {
        return location.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info
                .split_once(':')
                .map_or(user_info, |(user, _)| user);
            let masked = if user_info.contains(':') { ":***" } else { "" };
            format!("{user}{masked}@{host}")
        }
        None => authority.to_string(),
    };
    format!("{scheme}://{authority}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(location: &str) -> Result<Target, UserError> {
        DbLocation(location.into()).target()
    }

    #[test]
    fn paths_and_sqlite_urls_name_files() {
        let file = |path: &str| Target::Sqlite(PathBuf::from(path));
        assert_eq!(target("memory.db").unwrap(), file("memory.db"));
        assert_eq!(target("sqlite:///tmp/m.db").unwrap(), file("/tmp/m.db"));
        assert_eq!(target("sqlite:m.db").unwrap(), file("m.db"));
        // A colon in a file name is not a URL.
        assert_eq!(target("notes:2026.db").unwrap(), file("notes:2026.db"));
    }

    #[test]
    fn postgres_urls_name_servers() {
        for url in [
            "postgres://argus:s3cret@db.example:5432/argus",
            "postgresql://argus@localhost/argus?sslmode=require",
            "POSTGRES://h/db",
        ] {
            assert_eq!(target(url).unwrap(), Target::Postgres(url.into()));
        }
    }

    #[test]
    fn other_urls_are_refused_without_their_password() {
        for url in [
            "mysql://root:s3cret@localhost/argus",
            "mariadb:argus",
            "https://example.com/memory.db?password=s3cret",
        ] {
            let error = target(url).unwrap_err().to_string();
            assert!(error.contains("sqlite://PATH"), "{error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
        let error = target("mysql://user:s3cret@db.example:3306/argus?x=1")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("--db mysql://user:***@db.example:3306/argus: `mysql`"),
            "{error}"
        );
    }

    #[test]
    fn debug_and_display_hide_the_password() {
        let location = DbLocation("postgres://argus:s3cret@h/db?password=s3cret".into());
        for shown in [format!("{location:?}"), location.to_string()] {
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("argus:***@h/db"), "{shown}");
        }
    }

    #[test]
    fn seconds_parse_with_fractions() {
        assert_eq!(parse_secs("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_secs("0.5").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_secs("0").unwrap(), Duration::ZERO);
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("soon").is_err());
    }
}
