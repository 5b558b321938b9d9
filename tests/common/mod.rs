//! Test harness: starts the real `meridian` binary on a free port in a temp dir and gives
//! tests RESP (redis crate), raw TCP and HTTP clients, plus deadline-based polling.
#![allow(dead_code)]

mod replies;
#[allow(unused_imports)]
pub use replies::*;

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

    /// Sends `n` pipelined write requests (`reqs`, RESP bytes) in one write and checks that
    /// every one answers `+OK`.
    #[allow(dead_code)]
    pub fn pipeline_ok(&self, reqs: &[u8], n: usize) {
        let mut conn = self.connect();
        conn.write_all(reqs).unwrap();
        let want = b"+OK\r\n".len() * n;
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        conn.set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        while got.len() < want {
            let k = conn.read(&mut buf).expect("load replies");
            assert!(k > 0, "closed while loading");
            got.extend_from_slice(&buf[..k]);
        }
        assert_eq!(got, b"+OK\r\n".repeat(n));
    }

    /// SETs `n` points into key `big`, ids `p00000…` (id order = number order), point `i` at
    /// `pos(i)` (latitude and longitude as text) with a `speed` field of `i % 7`, in one
    /// pipelined write.
    #[allow(dead_code)]
    pub fn load_speed_points(&self, n: usize, pos: impl Fn(usize) -> (String, String)) {
        let reqs = (0..n).map(|i| {
            let (id, (la, lo), speed) = (format!("p{i:05}"), pos(i), (i % 7).to_string());
            resp_encode(&[
                "SET", "big", &id, "FIELD", "speed", &speed, "POINT", &la, &lo,
            ])
        });
        self.pipeline_ok(&reqs.collect::<Vec<_>>().concat(), n);
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

// ---------------------------------------------------------------------------------------------
// Durability / bad-input helpers (tests/aof.rs, tests/bad_input.rs, tests/crash.rs).
// ---------------------------------------------------------------------------------------------

impl TestServer {
    /// Like [`TestServer::spawn`], with extra environment variables for the server process.
    pub fn spawn_env(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> TestServer {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_meridian"));
        cmd.args(["-p", "0", "-d"])
            .arg(dir)
            .args(args)
            .env("RUST_LOG", "info")
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn meridian");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let pipes: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for pipe in pipes {
            let log = log.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        if let Ok(port) = rest.trim().rsplit(':').next().unwrap().parse::<u16>() {
                            let _ = tx.send(port);
                        }
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
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

    /// Spawns in `dir` and waits until the data set is loaded. (PING answers PONG while the
    /// AOF is still loading, as in Tile38, so `start_in` alone may return during LOADING.)
    pub fn start_loaded(dir: &Path, args: &[&str]) -> TestServer {
        let mut s = TestServer::spawn(dir, args);
        s.wait_loaded();
        s
    }

    /// A fresh temp dir (kept alive by the server) with extra flags, waiting for the load.
    pub fn start_loaded_tmp(args: &[&str]) -> TestServer {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = TestServer::start_loaded(&dir, args);
        s._tmp = Some(tmp);
        s
    }

    /// Waits until a data command no longer answers `LOADING` (panics with the log if the
    /// process exits instead).
    pub fn wait_loaded(&mut self) {
        wait_until(Duration::from_secs(60), "AOF loaded", || {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                std::thread::sleep(Duration::from_millis(100)); // let the log readers drain
                panic!(
                    "server exited ({status}) while loading:\n{}",
                    self.log_text()
                );
            }
            let mut c = RespClient::try_connect(self.port).ok()?;
            match c.cmd(&["SERVER"]).ok()? {
                Resp::Error(e) if e.starts_with("LOADING") => None,
                Resp::Error(e) => panic!("SERVER failed: {e}"),
                _ => Some(()),
            }
        });
    }

    /// A new RESP connection with the hand-rolled client below.
    pub fn client(&self) -> RespClient {
        RespClient::try_connect(self.port).expect("connect")
    }

    /// The server process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// DIGEST as name -> value text (`digest`, `num_objects`, `repl_id`, `repl_offset`, ...).
    pub fn digest(&self) -> std::collections::BTreeMap<String, String> {
        digest_of(&mut self.client())
    }
}

/// DIGEST on `c` as name -> value text.
pub fn digest_of(c: &mut RespClient) -> std::collections::BTreeMap<String, String> {
    let reply = c.cmd(&["DIGEST"]).expect("DIGEST");
    let Resp::Array(items) = reply else {
        panic!("DIGEST answered {reply:?}");
    };
    items
        .chunks(2)
        .map(|kv| (kv[0].text(), kv[1].text()))
        .collect()
}

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Resp>),
    NilArray,
}

