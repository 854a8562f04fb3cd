//! A throwaway, real PostgreSQL server for tests.
//!
//! [`TestPostgres::shared`] starts one server per test process on first use: `initdb` into a
//! fresh temporary directory, then `postgres` on a free loopback port with password (SCRAM)
//! authentication. Each test takes its own empty database with
//! [`TestPostgres::fresh_database`], so tests can run in parallel against the one server.
//!
//! ```no_run
//! # async fn demo() {
//! use argus_memory::testkit::TestPostgres;
//!
//! let Some(pg) = TestPostgres::shared() else { return }; // not installed: skipped
//! let url = pg.fresh_database().await; // postgres://argus:…@127.0.0.1:PORT/argus_test_…
//! # let _ = url;
//! # }
//! ```
//!
//! The binaries are taken from `ARGUS_PG_BIN`, else `pg_config --bindir`, else the newest
//! `/usr/lib/postgresql/*/bin`, else the directory of `initdb` on `PATH`. When PostgreSQL is
//! missing or cannot start, tests skip (printing `skipped: <reason>`), unless
//! `ARGUS_REQUIRE_POSTGRES` or `CI` is set: then they fail. PostgreSQL refuses to run as root, so
//! under root the server runs as the `postgres` user (or `nobody`).
//!
//! Statics are never dropped, so cleanup is left to a small `sh` janitor process that waits for
//! EOF on a pipe held by the test process: when the test process ends — normally, by a panic, or
//! killed — the janitor stops the server (fast shutdown) and deletes the temporary directory.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Seek, SeekFrom, Write as _};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{Connection, Executor, PgConnection};

/// The superuser `initdb` creates.
const USER: &str = "argus";
/// How long a (re)started server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Ports tried when another process takes the chosen one first.
const PORT_ATTEMPTS: usize = 5;

/// Stops the server recorded in `$1/data/postmaster.pid` (fast shutdown) and deletes `$1` once
/// its standard input reaches EOF, that is once the test process has exited or died.
const JANITOR: &str = r#"
trap '' HUP INT
dir=$1
read -r line
pidfile="$dir/data/postmaster.pid"
if [ -f "$pidfile" ]; then
  pid=$(head -n 1 "$pidfile")
  comm=$(cat "/proc/$pid/comm" 2>/dev/null || echo postgres)
  case "$comm" in
    postgres*)
      if kill -INT "$pid" 2>/dev/null; then
        i=0
        while [ -f "$pidfile" ] && kill -0 "$pid" 2>/dev/null && [ "$i" -lt 600 ]; do
          sleep 0.1
          i=$((i + 1))
        done
      fi
      ;;
  esac
fi
rm -rf "$dir"
"#;

/// A throwaway PostgreSQL server for tests: one per test process, started on first use.
pub struct TestPostgres {
    port: u16,
    password: String,
    dir: PathBuf,
    bin: PathBuf,
    run_as: Option<(u32, u32)>,
    /// The running `postgres` process; `None` while stopped.
    server: Mutex<Option<Child>>,
    /// The janitor and the write end of its pipe, held open for as long as the server lives.
    janitor: Mutex<Option<(Child, ChildStdin)>>,
}

impl std::fmt::Debug for TestPostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPostgres")
            .field("port", &self.port)
            .field("dir", &self.dir)
            .field("bin", &self.bin)
            .finish_non_exhaustive()
    }
}

impl TestPostgres {
    /// The process's server, started on first call (`initdb` in a temp dir, a free loopback
    /// port, password auth).
    ///
    /// Returns `None`, after printing `skipped: <reason>` to stderr, when PostgreSQL is not
    /// installed or cannot start — unless `ARGUS_REQUIRE_POSTGRES` or `CI` is set non-empty:
    /// then it panics with the reason, so that CI fails instead of skipping.
    ///
    /// Do not [`stop`](Self::stop) this one while other tests in the process may use it.
    pub fn shared() -> Option<&'static TestPostgres> {
        static SERVER: OnceLock<Result<TestPostgres, String>> = OnceLock::new();
        match SERVER.get_or_init(Self::launch) {
            Ok(server) => Some(server),
            Err(reason) => {
                let required = ["ARGUS_REQUIRE_POSTGRES", "CI"]
                    .iter()
                    .find(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
                if let Some(var) = required {
                    panic!("no PostgreSQL test server ({var} is set, so this fails instead of skipping): {reason}");
                }
                eprintln!("skipped: {reason}");
                None
            }
        }
    }

