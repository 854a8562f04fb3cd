//! A model wrapper that makes an agent call exactly one tool, then answer.

use argus_core::{
    async_trait, ChatModel, ChatRequest, ChatResponse, ChatStream, ModelError, Role, ToolChoice,
};

/// Forces a tool call (`Required`) while the last message is the user's, and plain text
/// (`None`) once a tool result came back: on any weights, an agent with this model calls
/// exactly one tool, then answers. For end-to-end tests on random-weight checkpoints.
#[derive(Debug, Clone)]
pub struct CallOnceThenAnswer<M>(pub M);

fn policy(request: &ChatRequest) -> ToolChoice {
    match request.messages.last().map(|m| m.role) {
        Some(Role::Tool) => ToolChoice::None,
        _ => ToolChoice::Required,
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
}
