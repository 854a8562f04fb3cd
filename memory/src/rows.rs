//! Messages to rows and back: `messages`, `message_parts`, `tool_calls` and `images`.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use argus_core::{
    ContentPart, ImageRef, MemoryError, Message, Role, ToolCall, ToolErrorKind, ToolResultInfo,
};
use sqlx::{Row, SqliteConnection};

use crate::error::{corrupt, db};

/// SQLite integers are signed 64-bit: unsigned values are stored bit for bit, so every `u64`
/// reads back as itself.
pub(crate) fn u64_to_sql(value: u64) -> i64 {
    value as i64
}

/// The inverse of [`u64_to_sql`].
pub(crate) fn u64_from_sql(value: i64) -> u64 {
    value as u64
}

/// A position or count from the database as `u32`.
pub(crate) fn u32_from_sql(value: i64, what: &str) -> Result<u32, MemoryError> {
    u32::try_from(value).map_err(|_| corrupt(format!("{what} {value} is out of range")))
}

pub(crate) fn role_from_sql(role: &str) -> Result<Role, MemoryError> {
    match role {
        "system" => Ok(Role::System),
        "user" => Ok(Role::User),
        "assistant" => Ok(Role::Assistant),
        "tool" => Ok(Role::Tool),
        other => Err(corrupt(format!("unknown role `{other}`"))),
    }
}

fn error_kind_from_sql(kind: String) -> Result<ToolErrorKind, MemoryError> {
    serde_json::from_value(serde_json::Value::String(kind.clone()))
        .map_err(|_| corrupt(format!("unknown tool error kind `{kind}`")))
}

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

    let rows = sqlx::query(&format!(
        "SELECT m.id, m.position, m.role, m.text,
                m.tool_call_id, m.tool_name, m.tool_error, m.tool_duration_us
         FROM {source} WHERE {filter} ORDER BY m.position"
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

    let mut messages = Vec::with_capacity(rows.len());
    let mut texts = Vec::with_capacity(rows.len());
    let mut index = HashMap::with_capacity(rows.len());
    for row in rows {
        let decode = db("decoding a message");
        let id: i64 = row.try_get(0).map_err(decode)?;
        let position: i64 = row.try_get(1).map_err(decode)?;
        let role: String = row.try_get(2).map_err(decode)?;
        let text: String = row.try_get(3).map_err(decode)?;
        let call_id: Option<String> = row.try_get(4).map_err(decode)?;
        let name: Option<String> = row.try_get(5).map_err(decode)?;
        let error: Option<String> = row.try_get(6).map_err(decode)?;
        let duration_us: Option<i64> = row.try_get(7).map_err(decode)?;
        let tool_result = match call_id {
            Some(call_id) => Some(ToolResultInfo {
                call_id,
                name: name.unwrap_or_default(),
                error: error.map(error_kind_from_sql).transpose()?,
                duration_us: duration_us.map_or(0, u64_from_sql),
            }),
            None => None,
        };
        index.insert(id, messages.len());
        texts.push(text);
        messages.push((
            u64_from_sql(position),
            Message {
                role: role_from_sql(&role)?,
                content: Vec::new(),
                tool_calls: Vec::new(),
                tool_result,
            },
        ));
    }
    let slot = |id: i64| {
        index
            .get(&id)
            .copied()
            .ok_or_else(|| corrupt(format!("part of unknown message {id}")))
    };

    let parts = sqlx::query(&format!(
        "SELECT p.message_id, p.kind, p.text, p.image_sha256, p.image_data,
                i.media_type, i.byte_len, i.width, i.height,
                CASE WHEN p.image_data THEN i.data END
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
    for row in parts {
        let decode = db("decoding a message part");
        let i = slot(row.try_get(0).map_err(decode)?)?;
        let kind: String = row.try_get(1).map_err(decode)?;
        let part = match kind.as_str() {
            "text" => {
                let text: Option<String> = row.try_get(2).map_err(decode)?;
                ContentPart::Text {
                    text: text.unwrap_or_else(|| texts[i].clone()),
                }
            }
            "image" => {
                let sha256: Option<String> = row.try_get(3).map_err(decode)?;
                let media_type: Option<String> = row.try_get(5).map_err(decode)?;
                let (Some(sha256), Some(media_type)) = (sha256, media_type) else {
                    return Err(corrupt("image part without its image"));
                };
                let byte_len: i64 = row.try_get(6).map_err(decode)?;
                let data: Option<Vec<u8>> = row.try_get(9).map_err(decode)?;
                let carried: bool = row.try_get(4).map_err(decode)?;
                if carried && data.is_none() {
                    return Err(corrupt(format!("bytes of image {sha256} are missing")));
                }
                ContentPart::Image {
                    image: ImageRef {
                        sha256,
                        media_type,
                        byte_len: u64_from_sql(byte_len),
                        width: row.try_get(7).map_err(decode)?,
                        height: row.try_get(8).map_err(decode)?,
                        data: data.map(Arc::from),
                    },
                }
            }
            other => return Err(corrupt(format!("unknown part kind `{other}`"))),
        };
        messages[i].1.content.push(part);
    }

    let calls = sqlx::query(&format!(
        "SELECT c.message_id, c.call_id, c.name, c.arguments
         FROM {source} JOIN tool_calls c ON c.message_id = m.id
         WHERE {filter} ORDER BY m.position, c.ord"
    ))
    .bind(session_seq)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await
    .map_err(db("loading tool calls"))?;
    for row in calls {
        let decode = db("decoding a tool call");
        let i = slot(row.try_get(0).map_err(decode)?)?;
        let arguments: String = row.try_get(3).map_err(decode)?;
        messages[i].1.tool_calls.push(ToolCall {
            id: row.try_get(1).map_err(decode)?,
            name: row.try_get(2).map_err(decode)?,
            arguments: serde_json::from_str(&arguments)
                .map_err(|e| corrupt(format!("tool call arguments: {e}")))?,
        });
    }
    Ok(messages)
}
