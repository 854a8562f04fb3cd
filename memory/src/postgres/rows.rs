//! Messages to rows and back in PostgreSQL: `messages`, `message_parts`, `tool_calls` and
//! `images`, and the session's messages as the kernel's context walk reads them.

use std::ops::Range;

use argus_core::{
    async_trait, ContentPart, ImageRef, MemoryError, Message, MessageSource, ToolErrorKind,
};
use sqlx::PgConnection;

use super::db;
use crate::rows::{
    folded_for_search, messages_from_rows, u64_to_sql, CallRow, MessageRow, PartRow, CALL_COLUMNS,
    MESSAGE_COLUMNS, PART_COLUMNS,
};

/// PostgreSQL's `text` cannot hold NUL characters: such text is refused whole, before anything
/// of it is written.
pub(crate) fn check_text(text: &str, what: &str) -> Result<(), MemoryError> {
    if text.contains('\0') {
        return Err(MemoryError::invalid(format!(
            "{what} contains a NUL character, which PostgreSQL cannot store"
        )));
    }
    Ok(())
}

/// Stores an image once per hash, as the SQLite store does: a later reference may add bytes or
/// dimensions the first lacked; stored bytes are never replaced.
pub(crate) async fn store_image(
    conn: &mut PgConnection,
    image: &ImageRef,
) -> Result<(), MemoryError> {
    check_text(&image.media_type, "an image's media type")?;
    sqlx::query(
        "INSERT INTO images (sha256, media_type, byte_len, width, height, data)
         VALUES ($1, $2, $3, $4, $5, $6)
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
    .bind(image.width.map(i64::from))
    .bind(image.height.map(i64::from))
    .bind(image.data.as_deref())
    .execute(&mut *conn)
    .await
    .map_err(db("storing an image"))?;
    Ok(())
}

/// Inserts `message` at `position` of the session.
pub(crate) async fn insert_message(
    conn: &mut PgConnection,
    session_seq: i64,
    position: i64,
    message: &Message,
) -> Result<(), MemoryError> {
    let text = message.text();
    check_text(&text, "a message")?;
    let result = message.tool_result.as_ref();
    if let Some(result) = result {
        check_text(&result.call_id, "a tool call id")?;
        check_text(&result.name, "a tool name")?;
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO messages (session_seq, position, role, text,
             tool_call_id, tool_name, tool_error, tool_duration_us, words)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, to_tsvector('simple', $9))
         RETURNING id",
    )
    .bind(session_seq)
    .bind(position)
    .bind(message.role.as_str())
    .bind(&text)
    .bind(result.map(|r| r.call_id.as_str()))
    .bind(result.map(|r| r.name.as_str()))
    .bind(result.and_then(|r| r.error).map(ToolErrorKind::as_str))
    .bind(result.map(|r| u64_to_sql(r.duration_us)))
    .bind(folded_for_search(&text))
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
                "INSERT INTO message_parts (message_id, ord, kind, text) VALUES ($1, $2, 'text', $3)",
            )
            .bind(id)
            .bind(ord as i64)
            .bind((text_parts > 1).then_some(text.as_str())),
            ContentPart::Image { image } => {
                store_image(conn, image).await?;
                sqlx::query(
                    "INSERT INTO message_parts (message_id, ord, kind, image_sha256, image_data)
                     VALUES ($1, $2, 'image', $3, $4)",
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
        check_text(&call.id, "a tool call id")?;
        check_text(&call.name, "a tool name")?;
        sqlx::query(
            "INSERT INTO tool_calls (message_id, ord, call_id, name, arguments)
             VALUES ($1, $2, $3, $4, $5)",
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

/// Loads the messages of a session at `positions` (only its system messages with
/// `system_only`) in order, with their positions.
pub(crate) async fn load_messages(
    conn: &mut PgConnection,
    session_seq: i64,
    positions: Range<u64>,
    system_only: bool,
) -> Result<Vec<(u64, Message)>, MemoryError> {
    let start = u64_to_sql(positions.start);
    let end = u64_to_sql(positions.end);
    if start >= end {
        return Ok(Vec::new());
    }
    let filter = if system_only {
        "m.session_seq = $1 AND m.role = 'system' AND m.position >= $2 AND m.position < $3"
    } else {
        "m.session_seq = $1 AND m.position >= $2 AND m.position < $3"
    };
    let rows: Vec<MessageRow> = sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE {filter} ORDER BY m.position"
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
         FROM messages m
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
         FROM messages m JOIN tool_calls c ON c.message_id = m.id
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

/// One session's messages, read inside the caller's transaction.
pub(crate) struct SessionMessages<'c> {
    pub(crate) conn: &'c mut PgConnection,
    pub(crate) session_seq: i64,
}

#[async_trait]
impl MessageSource for SessionMessages<'_> {
    async fn messages(&mut self, positions: Range<u64>) -> Result<Vec<Message>, MemoryError> {
        let rows = load_messages(self.conn, self.session_seq, positions, false).await?;
        Ok(rows.into_iter().map(|(_, message)| message).collect())
    }

    async fn system_messages(
        &mut self,
        positions: Range<u64>,
    ) -> Result<Vec<(u64, Message)>, MemoryError> {
        load_messages(self.conn, self.session_seq, positions, true).await
    }
}
