//! The run log read back, and sessions exported to JSON and imported again.

use std::collections::BTreeSet;

use argus_core::{
    validate_export, LoggedStep, MemoryError, RunId, SessionExport, SessionId, SessionInfo,
};
use sqlx::SqliteConnection;

use super::rows::{load_messages, store_image, Selection};
use super::{db, find_session, insert_session, insert_step, touch_session, SqliteMemory};
use crate::rows::{
    exported_images, logged_steps_from_rows, step_positions, ImageRow, StepRow, IMAGE_COLUMNS,
    STEP_COLUMNS,
};

/// The steps of the session's runs (all runs, or one) in commit order.
pub(crate) async fn logged_steps(
    conn: &mut SqliteConnection,
    session_seq: i64,
    message_count: u64,
    run: Option<&RunId>,
) -> Result<Vec<LoggedStep>, MemoryError> {
    let rows: Vec<StepRow> = sqlx::query_as(&format!(
        "SELECT {STEP_COLUMNS}
         FROM steps s JOIN runs r ON r.id = s.run
         WHERE r.session_seq = ?1 AND (?2 IS NULL OR r.run_id = ?2)
         ORDER BY s.seq"
    ))
    .bind(session_seq)
    .bind(run.map(RunId::as_str))
    .fetch_all(&mut *conn)
    .await
    .map_err(db("reading the run log"))?;
    let (ranges, span) = step_positions(&rows, message_count);
    let messages = load_messages(conn, session_seq, &Selection::range(span)).await?;
    logged_steps_from_rows(rows, ranges, messages)
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

    let rows: Vec<ImageRow> = sqlx::query_as(&format!(
        "SELECT DISTINCT {IMAGE_COLUMNS}
         FROM messages m
         JOIN message_parts p ON p.message_id = m.id
         JOIN images i ON i.sha256 = p.image_sha256
         WHERE m.session_seq = ?1
         ORDER BY i.sha256"
    ))
    .bind(seq)
    .fetch_all(&mut *tx)
    .await
    .map_err(db("exporting images"))?;
    let images = exported_images(&steps, rows)?;
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
