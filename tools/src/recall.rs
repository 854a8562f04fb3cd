//! `recall`: search the conversation memory.

use std::sync::Arc;
use std::time::Duration;

use argus_core::{SearchHit, SearchQuery, SessionStore, Tool, ToolContext, ToolPolicy};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::Error;

/// Arguments of [`Recall`].
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallArgs {
    /// Words to look for in earlier messages.
    pub query: String,
    /// Search every past conversation instead of only this one.
    #[serde(default)]
    pub all_sessions: bool,
    /// Most hits to return (default 5).
    #[serde(default)]
    #[schemars(range(min = 1, max = 20))]
    pub limit: Option<u8>,
}

/// Searches the conversation memory ([`SessionStore::search`]): the current session by default,
/// every session on request. Returns the best hits with short snippets.
///
/// ```
/// use std::sync::Arc;
/// use argus_core::InMemoryMemory;
/// use argus_tools::{Recall, ToolRegistry};
///
/// let mut tools = ToolRegistry::new();
/// tools.register(Recall::new(Arc::new(InMemoryMemory::new()))).unwrap();
/// assert_eq!(tools.specs()[0].name, "recall");
/// ```
#[derive(Clone)]
pub struct Recall {
    memory: Arc<dyn SessionStore>,
    max_snippet_chars: usize,
}

impl std::fmt::Debug for Recall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recall")
            .field("max_snippet_chars", &self.max_snippet_chars)
            .finish_non_exhaustive()
    }
}

impl Recall {
    /// Searches `memory` (any [`SessionStore`]; an `Arc<dyn Memory>` coerces to it); snippets
    /// are cut at 300 characters.
    pub fn new(memory: Arc<dyn SessionStore>) -> Self {
        Recall {
            memory,
            max_snippet_chars: 300,
        }
    }

    /// Sets the longest snippet returned, in characters.
    pub fn with_max_snippet_chars(mut self, chars: usize) -> Self {
        self.max_snippet_chars = chars;
        self
    }
}

impl Tool for Recall {
    const NAME: &'static str = "recall";
    type Args = RecallArgs;
    type Output = Vec<SearchHit>;
    type Error = Error;

    fn description(&self) -> String {
        "Searches earlier messages of this conversation (or of all past conversations) for \
         words, and returns the matching messages with snippets."
            .into()
    }

    async fn call(&self, args: RecallArgs, ctx: ToolContext) -> Result<Vec<SearchHit>, Error> {
        let limit = usize::from(args.limit.unwrap_or(5).clamp(1, 20));
        let mut query = SearchQuery::new(args.query).limit(limit);
        if !args.all_sessions {
            let session = ctx.session_id().ok_or(Error::NoSession)?;
            query = query.in_session(session.clone());
        }
        let mut hits = self.memory.search(&query).await?;
        hits.truncate(limit);
        for hit in &mut hits {
            if let Some((cut, _)) = hit.snippet.char_indices().nth(self.max_snippet_chars) {
                hit.snippet.truncate(cut);
                hit.snippet.push('…');
            }
        }
        Ok(hits)
    }

    fn policy(&self) -> ToolPolicy {
        ToolPolicy::read_only().with_timeout(Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::{
        InMemoryMemory, Message, NewSession, Role, RunId, RunLog, SessionId, StepRecord, ToolCall,
        ToolRegistry,
    };
    use serde_json::json;

    async fn memory() -> Arc<InMemoryMemory> {
        let memory = Arc::new(InMemoryMemory::new());
        for (session, text) in [
            ("trip", "The hotel in Lisbon is booked for May."),
            ("work", "The Lisbon office opens in June."),
        ] {
            let id = memory
                .create_session(NewSession::named(session, session))
                .await
                .unwrap()
                .id;
            let step = StepRecord {
                run_id: RunId::new("r"),
                index: 0,
                messages: vec![Message::user(text)],
                usage: Default::default(),
                is_final: false,
            };
            memory.append_step(&id, &step).await.unwrap();
        }
        memory
    }

    async fn recall(
        tool: &Recall,
        args: serde_json::Value,
        session: Option<&str>,
    ) -> Result<Vec<SearchHit>, Error> {
        let ctx = ToolContext::new("c").with_session(session.map(SessionId::new));
        tool.call(serde_json::from_value(args).unwrap(), ctx).await
    }

    #[tokio::test]
    async fn searches_the_current_session_by_default() {
        let tool = Recall::new(memory().await);
        let hits = recall(&tool, json!({"query": "lisbon"}), Some("trip"))
            .await
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].session_id.as_str(), "trip");
        assert_eq!(hits[0].role, Role::User);
        assert!(hits[0].snippet.contains("hotel"));

        let all = recall(
            &tool,
            json!({"query": "lisbon", "all_sessions": true}),
            Some("trip"),
        )
        .await
        .unwrap();
        assert_eq!(all.len(), 2);
        let one = recall(
            &tool,
            json!({"query": "lisbon", "all_sessions": true, "limit": 1}),
            None,
        )
        .await
        .unwrap();
        assert_eq!(one.len(), 1);
        let none = recall(&tool, json!({"query": "paris"}), Some("trip"))
            .await
            .unwrap();
        assert!(none.is_empty());
    }

    #[tokio::test]
    async fn needs_a_session_or_all_sessions() {
        let tool = Recall::new(memory().await);
        let error = recall(&tool, json!({"query": "lisbon"}), None)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::NoSession));
        let missing = recall(&tool, json!({"query": "x"}), Some("nope")).await;
        assert!(missing.is_ok() || matches!(missing, Err(Error::Memory(_))));
    }

    #[tokio::test]
    async fn snippets_are_capped_and_limits_validated() {
        let tool = Recall::new(memory().await).with_max_snippet_chars(8);
        let hits = recall(&tool, json!({"query": "hotel"}), Some("trip"))
            .await
            .unwrap();
        assert_eq!(hits[0].snippet.chars().count(), 9);
        assert!(hits[0].snippet.ends_with('…'));

        let mut tools = ToolRegistry::new();
        tools.register(tool).unwrap();
        let call = ToolCall::new("recall", json!({"query": "hotel", "limit": 50}));
        let failure = tools
            .call(&call, ToolContext::new("c"))
            .await
            .result
            .unwrap_err();
        assert_eq!(failure.field.as_deref(), Some("/limit"));
    }
}
