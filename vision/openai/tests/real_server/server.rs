//! The served models (the tiny mllama) and a test image.

use std::path::{Path, PathBuf};

use argus_openai::{OpenAiModel, OpenAiModelBuilder};
use argus_vision::testkit::{write_mllama, MllamaSpec, ServedModel, TestServer};

/// Starts mistral.rs's server on `model`.
pub(crate) async fn start(model: ServedModel) -> TestServer {
    TestServer::start(model).await.unwrap()
}

/// A remote model for what `server` serves.
pub(crate) fn model(server: &TestServer) -> OpenAiModelBuilder {
    OpenAiModel::builder(server.base_url(), "default")
}

/// Writes the tiny random-weight mllama into `dir`.
pub(crate) fn tiny_mllama(dir: &Path) -> PathBuf {
    let model = dir.join("mllama");
    write_mllama(&model, &MllamaSpec::default()).unwrap();
    model
}

/// A PNG of `width`×`height` pixels with a gradient.
pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 3) as u8, 128])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}
