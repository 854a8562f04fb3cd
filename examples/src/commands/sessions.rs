//! `argus sessions`: list, show, search, export, import and delete stored conversations.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use argus_core::{
    ContentPart, ContextStrategy, Message, RunLog, SearchQuery, SessionId, SessionStore,
};
use argus_memory::{SessionExport, SqliteMemory};

use crate::exit::{not_found, UserError};

/// Where sessions are stored.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DbArgs {
    /// The memory database: a SQLite file path or `sqlite://PATH` URL (default: the per-user
    /// database, e.g. ~/.local/share/argus/memory.db).
    #[arg(long, global = true)]
    pub(crate) db: Option<String>,
}

impl DbArgs {
    /// Refuses a `--db` value this build cannot store memory in, before anything else runs.
    pub(crate) fn check(&self) -> Result<(), UserError> {
        match &self.db {
            Some(location) => sqlite_path(location).map(drop),
            None => Ok(()),
        }
    }

    /// Opens the database, creating it if missing.
    pub(crate) async fn open(&self) -> anyhow::Result<SqliteMemory> {
        let path = match &self.db {
            Some(location) => sqlite_path(location)?,
            None => SqliteMemory::default_path().ok_or_else(|| {
                UserError::invalid("no home directory to keep memory in: pass --db PATH")
            })?,
        };
        SqliteMemory::open(&path)
            .await
            .map_err(|error| match error {
                argus_memory::Error::NotADatabase { .. }
                | argus_memory::Error::ForeignDatabase { .. }
                | argus_memory::Error::FutureSchema { .. } => {
                    UserError::invalid(error.to_string()).into()
                }
                other => anyhow::Error::new(other),
            })
    }
}

/// The SQLite file a `--db` value names: a path, `sqlite://PATH` or `sqlite:PATH`.
///
/// Any other URL is refused (exit code 2) rather than taken for a file name: a database server
/// is not something this build can store memory in.
fn sqlite_path(location: &str) -> Result<PathBuf, UserError> {
    if let Some(path) = location
        .strip_prefix("sqlite://")
        .or_else(|| location.strip_prefix("sqlite:"))
    {
        return Ok(PathBuf::from(path));
    }
    if let Some(scheme) = url_scheme(location) {
        return Err(UserError::usage(format!(
            "--db {}: `{scheme}` databases are not supported by this build; give a SQLite file \
             path or a sqlite://PATH URL",
            without_password(location)
        )));
    }
    Ok(PathBuf::from(location))
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

/// `url` with the password of its user information (`user:password@`) masked.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info
                .split_once(':')
                .map_or(user_info, |(user, _)| user);
            let masked = if user_info.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{masked}@{host}{path}")
        }
        None => url.to_string(),
    }
}

