//! `read_file`, `list_files` and `write_file`: file access confined to a sandbox directory.
//!
//! Three tools rather than one so that reading and listing are read-only while writing is
//! side-effecting (the agent asks its approval hook before every write).

use std::fs;
use std::io::{self, Read as _, Write as _};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use argus_core::{Tool, ToolContext, ToolPolicy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::blocking;
use crate::Error;

/// A directory the file tools cannot leave.
///
/// Paths are relative to the root. Absolute paths and `..` are refused outright; symbolic
/// links are followed only when their target (canonicalized) is still inside the root; writes
/// never go through a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    root: PathBuf,
}

impl Sandbox {
    /// A sandbox rooted at `root`, which must be an existing directory.
    pub fn new(root: impl AsRef<Path>) -> Result<Self, Error> {
        let root = root.as_ref();
        let canonical = root
            .canonicalize()
            .map_err(|source| io_error(root, source))?;
        if !canonical.is_dir() {
            return Err(io_error(
                root,
                io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            ));
        }
        Ok(Sandbox { root: canonical })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The canonical path of an existing file or directory inside the sandbox.
    pub fn resolve(&self, relative: &str) -> Result<PathBuf, Error> {
        let joined = self.root.join(checked_relative(relative)?);
        let canonical = joined
            .canonicalize()
            .map_err(|source| io_error(relative, source))?;
        self.inside(relative, canonical)
    }

    /// Reads at most `max_bytes` of a file: its bytes, its full size, and whether it was cut.
    pub fn read_capped(
        &self,
        relative: &str,
        max_bytes: usize,
    ) -> Result<(Vec<u8>, u64, bool), Error> {
        let path = self.resolve(relative)?;
        let file = fs::File::open(&path).map_err(|source| io_error(relative, source))?;
        let meta = file
            .metadata()
            .map_err(|source| io_error(relative, source))?;
        if meta.is_dir() {
            return Err(io_error(
                relative,
                io::Error::new(io::ErrorKind::IsADirectory, "is a directory"),
            ));
        }
        let mut bytes = Vec::new();
        file.take(max_bytes as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| io_error(relative, source))?;
        let truncated = bytes.len() > max_bytes;
        bytes.truncate(max_bytes);
        let size = meta.len().max(bytes.len() as u64);
        Ok((bytes, size, truncated))
    }

    /// Writes `content` to a file, creating missing parent directories inside the sandbox.
    ///
    /// The content goes to a fresh temporary file that is then renamed over the target, so a
    /// link planted at the target is replaced, never followed; an existing link is refused.
    pub fn write(&self, relative: &str, content: &[u8]) -> Result<(), Error> {
        let checked = checked_relative(relative)?;
        let Some(name) = checked.file_name() else {
            return Err(Error::OutsideSandbox(relative.to_string()));
        };
        let parent = self.create_parents(relative, checked.parent())?;
        let target = parent.join(name);
        match fs::symlink_metadata(&target) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Error::SymlinkWrite(relative.to_string()))
            }
            Ok(meta) if meta.is_dir() => {
                return Err(io_error(
                    relative,
                    io::Error::new(io::ErrorKind::IsADirectory, "is a directory"),
                ))
            }
            _ => {}
        }
        let temp = parent.join(temp_name(name));
        let written = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .and_then(|mut file| file.write_all(content).and_then(|()| file.sync_all()))
            .and_then(|()| fs::rename(&temp, &target));
        if let Err(source) = written {
            let _ = fs::remove_file(&temp);
            return Err(io_error(relative, source));
        }
        Ok(())
    }

    /// Walks `parent` from the root, creating missing directories and refusing links out.
    fn create_parents(&self, relative: &str, parent: Option<&Path>) -> Result<PathBuf, Error> {
        let mut current = self.root.clone();
        for component in parent.into_iter().flat_map(Path::components) {
            let next = current.join(component);
            match fs::symlink_metadata(&next) {
                Ok(_) => {
                    let canonical = next
                        .canonicalize()
                        .map_err(|source| io_error(relative, source))?;
                    current = self.inside(relative, canonical)?;
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&next).map_err(|source| io_error(relative, source))?;
                    current = next;
                }
                Err(source) => return Err(io_error(relative, source)),
            }
        }
        Ok(current)
    }

    fn inside(&self, relative: &str, canonical: PathBuf) -> Result<PathBuf, Error> {
        if canonical.starts_with(&self.root) {
            Ok(canonical)
        } else {
            Err(Error::OutsideSandbox(relative.to_string()))
        }
    }
}

