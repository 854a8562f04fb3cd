//! A tiny HTTP/1.1 responder on a loopback port, for the fetcher tests.
//!
//! Every connection gets one response and is closed. The server stops when dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// What to answer.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The body is sent this many times (for endless bodies).
    repeat: usize,
    /// Wait this long before answering.
    delay: Duration,
}

impl Reply {
    pub(crate) fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            repeat: 1,
            delay: Duration::ZERO,
        }
    }

    pub(crate) fn html(body: &str) -> Self {
        Reply::new(200, "text/html; charset=utf-8", body)
    }

    pub(crate) fn redirect(location: &str) -> Self {
        let mut reply = Reply::new(302, "text/plain", "moved");
        reply.headers.push(("Location".into(), location.into()));
        reply
    }

    pub(crate) fn repeated(mut self, times: usize) -> Self {
        self.repeat = times;
        self
    }

    pub(crate) fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Route = dyn Fn(&str) -> Reply + Send + Sync;

/// A loopback HTTP server counting the connections it accepted.
pub(crate) struct TestServer {
    address: SocketAddr,
    hits: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Serves `route(path)` for every request.
    pub(crate) async fn start(route: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let route: Arc<Route> = Arc::new(route);
        let counter = Arc::clone(&hits);
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                connections.spawn(serve(stream, Arc::clone(&route)));
            }
        });
        TestServer {
            address,
            hits,
            task,
        }
    }

    pub(crate) fn port(&self) -> u16 {
        self.address.port()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Connections accepted so far.
    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, route: Arc<Route>) {
    let mut request = Vec::new();
    let mut buffer = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let head = String::from_utf8_lossy(&request);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let reply = route(&path);
    tokio::time::sleep(reply.delay).await;
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len() * reply.repeat
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    for _ in 0..reply.repeat {
        if stream.write_all(&reply.body).await.is_err() {
            return;
        }
    }
    let _ = stream.shutdown().await;
}
