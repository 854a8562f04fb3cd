//! Context limits through the real `argus` binary on the demo models: the example command the
//! demo prints runs to an answer, and a question longer than the window ends in one line with
//! exit code 4, never an engine backtrace.

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::Path;

use support::argus_in;

#[allow(dead_code)] // this binary runs `argus` in a directory only
mod support;

/// A 16×16 RGB PNG (the pixels do not matter to the demo model).
fn write_png(path: &Path) {
    let image =
        image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([x as u8 * 16, y as u8 * 16, 99]));
    image
        .save_with_format(path, image::ImageFormat::Png)
        .unwrap();
}

/// The `argus run ...` line `demo-model` prints, as arguments (the question is the quoted tail).
fn printed_example(stdout: &str) -> Vec<String> {
    let line = stdout
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("argus run "))
        .unwrap_or_else(|| panic!("no example command in:\n{stdout}"));
    let (head, question) = line.split_once('"').unwrap();
    let mut args: Vec<String> = head.split_whitespace().skip(1).map(str::to_owned).collect();
    args.push(question.trim_end_matches('"').to_owned());
    args
}

#[test]
fn the_demo_models_printed_example_runs_to_an_answer() {
    let work = tempfile::tempdir().unwrap();
    let made = argus_in(work.path(), &["demo-model", "demo"], "");
    assert!(made.status.success());
    let args = printed_example(&String::from_utf8(made.stdout).unwrap());
    assert!(args.contains(&"photo.jpg".to_string()), "{args:?}");
    // The user's photo: any image the loader reads (it sniffs the format, not the name).
    write_png(&work.path().join("photo.jpg"));
    let output = argus_in(work.path(), &args, "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{args:?}: {:?}\n{stderr}",
        output.status
    );
    assert!(!stderr.contains("narrow"), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).trim().is_empty());
}

#[test]
fn a_question_longer_than_the_window_is_one_line_and_exit_code_4() {
    let work = tempfile::tempdir().unwrap();
    assert!(argus_in(work.path(), &["demo-model", "demo"], "")
        .status
        .success());
    // Far more tokens than the demo's 16k window (its tokenizer is close to bytes).
    let question = "lorem ipsum dolor ".repeat(1200);
    let output = argus_in(
        work.path(),
        &[
            "run",
            "--model",
            "demo/mllama",
            "--tool-choice",
            "required",
            "--yes",
            &question,
        ],
        "",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("context window"), "{stderr}");
    assert!(
        !stderr.contains("backtrace") && !stderr.contains("candle"),
        "{stderr}"
    );
}
