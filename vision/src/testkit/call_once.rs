//! A model wrapper that makes an agent call exactly one tool, then answer.

use argus_core::{
    async_trait, ChatModel, ChatRequest, ChatResponse, ChatStream, ModelError, Role, ToolChoice,
};

/// Forces a tool call (`Required`) on a request offering tools until a tool result follows the
/// last user message, and plain text (`None`) from then on: on any weights, an agent with this
/// model calls exactly one tool per turn, then answers. Requests without tools (an observing
/// call of [`VisionStrategy::PerceiveThenAct`](argus_core::VisionStrategy)) pass unchanged.
/// For end-to-end tests on random-weight checkpoints.
#[derive(Debug, Clone)]
pub struct CallOnceThenAnswer<M>(pub M);

fn policy(request: &ChatRequest) -> ToolChoice {
    if request.tools.is_empty() {
        return request.tool_choice.clone();
    }
    let called = request
        .messages
        .iter()
        .rev()
        .take_while(|m| m.role != Role::User)
        .any(|m| m.role == Role::Tool);
    if called {
        ToolChoice::None
    } else {
        ToolChoice::Required
    }
}

#[async_trait]
impl<M: ChatModel> ChatModel for CallOnceThenAnswer<M> {
    async fn chat(&self, mut request: ChatRequest) -> Result<ChatResponse, ModelError> {
        request.tool_choice = policy(&request);
        self.0.chat(request).await
    }

    async fn chat_stream(&self, mut request: ChatRequest) -> Result<ChatStream, ModelError> {
        request.tool_choice = policy(&request);
        self.0.chat_stream(request).await
    }

    fn name(&self) -> &str {
        self.0.name()
    }

    fn context_length(&self) -> Option<usize> {
        self.0.context_length()
    }

    fn token_counter(&self) -> Option<argus_core::TokenCounter> {
        self.0.token_counter()
    }

    fn vision_strategy(&self) -> argus_core::VisionStrategy {
        self.0.vision_strategy()
    }
}
