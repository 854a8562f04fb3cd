//! Full-text search with PostgreSQL's text search: a `tsvector` per message under a GIN
//! index, `ts_rank` ranking and `ts_headline` snippets.
//!
//! Both stores rank the most recent matches. FTS5's index hands them out newest first; a GIN
//! index hands out every match at once, in no useful order, and fetching a match from the
//! table is the expensive part. So a search across sessions finds its candidates one of three
//! ways, whichever costs least for how often its words occur ([`Candidates::choose`]):
//! walking the messages newest first, taking the matches among the newest blocks of ids (the
//! index holds each message's block beside its words, so the index scan itself leaves the
//! older matches out), or reading every match.

use argus_core::{MemoryError, SearchHit, SearchQuery};
use sqlx::PgPool;

use super::db;
use crate::rows::{folded_for_search, search_words, HitRow};

/// How many of the most recent matches are ranked. Fewer than the SQLite store's 2,000,
/// whose index yields matches newest first at no cost.
const RANKED_CANDIDATES: i64 = 500;

/// Words of context in a snippet.
const SNIPPET_WORDS: &str = "MaxWords=24, MinWords=12";

/// A message's block of ids is `id >> ID_BLOCK_BITS`, as the `id_block` column computes it
/// (migration `20261201120000_search_id_blocks.sql`).
const ID_BLOCK_BITS: u32 = 14;

/// How much larger than its expected size a window of recent ids is made, so that an estimate
/// a little too high rarely leaves it short of candidates.
const WINDOW_MARGIN: f64 = 1.25;

/// Costs relative to testing one message of a walk newest first (measured on PostgreSQL 15
/// at a million messages, most of the table outside PostgreSQL's buffers): passing one id of
/// a window's blocks in the index scan, reading one match from the index, and fetching one
/// match from a random place in the table.
const COST_OF_WINDOW_ID: f64 = 0.02;
const COST_OF_INDEX_MATCH: f64 = 1.1;
const COST_OF_FETCHING_A_MATCH: f64 = 25.0;

/// Where a search across sessions takes the candidates it ranks from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Candidates {
    /// Walk the messages newest first, testing each, until enough matched: cheap for words
    /// many messages hold.
    WalkNewest,
    /// Fetch the matches in the blocks of ids from `first` to `last`, the newest.
    Window { first: i64, last: i64 },
    /// Fetch every match: cheap for rare words.
    AllMatches,
}

/// The messages table as search plans over it.
#[derive(Debug, Clone, Copy)]
struct Messages {
    /// The planner's count of rows.
    rows: f64,
    first_id: i64,
    last_id: i64,
}

impl Candidates {
    /// The cheapest way to the newest [`RANKED_CANDIDATES`] of `matches` (an estimate) among
    /// `messages`. The planner knows the frequent words; for every other it guesses one
    /// count, at most twice too low, and a window that finds too few tells how frequent the
    /// words are ([`Candidates::after_short_window`]).
    fn choose(matches: f64, messages: Messages) -> Candidates {
        let rows = messages.rows();
        let span = messages.span();
        let matches = matches.clamp(1.0, rows);
        let wanted = RANKED_CANDIDATES as f64;
        // A walk tests about `rows / matches` messages per match it finds.
        let walk = wanted * rows / matches;
        let indexed = COST_OF_INDEX_MATCH * matches;
        let all = indexed + COST_OF_FETCHING_A_MATCH * matches;
        let first_block = messages.first_block_of_newest(WINDOW_MARGIN * wanted * span / matches);
        let share = messages.window_ids(first_block) / span;
        let window =
            indexed + COST_OF_WINDOW_ID * share * rows + COST_OF_FETCHING_A_MATCH * share * matches;
        if walk <= window && walk <= all {
            Candidates::WalkNewest
        } else if window < all && first_block > messages.first_block() {
            messages.window(first_block)
        } else {
            Candidates::AllMatches
        }
    }

    /// The next try after this one found only `found` candidates, if a wider one is left:
    /// chosen again from the frequency the window measured, and wider than this window.
    fn after_short_window(self, found: i64, messages: Messages) -> Option<Candidates> {
        let Candidates::Window { first, .. } = self else {
            // A walk or a read of every match stops short only when there are no more.
            return None;
        };
        let ids = messages.window_ids(first);
        // No match at all says fewer than one in `ids`: taken as half that.
        let matches = (found as f64).max(0.5) * messages.span() / ids;
        Some(match Candidates::choose(matches, messages) {
            // Never the same window again (the window it finds is wider whenever fewer than
            // the wanted candidates were found; this keeps that so).
            Candidates::Window { first: next, .. } if next >= first => Candidates::AllMatches,
            next => next,
        })
    }
}

