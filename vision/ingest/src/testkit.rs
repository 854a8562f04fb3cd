//! A tiny HTTP/1.1 responder on a loopback port, for fetch tests.
//!
//! Every connection gets one response and is closed. The server stops when dropped.
//!
//! ```
//! use argus_ingest::testkit::{Reply, TestServer};
//! use argus_ingest::{GuardedFetcher, NetworkGuard};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let server = TestServer::start(|path| match path {
//!     "/" => Reply::html("<p>hi</p>"),
//!     _ => Reply::new(404, "text/plain", "missing"),
//! })
//! .await?;
//! let guard = NetworkGuard::new().allow(&format!("127.0.0.1:{}", server.port())).unwrap();
//! let page = GuardedFetcher::new(guard).get(&server.url("/"), 1024).await.unwrap();
//! assert_eq!((page.status, page.body.as_slice()), (200, &b"<p>hi</p>"[..]));
//! assert_eq!(server.hits(), 1);
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// What to answer.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The body is sent this many times (for endless bodies).
    repeat: usize,
    /// Wait this long before answering.
    delay: Duration,
    /// The `Content-Length` sent: the body's length by default, another, or none.
    length: Length,
    /// Keep the connection open this long after the body, sending nothing.
    stall: Duration,
}

#[derive(Debug, Clone, Copy)]
enum Length {
    Actual,
    Declared(u64),
    Absent,
}

impl Reply {
    /// A `status` answer with a `Content-Type` and a body.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            repeat: 1,
            delay: Duration::ZERO,
            length: Length::Actual,
            stall: Duration::ZERO,
        }
    }

    /// A 200 HTML page.
    pub fn html(body: &str) -> Self {
        Reply::new(200, "text/html; charset=utf-8", body)
    }

    /// A 302 redirect to `location`.
    pub fn redirect(location: &str) -> Self {
        Reply::new(302, "text/plain", "moved").with_header("Location", location)
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends the body `times` times (a large body from a small one).
    pub fn repeated(mut self, times: usize) -> Self {
        self.repeat = times;
        self
    }

    /// Waits `delay` before answering at all.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Declares `length` as the `Content-Length`, whatever the body's.
    pub fn declaring_length(mut self, length: u64) -> Self {
        self.length = Length::Declared(length);
        self
    }

    /// Sends no `Content-Length`: the body ends when the connection closes.
    pub fn without_length(mut self) -> Self {
        self.length = Length::Absent;
        self
    }

    /// Keeps the connection open for `stall` after the body, sending nothing.
    pub fn stalling(mut self, stall: Duration) -> Self {
        self.stall = stall;
        self
    }
}

type Route = dyn Fn(&str) -> Reply + Send + Sync;

/// A loopback HTTP server counting the connections it accepted.
#[derive(Debug)]
pub struct TestServer {
    address: SocketAddr,
    hits: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Serves `route(path)` (the request target, query included) for every request, on a
    /// free port of 127.0.0.1.
    pub async fn start(
        route: impl Fn(&str) -> Reply + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
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
        Ok(TestServer {
            address,
            hits,
            task,
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// `http://127.0.0.1:port` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Connections accepted so far.
    pub fn hits(&self) -> usize {
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
    let mut head = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", reply.status);
    match reply.length {
        Length::Actual => {
            let length = reply.body.len() * reply.repeat;
            head.push_str(&format!("Content-Length: {length}\r\n"));
        }
        Length::Declared(length) => head.push_str(&format!("Content-Length: {length}\r\n")),
        Length::Absent => {}
    }
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
    let _ = stream.flush().await;
    tokio::time::sleep(reply.stall).await;
    let _ = stream.shutdown().await;
}
