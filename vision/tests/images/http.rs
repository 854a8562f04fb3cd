//! URL loading against a tiny HTTP/1.1 responder on 127.0.0.1: success, status errors, the byte
//! cap (declared and streamed) and read timeouts.

use std::net::SocketAddr;
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
    // Bind then drop a listener to get a local port nothing listens on.
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let result = loader()
        .load(format!("http://{addr}/ok.png").as_str())
        .await;
    assert!(
        matches!(result, Err(ImageLoadError::Fetch { status: None, .. })),
        "{result:?}"
    );
}
