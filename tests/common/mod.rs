//! Test harness: starts the real `meridian` binary on a free port in a temp dir and gives
//! tests RESP (redis crate), raw TCP and HTTP clients, plus deadline-based polling.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running server process.
pub struct TestServer {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// Polls `f` until it returns Some or `timeout` passes (then panics with `what`).
pub fn wait_until<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl TestServer {
    /// A server in a fresh temp dir.
    pub fn start() -> TestServer {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = TestServer::start_in(&dir, &[]);
        s._tmp = Some(tmp);
        s
    }

    /// A server in a fresh temp dir with extra flags.
    pub fn start_with(args: &[&str]) -> TestServer {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = TestServer::start_in(&dir, args);
        s._tmp = Some(tmp);
        s
    }

    /// Spawns the binary in `dir` and waits until it answers PING (not LOADING).
    pub fn start_in(dir: &Path, args: &[&str]) -> TestServer {
        let s = TestServer::spawn(dir, args);
        s.wait_ready();
        s
    }

    /// Spawns the binary and waits only until it listens (it may still be LOADING).
    pub fn spawn(dir: &Path, args: &[&str]) -> TestServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_meridian"))
            .args(["-p", "0", "-d"])
            .arg(dir)
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn meridian");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let port = rest
                        .trim()
                        .rsplit(':')
                        .next()
                        .unwrap()
                        .parse::<u16>()
                        .unwrap();
                    let _ = tx.send(port);
                }
                log2.lock().unwrap().push(line);
            }
        });
        let stderr = child.stderr.take().unwrap();
        let log3 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log3.lock().unwrap().push(line);
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("server did not start: {:?}", log.lock().unwrap()));
        TestServer {
            child: Some(child),
            port,
            dir: dir.to_path_buf(),
            _tmp: None,
            log,
        }
    }

    /// Waits until PING answers PONG.
    pub fn wait_ready(&self) {
        wait_until(Duration::from_secs(60), "server ready", || {
            let reply = self.try_raw(b"PING\r\n")?;
            reply.starts_with("+PONG").then_some(())
        });
    }

    /// A RESP connection through the redis crate.
    pub fn redis(&self) -> redis::Connection {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap();
        client.get_connection().unwrap()
    }

    /// Sends raw bytes on a new connection and returns what arrives until a short silence.
    pub fn raw(&self, bytes: &[u8]) -> String {
        self.try_raw(bytes).expect("raw exchange")
    }

    fn try_raw(&self, bytes: &[u8]) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.write_all(bytes).ok()?;
        Some(read_reply(&mut s))
    }

    /// A raw TCP connection.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// HTTP GET of `path`; returns (status, body).
    pub fn http_get(&self, path: &str) -> (u16, String) {
        let url = format!("http://127.0.0.1:{}{}", self.port, path);
        let mut resp = agent().get(&url).call().expect("http get");
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().unwrap())
    }

    /// HTTP POST of a command line; returns (status, body).
    pub fn http_post(&self, body: &str) -> (u16, String) {
        let url = format!("http://127.0.0.1:{}/", self.port);
        let mut resp = agent().post(&url).send(body).expect("http post");
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().unwrap())
    }

    /// The AOF path.
    pub fn aof_path(&self) -> PathBuf {
        self.dir.join("appendonly.aof")
    }

    /// SIGKILL: the process dies without any chance to flush.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM and wait; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = c.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the process to exit by itself (e.g. a refused startup); returns its code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = c.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything the server logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// Reads whatever arrives until the peer closes or 150 ms pass without data.
pub fn read_reply(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_millis(150)))
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) if !out.is_empty() => break,
            Err(_) if Instant::now() > deadline => break,
            Err(_) => continue,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends one RESP command on `s` and reads the reply until silence.
pub fn send(s: &mut TcpStream, args: &[&str]) -> String {
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out.push_str(&format!("${}\r\n{}\r\n", a.len(), a));
    }
    s.write_all(out.as_bytes()).unwrap();
    read_reply(s)
}

/// Runs a command through the redis crate and returns the raw value.
pub fn q(con: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query::<redis::Value>(con)
        .unwrap_or_else(|e| redis::Value::SimpleString(format!("ERR-CLIENT {e}")))
}

/// Runs a command and returns its error text (panics if it succeeded).
pub fn q_err(con: &mut redis::Connection, args: &[&str]) -> String {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    match c.query::<redis::Value>(con) {
        Ok(v) => panic!("expected an error from {args:?}, got {v:?}"),
        Err(e) => e.to_string(),
    }
}
