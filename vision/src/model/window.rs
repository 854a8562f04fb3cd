//! The context window: how long it is, how many tokens a prompt takes by the model's own
//! tokenizer (rendered the way the engine renders it), and what is left of it for the answer.
//!
//! mistral.rs 0.8.1 refuses a prompt longer than the window, but not a generation that runs
//! past it: the position tables then overflow inside candle (`narrow invalid args`) and the
//! request dies with an engine backtrace. So every request is counted before it is sent, and
//! its generation is capped to the room the prompt leaves.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use argus_core::{render_message, Message, ModelError, TokenCounter, ToolCallFormat};
use either::Either;
use mistralrs::{Request, RequestBuilder, RequestLike, RequestMessage};
use mistralrs_core::TokenizationRequest;
use serde_json::Value;

use super::MistralRsModel;

/// Tokens a chat template adds around one message (Llama 3: a header of three tokens, the two
/// newlines and the end-of-turn token; Gemma: `<start_of_turn>`, the role, `<end_of_turn>`).
const FRAMING_TOKENS: usize = 8;

/// `max_position_embeddings` of a `config.json`, or of its `text_config` (multimodal models
/// keep the language model's settings there).
pub(crate) fn config_context_length(config: &Value) -> Option<usize> {
    [&config["text_config"], config]
        .iter()
        .find_map(|c| c["max_position_embeddings"].as_u64())
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
}

/// The window of a loaded model: the smaller of what its files declare and what the engine
/// enforces, when either is known.
pub(crate) fn context_length(declared: Option<usize>, engine: Option<usize>) -> Option<usize> {
    match (declared, engine) {
        (Some(declared), Some(engine)) => Some(declared.min(engine)),
        (declared, engine) => declared.or(engine),
    }
}

/// The generation cap for a prompt of `prompt_tokens` in a window of `context` tokens: the
/// requested `max_tokens`, or less when the window has less room left. A prompt that leaves
/// no room is [`ModelError::ContextOverflow`].
pub(crate) fn fit(
    prompt_tokens: usize,
    context: usize,
    max_tokens: usize,
) -> Result<usize, ModelError> {
    let room = context.saturating_sub(prompt_tokens);
    if room == 0 {
        return Err(ModelError::ContextOverflow {
            prompt_tokens,
            limit: context.saturating_sub(1),
        });
    }
    Ok(max_tokens.clamp(1, room))
}