impl Messages {
    /// The number of ids from the first message to the last.
    fn span(&self) -> f64 {
        (self.last_id - self.first_id + 1).max(1) as f64
    }

    /// The planner's count of rows; the span before the table was first analysed.
    fn rows(&self) -> f64 {
        if self.rows >= 1.0 {
            self.rows
        } else {
            self.span()
        }
    }

    /// The block of the first message.
    fn first_block(&self) -> i64 {
        self.first_id >> ID_BLOCK_BITS
    }

    /// The blocks from `first_block` to the newest.
    fn window(&self, first_block: i64) -> Candidates {
        Candidates::Window {
            first: first_block,
            last: self.last_id >> ID_BLOCK_BITS,
        }
    }

    /// The first of the newest blocks that together hold at least `ids` ids.
    fn first_block_of_newest(&self, ids: f64) -> i64 {
        let ids = ids.ceil().min(i64::MAX as f64) as i64;
        self.last_id.saturating_sub(ids).saturating_add(1).max(0) >> ID_BLOCK_BITS
    }

    /// The number of ids in the blocks from `first_block` to the newest, within the table.
    fn window_ids(&self, first_block: i64) -> f64 {
        let first_id = (first_block << ID_BLOCK_BITS).max(self.first_id);
        (self.last_id - first_id + 1).max(1) as f64
    }
}

