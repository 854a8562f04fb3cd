//! mistral.rs's own OpenAI-compatible server (`mistralrs-server-core`, the engine version Argus
//! runs in process), started in this process on a free loopback port: the real server that
//! remote-model tests talk to.

use std::path::PathBuf;

use clap::Parser;
use mistralrs_core::{ModelSelected, TokenSource};
use mistralrs_server_core::mistralrs_for_server_builder::MistralRsForServerBuilder;
use mistralrs_server_core::mistralrs_server_router_builder::MistralRsServerRouterBuilder;

use super::TestkitError;

/// The model a [`TestServer`] serves.
#[derive(Debug, Clone)]
pub enum ServedModel {
    /// A directory for mistral.rs's multimodal loader, the architecture read from its
    /// `config.json`: Llama 3.2 Vision (such as [`write_mllama`](super::write_mllama)'s), Gemma 3
    /// (the text-only `Gemma3ForCausalLM` too).
    Multimodal(PathBuf),
    /// A directory for mistral.rs's text loader.
    Text(PathBuf),
}

/// `mistralrs-server`'s model selection, parsed the way its command line parses it so every
/// field keeps the server's own default.
#[derive(Parser)]
struct Selection {
    #[command(subcommand)]
    model: ModelSelected,
}

/// A running server on `127.0.0.1`; stopped when dropped. It answers any model name with the
/// model it serves.
#[derive(Debug)]
pub struct TestServer {
    base_url: String,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Loads `model` (F32, on the CPU, no model hub) and starts serving it. Needs a
    /// multi-threaded Tokio runtime.
    pub async fn start(model: ServedModel) -> Result<TestServer, TestkitError> {
        let (kind, dir) = match &model {
            ServedModel::Multimodal(dir) => ("multimodal-plain", dir),
            ServedModel::Text(dir) => ("plain", dir),
        };
        let args = vec![
            "mistralrs-server".to_string(),
            kind.into(),
            "--model-id".into(),
            dir.display().to_string(),
            "--dtype".into(),
            "f32".into(),
        ];
        let selection = Selection::try_parse_from(args).map_err(|e| server_error(&e))?;
        let state = MistralRsForServerBuilder::new()
            .with_model(selection.model)
            .with_cpu(true)
            .with_token_source(TokenSource::None)
            .with_max_seqs(4)
            .build()
            .await
            .map_err(|e| server_error(&*e))?;
        let router = MistralRsServerRouterBuilder::new()
            .with_mistralrs(state)
            .build()
            .await
            .map_err(|e| server_error(&*e))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}/v1", listener.local_addr()?);
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "the test server stopped");
            }
        });
        Ok(TestServer { base_url, task })
    }

    /// The API base, `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn server_error(error: &dyn std::fmt::Display) -> TestkitError {
    TestkitError::Server(error.to_string())
}
