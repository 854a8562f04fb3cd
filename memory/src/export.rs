//! The run log read back, and sessions exported to JSON and imported again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use argus_core::{
    validate_export, ImageRef, LoggedStep, MemoryError, RunId, SessionExport, SessionId,
    SessionInfo, StepRecord, Usage,
};
use sqlx::{Row, SqliteConnection};

use crate::error::db;
use crate::rows::{load_messages, store_image, u32_from_sql, u64_from_sql, Selection};
use crate::store::{find_session, insert_session, insert_step, touch_session, SqliteMemory};

/// The steps of the session's runs (all runs, or one) in commit order.
pub(crate) async fn logged_steps(
    conn: &mut SqliteConnection,
    session_seq: i64,
    message_count: u64,
    run: Option<&RunId>,
) -> Result<Vec<LoggedStep>, MemoryError> {
    let rows = sqlx::query(
        "SELECT r.run_id, s.idx, s.committed_at_ms, s.first_position, s.message_count,
                s.prompt_tokens, s.completion_tokens, s.cached_prompt_tokens,
                s.prompt_ms, s.completion_ms, s.is_final
         FROM steps s JOIN runs r ON r.id = s.run
         WHERE r.session_seq = ?1 AND (?2 IS NULL OR r.run_id = ?2)
         ORDER BY s.seq",
    )
    .bind(session_seq)
    .bind(run.map(RunId::as_str))
    .fetch_all(&mut *conn)
    .await
    .map_err(db("reading the run log"))?;

    // One run's steps usually cover a short stretch of the session; a whole-session export
    // covers all of it. Either way, load that stretch once.
    let mut ranges = Vec::with_capacity(rows.len());
    for row in &rows {
        let decode = db("decoding a step");
        let first = u64_from_sql(row.try_get(3).map_err(decode)?);
        let count = u64_from_sql(row.try_get(4).map_err(decode)?);
        ranges.push(first..first.saturating_add(count).min(message_count));
    }
    let span = match (
        ranges.iter().map(|r| r.start).min(),
        ranges.iter().map(|r| r.end).max(),
    ) {
        (Some(start), Some(end)) => start..end,
        _ => 0..0,
    };
    let messages: BTreeMap<u64, _> = load_messages(conn, session_seq, &Selection::range(span))
        .await?
        .into_iter()
        .collect();

    let mut steps = Vec::with_capacity(rows.len());
    for (row, range) in rows.iter().zip(ranges) {
        let decode = db("decoding a step");
        let step_messages: Vec<_> = messages.range(range).map(|(_, m)| m.clone()).collect();
        steps.push(LoggedStep {
            step: StepRecord {
                run_id: RunId::new(row.try_get::<String, _>(0).map_err(decode)?),
                index: u32_from_sql(row.try_get(1).map_err(decode)?, "step index")?,
                messages: step_messages,
                usage: Usage::new(
                    u64_from_sql(row.try_get(5).map_err(decode)?),
                    u64_from_sql(row.try_get(6).map_err(decode)?),
                )
                .with_cached_prompt_tokens(u64_from_sql(row.try_get(7).map_err(decode)?))
                // SQLite stores NaN as NULL.
                .with_timings(
                    row.try_get::<Option<f64>, _>(8)
                        .map_err(decode)?
                        .unwrap_or(f64::NAN),
                    row.try_get::<Option<f64>, _>(9)
                        .map_err(decode)?
                        .unwrap_or(f64::NAN),
                ),
                is_final: row.try_get(10).map_err(decode)?,
            },
            committed_at_ms: row.try_get(2).map_err(decode)?,
        });
    }
    Ok(steps)
}

/// [`SessionStore::export_session`](argus_core::SessionStore::export_session): the whole
/// session from one consistent snapshot.
pub(crate) async fn export_session(
    memory: &SqliteMemory,
    id: &SessionId,
) -> Result<SessionExport, MemoryError> {
    let mut tx = memory.begin_read().await?;
    let (seq, session) = find_session(&mut tx, id).await?;
    let steps = logged_steps(&mut tx, seq, session.message_count, None).await?;

    let carried: BTreeSet<&str> = steps
        .iter()
        .flat_map(|s| &s.step.messages)
        .flat_map(|m| m.images())
        .filter(|image| image.data.is_some())
        .map(|image| image.sha256.as_str())
        .collect();
    let rows = sqlx::query(
        "SELECT DISTINCT i.sha256, i.media_type, i.byte_len, i.width, i.height, i.data
             FROM messages m
             JOIN message_parts p ON p.message_id = m.id
             JOIN images i ON i.sha256 = p.image_sha256
             WHERE m.session_seq = ?1
             ORDER BY i.sha256",
    )
    .bind(seq)
    .fetch_all(&mut *tx)
    .await
    .map_err(db("exporting images"))?;
    let mut images = Vec::new();
    for row in rows {
        let decode = db("decoding an image");
        let sha256: String = row.try_get(0).map_err(decode)?;
        let data: Option<Vec<u8>> = row.try_get(5).map_err(decode)?;
        if carried.contains(sha256.as_str()) || data.is_none() {
            continue;
        }
        images.push(ImageRef {
            sha256,
            media_type: row.try_get(1).map_err(decode)?,
            byte_len: u64_from_sql(row.try_get(2).map_err(decode)?),
            width: row.try_get(3).map_err(decode)?,
            height: row.try_get(4).map_err(decode)?,
            data: data.map(Arc::from),
        });
    }
    tx.commit().await.map_err(db("ending a read"))?;
    Ok(SessionExport {
        format: SessionExport::FORMAT,
        session,
        steps,
        images,
    })
}

/// [`SessionStore::import_session`](argus_core::SessionStore::import_session): one
/// transaction, all of the session or nothing.
pub(crate) async fn import_session(
    memory: &SqliteMemory,
    export: &SessionExport,
) -> Result<SessionInfo, MemoryError> {
    validate_export(export)?;
    let referenced: BTreeSet<&str> = export
        .steps
        .iter()
        .flat_map(|s| &s.step.messages)
        .flat_map(|m| m.images())
        .map(|image| image.sha256.as_str())
        .collect();

    let mut tx = memory.begin_write().await?;
    let seq = insert_session(&mut tx, &export.session).await?;
    for image in &export.images {
        if referenced.contains(image.sha256.as_str()) {
            store_image(&mut tx, image).await?;
        }
    }
    let mut count = 0;
    for logged in &export.steps {
        count = insert_step(&mut tx, seq, count, &logged.step, logged.committed_at_ms).await?;
    }
    touch_session(&mut tx, seq, count, export.session.updated_at_ms).await?;
    let (_, info) = find_session(&mut tx, &export.session.id).await?;
    tx.commit().await.map_err(db("importing a session"))?;
    Ok(info)
}
