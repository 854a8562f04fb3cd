//! Full-text search: ranked, scoped, and immune to query syntax in the user's text.

use argus_core::{Memory, Message, NewSession, Role, SearchQuery, SessionId};

use crate::common::step;
use crate::fixture::TestDb;

async fn session_with(memory: &dyn Memory, id: &str, texts: &[&str]) -> anyhow::Result<SessionId> {
    let session = memory.create_session(NewSession::named(id, id)).await?.id;
    let messages = texts.iter().map(|t| Message::user(*t)).collect();
    memory
        .append_step(&session, &step("r", 0, messages, false))
        .await?;
    Ok(session)
}

pub(crate) async fn search_ranks_matches_and_can_be_scoped_to_a_session(
    db: TestDb,
) -> anyhow::Result<()> {
    let memory = db.open().await?;
    session_with(
        &*memory,
        "pets",
        &[
            "The cat sat on the mat.",
            "A dog barked at the mailman for a long, long time before the cat came by.",
            "cat cat cat",
            "Nothing to see here.",
        ],
    )
    .await?;
    let other = session_with(&*memory, "other", &["The café's cat is called Émile."]).await?;

    let hits = memory.search(&SearchQuery::new("CAT")).await?;
    assert_eq!(hits.len(), 4);
    assert_eq!((hits[0].session_id.as_str(), hits[0].position), ("pets", 2));
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    assert_eq!(hits[0].role, Role::User);
    assert_eq!(hits[0].snippet, "cat cat cat");

    // All words are required.
    let hits = memory.search(&SearchQuery::new("cat sat")).await?;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].snippet, "The cat sat on the mat.");
    let hits = memory.search(&SearchQuery::new("called cat Émile")).await?;
    assert_eq!(hits.len(), 1);

    let hits = memory
        .search(&SearchQuery::new("cat").in_session(other.clone()))
        .await?;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].session_id, other);
    let nowhere = SearchQuery::new("cat").in_session("missing".into());
    assert!(memory.search(&nowhere).await?.is_empty());

    assert_eq!(
        memory
            .search(&SearchQuery::new("cat").limit(2))
            .await?
            .len(),
        2
    );
    assert!(memory
        .search(&SearchQuery::new("cat").limit(0))
        .await?
        .is_empty());

    // Long messages give an excerpt around the match.
    let long = format!("{} needle {}", "hay ".repeat(200), "hay ".repeat(200));
    session_with(&*memory, "long", &[&long]).await?;
    let hits = memory.search(&SearchQuery::new("needle")).await?;
    assert!(hits[0].snippet.contains("needle"));
    assert!(hits[0].snippet.len() < 300);

    // Deleted sessions are gone from the index.
    memory.delete_session(&other).await?;
    assert!(memory.search(&SearchQuery::new("emile")).await?.is_empty());
    Ok(())
}

/// Words match whatever their accents and case, in the text and in the query alike.
pub(crate) async fn search_ignores_diacritics_and_case(db: TestDb) -> anyhow::Result<()> {
    let memory = db.open().await?;
    session_with(
        &*memory,
        "s",
        &["The café's cat is called Émile.", "Naïve CRÈME brûlée"],
    )
    .await?;
    let mut wrong = Vec::new();
    for (query, expected) in [
        ("cafe emile", 1),
        ("CAFÉ ÉMILE", 1),
        ("creme brulee naive", 1),
        ("crème", 1),
        ("cafés", 0),
    ] {
        let found = memory.search(&SearchQuery::new(query)).await?.len();
        if found != expected {
            wrong.push(format!("{query:?} found {found}, not {expected}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:?}");
    Ok(())
}

pub(crate) async fn user_text_cannot_inject_query_syntax(db: TestDb) -> anyhow::Result<()> {
    let memory = db.open().await?;
    session_with(
        &*memory,
        "s",
        &["AND OR NOT near the text: col\"umn* ^start (paren)"],
    )
    .await?;
    for text in [
        "\"unbalanced",
        "AND",
        "OR OR",
        "NOT",
        "NEAR(",
        "text:",
        "col\"umn*",
        "^start",
        "(paren",
        "a) OR (b",
        "*",
        "-",
        "rowid:1",
        "messages_fts MATCH",
        "\u{0}",
    ] {
        let result = memory.search(&SearchQuery::new(text)).await;
        assert!(result.is_ok(), "{text:?}: {result:?}");
    }
    assert_eq!(
        memory.search(&SearchQuery::new("AND OR NOT")).await?.len(),
        1
    );
    assert_eq!(memory.search(&SearchQuery::new("(paren")).await?.len(), 1);
    // The session key is indexed for scoped searches, but words never match it.
    assert!(memory.search(&SearchQuery::new("1")).await?.is_empty());
    let scoped = SearchQuery::new("near").in_session("s".into());
    assert_eq!(memory.search(&scoped).await?.len(), 1);
    for empty in ["", "   ", "!!!", "* - ^ : ( )"] {
        assert!(
            memory.search(&SearchQuery::new(empty)).await?.is_empty(),
            "{empty:?}"
        );
    }
    Ok(())
}

/// A word in thousands of messages: the most recent 2,000 matches are ranked, so the search
/// stays fast however common the word.
pub(crate) async fn very_common_words_rank_the_most_recent_matches(
    db: TestDb,
) -> anyhow::Result<()> {
    let memory = db.open().await?;
    let mut texts = vec!["common common common common".to_string()];
    texts.extend((0..2_500).map(|i| format!("common word number {i}")));
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    session_with(&*memory, "many", &texts).await?;
    let hits = memory.search(&SearchQuery::new("common").limit(20)).await?;
    assert_eq!(hits.len(), 20);
    assert!(hits.iter().all(|hit| hit.position > 500), "{hits:?}");
    // Rarer words are ranked over all their matches.
    let hits = memory.search(&SearchQuery::new("common number 7")).await?;
    assert_eq!(hits[0].snippet, "common word number 7");
    Ok(())
}