/// The path as relative components only: no root, no prefix, no `..`.
fn checked_relative(relative: &str) -> Result<PathBuf, Error> {
    let path = Path::new(relative);
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(Error::OutsideSandbox(relative.to_string()))
            }
        }
    }
    Ok(clean)
}

fn temp_name(name: &std::ffi::OsStr) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        ".{}.{}-{unique}.argus-tmp",
        name.to_string_lossy(),
        std::process::id()
    )
}

fn io_error(path: impl AsRef<Path>, source: io::Error) -> Error {
    Error::Io {
        path: path.as_ref().display().to_string(),
        source,
    }
}

/// Arguments of [`ReadFile`].
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadFileArgs {
    /// Path of the file, relative to the sandbox root, e.g. `notes/todo.md`.
    pub path: String,
}

/// Reads a text file inside the [`Sandbox`] (read-only), up to a byte cap.
#[derive(Debug, Clone)]
pub struct ReadFile {
    sandbox: Sandbox,
    max_bytes: usize,
}

impl ReadFile {
    /// Reads files in `sandbox`, at most 64 KiB of each.
    pub fn new(sandbox: Sandbox) -> Self {
        ReadFile {
            sandbox,
            max_bytes: 64 * 1024,
        }
    }

    /// Sets how much of a file is read at most.
    pub fn with_max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }
}

impl Tool for ReadFile {
    const NAME: &'static str = "read_file";
    type Args = ReadFileArgs;
    type Output = String;
    type Error = Error;

    fn description(&self) -> String {
        "Reads a text file from the workspace and returns its content.".into()
    }

    async fn call(&self, args: ReadFileArgs, _ctx: ToolContext) -> Result<String, Error> {
        let sandbox = self.sandbox.clone();
        let max = self.max_bytes;
        blocking(move || {
            let (bytes, size, truncated) = sandbox.read_capped(&args.path, max)?;
            if bytes[..bytes.len().min(8 * 1024)].contains(&0) {
                return Err(Error::NotText(format!("`{}`", args.path)));
            }
            let mut text = String::from_utf8_lossy(&bytes).into_owned();
            if truncated {
                text.push_str(&format!(
                    "\n[truncated: showing the first {max} of {size} bytes]"
                ));
            }
            Ok(text)
        })
        .await
    }

    fn policy(&self) -> ToolPolicy {
        ToolPolicy::read_only()
            .with_timeout(Duration::from_secs(10))
            .with_max_output_bytes(self.max_bytes + 256)
    }
}

