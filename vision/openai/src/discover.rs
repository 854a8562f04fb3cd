//! What a server says about the models it serves (`GET {base}/models`): the context window,
//! where it reports one.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Listing {
    #[serde(default)]
    data: Vec<Listed>,
}

#[derive(Debug, Deserialize)]
struct Listed {
    #[serde(default)]
    id: String,
    /// vLLM and SGLang.
    #[serde(default)]
    max_model_len: Option<u64>,
    /// Others' spellings.
    #[serde(default, alias = "context_window")]
    context_length: Option<u64>,
    /// llama.cpp's `llama-server`.
    #[serde(default)]
    meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
struct Meta {
    #[serde(default)]
    n_ctx_train: Option<u64>,
}

/// The context window of `model` in a `/models` listing: its entry, or the only entry of a
/// server that serves one model under another name. `None` when the listing says nothing.
pub(crate) fn context_window(body: &[u8], model: &str) -> Option<usize> {
    let listing: Listing = serde_json::from_slice(body).ok()?;
    let entry = match listing.data.iter().find(|entry| entry.id == model) {
        Some(entry) => entry,
        None if listing.data.len() == 1 => &listing.data[0],
        None => return None,
    };
    entry
        .max_model_len
        .or(entry.context_length)
        .or(entry.meta.as_ref().and_then(|meta| meta.n_ctx_train))
        .and_then(|tokens| usize::try_from(tokens).ok())
        .filter(|tokens| *tokens > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_read_from_the_listings_servers_send() {
        let vllm = br#"{"object":"list","data":[{"id":"llama","object":"model","max_model_len":8192},{"id":"other","max_model_len":4096}]}"#;
        assert_eq!(context_window(vllm, "llama"), Some(8192));
        assert_eq!(context_window(vllm, "other"), Some(4096));
        assert_eq!(context_window(vllm, "missing"), None);
        let llama_cpp = br#"{"object":"list","data":[{"id":"model.gguf","meta":{"n_ctx_train":131072,"n_vocab":128256}}]}"#;
        assert_eq!(context_window(llama_cpp, "default"), Some(131072));
        let silent =
            br#"{"object":"list","data":[{"id":"default","object":"model","owned_by":"local"}]}"#;
        assert_eq!(context_window(silent, "default"), None);
        assert_eq!(context_window(b"not json", "default"), None);
    }
}
