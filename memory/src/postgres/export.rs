//! The run log read back, and sessions exported to JSON and imported again.

use std::collections::BTreeSet;

use argus_core::{
    validate_export, LoggedStep, MemoryError, RunId, SessionExport, SessionId, SessionInfo,
};
use sqlx::PgConnection;

use super::rows::{load_messages, store_image};
use super::{db, find_session, insert_session, insert_step, touch_session};
use crate::rows::{
    exported_images, logged_steps_from_rows, step_positions, ImageRow, StepRow, IMAGE_COLUMNS,
    STEP_COLUMNS,
};

/// The steps of the session's runs (all runs, or one) in commit order.
pub(crate) async fn logged_steps(
    conn: &mut PgConnection,
    session_seq: i64,
    message_count: u64,
    run: Option<&RunId>,
) -> Result<Vec<LoggedStep>, MemoryError> {
    let rows: Vec<StepRow> = sqlx::query_as(&format!(
        "SELECT {STEP_COLUMNS}
         FROM steps s JOIN runs r ON r.id = s.run
         WHERE r.session_seq = $1 AND ($2::text IS NULL OR r.run_id = $2)
         ORDER BY s.seq"
    ))
    .bind(session_seq)
    .bind(run.map(RunId::as_str))
    .fetch_all(&mut *conn)
    .await
    .map_err(db("reading the run log"))?;
    let (ranges, span) = step_positions(&rows, message_count);
    let messages = load_messages(conn, session_seq, span, false).await?;
    logged_steps_from_rows(rows, ranges, messages)
}

/// [`SessionStore::export_session`](argus_core::SessionStore::export_session), inside the
/// caller's read transaction.
pub(crate) async fn export_session(
    conn: &mut PgConnection,
    id: &SessionId,
) -> Result<SessionExport, MemoryError> {
    let (seq, session) = find_session(conn, id, false).await?;
    let steps = logged_steps(conn, seq, session.message_count, None).await?;
    let rows: Vec<ImageRow> = sqlx::query_as(&format!(
        "SELECT {IMAGE_COLUMNS} FROM images i
         WHERE i.sha256 IN (
             SELECT p.image_sha256 FROM messages m
             JOIN message_parts p ON p.message_id = m.id
             WHERE m.session_seq = $1)
         ORDER BY i.sha256"
    ))
    .bind(seq)
    .fetch_all(&mut *conn)
    .await
    .map_err(db("exporting images"))?;
    let images = exported_images(&steps, rows)?;
    Ok(SessionExport {
        format: SessionExport::FORMAT,
        session,
        steps,
        images,
    })
}

/// [`SessionStore::import_session`](argus_core::SessionStore::import_session), inside the
/// caller's transaction: all of the session or nothing.
pub(crate) async fn import_session(
    conn: &mut PgConnection,
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
    let seq = insert_session(conn, &export.session).await?;
    for image in &export.images {
        if referenced.contains(image.sha256.as_str()) {
            store_image(conn, image).await?;
        }
    }
    let mut count = 0;
    for logged in &export.steps {
        count = insert_step(conn, seq, count, &logged.step, logged.committed_at_ms).await?;
    }
    touch_session(conn, seq, count, export.session.updated_at_ms).await?;
    Ok(find_session(conn, &export.session.id, false).await?.1)
}