/// Arguments of [`ListFiles`].
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListFilesArgs {
    /// Directory to list, relative to the sandbox root; default the root itself.
    #[serde(default)]
    pub path: Option<String>,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirEntry {
    /// File name.
    pub name: String,
    /// `file`, `dir`, `symlink` or `other`.
    pub kind: String,
    /// Size in bytes, for files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// A directory listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// The directory, as given.
    pub path: String,
    /// Its entries, sorted by name.
    pub entries: Vec<DirEntry>,
    /// Whether entries were left out at the cap.
    pub truncated: bool,
}

/// Lists a directory inside the [`Sandbox`] (read-only).
#[derive(Debug, Clone)]
pub struct ListFiles {
    sandbox: Sandbox,
    max_entries: usize,
}

impl ListFiles {
    /// Lists directories in `sandbox`, at most 500 entries each.
    pub fn new(sandbox: Sandbox) -> Self {
        ListFiles {
            sandbox,
            max_entries: 500,
        }
    }

    /// Sets how many entries are listed at most.
    pub fn with_max_entries(mut self, entries: usize) -> Self {
        self.max_entries = entries;
        self
    }
}

impl Tool for ListFiles {
    const NAME: &'static str = "list_files";
    type Args = ListFilesArgs;
    type Output = Listing;
    type Error = Error;

    fn description(&self) -> String {
        "Lists the files and directories in a workspace directory.".into()
    }

    async fn call(&self, args: ListFilesArgs, _ctx: ToolContext) -> Result<Listing, Error> {
        let sandbox = self.sandbox.clone();
        let max = self.max_entries;
        blocking(move || {
            let relative = args.path.unwrap_or_else(|| ".".into());
            let dir = sandbox.resolve(&relative)?;
            let reader = fs::read_dir(&dir).map_err(|source| io_error(&relative, source))?;
            let mut entries = Vec::new();
            let mut truncated = false;
            for entry in reader {
                let entry = entry.map_err(|source| io_error(&relative, source))?;
                if entries.len() == max {
                    truncated = true;
                    break;
                }
                let meta = entry.metadata().ok();
                let kind = match meta.as_ref().map(fs::Metadata::file_type) {
                    Some(t) if t.is_symlink() => "symlink",
                    Some(t) if t.is_dir() => "dir",
                    Some(t) if t.is_file() => "file",
                    _ => "other",
                };
                entries.push(DirEntry {
                    name: entry.file_name().to_string_lossy().into_owned(),
                    kind: kind.into(),
                    size: meta.filter(fs::Metadata::is_file).map(|m| m.len()),
                });
            }
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(Listing {
                path: relative,
                entries,
                truncated,
            })
        })
        .await
    }

    fn policy(&self) -> ToolPolicy {
        ToolPolicy::read_only().with_timeout(Duration::from_secs(10))
    }
}

/// Arguments of [`WriteFile`].
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteFileArgs {
    /// Path of the file, relative to the sandbox root; missing directories are created.
    pub path: String,
    /// The complete new content of the file (it replaces any old content).
    pub content: String,
}

/// Creates or replaces a text file inside the [`Sandbox`] (side-effecting: the agent asks its
/// approval hook first).
#[derive(Debug, Clone)]
pub struct WriteFile {
    sandbox: Sandbox,
    max_bytes: usize,
}

impl WriteFile {
    /// Writes files in `sandbox`, at most 1 MiB each.
    pub fn new(sandbox: Sandbox) -> Self {
        WriteFile {
            sandbox,
            max_bytes: 1024 * 1024,
        }
    }

    /// Sets the largest content accepted.
    pub fn with_max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }
}

impl Tool for WriteFile {
    const NAME: &'static str = "write_file";
    type Args = WriteFileArgs;
    type Output = String;
    type Error = Error;

    fn description(&self) -> String {
        "Creates or overwrites a text file in the workspace with the given content.".into()
    }

    async fn call(&self, args: WriteFileArgs, _ctx: ToolContext) -> Result<String, Error> {
        if args.content.len() > self.max_bytes {
            return Err(Error::TooLarge {
                what: "the content".into(),
                actual: format!("{} bytes", args.content.len()),
                limit: format!("{} bytes", self.max_bytes),
            });
        }
        let sandbox = self.sandbox.clone();
        blocking(move || {
            sandbox.write(&args.path, args.content.as_bytes())?;
            Ok(format!(
                "wrote {} bytes to {}",
                args.content.len(),
                args.path
            ))
        })
        .await
    }