/// Arguments of `argus sessions`.
#[derive(Debug, clap::Args)]
pub(crate) struct SessionsArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: SessionsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SessionsCommand {
    /// List sessions, most recent first.
    List {
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print a session's messages.
    Show {
        /// Session name.
        session: String,
    },
    /// Full-text search over one session or all of them.
    Search {
        /// Words to find.
        query: String,
        /// Only this session.
        #[arg(long)]
        session: Option<String>,
        /// Maximum number of hits.
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// Write a session as JSON (to stdout or a file).
    Export {
        /// Session name.
        session: String,
        /// Output file; stdout when omitted.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Recreate a session from an export.
    Import {
        /// The exported JSON file.
        file: PathBuf,
    },
    /// Delete a session and the images only it used.
    Delete {
        /// Session name.
        session: String,
    },
}

/// Runs a `sessions` subcommand.
pub(crate) async fn run(args: &SessionsArgs) -> anyhow::Result<()> {
    let memory = args.db.open().await?;
    let mut out = std::io::stdout().lock();
    match &args.command {
        SessionsCommand::List { json } => {
            for session in memory.list_sessions().await? {
                if *json {
                    writeln!(out, "{}", serde_json::to_string(&session)?)?;
                } else {
                    writeln!(
                        out,
                        "{}\t{} messages\t{}",
                        session.id, session.message_count, session.title
                    )?;
                }
            }
        }
        SessionsCommand::Show { session } => {
            let id = existing(&memory, session).await?;
            for message in memory.load_context(&id, &ContextStrategy::Full).await? {
                writeln!(out, "{}", render(&message))?;
            }
        }
        SessionsCommand::Search {
            query,
            session,
            limit,
        } => {
            let mut search = SearchQuery::new(query.clone()).limit(*limit);
            if let Some(session) = session {
                search = search.in_session(existing(&memory, session).await?);
            }
            for hit in memory.search(&search).await? {
                writeln!(
                    out,
                    "{}#{}\t{}\t{}",
                    hit.session_id,
                    hit.position,
                    hit.role.as_str(),
                    hit.snippet.replace('\n', " ")
                )?;
            }
        }
        SessionsCommand::Export { session, out: file } => {
            let id = existing(&memory, session).await?;
            let export = memory.export_session(&id).await?;
            let json = serde_json::to_string_pretty(&export)?;
            match file {
                Some(path) => std::fs::write(path, json)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => writeln!(out, "{json}")?,
            }
        }
        SessionsCommand::Import { file } => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| not_found(format!("cannot read {}: {e}", file.display())))?;
            let export: SessionExport = serde_json::from_str(&text).map_err(|e| {
                UserError::invalid(format!("{} is not a session export: {e}", file.display()))
            })?;
            let info = memory.import_session(&export).await?;
            writeln!(out, "imported session {}", info.id)?;
        }
        SessionsCommand::Delete { session } => {
            let id = existing(&memory, session).await?;
            memory.delete_session(&id).await?;
            writeln!(out, "deleted session {id}")?;
        }
    }
    memory.close().await;
    Ok(())
}

/// The id of a stored session, or a not-found error.
async fn existing(memory: &SqliteMemory, name: &str) -> anyhow::Result<SessionId> {
    let id = SessionId::new(name);
    match memory.session(&id).await {
        Ok(_) => Ok(id),
        Err(argus_core::MemoryError::SessionNotFound(_)) => {
            Err(not_found(format!("no session named `{name}`")).into())
        }
        Err(other) => Err(other.into()),
    }
}

/// One message as a line of text.
pub(crate) fn render(message: &Message) -> String {
    let mut line = match &message.tool_result {
        Some(result) => format!("tool {}:", result.name),
        None => format!("{}:", message.role.as_str()),
    };
    for part in &message.content {
        match part {
            ContentPart::Text { text } => {
                line.push(' ');
                line.push_str(text);
            }
            ContentPart::Image { image } => {
                let short: String = image.sha256.chars().take(12).collect();
                line.push_str(&format!(" [image {} {short}]", image.media_type));
            }
            other => line.push_str(&format!(" {other:?}")),
        }
    }
    for call in &message.tool_calls {
        line.push_str(&format!(" -> {}({})", call.name, call.arguments));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_sqlite_urls_name_files() {
        assert_eq!(
            sqlite_path("memory.db").unwrap(),
            PathBuf::from("memory.db")
        );
        assert_eq!(
            sqlite_path("sqlite:///tmp/m.db").unwrap(),
            PathBuf::from("/tmp/m.db")
        );
        assert_eq!(sqlite_path("sqlite:m.db").unwrap(), PathBuf::from("m.db"));
        // A colon in a file name is not a URL.
        assert_eq!(
            sqlite_path("notes:2026.db").unwrap(),
            PathBuf::from("notes:2026.db")
        );
    }

    #[test]
    fn other_urls_are_refused_without_their_password() {
        for url in [
            "postgres://user@host/db",
            "postgresql://user:s3cret@db.example:5432/argus?sslmode=require",
            "postgres:argus",
            "mysql://root@localhost/argus",
            "https://example.com/memory.db",
        ] {
            let error = sqlite_path(url).unwrap_err().to_string();
            assert!(error.contains("sqlite://PATH"), "{error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
        let error = sqlite_path("postgresql://user:s3cret@db.example:5432/argus")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("--db postgresql://user:***@db.example:5432/argus: `postgresql`"),
            "{error}"
        );
    }
}
