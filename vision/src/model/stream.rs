//! Sending a request to the engine, and its failures as [`ModelError`]s. What comes back is
//! read by the kernel's [`argus_core::CallAssembler`].

use argus_core::ModelError;
use mistralrs::{
    Constraint, ModelCategory, NormalRequest, Request, RequestBuilder, RequestLike, RequestMessage,
    Response, SamplingParams,
};
use tokio::sync::mpsc::Receiver;

/// Hands a built request to the engine; the receiver yields its responses.
pub(crate) async fn send(
    model: &mistralrs::Model,
    category: &ModelCategory,
    mut builder: RequestBuilder,
    streaming: bool,
) -> Result<Receiver<Response>, ModelError> {
    builder.resolve_pending_prefixes(category);
    submit(
        model,
        builder.take_messages(),
        builder.take_sampling_params(),
        builder.take_constraint(),
        streaming,
    )
    .await
}

/// Hands a prompt to the engine; the receiver yields its responses.
pub(crate) async fn submit(
    model: &mistralrs::Model,
    messages: RequestMessage,
    sampling_params: SamplingParams,
    constraint: Constraint,
    streaming: bool,
) -> Result<Receiver<Response>, ModelError> {
    // Capacity 1 like mistral.rs's own `Model`: the engine waits for each chunk to be taken.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let runner = model.inner();
    let request = Request::Normal(Box::new(NormalRequest {
        messages,
        sampling_params,
        response: tx,
        return_logprobs: false,
        is_streaming: streaming,
        id: runner.next_request_id(),
        constraint,
        suffix: None,
        // Tools are described in the prompt and calls parsed here, so the engine's own tool
        // parser (which renders Llama calls as empty turns) stays out of the way.
        tools: None,
        tool_choice: Some(mistralrs::ToolChoice::None),
        logits_processors: None,
        return_raw_logits: false,
        web_search_options: None,
        model_id: None,
        truncate_sequence: false,
    }));
    let sender = runner
        .get_sender(None)
        .map_err(|e| backend("the engine is not running", e))?;
    sender
        .send(request)
        .await
        .map_err(|e| backend("the engine stopped", e))?;
    Ok(rx)
}

pub(crate) fn backend(
    message: &str,
    error: impl std::error::Error + Send + Sync + 'static,
) -> ModelError {
    ModelError::Backend {
        message: format!("{message}: {error}"),
        source: Some(Box::new(error)),
    }
}

/// Maps an engine failure response to a [`ModelError`]; `None` for a normal response.
pub(crate) fn engine_error(response: &Response) -> Option<ModelError> {
    match response {
        Response::InternalError(e) => Some(ModelError::backend(format!("mistral.rs: {e}"))),
        Response::ValidationError(e) => {
            Some(ModelError::InvalidRequest(format!("mistral.rs: {e}")))
        }
        Response::ModelError(message, _) | Response::CompletionModelError(message, _) => Some(
            ModelError::backend(format!("mistral.rs model error: {message}")),
        ),
        _ => None,
    }
}
