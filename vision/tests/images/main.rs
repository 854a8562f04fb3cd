//! Image ingestion: every error kind, EXIF orientation, decompression bombs, URL fetching.

#![allow(clippy::unwrap_used)]

mod http;

use std::io::Cursor;

use argus_vision::{ImageLimits, ImageLoadError, ImageLoader, ImageSource};
use base64::Engine as _;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

/// A `width`×`height` image whose left half is red and right half is blue.
fn two_tone(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, _| {
        if x < width / 2 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    })
}

fn encode(image: RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(image)
        .write_to(&mut Cursor::new(&mut out), format)
        .unwrap();
    out
}

fn png(width: u32, height: u32) -> Vec<u8> {
    encode(two_tone(width, height), ImageFormat::Png)
}

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    encode(two_tone(width, height), ImageFormat::Jpeg)
}

/// CRC-32 (IEEE) as PNG chunks use it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    chunk.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    chunk
}

/// A hand-made PNG that declares `width`×`height` RGB pixels but carries only `idat` as data.
fn png_with_header(width: u32, height: u32, idat: &[u8]) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit, RGB, deflate, adaptive, no interlace
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend(png_chunk(b"IHDR", &ihdr));
    bytes.extend(png_chunk(b"IDAT", idat));
    bytes.extend(png_chunk(b"IEND", &[]));
    bytes
}

/// Inserts an EXIF APP1 segment with the given orientation right after the JPEG's SOI marker.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec(); // big-endian TIFF, IFD at offset 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // tag: Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // type: SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // value padding
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut payload = b"Exif\x00\x00".to_vec();
    payload.extend(tiff);
    let mut segment = vec![0xFF, 0xE1];
    segment.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    segment.extend(payload);
    let mut out = jpeg[..2].to_vec();
    out.extend(segment);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn is_red(pixel: Rgb<u8>) -> bool {
    pixel.0[0] > 200 && pixel.0[2] < 60
}

fn is_blue(pixel: Rgb<u8>) -> bool {
    pixel.0[2] > 200 && pixel.0[0] < 60
}

#[test]
fn png_and_jpeg_load_with_hash_media_type_and_dimensions() {
    let loader = ImageLoader::new();
    let bytes = png(64, 32);
    let loaded = loader.load_bytes(bytes.clone()).unwrap();
    assert_eq!(loaded.reference.media_type, "image/png");
    assert_eq!(loaded.reference.sha256, argus_core::sha256_hex(&bytes));
    assert_eq!(loaded.reference.byte_len, bytes.len() as u64);
    assert_eq!(
        (loaded.reference.width, loaded.reference.height),
        (Some(64), Some(32))
    );
    assert_eq!(loaded.reference.data.as_deref(), Some(&bytes[..]));
    assert!(is_red(*loaded.image.as_rgb8().unwrap().get_pixel(2, 2)));

    let loaded = loader.load_bytes(jpeg(64, 32)).unwrap();
    assert_eq!(loaded.reference.media_type, "image/jpeg");
}

#[test]
fn format_comes_from_content_not_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.jpg");
    std::fs::write(&path, png(10, 10)).unwrap();
    let loaded = ImageLoader::new().load_blocking(path.as_path()).unwrap();
    assert_eq!(loaded.reference.media_type, "image/png");

    let text = dir.path().join("notes.png");
    std::fs::write(&text, "just some text, not a picture").unwrap();
    assert!(matches!(
        ImageLoader::new().load_blocking(text.as_path()),
        Err(ImageLoadError::UnsupportedFormat { detected: None })
    ));
}

#[test]
fn base64_and_data_urls_load() {
    let bytes = png(8, 8);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let loader = ImageLoader::new();
    let bare = loader
        .load_blocking(ImageSource::Base64(encoded.clone()))
        .unwrap();
    let url = loader
        .load_blocking(ImageSource::parse(&format!(
            "data:image/jpeg;base64,{encoded}"
        )))
        .unwrap();
    assert_eq!(bare.reference.sha256, url.reference.sha256);
    // The declared media type of a data: URL is ignored; the content decides.
    assert_eq!(url.reference.media_type, "image/png");
    assert!(matches!(
        loader.load_blocking(ImageSource::Base64("data:image/png;base64,@@@@".into())),
        Err(ImageLoadError::InvalidBase64 { .. })
    ));
}

