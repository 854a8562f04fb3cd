//! Shared helpers: fresh databases, sample conversations, raw SQLite checks.

use std::path::{Path, PathBuf};

use argus_core::{
    ImageRef, Message, RunId, StepRecord, ToolCall, ToolErrorKind, ToolResultInfo, Usage,
};
use argus_memory::SqliteMemory;
use serde_json::json;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tempfile::TempDir;

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

/// A plain connection to the file, for checks beneath the API.
pub(crate) async fn raw(path: &Path) -> anyhow::Result<SqliteConnection> {
    Ok(SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .connect()
        .await?)
}

/// `PRAGMA integrity_check`, foreign keys and the full-text index are all consistent.
pub(crate) async fn assert_consistent(path: &Path) -> anyhow::Result<()> {
    let mut conn = raw(path).await?;
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await?;
    anyhow::ensure!(integrity == ["ok"], "integrity_check: {integrity:?}");
    let dangling: Vec<String> =
        sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_check")
            .fetch_all(&mut conn)
            .await?;
    anyhow::ensure!(dangling.is_empty(), "foreign_key_check: {dangling:?}");
    // Errors out if the index does not match the messages (a process killed before its
    // first migration committed leaves a database without tables).
    let migrated: bool =
        sqlx::query_scalar("SELECT count(*) > 0 FROM sqlite_master WHERE name = 'messages_fts'")
            .fetch_one(&mut conn)
            .await?;
    if migrated {
        sqlx::query("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")
            .execute(&mut conn)
            .await?;
    }
    conn.close().await?;
    Ok(())
}

/// Rows in `table`.
pub(crate) async fn count_rows(path: &Path, table: &str) -> anyhow::Result<i64> {
    let mut conn = raw(path).await?;
    let count = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(count)
}

pub(crate) fn step(run: &str, index: u32, messages: Vec<Message>, is_final: bool) -> StepRecord {
    StepRecord {
        run_id: RunId::new(run),
        index,
        messages,
        usage: Usage::default(),
        is_final,
    }
}

pub(crate) fn tool_result(call: &ToolCall, text: &str, error: Option<ToolErrorKind>) -> Message {
    Message::tool_result(
        ToolResultInfo {
            call_id: call.id.clone(),
            name: call.name.clone(),
            error,
            duration_us: 1_234,
        },
        text,
    )
}

/// A tiny valid PNG-ish payload with a given seed (the bytes only need to hash).
pub(crate) fn image(seed: u8) -> ImageRef {
    let bytes: Vec<u8> = (0..256u32).map(|i| (i as u8) ^ seed).collect();
    ImageRef::from_bytes(bytes, "image/png").with_dimensions(16, 16)
}

/// Two runs exercising everything a step can hold: text, images with and without bytes,
/// several text parts, tool calls with nested arguments, results with and without errors,
/// durations and usage.
pub(crate) fn rich_steps() -> Vec<StepRecord> {
    let picture = image(7);
    let add = ToolCall {
        id: "call_add".into(),
        name: "calculator".into(),
        arguments: json!({"expr": "2+2", "nested": {"list": [1, 2.5, null, true, "ü"]}, "big": u64::MAX}),
    };
    let clock = ToolCall {
        id: "call_clock".into(),
        name: "clock".into(),
        arguments: json!({}),
    };
    let crash = ToolCall::new("flaky", json!({"attempt": 3}));
    let mut multi = Message::user("first part, ");
    multi.content.push(argus_core::ContentPart::Image {
        image: image(9).without_data(),
    });
    multi.content.push(argus_core::ContentPart::Text {
        text: "second part ünïcödé 🎉".into(),
    });
    let usage = Usage::new(1_200, 37)
        .with_cached_prompt_tokens(1_024)
        .with_timings(12.5, 480.125);
    vec![
        step(
            "run-1",
            0,
            vec![
                Message::system("You are a careful assistant."),
                Message::user_with_images("What is in this picture?", vec![picture.clone()]),
            ],
            false,
        ),
        StepRecord {
            usage,
            ..step(
                "run-1",
                1,
                vec![
                    Message::assistant_with_calls(
                        "Let me check.",
                        vec![add.clone(), clock.clone()],
                    ),
                    tool_result(&add, "4", None),
                    tool_result(&clock, "timed out after 5s", Some(ToolErrorKind::Timeout)),
                ],
                false,
            )
        },
        StepRecord {
            usage,
            ..step(
                "run-1",
                2,
                vec![Message::assistant("It is 4, and a cat.")],
                true,
            )
        },
        step(
            "run-2",
            0,
            vec![
                Message::user_with_images("The same one again", vec![picture.without_data()]),
                multi,
                Message {
                    role: argus_core::Role::User,
                    content: Vec::new(),
                    tool_calls: Vec::new(),
                    tool_result: None,
                },
            ],
            false,
        ),
        StepRecord {
            usage,
            ..step(
                "run-2",
                1,
                vec![
                    Message::assistant_with_calls("", vec![crash.clone()]),
                    tool_result(&crash, "the tool panicked", Some(ToolErrorKind::Panicked)),
                ],
                false,
            )
        },
    ]
}