    fn policy(&self) -> ToolPolicy {
        ToolPolicy::side_effecting()
            .with_timeout(Duration::from_secs(10))
            .with_max_concurrency(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::ToolEffect;
    use std::os::unix::fs::symlink;

    struct Fixture {
        _dirs: (tempfile::TempDir, tempfile::TempDir),
        sandbox: Sandbox,
        root: PathBuf,
        outside: PathBuf,
    }

    /// A sandbox with `a.txt`, `sub/b.txt`, links pointing in and out, and a secret outside.
    fn fixture() -> Fixture {
        let root_dir = tempfile::tempdir().unwrap();
        let outside_dir = tempfile::tempdir().unwrap();
        let root = root_dir.path().canonicalize().unwrap();
        let outside = outside_dir.path().canonicalize().unwrap();
        fs::write(root.join("a.txt"), "alpha").unwrap();
        fs::create_dir(root.join("sub")).unwrap();
        fs::write(root.join("sub/b.txt"), "beta").unwrap();
        fs::write(outside.join("secret.txt"), "secret").unwrap();
        symlink(outside.join("secret.txt"), root.join("escape.txt")).unwrap();
        symlink(&outside, root.join("escape_dir")).unwrap();
        symlink(root.join("a.txt"), root.join("inner_link.txt")).unwrap();
        let sandbox = Sandbox::new(&root).unwrap();
        Fixture {
            _dirs: (root_dir, outside_dir),
            sandbox,
            root,
            outside,
        }
    }

    async fn read(f: &Fixture, path: &str) -> Result<String, Error> {
        ReadFile::new(f.sandbox.clone())
            .call(ReadFileArgs { path: path.into() }, ToolContext::new("c"))
            .await
    }

    async fn write(f: &Fixture, path: &str, content: &str) -> Result<String, Error> {
        WriteFile::new(f.sandbox.clone())
            .call(
                WriteFileArgs {
                    path: path.into(),
                    content: content.into(),
                },
                ToolContext::new("c"),
            )
            .await
    }

    fn outside(result: &Result<String, Error>) -> bool {
        matches!(result, Err(Error::OutsideSandbox(_)))
    }

    #[tokio::test]
    async fn reads_inside() {
        let f = fixture();
        assert_eq!(read(&f, "a.txt").await.unwrap(), "alpha");
        assert_eq!(read(&f, "./sub/b.txt").await.unwrap(), "beta");
        assert_eq!(read(&f, "sub//b.txt").await.unwrap(), "beta");
        assert_eq!(read(&f, "inner_link.txt").await.unwrap(), "alpha");
        let missing = read(&f, "nope.txt").await.unwrap_err();
        assert!(missing.to_string().starts_with("`nope.txt`: "), "{missing}");
        assert!(matches!(read(&f, "sub").await, Err(Error::Io { .. })));
    }

    #[tokio::test]
    async fn refuses_traversal_and_escaping_links() {
        let f = fixture();
        let secret = f.outside.join("secret.txt").display().to_string();
        for path in [
            "../secret.txt",
            "sub/../../secret.txt",
            "sub/../a.txt",
            secret.as_str(),
            "/etc/passwd",
            "escape.txt",
            "escape_dir/secret.txt",
        ] {
            let result = read(&f, path).await;
            assert!(outside(&result), "{path}: {result:?}");
        }
        let list = ListFiles::new(f.sandbox.clone())
            .call(
                ListFilesArgs {
                    path: Some("escape_dir".into()),
                },
                ToolContext::new("c"),
            )
            .await;
        assert!(matches!(list, Err(Error::OutsideSandbox(_))), "{list:?}");
    }

    #[tokio::test]
    async fn caps_reads_and_refuses_binary() {
        let f = fixture();
        fs::write(f.root.join("big.txt"), "x".repeat(100)).unwrap();
        let text = ReadFile::new(f.sandbox.clone())
            .with_max_bytes(10)
            .call(
                ReadFileArgs {
                    path: "big.txt".into(),
                },
                ToolContext::new("c"),
            )
            .await
            .unwrap();
        assert_eq!(
            text,
            "xxxxxxxxxx\n[truncated: showing the first 10 of 100 bytes]"
        );
        fs::write(f.root.join("bin.dat"), [1u8, 0, 2]).unwrap();
        assert!(matches!(read(&f, "bin.dat").await, Err(Error::NotText(_))));
    }

    #[tokio::test]
    async fn lists_a_directory() {
        let f = fixture();
        let listing = ListFiles::new(f.sandbox.clone())
            .call(ListFilesArgs::default(), ToolContext::new("c"))
            .await
            .unwrap();
        let names: Vec<(&str, &str)> = listing
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.kind.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("a.txt", "file"),
                ("escape.txt", "symlink"),
                ("escape_dir", "symlink"),
                ("inner_link.txt", "symlink"),
                ("sub", "dir")
            ]
        );
        assert_eq!(listing.entries[0].size, Some(5));
        let capped = ListFiles::new(f.sandbox.clone())
            .with_max_entries(2)
            .call(ListFilesArgs::default(), ToolContext::new("c"))
            .await
            .unwrap();
        assert_eq!(capped.entries.len(), 2);
        assert!(capped.truncated);
    }