#[test]
fn empty_input_is_refused() {
    let loader = ImageLoader::new();
    assert!(matches!(
        loader.load_bytes(Vec::new()),
        Err(ImageLoadError::Empty)
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.png");
    std::fs::write(&path, b"").unwrap();
    assert!(matches!(
        loader.load_blocking(path.as_path()),
        Err(ImageLoadError::Empty)
    ));
}

#[test]
fn oversized_bytes_are_refused_before_reading() {
    let bytes = png(64, 64);
    let limit = bytes.len() as u64 - 1;
    let loader =
        ImageLoader::new().with_limits(ImageLimits::default().with_max_encoded_bytes(limit));
    assert!(matches!(
        loader.load_bytes(bytes.clone()),
        Err(ImageLoadError::TooLarge { size: Some(size), limit: l }) if size == bytes.len() as u64 && l == limit
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.png");
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        loader.load_blocking(path.as_path()),
        Err(ImageLoadError::TooLarge { .. })
    ));
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    assert!(matches!(
        loader.load_blocking(ImageSource::Base64(encoded)),
        Err(ImageLoadError::TooLarge { .. })
    ));
}

#[test]
fn unsupported_formats_are_named() {
    let loader = ImageLoader::new();
    assert!(matches!(
        loader.load_bytes(b"%PDF-1.7 not an image".to_vec()),
        Err(ImageLoadError::UnsupportedFormat {
            detected: Some("pdf")
        })
    ));
    // Farbfeld is a real format the `image` crate can decode, but not one this crate accepts.
    let mut farbfeld = b"farbfeld".to_vec();
    farbfeld.extend_from_slice(&1u32.to_be_bytes());
    farbfeld.extend_from_slice(&1u32.to_be_bytes());
    farbfeld.extend_from_slice(&[0; 8]);
    assert!(matches!(
        loader.load_bytes(farbfeld),
        Err(ImageLoadError::UnsupportedFormat {
            detected: Some("farbfeld")
        })
    ));
}

#[test]
fn truncated_images_are_refused() {
    let loader = ImageLoader::new();
    for (bytes, format) in [(png(64, 64), "png"), (jpeg(64, 64), "jpeg")] {
        let cut = bytes[..bytes.len() * 2 / 3].to_vec();
        match loader.load_bytes(cut) {
            Err(ImageLoadError::Truncated { format: f }) => assert_eq!(f, format),
            other => panic!("{format}: expected Truncated, got {other:?}"),
        }
    }
    // Cut inside the header, too.
    assert!(matches!(
        loader.load_bytes(png(64, 64)[..20].to_vec()),
        Err(ImageLoadError::Truncated { format: "png" })
    ));
}

#[test]
fn corrupt_images_are_refused() {
    let loader = ImageLoader::new();
    // A well-formed PNG container whose pixel data is not a zlib stream.
    let bytes = png_with_header(16, 16, b"this is not deflate data at all");
    match loader.load_bytes(bytes) {
        Err(ImageLoadError::Corrupt { format, .. }) => assert_eq!(format, "png"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // A JPEG with its entropy-coded data and tables replaced by noise.
    let mut bad = jpeg(32, 32);
    let len = bad.len();
    for byte in &mut bad[20..len - 2] {
        *byte = 0x5A;
    }
    assert!(matches!(
        loader.load_bytes(bad),
        Err(ImageLoadError::Corrupt { format: "jpeg", .. })
    ));
}

#[test]
fn missing_file_is_an_io_error_with_the_path() {
    let err = ImageLoader::new()
        .load_blocking(std::path::Path::new("/definitely/not/here.png"))
        .unwrap_err();
    match &err {
        ImageLoadError::Io { path, source } => {
            assert_eq!(path, std::path::Path::new("/definitely/not/here.png"));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Io, got {other:?}"),
    }
    assert!(err.to_string().contains("/definitely/not/here.png"));
}

/// VmHWM (peak resident memory) of this process in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn decompression_bomb_is_refused_from_its_header() {
    // 30000×30000 RGB would need 2.7 GB once decoded; the file is under 100 bytes.
    let bomb = png_with_header(
        30_000,
        30_000,
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    assert!(bomb.len() < 100);
    let before = peak_rss_kib();
    let err = ImageLoader::new().load_bytes(bomb.clone()).unwrap_err();
    assert!(
        matches!(
            err,
            ImageLoadError::TooManyPixels {
                width: 30_000,
                height: 30_000,
                limit: 40_000_000
            }
        ),
        "{err:?}"
    );
    if let (Some(before), Some(after)) = (before, peak_rss_kib()) {
        assert!(
            after - before < 64 * 1024,
            "peak RSS grew by {} KiB",
            after - before
        );
    }
    // The header is also enough for `probe`.
    let info = ImageLoader::new().probe(&bomb).unwrap();
    assert_eq!(
        (info.width, info.height, info.format),
        (30_000, 30_000, "png")
    );

    // The pixel limit is configurable.
    let small = ImageLoader::new().with_limits(ImageLimits::default().with_max_pixels(100));
    assert!(matches!(
        small.load_bytes(png(11, 10)),
        Err(ImageLoadError::TooManyPixels {
            width: 11,
            height: 10,
            limit: 100
        })
    ));
    assert!(small.load_bytes(png(10, 10)).is_ok());
}

#[test]
fn exif_orientation_is_applied() {
    // Stored 40×20, left half red, right half blue; orientation 6 = rotate 90° clockwise
    // for display, so the displayed image is 20×40 with red on top.
    let bytes = with_exif_orientation(&jpeg(40, 20), 6);
    let loaded = ImageLoader::new().load_bytes(bytes.clone()).unwrap();
    assert_eq!(
        (loaded.reference.width, loaded.reference.height),
        (Some(20), Some(40))
    );
    let rgb = loaded.image.as_rgb8().unwrap();
    assert_eq!(rgb.dimensions(), (20, 40));
    assert!(is_red(*rgb.get_pixel(10, 5)), "{:?}", rgb.get_pixel(10, 5));
    assert!(
        is_blue(*rgb.get_pixel(10, 35)),
        "{:?}",
        rgb.get_pixel(10, 35)
    );

    // Orientation 8 = rotate 90° counter-clockwise: blue on top.
    let loaded = ImageLoader::new()
        .load_bytes(with_exif_orientation(&jpeg(40, 20), 8))
        .unwrap();
    let rgb = loaded.image.as_rgb8().unwrap();
    assert!(is_blue(*rgb.get_pixel(10, 5)));

    // Orientation 1 leaves it alone; the header still says 40×20.
    let plain = ImageLoader::new()
        .load_bytes(with_exif_orientation(&jpeg(40, 20), 1))
        .unwrap();
    assert_eq!(plain.image.width(), 40);
    assert_eq!(ImageLoader::new().probe(&bytes).unwrap().width, 40);
}

#[test]
fn downscales_to_the_model_edge_after_orientation() {
    let bytes = with_exif_orientation(&jpeg(400, 200), 6);
    let loaded = ImageLoader::new()
        .with_max_edge(100)
        .load_bytes(bytes)
        .unwrap();
    assert_eq!((loaded.image.width(), loaded.image.height()), (50, 100));
    assert_eq!(
        (loaded.reference.width, loaded.reference.height),
        (Some(200), Some(400))
    );
}

#[test]
fn refs_without_bytes_and_other_schemes_are_unsupported_sources() {
    let loader = ImageLoader::new();
    let reference = loader.load_bytes(png(4, 4)).unwrap().reference;
    assert_eq!(
        loader.load_ref(&reference).unwrap().reference.sha256,
        reference.sha256
    );
    assert!(matches!(
        loader.load_ref(&reference.without_data()),
        Err(ImageLoadError::UnsupportedSource(_))
    ));
    assert!(matches!(
        loader.load_blocking(ImageSource::Url("https://example.invalid/a.png".into())),
        Err(ImageLoadError::UnsupportedSource(_))
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(matches!(
        runtime.block_on(loader.load("ftp://127.0.0.1/a.png")),
        Err(ImageLoadError::UnsupportedSource(_))
    ));
}