impl Resp {
    /// The reply's text: simple/error/bulk text, an integer's digits, or `""` otherwise.
    pub fn text(&self) -> String {
        match self {
            Resp::Simple(s) | Resp::Error(s) => s.clone(),
            Resp::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            Resp::Int(n) => n.to_string(),
            _ => String::new(),
        }
    }

    /// The integer of an `Int` reply (panics otherwise).
    pub fn int(&self) -> i64 {
        match self {
            Resp::Int(n) => *n,
            other => panic!("expected an integer, got {other:?}"),
        }
    }

    /// A bulk string reply's text.
    pub fn bulk(s: &str) -> Resp {
        Resp::Bulk(s.as_bytes().to_vec())
    }
}

/// Encodes one command as a RESP array of bulk strings.
pub fn resp_encode<S: AsRef<[u8]>>(args: &[S]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A minimal synchronous RESP2 client that tells I/O failures (`Err`) from error replies
/// (`Ok(Resp::Error)`), which crash tests need to know whether a write was acknowledged.
pub struct RespClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RespClient {
    /// Connects to 127.0.0.1:`port` with a 10 s read timeout.
    pub fn try_connect(port: u16) -> std::io::Result<RespClient> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.set_nodelay(true)?;
        Ok(RespClient {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        })
    }

    /// Sends one command and reads its reply.
    pub fn cmd<S: AsRef<[u8]>>(&mut self, args: &[S]) -> std::io::Result<Resp> {
        self.writer.write_all(&resp_encode(args))?;
        self.read()
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// The underlying stream (for timeouts).
    pub fn stream(&self) -> &TcpStream {
        &self.writer
    }

    /// Reads one reply.
    pub fn read(&mut self) -> std::io::Result<Resp> {
        let line = self.line()?;
        let (kind, rest) = line.split_at(1);
        let bad = || {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("bad reply line {line:?}"),
            )
        };
        let num = || rest.parse::<i64>().map_err(|_| bad());
        Ok(match kind {
            "+" => Resp::Simple(rest.to_string()),
            "-" => Resp::Error(rest.to_string()),
            ":" => Resp::Int(num()?),
            "$" => {
                let n = num()?;
                if n < 0 {
                    return Ok(Resp::Nil);
                }
                let mut buf = vec![0u8; n as usize + 2];
                self.reader.read_exact(&mut buf)?;
                if !buf.ends_with(b"\r\n") {
                    return Err(bad());
                }
                buf.truncate(n as usize);
                Resp::Bulk(buf)
            }
            "*" => {
                let n = num()?;
                if n < 0 {
                    return Ok(Resp::NilArray);
                }
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(self.read()?);
                }
                Resp::Array(items)
            }
            _ => return Err(bad()),
        })
    }

    fn line(&mut self) -> std::io::Result<String> {
        let mut buf = Vec::new();
        self.reader.read_until(b'\n', &mut buf)?;
        if buf.is_empty() {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if !buf.ends_with(b"\r\n") || buf.len() < 3 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("bad reply line {:?}", String::from_utf8_lossy(&buf)),
            ));
        }
        buf.truncate(buf.len() - 2);
        String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }
}

/// Reads from `s` until the peer closes it or `timeout` passes. Returns the bytes and whether
/// the peer closed the connection.
pub fn read_until_close(s: &mut TcpStream, timeout: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (out, false);
        }
        s.set_read_timeout(Some(left.min(Duration::from_millis(100))))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(_) => {}
        }
    }
}

