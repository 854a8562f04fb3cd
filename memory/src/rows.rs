//! Rows as both stores read them, and the values built from them: sessions, messages with
//! their parts and tool calls, logged steps, images and search hits. Each store has its own
//! SQL; the rows it returns (`sqlx::FromRow`, decoded the same way from SQLite and PostgreSQL)
//! become values here, once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::sync::Arc;

use argus_core::{
    ContentPart, ImageRef, LoggedStep, MemoryError, Message, Role, RunId, SearchHit, SessionId,
    SessionInfo, StepRecord, ToolCall, ToolErrorKind, ToolResultInfo, Usage,
};

use crate::error::corrupt;

/// Integers are stored signed 64-bit: unsigned values are stored bit for bit, so every `u64`
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

fn optional_u32(value: Option<i64>, what: &str) -> Result<Option<u32>, MemoryError> {
    value.map(|value| u32_from_sql(value, what)).transpose()
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

/// A row of `sessions`.
#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    pub(crate) seq: i64,
    id: String,
    title: String,
    created_at_ms: i64,
    updated_at_ms: i64,
    metadata: String,
    message_count: i64,
}

/// The columns of [`SessionRow`], in a `SELECT`.
pub(crate) const SESSION_COLUMNS: &str =
    "seq, id, title, created_at_ms, updated_at_ms, metadata, message_count";

impl SessionRow {
    /// The session's internal key and its info.
    pub(crate) fn into_info(self) -> Result<(i64, SessionInfo), MemoryError> {
        let info = SessionInfo {
            id: SessionId::new(self.id),
            title: self.title,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
            metadata: serde_json::from_str(&self.metadata)
                .map_err(|e| corrupt(format!("session metadata: {e}")))?,
            message_count: u64_from_sql(self.message_count),
        };
        Ok((self.seq, info))
    }
}

/// A row of `runs` as the run log reads it.
#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    pub(crate) id: i64,
    pub(crate) run_id: String,
    pub(crate) steps: i64,
    pub(crate) finished: bool,
}

impl RunRow {
    pub(crate) fn summary(&self) -> Result<argus_core::RunSummary, MemoryError> {
        Ok(argus_core::RunSummary {
            run_id: RunId::new(self.run_id.clone()),
            steps: u32_from_sql(self.steps, "run step count")?,
            finished: self.finished,
        })
    }
}

/// A row of `messages`.
#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    id: i64,
    position: i64,
    role: String,
    text: String,
    tool_call_id: Option<String>,
    tool_name: Option<String>,
    tool_error: Option<String>,
    tool_duration_us: Option<i64>,
}

/// The columns of [`MessageRow`] of messages aliased `m`.
pub(crate) const MESSAGE_COLUMNS: &str = "m.id, m.position, m.role, m.text, \
     m.tool_call_id, m.tool_name, m.tool_error, m.tool_duration_us";

/// A row of `message_parts` with its image, if any.
#[derive(sqlx::FromRow)]
pub(crate) struct PartRow {
    message_id: i64,
    kind: String,
    text: Option<String>,
    image_sha256: Option<String>,
    image_data: bool,
    media_type: Option<String>,
    byte_len: Option<i64>,
    width: Option<i64>,
    height: Option<i64>,
    /// The image's bytes, when the part carried them.
    data: Option<Vec<u8>>,
}

/// The columns of [`PartRow`] of parts aliased `p` and images `i`.
pub(crate) const PART_COLUMNS: &str = "p.message_id, p.kind, p.text, p.image_sha256, \
     p.image_data, i.media_type, i.byte_len, i.width, i.height, \
     CASE WHEN p.image_data THEN i.data END AS data";

/// A row of `tool_calls`.
#[derive(sqlx::FromRow)]
pub(crate) struct CallRow {
    message_id: i64,
    call_id: String,
    name: String,
    arguments: String,
}

/// The columns of [`CallRow`] of tool calls aliased `c`.
pub(crate) const CALL_COLUMNS: &str = "c.message_id, c.call_id, c.name, c.arguments";

