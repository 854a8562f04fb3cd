//! URL loading against a tiny HTTP/1.1 responder on 127.0.0.1: success, status errors, the byte
//! cap (declared and streamed), read timeouts, and the address check on every hop.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argus_ingest::testkit::{Reply, TestServer};
use argus_vision::{GuardedFetcher, ImageLimits, ImageLoadError, ImageLoader};
use tokio::net::TcpListener;

/// Serves a few fixed routes until dropped.
async fn serve(png: Vec<u8>) -> TestServer {
    TestServer::start(move |path| {
        if let Some(target) = path.strip_prefix("/redirect?to=") {
            return Reply::redirect(target);
        }
        match path {
            "/ok.png" => Reply::new(200, "image/png", png.clone()),
            "/missing" => Reply::new(404, "text/plain", ""),
            "/huge-declared" => {
                Reply::new(200, "image/png", &b"\x89PNG"[..]).declaring_length(50_000_000)
            }
            // No Content-Length: the body is delimited by the connection closing, and keeps
            // coming (at most 4 MiB) until the client hangs up.
            "/huge-streamed" => Reply::new(200, "image/png", vec![0x42u8; 64 << 10])
                .repeated(64)
                .without_length(),
            "/stall-headers" => Reply::new(200, "image/png", "").delayed(STALL),
            "/stall-body" => Reply::new(200, "image/png", &b"\x89PNG\r\n"[..])
                .declaring_length(1000)
                .stalling(STALL),
            _ => Reply::new(400, "text/plain", ""),
        }
    })
    .await
    .unwrap()
}

/// How long the stalling routes keep the connection open without sending anything.
const STALL: Duration = Duration::from_secs(30);

/// A loader with a 1 MiB cap and timeouts no loaded machine reaches by accident.
fn loader() -> ImageLoader {
    ImageLoader::new()
        .with_limits(ImageLimits::default().with_max_encoded_bytes(1 << 20))
        .with_fetcher(
            GuardedFetcher::unguarded()
                .with_connect_timeout(Duration::from_secs(10))
                .with_read_timeout(Duration::from_secs(10))
                .with_total_timeout(Duration::from_secs(20)),
        )
}

/// A loader whose read timeout is short, for the stalling routes.
fn impatient_loader() -> ImageLoader {
    ImageLoader::new().with_fetcher(
        GuardedFetcher::unguarded()
            .with_read_timeout(Duration::from_millis(300))
            .with_total_timeout(Duration::from_secs(20)),
    )
}

#[tokio::test]
async fn fetches_a_png_over_http() {
    let png = super::png(32, 16);
    let server = serve(png.clone()).await;
    let addr = server.address();
    let loaded = loader()
        .with_max_edge(16)
        .load(format!("http://{addr}/ok.png").as_str())
        .await
        .unwrap();
    assert_eq!(loaded.reference.sha256, argus_core::sha256_hex(&png));
    assert_eq!((loaded.image.width(), loaded.image.height()), (16, 8));
}

#[tokio::test]
async fn http_errors_carry_the_status() {
    let server = serve(Vec::new()).await;
    let addr = server.address();
    match loader()
        .load(format!("http://{addr}/missing").as_str())
        .await
    {
        Err(ImageLoadError::Fetch { status, url, .. }) => {
            assert_eq!(status, Some(404));
            assert!(url.ends_with("/missing"));
        }
        other => panic!("expected Fetch, got {other:?}"),
    }
}

