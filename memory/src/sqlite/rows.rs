//! Messages to rows and back in SQLite: `messages`, `message_parts`, `tool_calls` and
//! `images`.

use std::ops::Range;

use argus_core::{ContentPart, ImageRef, MemoryError, Message, ToolErrorKind};
use sqlx::SqliteConnection;

use super::db;
use crate::rows::{
    messages_from_rows, u64_to_sql, CallRow, MessageRow, PartRow, CALL_COLUMNS, MESSAGE_COLUMNS,
    PART_COLUMNS,
};

/// Stores an image once per hash. A later reference may add bytes or dimensions the first
/// one lacked; when bytes arrive (checked against the hash), their size and media type
/// replace what a reference without bytes claimed. Stored bytes are never replaced.
pub(crate) async fn store_image(
    conn: &mut SqliteConnection,
    image: &ImageRef,
) -> Result<(), MemoryError> {
    sqlx::query(
        "INSERT INTO images (sha256, media_type, byte_len, width, height, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (sha256) DO UPDATE SET
             media_type = CASE WHEN images.data IS NULL AND excluded.data IS NOT NULL
                 THEN excluded.media_type ELSE images.media_type END,
             byte_len = CASE WHEN images.data IS NULL AND excluded.data IS NOT NULL
                 THEN excluded.byte_len ELSE images.byte_len END,
             data = coalesce(images.data, excluded.data),
             width = coalesce(images.width, excluded.width),
             height = coalesce(images.height, excluded.height)",
    )
    .bind(&image.sha256)
    .bind(&image.media_type)
    .bind(u64_to_sql(image.byte_len))
    .bind(image.width)
    .bind(image.height)
    .bind(image.data.as_deref())
    .execute(&mut *conn)
    .await
    .map_err(db("storing an image"))?;
    Ok(())
}

/// Inserts `message` at `position` of the session.
pub(crate) async fn insert_message(
    conn: &mut SqliteConnection,
    session_seq: i64,
    position: i64,
    message: &Message,
) -> Result<(), MemoryError> {
    let result = message.tool_result.as_ref();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO messages (session_seq, position, role, text,
             tool_call_id, tool_name, tool_error, tool_duration_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         RETURNING id",
    )
    .bind(session_seq)
    .bind(position)
    .bind(message.role.as_str())
    .bind(message.text())
    .bind(result.map(|r| r.call_id.as_str()))
    .bind(result.map(|r| r.name.as_str()))
    .bind(result.and_then(|r| r.error).map(ToolErrorKind::as_str))
    .bind(result.map(|r| u64_to_sql(r.duration_us)))
    .fetch_one(&mut *conn)
    .await
    .map_err(db("storing a message"))?;

    // The common message has one text part: its text is `messages.text`, stored once.
    let text_parts = message
        .content
        .iter()
        .filter(|part| matches!(part, ContentPart::Text { .. }))
        .count();
    for (ord, part) in message.content.iter().enumerate() {
        let query = match part {
            ContentPart::Text { text } => sqlx::query(
                "INSERT INTO message_parts (message_id, ord, kind, text) VALUES (?1, ?2, 'text', ?3)",
            )
            .bind(id)
            .bind(ord as i64)
            .bind((text_parts > 1).then_some(text.as_str())),
            ContentPart::Image { image } => {
                store_image(conn, image).await?;
                sqlx::query(
                    "INSERT INTO message_parts (message_id, ord, kind, image_sha256, image_data)
                     VALUES (?1, ?2, 'image', ?3, ?4)",
                )
                .bind(id)
                .bind(ord as i64)
                .bind(&image.sha256)
                .bind(image.data.is_some())
            }
            other => {
                return Err(MemoryError::backend(format!(
                    "cannot store the content part {other:?}"
                )))
            }
        };
        query
            .execute(&mut *conn)
            .await
            .map_err(db("storing a message part"))?;
    }

    for (ord, call) in message.tool_calls.iter().enumerate() {
        sqlx::query(
            "INSERT INTO tool_calls (message_id, ord, call_id, name, arguments)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(id)
        .bind(ord as i64)
        .bind(&call.id)
        .bind(&call.name)
        .bind(call.arguments.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db("storing a tool call"))?;
    }
    Ok(())
}

/// Which of a session's messages to load.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    /// Positions, end exclusive.
    pub(crate) positions: Range<u64>,
    /// Only system messages.
    pub(crate) system_only: bool,
}

impl Selection {
    /// Every message in `positions`.
    pub(crate) fn range(positions: Range<u64>) -> Self {
        Selection {
            positions,
            system_only: false,
        }
    }

    /// The system messages in `positions`.
    pub(crate) fn system(positions: Range<u64>) -> Self {
        Selection {
            positions,
            system_only: true,
        }
    }

    /// The `FROM` source and `WHERE` condition of the loading queries. System messages are
    /// found through their partial index: without the hint SQLite prefers the session's
    /// position index and reads every message of the session to check its role.
    fn source_and_filter(&self) -> (&'static str, &'static str) {
        if self.system_only {
            (
                "messages m INDEXED BY messages_system",
                "m.session_seq = ?1 AND m.role = 'system' AND m.position >= ?2 AND m.position < ?3",
            )
        } else {
            (
                "messages m",
                "m.session_seq = ?1 AND m.position >= ?2 AND m.position < ?3",
            )
        }
    }
}

/// Loads the selected messages of a session in order, with their positions.
pub(crate) async fn load_messages(
    conn: &mut SqliteConnection,
    session_seq: i64,
    selection: &Selection,
) -> Result<Vec<(u64, Message)>, MemoryError> {
    let start = u64_to_sql(selection.positions.start);
    let end = u64_to_sql(selection.positions.end);
    if start >= end {
        return Ok(Vec::new());
    }
    let (source, filter) = selection.source_and_filter();

    let rows: Vec<MessageRow> = sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM {source} WHERE {filter} ORDER BY m.position"
    ))
    .bind(session_seq)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await
    .map_err(db("loading messages"))?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<PartRow> = sqlx::query_as(&format!(
        "SELECT {PART_COLUMNS}
         FROM {source}
         JOIN message_parts p ON p.message_id = m.id
         LEFT JOIN images i ON i.sha256 = p.image_sha256
         WHERE {filter} ORDER BY m.position, p.ord"
    ))
    .bind(session_seq)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await
    .map_err(db("loading message parts"))?;
    let calls: Vec<CallRow> = sqlx::query_as(&format!(
        "SELECT {CALL_COLUMNS}
         FROM {source} JOIN tool_calls c ON c.message_id = m.id
         WHERE {filter} ORDER BY m.position, c.ord"
    ))
    .bind(session_seq)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await
    .map_err(db("loading tool calls"))?;
    messages_from_rows(rows, parts, calls)
}