    #[tokio::test]
    async fn writes_inside_only() {
        let f = fixture();
        assert_eq!(
            write(&f, "new/dir/c.txt", "gamma").await.unwrap(),
            "wrote 5 bytes to new/dir/c.txt"
        );
        assert_eq!(
            fs::read_to_string(f.root.join("new/dir/c.txt")).unwrap(),
            "gamma"
        );
        write(&f, "a.txt", "replaced").await.unwrap();
        assert_eq!(
            fs::read_to_string(f.root.join("a.txt")).unwrap(),
            "replaced"
        );

        for path in [
            "../evil.txt",
            "/tmp/evil.txt",
            "escape_dir/evil.txt",
            "escape_dir/x/y.txt",
            "",
            ".",
        ] {
            let result = write(&f, path, "evil").await;
            assert!(outside(&result), "{path}: {result:?}");
        }
        let through_link = write(&f, "escape.txt", "evil").await;
        assert!(
            matches!(through_link, Err(Error::SymlinkWrite(_))),
            "{through_link:?}"
        );
        let inner_link = write(&f, "inner_link.txt", "evil").await;
        assert!(matches!(inner_link, Err(Error::SymlinkWrite(_))));
        assert!(matches!(write(&f, "sub", "x").await, Err(Error::Io { .. })));

        assert_eq!(
            fs::read_to_string(f.outside.join("secret.txt")).unwrap(),
            "secret"
        );
        assert!(!f.outside.join("evil.txt").exists());
        assert!(!f.outside.join("x").exists());
        let leftovers: Vec<_> = fs::read_dir(&f.root)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".argus-tmp"))
            .collect();
        assert!(leftovers.is_empty());

        let too_big = WriteFile::new(f.sandbox.clone())
            .with_max_bytes(3)
            .call(
                WriteFileArgs {
                    path: "d.txt".into(),
                    content: "four".into(),
                },
                ToolContext::new("c"),
            )
            .await;
        assert!(matches!(too_big, Err(Error::TooLarge { .. })));
    }

    #[test]
    fn policies_mark_side_effects() {
        let f = fixture();
        assert_eq!(
            ReadFile::new(f.sandbox.clone()).policy().effect,
            ToolEffect::ReadOnly
        );
        assert_eq!(
            ListFiles::new(f.sandbox.clone()).policy().effect,
            ToolEffect::ReadOnly
        );
        assert_eq!(
            WriteFile::new(f.sandbox.clone()).policy().effect,
            ToolEffect::SideEffecting
        );
        assert!(Sandbox::new(f.root.join("a.txt")).is_err());
        assert!(Sandbox::new(f.root.join("missing")).is_err());
    }
}