#[tokio::test]
async fn declared_length_over_the_cap_is_refused_from_the_headers() {
    let server = serve(Vec::new()).await;
    let addr = server.address();
    let result = loader()
        .load(format!("http://{addr}/huge-declared").as_str())
        .await;
    assert!(
        matches!(
            result,
            Err(ImageLoadError::TooLarge {
                size: Some(50_000_000),
                limit: 1_048_576
            })
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn streamed_body_over_the_cap_is_cut_off() {
    let server = serve(Vec::new()).await;
    let addr = server.address();
    let result = loader()
        .load(format!("http://{addr}/huge-streamed").as_str())
        .await;
    assert!(
        matches!(
            result,
            Err(ImageLoadError::TooLarge {
                size: None,
                limit: 1_048_576
            })
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = serve(Vec::new()).await;
    let addr = server.address();
    let started = Instant::now();
    let result = impatient_loader()
        .load(format!("http://{addr}/stall-headers").as_str())
        .await;
    assert!(
        matches!(result, Err(ImageLoadError::Timeout { .. })),
        "{result:?}"
    );
    // The read timeout fired, not the fetch deadline (20 s) or the server giving up (30 s).
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_body_that_stalls_times_out() {
    let server = serve(Vec::new()).await;
    let addr = server.address();
    let started = Instant::now();
    let result = impatient_loader()
        .load(format!("http://{addr}/stall-body").as_str())
        .await;
    assert!(
        matches!(result, Err(ImageLoadError::Timeout { .. })),
        "{result:?}"
    );
    // The read timeout fired, not the fetch deadline (20 s) or the server giving up (30 s).
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_whole_fetch_has_a_deadline() {
    let server = serve(Vec::new()).await;
    let addr = server.address();
    let loader = ImageLoader::new().with_fetcher(
        GuardedFetcher::unguarded()
            .with_read_timeout(Duration::from_secs(30))
            .with_total_timeout(Duration::from_millis(400)),
    );
    let started = Instant::now();
    let result = loader
        .load(format!("http://{addr}/stall-body").as_str())
        .await;
    assert!(
        matches!(result, Err(ImageLoadError::Timeout { .. })),
        "{result:?}"
    );
    // The deadline fired, not the read timeout (30 s) or the server giving up (30 s).
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn connection_refused_is_a_fetch_error() {
    // A socket bound but never listening: its port stays ours, and connecting is refused.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let result = loader()
        .load(format!("http://{addr}/ok.png").as_str())
        .await;
    assert!(
        matches!(result, Err(ImageLoadError::Fetch { status: None, .. })),
        "{result:?}"
    );
}

/// The (host, address) pairs an address check was asked about.
type Seen = Arc<Mutex<Vec<(String, SocketAddr)>>>;

/// A loader whose address check allows only URLs written with the host `allowed`, and records
/// every question.
fn checked_loader(allowed: &'static str) -> (ImageLoader, Seen) {
    let seen = Seen::default();
    let record = Arc::clone(&seen);
    let loader = loader().with_address_check(move |host, address| {
        record.lock().unwrap().push((host.to_string(), address));
        if host == allowed {
            Ok(())
        } else {
            Err(format!("{host} is not {allowed}"))
        }
    });
    (loader, seen)
}

#[tokio::test]
async fn a_refused_address_is_never_connected_to() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let loader = loader().with_address_check(|_, address| {
        if address.ip().is_loopback() {
            Err("loopback".into())
        } else {
            Ok(())
        }
    });
    match loader.load(format!("http://{addr}/ok.png").as_str()).await {
        Err(ImageLoadError::Blocked {
            address, reason, ..
        }) => assert_eq!((address, reason.as_str()), (addr, "loopback")),
        other => panic!("expected Blocked, got {other:?}"),
    }
    // A connection made during `load` would be waiting in the backlog already.
    let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
    assert!(accepted.is_err(), "something connected");
}

#[tokio::test]
async fn an_allowed_address_is_fetched_and_redirects_are_checked_and_followed() {
    let png = super::png(8, 8);
    let server = serve(png.clone()).await;
    let addr = server.address();
    let (loader, seen) = checked_loader("127.0.0.1");
    let url = format!("http://{addr}/redirect?to=http://{addr}/ok.png");
    let loaded = loader.load(url.as_str()).await.unwrap();
    assert_eq!(loaded.reference.sha256, argus_core::sha256_hex(&png));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![("127.0.0.1".to_string(), addr); 2],
        "both hops checked"
    );
}

#[tokio::test]
async fn a_redirect_to_a_refused_host_is_blocked_after_resolution() {
    let server = serve(super::png(8, 8)).await;
    let addr = server.address();
    let (loader, seen) = checked_loader("127.0.0.1");
    let target = format!("http://localhost:{}/ok.png", addr.port());
    let url = format!("http://{addr}/redirect?to={target}");
    match loader.load(url.as_str()).await {
        Err(ImageLoadError::Blocked { url, address, .. }) => {
            assert_eq!(url, target);
            assert!(address.ip().is_loopback(), "{address}");
        }
        other => panic!("expected Blocked, got {other:?}"),
    }
    // The name was resolved, and the check saw the address it resolved to.
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|(host, address)| host == "localhost" && address.ip().is_loopback()),
        "{seen:?}"
    );
}
