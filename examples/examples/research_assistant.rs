//! A research assistant that reads web pages with `http_fetch`, behind the network guard.
//!
//! The guard refuses loopback, private and metadata addresses, so this example opens exactly
//! one exception: the address of a tiny HTTP server it starts on 127.0.0.1. The (scripted)
//! model fetches the page through the agent, then tries a private address and a second local
//! server (an "internal service" on another port); both are refused before any connection is
//! made. No weights needed.
//!
//! ```text
//! cargo run -p argus-examples --example research_assistant
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use argus_core::{Agent, ScriptedModel, ToolCall};
use argus_tools::{HttpFetch, NetworkGuard};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

const PAGE: &str = "<html><head><title>Quokkas</title><style>p{color:red}</style></head>\
    <body><h1>Quokka</h1><p>The quokka is a small marsupial found on Rottnest Island, \
    Western Australia.</p><script>track()</script></body></html>";

/// Serves `PAGE` to every request and counts the requests.
async fn serve(listener: TcpListener, hits: Arc<AtomicUsize>) {
    while let Ok((mut socket, _)) = listener.accept().await {
        hits.fetch_add(1, Ordering::SeqCst);
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await; // one read holds a small GET
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
            PAGE.len()
        );
        let _ = socket.write_all(response.as_bytes()).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let hits = Arc::new(AtomicUsize::new(0));
    tokio::spawn(serve(listener, hits.clone()));
    // Something the model must not reach: another local server, not on the allowlist.
    let internal = TcpListener::bind("127.0.0.1:0").await?;
    let internal_port = internal.local_addr()?.port();
    let internal_hits = Arc::new(AtomicUsize::new(0));
    tokio::spawn(serve(internal, internal_hits.clone()));

    // Allow exactly this ip:port; every other loopback or private address stays blocked.
    let guard = NetworkGuard::new().allow(&address.to_string())?;
    println!("allowlist: {:?}", guard.allowed());

    let url = format!("http://{address}/quokka");
    let model = ScriptedModel::new()
        .then_call("http_fetch", json!({ "url": url }))
        .then_calls(vec![
            ToolCall::new("http_fetch", json!({"url": "http://10.0.0.1/admin"})),
            ToolCall::new(
                "http_fetch",
                json!({"url": format!("http://localhost:{internal_port}/")}),
            ),
        ])
        .then_text("Quokkas are small marsupials that live on Rottnest Island, Western Australia.");
    let agent = Agent::builder()
        .model(model)
        .system_prompt("You are a research assistant. Cite the pages you read.")
        .tool(HttpFetch::new().with_guard(guard))
        .build()?;

    let output = agent.run("Where do quokkas live?").await?;
    for step in &output.trace.steps {
        for (call, result) in step.assistant().tool_calls.iter().zip(step.tool_results()) {
            println!(
                "\n{} {}\n{}",
                call.name,
                call.arguments["url"],
                result.text()
            );
        }
    }
    println!("\nanswer: {}", output.answer);
    println!(
        "requests that reached the page server: {}",
        hits.load(Ordering::SeqCst)
    );
    println!(
        "requests that reached the internal one: {}",
        internal_hits.load(Ordering::SeqCst)
    );
    Ok(())
}
