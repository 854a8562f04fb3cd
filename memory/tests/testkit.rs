//! Tests of the PostgreSQL testkit itself.

#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use argus_memory::testkit::TestPostgres;
use sqlx::{Connection, Executor, PgConnection, Row};

async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url).await.unwrap()
}

/// Creates a table, writes `value` into it and reads it back.
async fn round_trip(url: &str, value: &str) {
    let mut conn = connect(url).await;
    // `Executor` methods on the connection, rather than `query(..).execute(&mut conn)`: the latter
    // makes the future unusable with `tokio::spawn` ("implementation of `Executor` is not general
    // enough").
    conn.execute("CREATE TABLE notes (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)")
        .await
        .unwrap();
    conn.execute(sqlx::query("INSERT INTO notes (body) VALUES ($1)").bind(value))
        .await
        .unwrap();
    let rows = conn.fetch_all("SELECT body FROM notes").await.unwrap();
    let bodies: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
    assert_eq!(bodies, [value]);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn fresh_databases_are_distinct_and_usable() {
    let Some(pg) = TestPostgres::shared() else {
        return;
    };
    let (a, b) = (pg.fresh_database().await, pg.fresh_database().await);
    assert_ne!(a, b);
    assert!(
        a.starts_with(&format!(
            "postgres://argus:{}@127.0.0.1:{}/argus_test_",
            pg.password(),
            pg.port()
        )),
        "{a}"
    );

    round_trip(&a, "in a").await;
    // The table of `a` is not in `b`; `b` gets its own.
    let mut conn_b = connect(&b).await;
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            .fetch_one(&mut conn_b)
            .await
            .unwrap();
    assert_eq!(tables, 0);
    let db: String = sqlx::query("SELECT current_database()")
        .fetch_one(&mut conn_b)
        .await
        .unwrap()
        .get(0);
    assert!(b.ends_with(&format!("/{db}")), "{b} vs {db}");
    round_trip(&b, "in b").await;
}

fn sqlstate(err: &sqlx::Error) -> Option<String> {
    Some(err.as_database_error()?.code()?.into_owned())
}

#[tokio::test]
async fn wrong_password_and_wrong_database_are_refused() {
    let Some(pg) = TestPostgres::shared() else {
        return;
    };
    let url = pg.fresh_database().await;
    let db = url.rsplit('/').next().unwrap();

    let err = PgConnection::connect(&pg.url_with_password(db, "not-the-password"))
        .await
        .unwrap_err();
    assert_eq!(
        sqlstate(&err).as_deref(),
        Some("28P01"),
        "expected invalid_password, got {err}"
    );

    let err = PgConnection::connect(&pg.url("no_such_database"))
        .await
        .unwrap_err();
    assert_eq!(
        sqlstate(&err).as_deref(),
        Some("3D000"),
        "expected invalid_catalog_name, got {err}"
    );

    // Characters that need escaping in a URL are escaped.
    let err = PgConnection::connect(&pg.url_with_password(db, "p@ss/w:rd?#%"))
        .await
        .unwrap_err();
    assert!(
        err.as_database_error().is_some(),
        "expected an auth error, got {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_fresh_databases() {
    let Some(pg) = TestPostgres::shared() else {
        return;
    };
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            tokio::spawn(async move {
                let url = pg.fresh_database().await;
                round_trip(&url, &format!("task {i}")).await;
                url
            })
        })
        .collect();
    let mut urls = HashSet::new();
    for task in tasks {
        assert!(urls.insert(task.await.unwrap()));
    }
    assert_eq!(urls.len(), 8);
}

/// Each `#[tokio::test]` has its own runtime; the shared server outlives them all.
#[test]
fn works_from_several_runtimes() {
    let Some(pg) = TestPostgres::shared() else {
        return;
    };
    for i in 0..3 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let url = pg.fresh_database().await;
            round_trip(&url, &format!("runtime {i}")).await;
        });
    }
}

