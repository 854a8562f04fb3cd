//! `http_fetch`: GET a web page and read it as text, behind the network guard.

mod html;

use std::time::Duration;

use argus_core::{Tool, ToolContext, ToolPolicy};
use argus_ingest::{GuardedFetcher, NetworkGuard};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::Error;

/// Arguments of [`HttpFetch`].
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpFetchArgs {
    /// The http or https URL to fetch.
    pub url: String,
}

/// Fetches a URL and returns its readable text: HTML reduced to text, other text as is.
///
/// Private, loopback and metadata addresses are refused (see [`NetworkGuard`]); the body is
/// streamed and cut at a byte cap, and the text at a smaller one.
///
/// ```
/// use argus_tools::{HttpFetch, NetworkGuard, ToolRegistry};
///
/// let fetch = HttpFetch::new().with_guard(NetworkGuard::new().allow("localhost:8080").unwrap());
/// let mut tools = ToolRegistry::new();
/// tools.register(fetch).unwrap();
/// assert_eq!(tools.specs()[0].name, "http_fetch");
/// ```
#[derive(Debug, Clone)]
pub struct HttpFetch {
    fetcher: GuardedFetcher,
    max_body_bytes: usize,
    max_text_bytes: usize,
}

impl Default for HttpFetch {
    fn default() -> Self {
        HttpFetch::new()
    }
}

impl HttpFetch {
    /// A fetcher with the default guard, a 2 MiB body cap and a 32 KiB text cap.
    pub fn new() -> Self {
        HttpFetch {
            fetcher: GuardedFetcher::default(),
            max_body_bytes: 2 * 1024 * 1024,
            max_text_bytes: 32 * 1024,
        }
    }

    /// Uses `guard`, keeping the other fetcher settings.
    pub fn with_guard(mut self, guard: NetworkGuard) -> Self {
        self.fetcher = self.fetcher.with_guard(guard);
        self
    }

    /// Uses `fetcher` (its guard, timeouts and redirect limit).
    pub fn with_fetcher(mut self, fetcher: GuardedFetcher) -> Self {
        self.fetcher = fetcher;
        self
    }

    /// Sets how much of a body is downloaded at most.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets how much text is returned at most.
    pub fn with_max_text_bytes(mut self, bytes: usize) -> Self {
        self.max_text_bytes = bytes;
        self
    }

    /// Fetches `url` and renders the result as the model reads it.
    pub async fn fetch(&self, url: &str) -> Result<String, Error> {
        let fetched = self.fetcher.get(url, self.max_body_bytes).await?;
        let kind =
            TextKind::of(fetched.content_type.as_deref(), &fetched.body).ok_or_else(|| {
                Error::NotText(format!(
                    "{} ({})",
                    fetched.url,
                    fetched.content_type.as_deref().unwrap_or("no content type")
                ))
            })?;
        let decoded = String::from_utf8_lossy(&fetched.body);
        let mut text = match kind {
            TextKind::Html => html::html_to_text(&decoded),
            TextKind::Plain => decoded.into_owned(),
        };
        let mut notes = Vec::new();
        if fetched.truncated {
            notes.push(format!(
                "only the first {} bytes of the response were read",
                self.max_body_bytes
            ));
        }
        if text.len() > self.max_text_bytes {
            let total = text.len();
            let mut cut = self.max_text_bytes;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            notes.push(format!("text cut at {cut} of {total} bytes"));
        }
        let mut out = format!(
            "URL: {}\nStatus: {}\nContent-Type: {}\n\n{text}",
            fetched.url,
            fetched.status,
            fetched.content_type.as_deref().unwrap_or("unknown"),
        );
        if !notes.is_empty() {
            out.push_str(&format!("\n[truncated: {}]", notes.join("; ")));
        }
        Ok(out)
    }
}

impl Tool for HttpFetch {
    const NAME: &'static str = "http_fetch";
    type Args = HttpFetchArgs;
    type Output = String;
    type Error = Error;

    fn description(&self) -> String {
        "Fetches a public web page or text file by URL (GET) and returns its readable text.".into()
    }

    async fn call(&self, args: HttpFetchArgs, _ctx: ToolContext) -> Result<String, Error> {
        self.fetch(&args.url).await
    }

    fn policy(&self) -> ToolPolicy {
        ToolPolicy::read_only()
            .with_timeout(Duration::from_secs(45))
            .with_max_concurrency(4)
            .with_max_output_bytes(self.max_text_bytes + 1024)
    }
}

/// How a body is turned into text.
enum TextKind {
    Html,
    Plain,
}

