//! URL loading against a tiny HTTP/1.1 responder on 127.0.0.1: success, status errors, the byte
//! cap (declared and streamed), read timeouts, and the address check on every hop.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argus_vision::{ImageLimits, ImageLoadError, ImageLoader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Serves a few fixed routes until the test's runtime shuts down. Every connection handler
/// ends by itself within a few seconds.
async fn serve(png: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(respond(stream, png.clone()));
        }
    });
    addr
}

async fn respond(mut stream: TcpStream, png: Vec<u8>) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let request = String::from_utf8_lossy(&request);
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    if let Some(target) = path.strip_prefix("/redirect?to=") {
        let head = format!(
            "HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let _ = write_all(&mut stream, head.as_bytes()).await;
        return;
    }
    let _ = match path.as_str() {
        "/ok.png" => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                png.len()
            );
            write_all(&mut stream, &[head.as_bytes(), &png].concat()).await
        }
        "/missing" => {
            write_all(
                &mut stream,
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await
        }
        "/huge-declared" => {
            write_all(
                &mut stream,
                b"HTTP/1.1 200 OK\r\nContent-Length: 50000000\r\nConnection: close\r\n\r\n\x89PNG",
            )
            .await
        }
        "/huge-streamed" => {
            // No Content-Length: the body is delimited by the connection closing, and keeps
            // coming (at most 4 MiB) until the client hangs up.
            if write_all(&mut stream, b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                .await
                .is_err()
            {
                return;
            }
            let chunk = vec![0x42u8; 64 << 10];
            for _ in 0..64 {
                if write_all(&mut stream, &chunk).await.is_err() {
                    return;
                }
            }
            Ok(())
        }
        "/stall-headers" => {
            tokio::time::sleep(STALL).await;
            Ok(())
        }
        "/stall-body" => {
            let _ = write_all(
                &mut stream,
                b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n\x89PNG\r\n",
            )
            .await;
            tokio::time::sleep(STALL).await;
            Ok(())
        }
        _ => {
            write_all(
                &mut stream,
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
            )
            .await
        }
    };
}

async fn write_all(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// How long the stalling routes keep the connection open without sending anything.
const STALL: Duration = Duration::from_secs(30);

/// A loader with a 1 MiB cap and timeouts no loaded machine reaches by accident.
fn loader() -> ImageLoader {
    ImageLoader::new().with_limits(
        ImageLimits::default()
            .with_max_encoded_bytes(1 << 20)
            .with_read_timeout(Duration::from_secs(10))
            .with_fetch_timeout(Duration::from_secs(20)),
    )
}

/// A loader whose read timeout is short, for the stalling routes.
fn impatient_loader() -> ImageLoader {
    ImageLoader::new().with_limits(
        ImageLimits::default()
            .with_read_timeout(Duration::from_millis(300))
            .with_fetch_timeout(Duration::from_secs(20)),
    )
}

#[tokio::test]
async fn fetches_a_png_over_http() {
    let png = super::png(32, 16);
    let addr = serve(png.clone()).await;
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
    let addr = serve(Vec::new()).await;
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
    let addr = serve(Vec::new()).await;
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
    let addr = serve(Vec::new()).await;
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
    let addr = serve(Vec::new()).await;
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
    let addr = serve(Vec::new()).await;
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
    let addr = serve(Vec::new()).await;
    let loader = ImageLoader::new().with_limits(
        ImageLimits::default()
            .with_read_timeout(Duration::from_secs(30))
            .with_fetch_timeout(Duration::from_millis(400)),
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
    let addr = serve(png.clone()).await;
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
    let addr = serve(super::png(8, 8)).await;
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
