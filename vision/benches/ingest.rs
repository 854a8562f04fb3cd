//! Decode + downscale of a 12-megapixel JPEG to mllama's 1120-pixel edge, against Pillow.
//!
//! `cargo bench -p argus-vision --bench ingest` (Pillow: `pip install pillow`). Both sides
//! start from the encoded bytes in memory, decode the whole image and resize it with Lanczos3
//! (Pillow's `Image.LANCZOS`) to 1120×840; the median of the runs is reported.

#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Cursor;
use std::process::Command;
use std::time::{Duration, Instant};

use argus_vision::{fit_within, to_model_rgb, ImageLoader, ResizeFilter};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, Rgb, RgbImage};

const WIDTH: u32 = 4000;
const HEIGHT: u32 = 3000;
const EDGE: u32 = 1120;
const RUNS: usize = 15;

/// A deterministic 4000×3000 gradient with noise, JPEG quality 90.
fn test_jpeg() -> Vec<u8> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 56) as i32 - 128
    };
    let image = RgbImage::from_fn(WIDTH, HEIGHT, |x, y| {
        let r = (x * 255 / WIDTH) as i32;
        let g = (y * 255 / HEIGHT) as i32;
        let b = ((x + y) * 255 / (WIDTH + HEIGHT)) as i32;
        let n = noise() / 4;
        Rgb([
            (r + n).clamp(0, 255) as u8,
            (g + n).clamp(0, 255) as u8,
            (b - n).clamp(0, 255) as u8,
        ])
    });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut Cursor::new(&mut out), 90)
        .encode_image(&DynamicImage::ImageRgb8(image))
        .unwrap();
    out
}

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn time(runs: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    median(
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed()
            })
            .collect(),
    )
}

const PILLOW: &str = r#"
import io, sys, time
try:
    from PIL import Image
    import PIL
except ImportError:
    print("MISSING")
    sys.exit(0)
data = open(sys.argv[1], "rb").read()
edge_w, edge_h, runs = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def work():
    img = Image.open(io.BytesIO(data))
    img.load()
    return img.resize((edge_w, edge_h), Image.LANCZOS)
work()
times = []
for _ in range(runs):
    t = time.perf_counter()
    out = work()
    times.append(time.perf_counter() - t)
assert out.size == (edge_w, edge_h)
times.sort()
print("OK", PIL.__version__, times[len(times) // 2] * 1000.0)
"#;

fn main() {
    let jpeg = test_jpeg();
    let (w, h) = fit_within(WIDTH, HEIGHT, EDGE);
    println!(
        "ingest: {WIDTH}x{HEIGHT} JPEG (q90, {:.1} MiB) -> {w}x{h}, median of {RUNS} runs",
        jpeg.len() as f64 / (1 << 20) as f64
    );

    let loader = ImageLoader::new().with_max_edge(EDGE);
    let full = time(RUNS, || {
        let loaded = loader.load_bytes(jpeg.clone()).unwrap();
        assert_eq!(loaded.image.width(), w);
    });
    let decode_only = time(RUNS, || {
        let decoder = image::codecs::jpeg::JpegDecoder::new(Cursor::new(jpeg.as_slice())).unwrap();
        let mut buf = vec![0u8; decoder.total_bytes() as usize];
        decoder.read_image(&mut buf).unwrap();
    });
    let decoded = image::load_from_memory(&jpeg).unwrap();
    let resize_only = |filter: ResizeFilter| {
        time(RUNS, || {
            to_model_rgb(decoded.clone(), Some(EDGE), filter).unwrap();
        })
    };
    let lanczos = resize_only(ResizeFilter::Lanczos3);
    let catmull = resize_only(ResizeFilter::CatmullRom);

    println!("  argus-vision (image/zune-jpeg decode + fast_image_resize lanczos3, incl. sha256): {full:.1} ms");
    println!("    of which JPEG decode ~{decode_only:.1} ms, lanczos3 resize ~{lanczos:.1} ms (catmull-rom ~{catmull:.1} ms)");

    let dir = std::env::temp_dir().join(format!("argus-ingest-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench.jpg");
    std::fs::write(&path, &jpeg).unwrap();
    let output = Command::new("python3")
        .arg("-c")
        .arg(PILLOW)
        .arg(&path)
        .arg(w.to_string())
        .arg(h.to_string())
        .arg(RUNS.to_string())
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    match output {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let fields: Vec<&str> = text.split_whitespace().collect();
            match fields.as_slice() {
                ["OK", version, ms] => {
                    let pillow: f64 = ms.parse().unwrap();
                    println!("  Pillow {version} (Image.open + load() + resize(Image.LANCZOS)): {pillow:.1} ms");
                    println!(
                        "  argus-vision / Pillow = {:.2} ({})",
                        full / pillow,
                        if full < pillow { "faster than Pillow" } else { "SLOWER than Pillow" }
                    );
                }
                _ => println!(
                    "  Pillow is missing (`import PIL` failed): install it with `pip install pillow`"
                ),
            }
        }
        Ok(out) => println!(
            "  Pillow run failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(error) => println!("  python3 not available ({error}): Pillow comparison skipped"),
    }
}