impl TextKind {
    fn of(content_type: Option<&str>, body: &[u8]) -> Option<TextKind> {
        let mime = content_type
            .and_then(|ct| ct.split(';').next())
            .map(|mime| mime.trim().to_ascii_lowercase());
        match mime.as_deref() {
            Some("text/html" | "application/xhtml+xml") => Some(TextKind::Html),
            Some(mime)
                if mime.starts_with("text/")
                    || mime.ends_with("+json")
                    || mime.ends_with("+xml")
                    || matches!(
                        mime,
                        "application/json" | "application/xml" | "application/javascript"
                    ) =>
            {
                Some(TextKind::Plain)
            }
            Some(_) => None,
            None => sniff(body),
        }
    }
}

/// Guesses the kind of a body without a content type.
fn sniff(body: &[u8]) -> Option<TextKind> {
    let head = &body[..body.len().min(1024)];
    if head.contains(&0) {
        return None;
    }
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    if text.contains("<html") || text.contains("<!doctype html") {
        Some(TextKind::Html)
    } else {
        Some(TextKind::Plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::{ToolCall, ToolRegistry};
    use argus_ingest::testkit::{Reply, TestServer};
    use argus_ingest::FetchError;
    use serde_json::json;

    fn allowing(server: &TestServer) -> HttpFetch {
        HttpFetch::new().with_guard(
            NetworkGuard::new()
                .allow(&format!("127.0.0.1:{}", server.port()))
                .unwrap(),
        )
    }

    fn blocked(result: &Result<String, Error>) -> bool {
        matches!(result, Err(Error::Fetch(FetchError::Blocked { .. })))
    }

    #[tokio::test]
    async fn fetches_html_as_text() {
        let server = TestServer::start(|path| match path {
            "/page" => Reply::html("<html><body><h1>Hi</h1><p>there &amp; back</p></body></html>"),
            "/json" => Reply::new(200, "application/json", r#"{"a":1}"#),
            "/missing" => Reply::new(404, "text/plain", "not here"),
            _ => Reply::new(200, "image/png", vec![0x89, b'P', b'N', b'G']),
        })
        .await
        .unwrap();
        let fetch = allowing(&server);
        let page = fetch.fetch(&server.url("/page")).await.unwrap();
        assert_eq!(
            page,
            format!(
                "URL: {}\nStatus: 200\nContent-Type: text/html; charset=utf-8\n\nHi\n\nthere & back",
                server.url("/page")
            )
        );
        let json = fetch.fetch(&server.url("/json")).await.unwrap();
        assert!(json.ends_with("\n\n{\"a\":1}"), "{json}");
        let missing = fetch.fetch(&server.url("/missing")).await.unwrap();
        assert!(missing.contains("Status: 404"), "{missing}");
        let binary = fetch.fetch(&server.url("/image")).await.unwrap_err();
        assert!(matches!(binary, Error::NotText(_)), "{binary}");
    }

    #[tokio::test]
    async fn refuses_private_addresses_without_connecting() {
        let server = TestServer::start(|_| Reply::html("secret")).await.unwrap();
        let port = server.port();
        let fetch = HttpFetch::new();
        for url in [
            format!("http://127.0.0.1:{port}/"),
            format!("http://localhost:{port}/"),
            format!("http://[::1]:{port}/"),
            format!("http://[::ffff:127.0.0.1]:{port}/"),
            format!("http://2130706433:{port}/"),
            format!("http://0x7f.0.0.1:{port}/"),
            format!("http://0:{port}/"),
            "http://10.0.0.1/".into(),
            "http://172.16.0.1/".into(),
            "http://192.168.1.1/".into(),
            "http://169.254.169.254/latest/meta-data/".into(),
            "http://100.64.0.1/".into(),
            "http://0.0.0.0/".into(),
            "http://[::]/".into(),
            "http://[fd00::1]/".into(),
            "http://[fe80::1]/".into(),
            "http://[::ffff:10.0.0.1]/".into(),
        ] {
            let result = fetch.fetch(&url).await;
            assert!(blocked(&result), "{url} was not refused: {result:?}");
        }
        // Whether `localhost.` resolves depends on the system; either way it must not connect.
        assert!(fetch
            .fetch(&format!("http://LOCALHOST.:{port}/"))
            .await
            .is_err());
        assert_eq!(server.hits(), 0, "nothing may reach the server");
    }

    #[tokio::test]
    async fn an_allowed_host_name_is_pinned_to_its_checked_addresses() {
        let server = TestServer::start(|_| Reply::html("<p>via name</p>"))
            .await
            .unwrap();
        let port = server.port();
        let guard = NetworkGuard::new()
            .allow(&format!("localhost:{port}"))
            .unwrap();
        let fetch = HttpFetch::new().with_guard(guard);
        let page = fetch
            .fetch(&format!("http://localhost:{port}/"))
            .await
            .unwrap();
        assert!(page.ends_with("\n\nvia name"), "{page}");
        // The rule names the host: the same address under its IP is still refused.
        let by_ip = fetch.fetch(&format!("http://127.0.0.1:{port}/")).await;
        assert!(blocked(&by_ip), "{by_ip:?}");
        assert_eq!(server.hits(), 1);
    }

    #[tokio::test]
    async fn only_http_and_https() {
        let fetch = HttpFetch::new();
        for url in [
            "file:///etc/passwd",
            "ftp://example.com/",
            "gopher://x/",
            "data:text/plain,hi",
        ] {
            let error = fetch.fetch(url).await.unwrap_err();
            assert!(
                matches!(error, Error::Fetch(FetchError::UnsupportedScheme(_))),
                "{url}: {error}"
            );
        }
        for url in ["not a url", "http://", "/relative"] {
            let error = fetch.fetch(url).await.unwrap_err();
            assert!(
                matches!(error, Error::Fetch(FetchError::InvalidUrl { .. })),
                "{url}: {error}"
            );
        }
    }

    #[tokio::test]
    async fn every_redirect_hop_is_checked() {
        let private = TestServer::start(|_| Reply::html("internal secret"))
            .await
            .unwrap();
        let target = private.url("/");
        let public = TestServer::start(move |path| match path {
            "/to-private-port" => Reply::redirect(&target),
            "/to-ten" => Reply::redirect("http://10.0.0.1/admin"),
            "/to-localhost" => Reply::redirect("http://localhost/"),
            "/to-file" => Reply::redirect("file:///etc/passwd"),
            "/relative" => Reply::redirect("/final"),
            "/loop" => Reply::redirect("/loop"),
            _ => Reply::new(200, "text/plain", "final page"),
        })
        .await
        .unwrap();
        // The allowlist names exactly the first server's address and port.
        let fetch = allowing(&public);
        for path in ["/to-private-port", "/to-ten", "/to-localhost"] {
            let result = fetch.fetch(&public.url(path)).await;
            assert!(blocked(&result), "{path} was followed: {result:?}");
        }
        assert!(matches!(
            fetch.fetch(&public.url("/to-file")).await,
            Err(Error::Fetch(FetchError::UnsupportedScheme(_)))
        ));
        assert_eq!(
            private.hits(),
            0,
            "the redirect target must not be contacted"
        );

        let relative = fetch.fetch(&public.url("/relative")).await.unwrap();
        assert!(relative.starts_with(&format!("URL: {}", public.url("/final"))));
        assert!(relative.ends_with("final page"));

        let looping = fetch.fetch(&public.url("/loop")).await.unwrap_err();
        assert!(
            matches!(looping, Error::Fetch(FetchError::TooManyRedirects(5))),
            "{looping}"
        );
    }

    #[tokio::test]
    async fn streams_at_most_the_byte_cap() {
        // 64 MiB announced and sent until the client hangs up.
        let server = TestServer::start(|_| {
            Reply::new(200, "text/plain", vec![b'a'; 64 * 1024]).repeated(1024)
        })
        .await
        .unwrap();
        let fetch = allowing(&server)
            .with_max_body_bytes(100_000)
            .with_max_text_bytes(1_000);
        let text = fetch.fetch(&server.url("/big")).await.unwrap();
        assert!(text.ends_with(
            "\n[truncated: only the first 100000 bytes of the response were read; text cut at \
             1000 of 100000 bytes]"
        ));
        assert!(text.len() < 1_200);
    }

    #[tokio::test]
    async fn read_timeout() {
        let server = TestServer::start(|_| Reply::html("late").delayed(Duration::from_secs(30)))
            .await
            .unwrap();
        let guard = NetworkGuard::new()
            .allow(&format!("127.0.0.1:{}", server.port()))
            .unwrap();
        let fetch = HttpFetch::new()
            .with_fetcher(GuardedFetcher::new(guard).with_read_timeout(Duration::from_millis(200)));
        let error = fetch.fetch(&server.url("/")).await.unwrap_err();
        assert!(error.to_string().contains("timed out"), "{error}");
    }

    #[tokio::test]
    async fn through_the_registry() {
        let server = TestServer::start(|_| Reply::html("<p>hello</p>"))
            .await
            .unwrap();
        let mut tools = ToolRegistry::new();
        tools.register(allowing(&server)).unwrap();
        let call = ToolCall::new("http_fetch", json!({ "url": server.url("/") }));
        let output = tools
            .call(&call, ToolContext::new("c"))
            .await
            .result
            .unwrap();
        assert!(output.text.ends_with("\n\nhello"), "{}", output.text);

        let call = ToolCall::new("http_fetch", json!({ "url": "http://localhost/" }));
        let failure = tools
            .call(&call, ToolContext::new("c"))
            .await
            .result
            .unwrap_err();
        assert!(
            failure
                .message
                .starts_with("refused to connect to `localhost` ("),
            "{}",
            failure.message
        );
    }
}
