//! `argus sessions`: list, show, search, export, import, delete and copy stored conversations.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use argus_core::{
    ContentPart, ContextStrategy, Memory, MemoryError, Message, SearchQuery, SessionId,
};
use argus_memory::SessionExport;

use crate::db_args::{DbArgs, DbLocation};
use crate::exit::{not_found, UserError};

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
    /// Copy sessions (all of them when none is named) from one database to another, e.g.
    /// from a SQLite file to PostgreSQL. A session the destination already has is left as it
    /// is there, and reported as skipped.
    Copy {
        /// The database to copy from: a SQLite path or URL, or a PostgreSQL URL (default:
        /// --db, else ARGUS_DATABASE_URL, else the per-user SQLite database).
        #[arg(long, value_name = "PATH|URL")]
        from: Option<DbLocation>,
        /// The database to copy to (created and migrated if needed).
        #[arg(long, value_name = "PATH|URL")]
        to: DbLocation,
        /// Session names; all sessions when none is given.
        sessions: Vec<String>,
    },
}

/// Runs a `sessions` subcommand.
pub(crate) async fn run(args: &SessionsArgs) -> anyhow::Result<()> {
    if let SessionsCommand::Copy { from, to, sessions } = &args.command {
        return copy(&args.db, from.as_ref().or(args.db.location()), to, sessions).await;
    }
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
            let id = existing(&*memory, session).await?;
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
                search = search.in_session(existing(&*memory, session).await?);
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
            let id = existing(&*memory, session).await?;
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
            let id = existing(&*memory, session).await?;
            memory.delete_session(&id).await?;
            writeln!(out, "deleted session {id}")?;
        }
        // Copied above, before any database was opened.
        SessionsCommand::Copy { .. } => {}
    }
    memory.close().await;
    Ok(())
}

/// Copies `sessions` (all when empty) from `from` to `to`, skipping those `to` already has;
/// each is exported and imported whole, so a failure leaves no half-copied session.
async fn copy(
    db: &DbArgs,
    from: Option<&DbLocation>,
    to: &DbLocation,
    sessions: &[String],
) -> anyhow::Result<()> {
    // Both checked before either is opened (and perhaps created).
    if let Some(from) = from {
        from.check()?;
    }
    to.check()?;
    let source = db.open_at(from).await?;
    let destination = match db.open_at(Some(to)).await {
        Ok(destination) => destination,
        Err(error) => {
            source.close().await;
            return Err(error);
        }
    };
    let copied = copy_sessions(&*source, &*destination, sessions).await;
    source.close().await;
    destination.close().await;
    let (copied, steps, skipped) = copied?;
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    println!(
        "copied {} ({}), skipped {skipped}",
        plural(copied, "session", "sessions"),
        plural(steps, "step", "steps")
    );
    Ok(())
}

/// Copies the sessions; returns how many were copied, their steps, and how many skipped.
async fn copy_sessions(
    source: &dyn Memory,
    destination: &dyn Memory,
    names: &[String],
) -> anyhow::Result<(usize, usize, usize)> {
    let ids = if names.is_empty() {
        // Oldest first, so the destination lists them in the same order.
        let mut all = source.list_sessions().await?;
        all.reverse();
        all.into_iter().map(|info| info.id).collect()
    } else {
        let mut ids = Vec::with_capacity(names.len());
        for name in names {
            ids.push(existing(source, name).await?);
        }
        ids
    };
    let (mut copied, mut steps, mut skipped) = (0, 0, 0);
    for id in ids {
        let export = source.export_session(&id).await?;
        match destination.import_session(&export).await {
            Ok(_) => {
                copied += 1;
                steps += export.steps.len();
            }
            Err(MemoryError::SessionExists(_)) => {
                eprintln!("skipped session `{id}`: the destination already has it");
                skipped += 1;
            }
            Err(error) => {
                return Err(anyhow::Error::new(error).context(format!("copying session `{id}`")))
            }
        }
    }
    Ok((copied, steps, skipped))
}

/// The id of a stored session, or a not-found error.
async fn existing(memory: &dyn Memory, name: &str) -> anyhow::Result<SessionId> {
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