#[tokio::test]
async fn private_server_stops_restarts_and_cleans_up() {
    let pg = match TestPostgres::launch() {
        Ok(pg) => pg,
        Err(reason) => {
            assert!(
                std::env::var_os("CI").is_none()
                    && std::env::var_os("ARGUS_REQUIRE_POSTGRES").is_none(),
                "{reason}"
            );
            eprintln!("skipped: {reason}");
            return;
        }
    };
    if let Some(shared) = TestPostgres::shared() {
        assert_ne!(shared.port(), pg.port());
        assert_ne!(shared.dir(), pg.dir());
    }
    let url = pg.fresh_database().await;
    round_trip(&url, "before").await;

    pg.stop();
    assert!(!pg.dir().join("data/postmaster.pid").exists());
    let err = PgConnection::connect(&url).await.unwrap_err();
    assert!(
        matches!(err, sqlx::Error::Io(_)),
        "expected connection refused, got {err}"
    );
    pg.stop(); // already stopped: nothing happens

    pg.start();
    pg.start(); // already running: nothing happens
    let mut conn = connect(&url).await;
    let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM notes")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(bodies, ["before"], "the data survived the restart");
    conn.close().await.unwrap();

    let (dir, port) = (pg.dir().to_path_buf(), pg.port());
    drop(pg);
    assert!(!dir.exists(), "{} still exists after drop", dir.display());
    assert!(TcpStream::connect_timeout(
        &SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_secs(1)
    )
    .is_err());
}

/// Not a test on its own: the body of the child processes of `cleaned_up_after_the_process_ends`.
#[test]
fn child_process_entry() {
    let Ok(mode) = std::env::var("PGKIT_CHILD") else {
        return;
    };
    let pg = TestPostgres::shared().unwrap();
    let pid = std::fs::read_to_string(pg.dir().join("data/postmaster.pid")).unwrap();
    println!(
        "READY {} {} {}",
        pg.port(),
        pid.lines().next().unwrap(),
        pg.dir().display()
    );
    if mode == "hang" {
        std::thread::sleep(Duration::from_secs(600));
    } else {
        // Exit when the parent closes our stdin.
        let _ = std::io::stdin().read_line(&mut String::new());
    }
}

struct ChildServer {
    process: Child,
    port: u16,
    pid: u32,
    dir: PathBuf,
}

fn spawn_child(mode: &str) -> ChildServer {
    let mut process = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PGKIT_CHILD", mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
    let line = lines
        .find_map(|l| {
            l.unwrap()
                .split_once("READY ")
                .map(|(_, rest)| rest.to_owned())
        })
        .expect("child printed READY");
    let mut fields = line.splitn(3, ' ');
    let port = fields.next().unwrap().parse().unwrap();
    let pid = fields.next().unwrap().parse().unwrap();
    let dir = PathBuf::from(fields.next().unwrap());
    // Keep draining the child's output so it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    ChildServer {
        process,
        port,
        pid,
        dir,
    }
}

impl Drop for ChildServer {
    /// Never leaves a child behind, also when an assertion fails.
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

fn assert_cleaned_up(child: &ChildServer) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let port_open = TcpStream::connect_timeout(
            &SocketAddrV4::new(Ipv4Addr::LOCALHOST, child.port).into(),
            Duration::from_millis(200),
        )
        .is_ok();
        let (dir, running) = (child.dir.exists(), alive(child.pid));
        if !dir && !running && !port_open {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after the test process ended: dir exists {dir}, postgres {} running {running}, port {} open {port_open}",
            child.pid,
            child.port
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn cleaned_up_after_the_process_ends() {
    if TestPostgres::shared().is_none() {
        return;
    }
    // Two test processes at once: separate servers.
    let mut exits = spawn_child("exit");
    let mut killed = spawn_child("hang");
    assert_ne!(exits.port, killed.port);
    assert_ne!(exits.dir, killed.dir);
    assert!(alive(exits.pid) && alive(killed.pid) && exits.dir.exists() && killed.dir.exists());

    drop(exits.process.stdin.take()); // lets it exit
    assert!(exits.process.wait().unwrap().success());
    assert_cleaned_up(&exits);

    assert!(
        alive(killed.pid),
        "the hanging child's server runs until the child dies"
    );
    killed.process.kill().unwrap(); // SIGKILL: no destructor, no atexit, nothing runs
    killed.process.wait().unwrap();
    assert_cleaned_up(&killed);
}
