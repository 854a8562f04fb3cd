//! Running the real `argus` binary from the CLI tests.

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `argus ARGS` in the current directory with `stdin` as its input; logs only errors.
pub(crate) fn argus(args: &[impl AsRef<OsStr>], stdin: &str) -> Output {
    argus_in(Path::new("."), args, stdin)
}

/// Runs `argus ARGS` in `dir` with `stdin` as its input; logs only errors, no backtraces.
pub(crate) fn argus_in(dir: &Path, args: &[impl AsRef<OsStr>], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_argus"))
        .current_dir(dir)
        .args(args)
        .env("RUST_LOG", "error")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
