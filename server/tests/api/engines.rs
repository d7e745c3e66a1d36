//! Real database and Redis servers for tests, one per test, on Unix sockets in a
//! temporary folder (no TCP port to pick or collide on), stopped when dropped.
//!
//! PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres`
//! user and the server runs as it. Its binaries come from the machine
//! (`/usr/lib/postgresql/<version>/bin`); Redis is Debian's `redis-server`. The test
//! command installs both.

use std::{
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A temporary folder, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits until `ready` holds, failing the test after `limit`.
fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops a server process: `signal`, then SIGKILL if it lingers.
fn stop(child: &mut Child, signal: i32) {
    // SAFETY: kill(2) on our own child's pid has no memory effects.
    unsafe { libc_kill(child.id() as i32, signal) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
    fn geteuid() -> u32;
}

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

/// A Redis server of this test.
pub struct Redis {
    child: Option<Child>,
    dir: TempDir,
}

impl Redis {
    pub fn start() -> Self {
        let dir = TempDir::new("toolstream-redis");
        let mut redis = Self { child: None, dir };
        redis.resume();
        redis
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    /// The URL clients use.
    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    /// Stops the server (its data goes: it keeps none).
    pub fn pause(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child, SIGTERM);
        }
        let _ = std::fs::remove_file(self.socket());
    }

    /// Starts it (again), on the same socket.
    pub fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--save",
                "",
                "--appendonly",
                "no",
                "--unixsocketperm",
                "700",
            ])
            .arg("--unixsocket")
            .arg(self.socket())
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect(
                "redis-server runs (the test command installs it: apt-get install redis-server)",
            );
        self.child = Some(child);
        let socket = self.socket();
        wait_until("redis-server", Duration::from_secs(10), || socket.exists());
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.pause();
    }
}

/// The PostgreSQL server binaries of this machine.
fn postgres_bin(name: &str) -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("PostgreSQL server binaries in /usr/lib/postgresql (apt-get install postgresql)")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    versions.sort();
    versions
        .last()
        .expect("a PostgreSQL version in /usr/lib/postgresql")
        .join("bin")
        .join(name)
}

/// The uid and gid of `postgres` when running as root (PostgreSQL refuses root).
fn postgres_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid(2) cannot fail and has no side effects.
    if unsafe { geteuid() } != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"postgres"))
            .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
            .flatten()
    })
}

/// A throwaway PostgreSQL cluster of this test, reached on a Unix socket.
pub struct Postgres {
    child: Option<Child>,
    dir: TempDir,
    user: Option<(u32, u32)>,
}

impl Postgres {
    pub fn start() -> Self {
        let dir = TempDir::new("toolstream-pg");
        let user = postgres_user();
        // The cluster's folder must belong to the user the server runs as.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let data = dir.path().join("data");
        let mut initdb = Command::new(postgres_bin("initdb"));
        initdb
            .args(["-A", "trust", "-U", "toolstream", "--no-sync", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((uid, gid)) = user {
            initdb.uid(uid).gid(gid);
        }
        let status = initdb.status().expect("initdb runs");
        assert!(status.success(), "initdb failed");
        let mut postgres = Self {
            child: None,
            dir,
            user,
        };
        postgres.resume();
        postgres
    }

    /// The URL of the `postgres` database (each test uses its own cluster).
    pub fn url(&self) -> String {
        format!(
            "postgres://toolstream@localhost/postgres?host={}",
            self.dir.path().display()
        )
    }

    /// Stops the server; its data stays.
    pub fn pause(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child, SIGINT); // fast shutdown
        }
    }

    /// Starts it (again), on the same socket and data.
    pub fn resume(&mut self) {
        let mut server = Command::new(postgres_bin("postgres"));
        server
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-k")
            .arg(self.dir.path())
            .args([
                "-c",
                "listen_addresses=",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((uid, gid)) = self.user {
            server.uid(uid).gid(gid);
        }
        self.child = Some(server.spawn().expect("postgres runs"));
        let dir = self.dir.path().to_owned();
        wait_until("postgres", Duration::from_secs(20), || {
            Command::new(postgres_bin("pg_isready"))
                .arg("-h")
                .arg(&dir)
                .arg("-q")
                .status()
                .is_ok_and(|status| status.success())
        });
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.pause();
    }
}