/// Messages from their rows (in position order), parts and calls (each in message order, then
/// their own); with their positions.
pub(crate) fn messages_from_rows(
    rows: Vec<MessageRow>,
    parts: Vec<PartRow>,
    calls: Vec<CallRow>,
) -> Result<Vec<(u64, Message)>, MemoryError> {
    let mut messages = Vec::with_capacity(rows.len());
    let mut texts = Vec::with_capacity(rows.len());
    let mut index = HashMap::with_capacity(rows.len());
    for row in rows {
        let tool_result = match row.tool_call_id {
            Some(call_id) => Some(ToolResultInfo {
                call_id,
                name: row.tool_name.unwrap_or_default(),
                error: row.tool_error.map(error_kind_from_sql).transpose()?,
                duration_us: row.tool_duration_us.map_or(0, u64_from_sql),
            }),
            None => None,
        };
        index.insert(row.id, messages.len());
        texts.push(row.text);
        messages.push((
            u64_from_sql(row.position),
            Message {
                role: role_from_sql(&row.role)?,
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

    for row in parts {
        let i = slot(row.message_id)?;
        let part = match row.kind.as_str() {
            "text" => ContentPart::Text {
                text: row.text.unwrap_or_else(|| texts[i].clone()),
            },
            "image" => {
                let (Some(sha256), Some(media_type), Some(byte_len)) =
                    (row.image_sha256, row.media_type, row.byte_len)
                else {
                    return Err(corrupt("image part without its image"));
                };
                if row.image_data && row.data.is_none() {
                    return Err(corrupt(format!("bytes of image {sha256} are missing")));
                }
                ContentPart::Image {
                    image: ImageRef {
                        sha256,
                        media_type,
                        byte_len: u64_from_sql(byte_len),
                        width: optional_u32(row.width, "image width")?,
                        height: optional_u32(row.height, "image height")?,
                        data: row.data.map(Arc::from),
                    },
                }
            }
            other => return Err(corrupt(format!("unknown part kind `{other}`"))),
        };
        messages[i].1.content.push(part);
    }

    for row in calls {
        let i = slot(row.message_id)?;
        messages[i].1.tool_calls.push(ToolCall {
            id: row.call_id,
            name: row.name,
            arguments: serde_json::from_str(&row.arguments)
                .map_err(|e| corrupt(format!("tool call arguments: {e}")))?,
        });
    }
    Ok(messages)
}

/// A row of `steps` with its run's id.
#[derive(sqlx::FromRow)]
pub(crate) struct StepRow {
    run_id: String,
    idx: i64,
    committed_at_ms: i64,
    first_position: i64,
    message_count: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    cached_prompt_tokens: i64,
    prompt_ms: Option<f64>,
    completion_ms: Option<f64>,
    is_final: bool,
}

/// The columns of [`StepRow`] of steps aliased `s` and runs `r`.
pub(crate) const STEP_COLUMNS: &str = "r.run_id, s.idx, s.committed_at_ms, s.first_position, \
     s.message_count, s.prompt_tokens, s.completion_tokens, s.cached_prompt_tokens, \
     s.prompt_ms, s.completion_ms, s.is_final";

/// The positions of each step's messages in a session of `message_count` messages, and the
/// stretch covering them all (one run's steps usually cover a short stretch of the session; a
/// whole-session export covers all of it: either way it is loaded once).
pub(crate) fn step_positions(
    rows: &[StepRow],
    message_count: u64,
) -> (Vec<Range<u64>>, Range<u64>) {
    let ranges: Vec<Range<u64>> = rows
        .iter()
        .map(|row| {
            let first = u64_from_sql(row.first_position);
            first
                ..first
                    .saturating_add(u64_from_sql(row.message_count))
                    .min(message_count)
        })
        .collect();
    let span = match (
        ranges.iter().map(|r| r.start).min(),
        ranges.iter().map(|r| r.end).max(),
    ) {
        (Some(start), Some(end)) => start..end,
        _ => 0..0,
    };
    (ranges, span)
}

/// Logged steps from their rows, the positions [`step_positions`] gave, and the messages of
/// the stretch.
pub(crate) fn logged_steps_from_rows(
    rows: Vec<StepRow>,
    ranges: Vec<Range<u64>>,
    messages: Vec<(u64, Message)>,
) -> Result<Vec<LoggedStep>, MemoryError> {
    let messages: BTreeMap<u64, Message> = messages.into_iter().collect();
    rows.into_iter()
        .zip(ranges)
        .map(|(row, range)| {
            Ok(LoggedStep {
                step: StepRecord {
                    run_id: RunId::new(row.run_id),
                    index: u32_from_sql(row.idx, "step index")?,
                    messages: messages.range(range).map(|(_, m)| m.clone()).collect(),
                    usage: Usage::new(
                        u64_from_sql(row.prompt_tokens),
                        u64_from_sql(row.completion_tokens),
                    )
                    .with_cached_prompt_tokens(u64_from_sql(row.cached_prompt_tokens))
                    // NaN is stored as NULL.
                    .with_timings(
                        row.prompt_ms.unwrap_or(f64::NAN),
                        row.completion_ms.unwrap_or(f64::NAN),
                    ),
                    is_final: row.is_final,
                },
                committed_at_ms: row.committed_at_ms,
            })
        })
        .collect()
}

/// A row of `images`.
#[derive(sqlx::FromRow)]
pub(crate) struct ImageRow {
    sha256: String,
    media_type: String,
    byte_len: i64,
    width: Option<i64>,
    height: Option<i64>,
    data: Option<Vec<u8>>,
}

/// The columns of [`ImageRow`] of images aliased `i`.
pub(crate) const IMAGE_COLUMNS: &str =
    "i.sha256, i.media_type, i.byte_len, i.width, i.height, i.data";

/// The images an export lists apart from its steps: those with bytes that no message of
/// `steps` carries.
pub(crate) fn exported_images(
    steps: &[LoggedStep],
    rows: Vec<ImageRow>,
) -> Result<Vec<ImageRef>, MemoryError> {
    let carried: BTreeSet<&str> = steps
        .iter()
        .flat_map(|s| &s.step.messages)
        .flat_map(|m| m.images())
        .filter(|image| image.data.is_some())
        .map(|image| image.sha256.as_str())
        .collect();
    let mut images = Vec::new();
    for row in rows {
        let Some(data) = row.data else { continue };
        if carried.contains(row.sha256.as_str()) {
            continue;
        }
        images.push(ImageRef {
            width: optional_u32(row.width, "image width")?,
            height: optional_u32(row.height, "image height")?,
            sha256: row.sha256,
            media_type: row.media_type,
            byte_len: u64_from_sql(row.byte_len),
            data: Some(Arc::from(data)),
        });
    }
    Ok(images)
}

/// A search hit's row: session id, position, role, snippet and score (higher is better).
#[derive(sqlx::FromRow)]
pub(crate) struct HitRow {
    session_id: String,
    position: i64,
    role: String,
    snippet: Option<String>,
    score: f64,
}

impl HitRow {
    pub(crate) fn into_hit(self) -> Result<SearchHit, MemoryError> {
        Ok(SearchHit {
            session_id: SessionId::new(self.session_id),
            position: u64_from_sql(self.position),
            role: role_from_sql(&self.role)?,
            snippet: self.snippet.unwrap_or_default(),
            score: self.score,
        })
    }
}

/// The words of a search text, split as the indexes split text: on everything that is not a
/// letter or a digit.
pub(crate) fn search_words(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect()
}

/// `text` as a search index compares it: lower-cased, diacritics removed (`é` → `e`, `ﬁ` →
/// `fi`), as FTS5's `unicode61` tokenizer with `remove_diacritics 2` folds it.
pub(crate) fn folded_for_search(text: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization as _;
    text.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}
