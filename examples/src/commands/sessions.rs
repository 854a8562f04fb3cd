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
    /// The memory database (default: the per-user database, e.g. ~/.local/share/argus/memory.db).
    #[arg(long, global = true)]
    pub(crate) db: Option<PathBuf>,
}

impl DbArgs {
    /// Opens the database, creating it if missing.
    pub(crate) async fn open(&self) -> anyhow::Result<SqliteMemory> {
        let path = match &self.db {
            Some(path) => path.clone(),
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
        }
    }
    for call in &message.tool_calls {
        line.push_str(&format!(" -> {}({})", call.name, call.arguments));
    }
    line
}