    /// Starts a server of the caller's own, like [`shared`](Self::shared) does but not shared:
    /// it is stopped and its directory deleted when the value is dropped (or the process ends).
    /// Suits tests that [`stop`](Self::stop) and [`start`](Self::start) the server.
    ///
    /// # Errors
    ///
    /// Why PostgreSQL could not be found or started.
    pub fn launch() -> Result<TestPostgres, String> {
        let bin = find_bin_dir()?;
        let run_as = unprivileged_user()?;
        let dir = make_temp_dir(run_as)?;
        // From here on, the directory goes away with the process whatever happens.
        let (mut janitor, pipe) = match spawn_janitor(&dir) {
            Ok(janitor) => janitor,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        match init_and_start(&bin, run_as, &dir) {
            Ok((port, password, server)) => Ok(TestPostgres {
                port,
                password,
                dir,
                bin,
                run_as,
                server: Mutex::new(Some(server)),
                janitor: Mutex::new(Some((janitor, pipe))),
            }),
            Err(e) => {
                drop(pipe);
                let _ = janitor.wait();
                Err(e)
            }
        }
    }

    /// A new, empty database on the server (unique name), as a
    /// `postgres://USER:PASSWORD@127.0.0.1:PORT/DBNAME` URL.
    pub async fn fresh_database(&self) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "argus_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = PgConnection::connect_with(&self.options("postgres"))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "connecting to the test PostgreSQL server on port {}: {e}",
                    self.port
                )
            });
        conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
        let _ = conn.close().await;
        self.url(&name)
    }

    /// The URL of database `database` on the server, with the right user and password.
    pub fn url(&self, database: &str) -> String {
        self.url_with_password(database, &self.password)
    }

    /// The URL of database `database` on the server with `password` instead of the right one
    /// (for authentication-failure tests).
    pub fn url_with_password(&self, database: &str, password: &str) -> String {
        format!(
            "postgres://{USER}:{}@127.0.0.1:{}/{}",
            percent_encode(password),
            self.port,
            percent_encode(database)
        )
    }

    /// The loopback TCP port the server listens on (kept across [`stop`](Self::stop) and
    /// [`start`](Self::start)).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The superuser's name (`argus`).
    pub fn user(&self) -> &str {
        USER
    }

    /// The superuser's password (random per server).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The temporary directory holding the cluster (`data/`) and the server's log
    /// (`postgres.log`); deleted when the server is dropped or the process exits.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the server with a fast shutdown (SIGINT; no SIGKILL unless it hangs for a minute).
    /// Does nothing when already stopped. Connections fail until [`start`](Self::start).
    pub fn stop(&self) {
        if let Some(server) = lock(&self.server).take() {
            stop_child(server);
        }
    }

    /// Starts the server again on the same data directory and port, and waits until it accepts
    /// connections. Does nothing when it is running. Panics when it cannot start (for instance
    /// because another process took the port meanwhile).
    pub fn start(&self) {
        let mut server = lock(&self.server);
        if server.is_some() {
            return;
        }
        match start_server(&self.bin, self.run_as, &self.dir, self.port, &self.password) {
            Ok(child) => *server = Some(child),
            Err(e) => panic!(
                "restarting the test PostgreSQL server on port {}: {}",
                self.port,
                e.message()
            ),
        }
    }

    fn options(&self, database: &str) -> PgConnectOptions {
        connect_options(self.port, &self.password, database)
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        self.stop();
        if let Some((mut janitor, pipe)) = lock(&self.janitor).take() {
            drop(pipe); // EOF: the janitor deletes the directory.
            let _ = janitor.wait();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn connect_options(port: u16, password: &str, database: &str) -> PgConnectOptions {
    PgConnectOptions::new()
        .host("127.0.0.1")
        .port(port)
        .username(USER)
        .password(password)
        .database(database)
        .ssl_mode(PgSslMode::Disable)
}

/// Creates the cluster and starts the server on a free port: `(port, password, server)`.
fn init_and_start(
    bin: &Path,
    run_as: Option<(u32, u32)>,
    dir: &Path,
) -> Result<(u16, String, Child), String> {
    let password = random_hex();
    let pwfile = dir.join("pwfile");
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&pwfile)
        .map_err(|e| format!("writing {}: {e}", pwfile.display()))?;
    file.write_all(password.as_bytes())
        .and_then(|()| chown(&pwfile, run_as))
        .map_err(|e| format!("writing {}: {e}", pwfile.display()))?;
    drop(file);

    let data = dir.join("data");
    let initdb = bin.join("initdb");
    let output = command(&initdb, run_as, dir)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            USER,
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .output();
    let _ = fs::remove_file(&pwfile);
    let output = output.map_err(|e| format!("running {}: {e}", initdb.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}){}:\n{}{}",
            initdb.display(),
            output.status,
            run_as
                .map(|(uid, _)| format!(" as uid {uid}"))
                .unwrap_or_default(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        ));
    }
    // Tests need no durability across an OS crash: commits skip the disk. These live in the
    // configuration file, not on the command line, so `ALTER SYSTEM` can turn them back on
    // (a benchmark does, then restarts the server).
    let conf = data.join("postgresql.conf");
    OpenOptions::new()
        .append(true)
        .open(&conf)
        .and_then(|mut file| {
            file.write_all(b"\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        })
        .map_err(|e| format!("writing {}: {e}", conf.display()))?;

    let mut attempt = 0;
    loop {
        attempt += 1;
        let port = free_port()?;
        match start_server(bin, run_as, dir, port, &password) {
            Ok(server) => return Ok((port, password, server)),
            Err(StartError::PortTaken(_)) if attempt < PORT_ATTEMPTS => {}
            Err(e) => return Err(e.message().to_owned()),
        }
    }
}

enum StartError {
    /// Another process listens on the port.
    PortTaken(String),
    Failed(String),
}

impl StartError {
    fn message(&self) -> &str {
        match self {
            StartError::PortTaken(m) | StartError::Failed(m) => m,
        }
    }
}

/// Starts `postgres` on the existing cluster and waits until it accepts connections.
fn start_server(
    bin: &Path,
    run_as: Option<(u32, u32)>,
    dir: &Path,
    port: u16,
    password: &str,
) -> Result<Child, StartError> {
    let log_path = dir.join("postgres.log");
    let failed = |what: &str, e: std::io::Error| {
        StartError::Failed(format!("{what} {}: {e}", log_path.display()))
    };
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| failed("opening", e))?;
    let log_start = log.metadata().map_or(0, |m| m.len());
    let log_err = log.try_clone().map_err(|e| failed("opening", e))?;
    let postgres = bin.join("postgres");
    let mut server = command(&postgres, run_as, dir)
        .arg("-D")
        .arg(dir.join("data"))
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(dir)
        .args(["-c", "listen_addresses=127.0.0.1"])
        .args(["-c", "max_connections=300", "-c", "shared_buffers=128MB"])
        .stdout(log)
        .stderr(log_err)
        // Out of the test's process group: a Ctrl-C or a group kill aimed at the test harness
        // must not hit the server; the janitor shuts it down cleanly instead.
        .process_group(0)
        .spawn()
        .map_err(|e| StartError::Failed(format!("starting {}: {e}", postgres.display())))?;

    match block_on(wait_ready(&mut server, port, password)) {
        Ok(()) => Ok(server),
        Err(e) => {
            let exited = server.try_wait().ok().flatten().is_some();
            if !exited {
                stop_child(server);
            }
            let log = log_since(&log_path, log_start);
            let message = format!(
                "{e}; postgres log ({}):\n{}",
                log_path.display(),
                tail(&log, 30)
            );
            if exited
                && (log.contains("could not create any TCP/IP sockets")
                    || log.contains("Address already in use"))
            {
                Err(StartError::PortTaken(message))
            } else {
                Err(StartError::Failed(message))
            }
        }
    }
}

/// Polls until a real login succeeds, the server exits, or [`READY_TIMEOUT`] passes.
async fn wait_ready(server: &mut Child, port: u16, password: &str) -> Result<(), String> {
    let options = connect_options(port, password, "postgres");
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = server
            .try_wait()
            .map_err(|e| format!("waiting for postgres: {e}"))?
        {
            return Err(format!("postgres exited during startup ({status})"));
        }
        // Something else listening on the port may never answer: give up on the attempt as
        // soon as our server exits.
        let attempt =
            tokio::time::timeout(Duration::from_secs(5), PgConnection::connect_with(&options));
        let last = tokio::select! {
            result = attempt => match result {
                Ok(Ok(conn)) => {
                    let _ = conn.close().await;
                    return Ok(());
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "connection attempt timed out".to_owned(),
            },
            () = exited(server) => continue,
        };
        if Instant::now() > deadline {
            return Err(format!(
                "postgres did not accept connections on 127.0.0.1:{port} within {} s (last error: {last})",
                READY_TIMEOUT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Resolves once `server` has exited.
async fn exited(server: &mut Child) {
    while let Ok(None) = server.try_wait() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Fast shutdown (SIGINT), waiting up to a minute before resorting to SIGKILL.
fn stop_child(mut child: Child) {
    let _ = Command::new("sh")
        .args(["-c", "kill -INT \"$1\" 2>/dev/null", "sh"])
        .arg(child.id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `future` to completion on a runtime of its own, on a thread of its own, so that it works
/// both from plain code and from inside another runtime (an async test).
fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime for the PostgreSQL testkit")
                    .block_on(future)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// A command that runs as `run_as` (when root), in `dir`, with untranslated messages.
fn command(program: &Path, run_as: Option<(u32, u32)>, dir: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(dir)
        .env("LC_ALL", "C")
        .stdin(Stdio::null());
    if let Some((uid, gid)) = run_as {
        command.uid(uid).gid(gid);
    }
    command
}

fn spawn_janitor(dir: &Path) -> Result<(Child, ChildStdin), String> {
    let mut janitor = Command::new("sh")
        .args(["-c", JANITOR, "argus-pg-janitor"])
        .arg(dir)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting the cleanup process (sh): {e}"))?;
    let pipe = janitor.stdin.take().expect("piped stdin");
    Ok((janitor, pipe))
}

/// `ARGUS_PG_BIN`, `pg_config --bindir`, the newest `/usr/lib/postgresql/*/bin`, or the
/// directory `initdb` on `PATH` links to; each must hold both `initdb` and `postgres`.
fn find_bin_dir() -> Result<PathBuf, String> {
    let usable = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = std::env::var_os("ARGUS_PG_BIN").filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        return if usable(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "ARGUS_PG_BIN={} holds no initdb and postgres",
                dir.display()
            ))
        };
    }
    if let Ok(out) = Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && usable(&dir) {
            return Ok(dir);
        }
    }
    let mut newest: Option<(Vec<u32>, PathBuf)> = None;
    for entry in fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
    {
        let version: Option<Vec<u32>> = entry
            .file_name()
            .to_str()
            .and_then(|name| name.split('.').map(|n| n.parse().ok()).collect());
        let dir = entry.path().join("bin");
        if let Some(version) = version.filter(|_| usable(&dir)) {
            if newest.as_ref().is_none_or(|(best, _)| version > *best) {
                newest = Some((version, dir));
            }
        }
    }
    if let Some((_, dir)) = newest {
        return Ok(dir);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let initdb = dir.join("initdb");
        if initdb.is_file() {
            if let Some(real) = fs::canonicalize(&initdb)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
            {
                if usable(&real) {
                    return Ok(real);
                }
            }
        }
    }
    Err("PostgreSQL is not installed: no initdb and postgres found (set ARGUS_PG_BIN to their directory, or install the `postgresql` package)".to_owned())
}

/// `None` when not root; as root the uid and gid of `postgres`, else of `nobody`.
fn unprivileged_user() -> Result<Option<(u32, u32)>, String> {
    if effective_uid() != Some(0) {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd")
        .map_err(|e| format!("running as root, and reading /etc/passwd: {e}"))?;
    for name in ["postgres", "nobody"] {
        let ids = passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.as_slice() {
                [user, _, uid, gid, ..] if *user == name => {
                    Some((uid.parse().ok()?, gid.parse().ok()?))
                }
                _ => None,
            }
        });
        if ids.is_some() {
            return Ok(ids);
        }
    }
    Err("running as root, which PostgreSQL refuses, and there is no `postgres` or `nobody` user to run it as".to_owned())
}

fn effective_uid() -> Option<u32> {
    if let Ok(meta) = fs::metadata("/proc/self") {
        return Some(meta.uid());
    }
    let out = Command::new("id")
        .arg("-u")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// A new directory `argus-pg-PID-RANDOM` in the system temp dir, mode 0700, owned by `run_as`.
fn make_temp_dir(run_as: Option<(u32, u32)>) -> Result<PathBuf, String> {
    let base = std::env::temp_dir();
    let mut tries = 0;
    loop {
        let dir = base.join(format!(
            "argus-pg-{}-{}",
            std::process::id(),
            &random_hex()[..8]
        ));
        match fs::create_dir(&dir) {
            Ok(()) => {
                let setup = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                    .and_then(|()| chown(&dir, run_as));
                return match setup {
                    Ok(()) => Ok(dir),
                    Err(e) => {
                        let _ = fs::remove_dir_all(&dir);
                        Err(format!("preparing {}: {e}", dir.display()))
                    }
                };
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < 10 => tries += 1,
            Err(e) => return Err(format!("creating a directory in {}: {e}", base.display())),
        }
    }
}

fn chown(path: &Path, run_as: Option<(u32, u32)>) -> std::io::Result<()> {
    match run_as {
        Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid)),
        None => Ok(()),
    }
}

/// A free loopback port, as far as the OS knows right now.
fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("finding a free loopback port: {e}"))
}

/// 32 random hex digits (std's randomly keyed hasher, plus time and pid).
fn random_hex() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut out = String::with_capacity(32);
    for round in 0..2_u8 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        hasher.write_u8(round);
        let _ = write!(out, "{:016x}", hasher.finish());
    }
    out
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

fn log_since(path: &Path, offset: u64) -> String {
    let mut text = Vec::new();
    if let Ok(mut file) = File::open(path) {
        if file.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = file.read_to_end(&mut text);
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port another process took while the server was down is reported as such, which is what
    /// makes the first start move on to another port.
    #[test]
    fn a_taken_port_is_recognised() {
        let pg = match TestPostgres::launch() {
            Ok(pg) => pg,
            Err(reason) => return eprintln!("skipped: {reason}"),
        };
        pg.stop();
        let squatter = TcpListener::bind((Ipv4Addr::LOCALHOST, pg.port())).unwrap();
        match start_server(&pg.bin, pg.run_as, &pg.dir, pg.port, &pg.password) {
            Err(StartError::PortTaken(message)) => {
                assert!(message.contains("Address already in use"), "{message}");
            }
            Err(StartError::Failed(message)) => panic!("not recognised as a taken port: {message}"),
            Ok(_) => panic!("started on a taken port"),
        }
        drop(squatter);
        pg.start();
    }

    #[test]
    fn urls_escape_what_they_must() {
        assert_eq!(percent_encode("a-Z_0.~"), "a-Z_0.~");
        assert_eq!(
            percent_encode("p@ss/w:rd?#% é"),
            "p%40ss%2Fw%3Ard%3F%23%25%20%C3%A9"
        );
    }
}