/// A tsquery matching the `id_block` of the messages in blocks `first` to `last`.
fn blocks_query(first: i64, last: i64) -> String {
    (first..=last)
        .map(|block| block.to_string())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The planner's estimate of the messages matching `words`.
async fn estimated_matches(pool: &PgPool, words: &str) -> Result<f64, MemoryError> {
    let plan: serde_json::Value = sqlx::query_scalar(
        "EXPLAIN (FORMAT JSON) SELECT 1 FROM messages WHERE words @@ plainto_tsquery('simple', $1)",
    )
    .bind(words)
    .persistent(false)
    .fetch_one(pool)
    .await
    .map_err(db("estimating a search"))?;
    Ok(plan[0]["Plan"]["Plan Rows"].as_f64().unwrap_or(0.0))
}

/// The table's size and id range; `None` when it holds no messages.
async fn messages(pool: &PgPool) -> Result<Option<Messages>, MemoryError> {
    let (rows, first_id, last_id): (f64, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT reltuples::float8, (SELECT min(id) FROM messages), (SELECT max(id) FROM messages)
         FROM pg_class WHERE oid = 'messages'::regclass",
    )
    .fetch_one(pool)
    .await
    .map_err(db("estimating a search"))?;
    Ok(first_id.zip(last_id).map(|(first_id, last_id)| Messages {
        rows,
        first_id,
        last_id,
    }))
}

/// A hit with the number of candidates ranked.
#[derive(sqlx::FromRow)]
struct RankedHit {
    #[sqlx(flatten)]
    hit: HitRow,
    candidates: i64,
}

/// Runs `query`, best hits first: every word must occur (`plainto_tsquery` over the folded
/// words alone, so no text is query syntax).
pub(crate) async fn search(
    pool: &PgPool,
    query: &SearchQuery,
) -> Result<Vec<SearchHit>, MemoryError> {
    let words = search_words(&folded_for_search(&query.text)).join(" ");
    if words.is_empty() || query.limit == 0 {
        return Ok(Vec::new());
    }
    let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
    // Within one session, positions follow ids: its (session, position) index walks it
    // newest first.
    let (mut candidates, table) = match query.session {
        Some(_) => (Candidates::WalkNewest, None),
        None => {
            let Some(table) = messages(pool).await? else {
                return Ok(Vec::new());
            };
            let matches = estimated_matches(pool, &words).await?;
            (Candidates::choose(matches, table), Some(table))
        }
    };
    loop {
        let hits = ranked(pool, query, &words, limit, candidates).await?;
        let found = hits.first().map_or(0, |hit| hit.candidates);
        tracing::debug!(?candidates, found, "searched messages");
        if found < RANKED_CANDIDATES {
            if let Some(next) = table.and_then(|table| candidates.after_short_window(found, table))
            {
                candidates = next;
                continue;
            }
        }
        return hits
            .into_iter()
            .map(|ranked| ranked.hit.into_hit())
            .collect();
    }
}

/// The best `limit` of the candidates `candidates` finds for `query`.
///
/// Sent unprepared, so each is planned for its own words and window.
async fn ranked(
    pool: &PgPool,
    query: &SearchQuery,
    words: &str,
    limit: i64,
    candidates: Candidates,
) -> Result<Vec<RankedHit>, MemoryError> {
    let (scope, newest_first) = match (&query.session, candidates) {
        (Some(_), _) => (
            "m.session_seq = (SELECT seq FROM sessions WHERE id = $2)",
            "m.position DESC",
        ),
        (None, Candidates::WalkNewest) => ("$2::text IS NULL", "m.id DESC"),
        // `+ 0` keeps the planner from walking the primary key: the matches come from the
        // text index.
        (None, Candidates::Window { .. } | Candidates::AllMatches) => {
            ("$2::text IS NULL", "m.id + 0 DESC")
        }
    };
    // Digits and `|` only, so written into the statement.
    let window = match candidates {
        Candidates::Window { first, last } => {
            format!("m.id_block @@ '{}'::tsquery", blocks_query(first, last))
        }
        Candidates::WalkNewest | Candidates::AllMatches => "true".to_owned(),
    };
    let sql = format!(
        "WITH candidates AS (
             SELECT m.id, m.session_seq, m.position, m.role, m.text, m.words
             FROM messages m
             WHERE m.words @@ plainto_tsquery('simple', $1) AND {scope} AND {window}
             ORDER BY {newest_first} LIMIT $4
         ),
         top AS (
             SELECT c.id, c.session_seq, c.position, c.role, c.text,
                    ts_rank(c.words, plainto_tsquery('simple', $1))::float8 AS score
             FROM candidates c
             ORDER BY score DESC, c.id DESC LIMIT $3
         )
         SELECT s.id AS session_id, top.position, top.role,
                ts_headline('simple', top.text, plainto_tsquery('simple', $1),
                    'StartSel=\"\", StopSel=\"\", {SNIPPET_WORDS}, ShortWord=0') AS snippet,
                top.score,
                (SELECT count(*) FROM candidates) AS candidates
         FROM top JOIN sessions s ON s.seq = top.session_seq
         ORDER BY top.score DESC, s.id, top.position"
    );
    sqlx::query_as(&sql)
        .bind(words)
        .bind(query.session.as_ref().map(|id| id.as_str()))
        .bind(limit)
        .bind(RANKED_CANDIDATES)
        .persistent(false)
        .fetch_all(pool)
        .await
        .map_err(db("searching messages"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks 0 to 61; the newest, 61, holds ids 999,424 to 1,000,000.
    const MILLION: Messages = Messages {
        rows: 1_000_000.0,
        first_id: 1,
        last_id: 1_000_000,
    };

    #[test]
    fn frequent_words_walk_rare_words_read_every_match_and_the_rest_take_a_window() {
        assert_eq!(
            Candidates::choose(200_000.0, MILLION),
            Candidates::WalkNewest
        );
        assert_eq!(Candidates::choose(500.0, MILLION), Candidates::AllMatches);
        // The newest 62,500 ids would hold 625 of 10,000 matches: blocks 57 to 61 hold the
        // newest 66,113.
        assert_eq!(
            Candidates::choose(10_000.0, MILLION),
            Candidates::Window {
                first: 57,
                last: 61
            }
        );
    }

    #[test]
    fn a_window_that_found_too_few_is_sized_again_by_what_it_found() {
        let first = Candidates::Window {
            first: 57,
            last: 61,
        };
        // 300 in 66,113 ids: about 4,540 matches, 625 of them in the newest 137,733 ids.
        assert_eq!(
            first.after_short_window(300, MILLION),
            Some(Candidates::Window {
                first: 52,
                last: 61
            })
        );
        // 5 in 66,113 ids: about 76 matches, cheaper to read every one.
        assert_eq!(
            first.after_short_window(5, MILLION),
            Some(Candidates::AllMatches)
        );
        assert_eq!(
            first.after_short_window(0, MILLION),
            Some(Candidates::AllMatches)
        );
        assert_eq!(Candidates::AllMatches.after_short_window(3, MILLION), None);
        assert_eq!(Candidates::WalkNewest.after_short_window(3, MILLION), None);
    }

    #[test]
    fn an_unanalysed_table_plans_by_its_id_range() {
        let fresh = Messages {
            rows: -1.0,
            ..MILLION
        };
        assert_eq!(
            Candidates::choose(10_000.0, fresh),
            Candidates::choose(10_000.0, MILLION)
        );
    }

    #[test]
    fn a_window_query_names_each_block() {
        assert_eq!(blocks_query(57, 61), "57 | 58 | 59 | 60 | 61");
        assert_eq!(blocks_query(3, 3), "3");
    }
}