/// Files in `dir` whose names start with `prefix`, sorted.
pub fn files_with_prefix(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// Exact-reply helpers (tests/keys.rs, tests/json_output.rs, tests/http.rs, tests/resp3.rs).
// ---------------------------------------------------------------------------------------------

/// Removes the volatile `,"elapsed":"<Go duration>"` member from a Tile38 JSON reply, after
/// checking that the duration looks like Go's (`561ns`, `27µs`, `1.2ms`, `1.5s`).
pub fn strip_elapsed(s: &str) -> String {
    const TAG: &str = ",\"elapsed\":\"";
    let Some(start) = s.rfind(TAG) else {
        return s.to_string();
    };
    let value_at = start + TAG.len();
    let len = s[value_at..]
        .find('"')
        .unwrap_or_else(|| panic!("unterminated elapsed in {s:?}"));
    let value = &s[value_at..value_at + len];
    let number = value.trim_end_matches(|c: char| c.is_alphabetic() || c == 'µ');
    let unit = &value[number.len()..];
    assert!(
        ["ns", "µs", "ms", "s"].contains(&unit)
            && !number.is_empty()
            && number.parse::<f64>().is_ok(),
        "elapsed {value:?} is not a Go duration in {s:?}"
    );
    format!("{}{}", &s[..start], &s[value_at + len + 1..])
}

/// The length of the first complete RESP2/RESP3 value in `buf`, or None while it is incomplete.
pub fn resp_frame_len(buf: &[u8]) -> Option<usize> {
    fn value(buf: &[u8], at: usize) -> Option<usize> {
        let kind = *buf.get(at)?;
        let end = at + buf[at..].windows(2).position(|w| w == b"\r\n")? + 2;
        let header = std::str::from_utf8(&buf[at + 1..end - 2]).ok()?;
        match kind {
            b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => Some(end),
            b'$' | b'=' | b'!' => {
                let n: i64 = header.parse().ok()?;
                if n < 0 {
                    return Some(end);
                }
                let stop = end + n as usize + 2;
                (buf.len() >= stop).then_some(stop)
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n: i64 = header.parse().ok()?;
                if n < 0 {
                    return Some(end);
                }
                let count = if matches!(kind, b'%' | b'|') {
                    n * 2
                } else {
                    n
                };
                let mut pos = end;
                for _ in 0..count {
                    pos = value(buf, pos)?;
                }
                if kind == b'|' {
                    value(buf, pos)
                } else {
                    Some(pos)
                }
            }
            _ => panic!("not a RESP reply: {:?}", String::from_utf8_lossy(buf)),
        }
    }
    value(buf, 0)
}

/// The payload of a RESP bulk string reply (`$n\r\n<payload>\r\n`), checking that `n` counts
/// the payload's bytes.
pub fn unbulk(reply: &str) -> String {
    let rest = reply
        .strip_prefix('$')
        .unwrap_or_else(|| panic!("not a bulk string: {reply:?}"));
    let (len, payload) = rest
        .split_once("\r\n")
        .unwrap_or_else(|| panic!("not a bulk string: {reply:?}"));
    let payload = payload
        .strip_suffix("\r\n")
        .unwrap_or_else(|| panic!("bulk string without CRLF: {reply:?}"));
    assert_eq!(len.parse::<usize>().ok(), Some(payload.len()), "{reply:?}");
    payload.to_string()
}

/// A raw connection that returns each reply's exact bytes as text, reading exactly one RESP2 or
/// RESP3 value per command (no waiting for silence), so tests can compare whole replies.
pub struct WireConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl WireConn {
    /// Connects to 127.0.0.1:`port`.
    pub fn connect(port: u16) -> WireConn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_nodelay(true).unwrap();
        WireConn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Wraps an already connected stream.
    pub fn from_stream(stream: TcpStream) -> WireConn {
        WireConn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends one command as a RESP array and returns its reply.
    pub fn cmd(&mut self, args: &[&str]) -> String {
        self.stream.write_all(&resp_encode(args)).unwrap();
        self.reply()
    }

    /// Sends one inline (telnet) line and returns its reply.
    pub fn line(&mut self, line: &str) -> String {
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        self.reply()
    }

    /// On an `OUTPUT json` connection: the JSON payload of the reply to `args`, with the
    /// elapsed member stripped.
    pub fn json(&mut self, args: &[&str]) -> String {
        let reply = self.cmd(args);
        strip_elapsed(&unbulk(&reply))
    }

    /// Reads exactly one reply (10 s at most).
    pub fn reply(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut chunk = [0u8; 65536];
        loop {
            if !self.buf.is_empty() {
                if let Some(n) = resp_frame_len(&self.buf) {
                    let frame: Vec<u8> = self.buf.drain(..n).collect();
                    return String::from_utf8(frame).expect("UTF-8 reply");
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no complete reply; got {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.stream.set_read_timeout(Some(left)).unwrap();
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!(
                    "connection closed; got {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("read: {e}; got {:?}", String::from_utf8_lossy(&self.buf)),
            }
        }
    }

    /// A number from INFO stats.
    #[allow(dead_code)]
    pub fn info_stat(&mut self, name: &str) -> u64 {
        let text = self.cmd(&["INFO", "stats"]);
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("INFO stats has no {name}: {text}"))
            .trim()
            .parse()
            .unwrap()
    }

    /// True when the server closes the connection (EOF) within 5 s with nothing more sent.
    pub fn closed_by_server(&mut self) -> bool {
        let (rest, closed) = read_until_close(&mut self.stream, Duration::from_secs(5));
        assert!(rest.is_empty() && self.buf.is_empty(), "unexpected bytes");
        closed
    }
}

/// The reply of an HTTP request: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl TestServer {
    /// A [`WireConn`] to this server.
    pub fn wire(&self) -> WireConn {
        WireConn::connect(self.port)
    }

    /// A [`WireConn`] switched to `OUTPUT json`.
    pub fn wire_json(&self) -> WireConn {
        let mut c = self.wire();
        let ok = c.json(&["OUTPUT", "json"]);
        assert_eq!(ok, "{\"ok\":true}");
        c
    }

    /// An HTTP request with extra headers: GET when `body` is None, POST to `path` otherwise.
    pub fn http_with(&self, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> HttpReply {
        let url = format!("http://127.0.0.1:{}{}", self.port, path);
        let result = match body {
            None => {
                let mut req = agent().get(&url);
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                req.call()
            }
            Some(b) => {
                let mut req = agent().post(&url);
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                req.send(b)
            }
        };
        let mut resp = result.expect("http request");
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = resp.body_mut().read_to_string().unwrap();
        HttpReply {
            status,
            headers,
            body,
        }
    }
}

/// A RESP bulk string: `$<len>\r\n<s>\r\n`.
pub fn wire_bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// A RESP array of already-encoded items: `*<n>\r\n<items...>`.
pub fn wire_array(items: &[String]) -> String {
    format!("*{}\r\n{}", items.len(), items.concat())
}

/// The RESP reply of an IDS search that walked everything: cursor 0 and the ids in order.
#[allow(dead_code)]
pub fn wire_ids(list: &[&str]) -> String {
    let items: Vec<String> = list.iter().map(|id| wire_bulk(id)).collect();
    format!("*2\r\n:0\r\n{}", wire_array(&items))
}

impl TestServer {
    /// A server in a fresh temp dir started with `--requirepass <password>`, waiting until an
    /// authenticated PING answers PONG.
    pub fn start_with_password(password: &str) -> TestServer {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = TestServer::spawn(tmp.path(), &["--requirepass", password]);
        s._tmp = Some(tmp);
        let mut hello = resp_encode(&["AUTH", password]);
        hello.extend_from_slice(b"PING\r\n");
        wait_until(Duration::from_secs(60), "server ready (after AUTH)", || {
            let reply = s.try_raw(&hello)?;
            reply.ends_with("+PONG\r\n").then_some(())
        });
        s
    }
}