/// Tokens of a request's prompt as the engine will build it: chat messages through the
/// model's chat template with the generation prompt and special tokens (what mistral.rs does
/// for a chat request), completion text through the tokenizer with special tokens.
pub(crate) async fn count_prompt(
    model: &mistralrs::Model,
    messages: RequestMessage,
) -> Result<usize, ModelError> {
    let text = match messages {
        RequestMessage::Chat { messages, .. } | RequestMessage::MultimodalChat { messages, .. } => {
            Either::Left(messages)
        }
        RequestMessage::Completion { text, .. } => Either::Right(text),
        _ => {
            return Err(ModelError::backend(
                "only chat and completion prompts can be counted",
            ))
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let request = Request::Tokenize(TokenizationRequest {
        text,
        tools: None,
        add_generation_prompt: true,
        add_special_tokens: true,
        enable_thinking: None,
        reasoning_effort: None,
        response: tx,
    });
    let sender = model
        .inner()
        .get_sender(None)
        .map_err(|e| ModelError::backend(format!("the engine is not running: {e}")))?;
    sender
        .send(request)
        .await
        .map_err(|_| ModelError::backend("the engine stopped before counting the prompt"))?;
    match rx.recv().await {
        Some(Ok(ids)) => Ok(ids.len()),
        Some(Err(error)) => Err(ModelError::InvalidRequest(format!(
            "mistral.rs cannot render the prompt: {error:#}"
        ))),
        None => Err(ModelError::backend(
            "the engine dropped the request to count the prompt",
        )),
    }
}

impl MistralRsModel {
    /// Counts the prompt `builder` holds and caps its generation to what is left of the
    /// window (to `max_tokens` at most); a prompt that does not fit is
    /// [`ModelError::ContextOverflow`] and the engine never sees it.
    pub(super) async fn fit_to_window(
        &self,
        builder: RequestBuilder,
        max_tokens: usize,
    ) -> Result<RequestBuilder, ModelError> {
        let Some(context) = self.inner.context_length else {
            return Ok(builder);
        };
        let mut probe = builder.clone();
        probe.resolve_pending_prefixes(&self.inner.category);
        let max_len = self
            .fit_prompt(probe.take_messages(), context, max_tokens)
            .await?;
        Ok(builder.set_sampler_max_len(max_len))
    }

    /// Counts `messages` and returns the generation cap of [`fit`] (with `max_tokens` when the
    /// window is unknown).
    pub(super) async fn fit_prompt(
        &self,
        messages: RequestMessage,
        context: usize,
        max_tokens: usize,
    ) -> Result<usize, ModelError> {
        let prompt_tokens = count_prompt(&self.inner.model, messages).await?;
        let max_len = fit(prompt_tokens, context, max_tokens);
        tracing::debug!(
            prompt_tokens,
            context,
            max_tokens,
            capped = ?max_len.as_ref().ok(),
            "prompt counted"
        );
        max_len
    }
}

/// A [`TokenCounter`] with the model's own tokenizer (`tokenizer.json`, read on first use):
/// the tokens of a message as the kernel renders it, plus the template's framing and
/// `image_tokens` per image. Without a readable tokenizer it falls back to
/// [`TokenCounter::estimate`].
pub(crate) fn token_counter(tokenizer: PathBuf, image_tokens: usize) -> TokenCounter {
    let loaded: Arc<OnceLock<Option<tokenizers::Tokenizer>>> = Arc::new(OnceLock::new());
    let estimate = TokenCounter::estimate();
    TokenCounter::new(move |message: &Message| {
        let tokenizer = loaded.get_or_init(|| {
            tokenizers::Tokenizer::from_file(&tokenizer)
                .map_err(|error| {
                    tracing::warn!(
                        path = %tokenizer.display(),
                        %error,
                        "cannot read the tokenizer; estimating token counts"
                    );
                })
                .ok()
        });
        let Some(tokenizer) = tokenizer else {
            return estimate.count(message);
        };
        // Token counts hardly differ between call formats; one is enough for a budget.
        let text = render_message(message, ToolCallFormat::Llama3Json);
        match tokenizer.encode_fast(text.as_str(), false) {
            Ok(encoding) => {
                encoding.len() + FRAMING_TOKENS + message.images().count() * image_tokens
            }
            Err(_) => estimate.count(message),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_window_comes_from_the_text_config_first() {
        let mllama = json!({"text_config": {"max_position_embeddings": 4096}, "vision_config": {}});
        assert_eq!(config_context_length(&mllama), Some(4096));
        let gemma = json!({"max_position_embeddings": 32768});
        assert_eq!(config_context_length(&gemma), Some(32768));
        assert_eq!(config_context_length(&json!({"hidden_size": 8})), None);
        assert_eq!(context_length(Some(4096), Some(2048)), Some(2048));
        assert_eq!(context_length(None, Some(2048)), Some(2048));
        assert_eq!(context_length(Some(4096), None), Some(4096));
        assert_eq!(context_length(None, None), None);
    }

    #[test]
    fn generation_is_capped_to_the_room_left() {
        assert_eq!(fit(100, 4096, 512).unwrap(), 512);
        assert_eq!(fit(3900, 4096, 512).unwrap(), 196);
        assert_eq!(fit(4095, 4096, 512).unwrap(), 1);
        for prompt in [4096, 5000] {
            match fit(prompt, 4096, 512) {
                Err(ModelError::ContextOverflow {
                    prompt_tokens,
                    limit,
                }) => assert_eq!((prompt_tokens, limit), (prompt, 4095)),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_counter_without_its_tokenizer_estimates() {
        let counter = token_counter(PathBuf::from("/no/such/tokenizer.json"), 1);
        let message = Message::user("hello there");
        assert_eq!(
            counter.count(&message),
            TokenCounter::estimate().count(&message)
        );
    }
}
