//! Helpers for tests that drive the real `wsat` binary over its transports.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long an expectation waits for its bytes.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A running wsat process.
pub struct Wsat {
    pub child: Child,
    /// What it printed about where its AT port is.
    pub banner: String,
}

impl Wsat {
    /// Starts wsat with `args` and waits for its "AT port" banner line.
    pub fn start(args: &[&str]) -> Wsat {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wsat"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wsat starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut found = false;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // Other notes (a generated PKI) may come first.
                if !found && line.contains("AT port") {
                    let _ = tx.send(line.clone());
                    found = true;
                }
                eprintln!("[wsat] {line}");
            }
        });
        let banner = rx.recv_timeout(PATIENCE).expect("wsat prints where its AT port is");
        Wsat { child, banner }
    }

    /// The TCP address from a `--tcp` banner.
    pub fn tcp_addr(&self) -> String {
        self.banner.rsplit("tcp://").next().expect("tcp banner").trim().to_string()
    }

    /// Stops the process with SIGTERM, which it must obey within 5 s (a
    /// wedged event loop fails the test instead of hanging it; the drop
    /// kills it then).
    pub fn stop(mut self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), nix::sys::signal::Signal::SIGTERM);
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if self.child.try_wait().expect("wait for wsat").is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("wsat did not stop within 5 s of SIGTERM");
    }

    /// Sends a signal.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig).expect("signal delivered");
    }
}

impl Drop for Wsat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A host's end of the AT port: bytes out, bytes in with a deadline.
pub struct HostEnd {
    writer: Box<dyn Write + Send>,
    rx: mpsc::Receiver<Vec<u8>>,
    pub buf: Vec<u8>,
    /// For TCP: closes the connection for real on drop (the reader thread
    /// holds a clone of the socket).
    tcp: Option<TcpStream>,
}

impl Drop for HostEnd {
    fn drop(&mut self) {
        if let Some(s) = &self.tcp {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl HostEnd {
    /// Wraps a reader and writer; reading happens on a thread.
    pub fn new(mut reader: Box<dyn Read + Send>, writer: Box<dyn Write + Send>) -> HostEnd {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut b = vec![0u8; 65536];
            loop {
                match reader.read(&mut b) {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx.send(b[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
        });
        HostEnd { writer, rx, buf: Vec::new(), tcp: None }
    }

    /// Connects to a `--tcp` port.
    pub fn tcp(addr: &str) -> HostEnd {
        let s = TcpStream::connect(addr).expect("connect to the AT port");
        s.set_nodelay(true).expect("nodelay");
        let mut h = HostEnd::new(Box::new(s.try_clone().expect("clone")), Box::new(s.try_clone().expect("clone")));
        h.tcp = Some(s);
        h
    }

    /// Opens a terminal device (the `--pty` link).
    pub fn tty(path: &Path) -> HostEnd {
        let f = std::fs::OpenOptions::new().read(true).write(true).open(path).expect("open the pty");
        HostEnd::new(Box::new(f.try_clone().expect("clone")), Box::new(f))
    }

    /// A second writer on a TCP host end (to write from another thread).
    pub fn writer_clone(&self) -> TcpStream {
        self.tcp.as_ref().expect("a TCP host end").try_clone().expect("clone")
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to the AT port");
        self.writer.flush().expect("flush");
    }

    /// Waits until at least `n` bytes are buffered (or the deadline).
    pub fn fill(&mut self, n: usize, patience: Duration) {
        let end = Instant::now() + patience;
        while self.buf.len() < n {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(b) => self.buf.extend(b),
                Err(_) => break,
            }
        }
    }

    /// Sends `cmd` and its CR LF, then takes exactly `reply`.
    pub fn at(&mut self, cmd: &str, reply: impl AsRef<[u8]>) {
        self.at_as(cmd, reply, cmd);
    }

    /// [`HostEnd::at`], with `context` naming the step if it fails.
    pub fn at_as(&mut self, cmd: &str, reply: impl AsRef<[u8]>, context: &str) {
        self.send(format!("{cmd}\r\n").as_bytes());
        self.expect(reply.as_ref(), context);
    }

    /// Takes exactly the next `want.len()` bytes, failing with both sides
    /// shown if they differ.
    pub fn expect(&mut self, want: &[u8], context: &str) {
        self.fill(want.len(), PATIENCE);
        let n = want.len().min(self.buf.len());
        let got: Vec<u8> = self.buf.drain(..n).collect();
        assert_eq!(escape(&got), escape(want), "{context}");
    }

    /// Reads until `needle` appears; returns everything up to and including it.
    pub fn until(&mut self, needle: &[u8]) -> Vec<u8> {
        let end = Instant::now() + PATIENCE;
        loop {
            if let Some(i) = self.buf.windows(needle.len()).position(|w| w == needle) {
                return self.buf.drain(..i + needle.len()).collect();
            }
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(b) => self.buf.extend(b),
                Err(_) => panic!("no {:?} within {PATIENCE:?}; got {}", escape(needle), escape(&self.buf)),
            }
        }
    }

    /// Collects whatever arrives within `d`.
    pub fn quiet_for(&mut self, d: Duration) -> Vec<u8> {
        let end = Instant::now() + d;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(b) => self.buf.extend(b),
                Err(_) => break,
            }
        }
        std::mem::take(&mut self.buf)
    }
}

#[path = "../../../../tests/transcript_format.rs"]
pub mod transcript_format;
pub mod at_stream;
pub mod replay;
pub mod ws_server;

/// Bytes in transcript notation.
pub use transcript_format::escape;

/// A fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// `dir/name` as a string argument.
pub fn arg(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

/// The path of a file under the workspace's `tests/` directory.
pub fn workspace_tests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests")
}

/// The Python interpreter of the test venv (`.venv`, with
/// `tests/python/requirements.txt`), created on first use if
/// `scripts/test` has not made it already. `WSAT_PYTHON` overrides.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("WSAT_PYTHON") {
        return PathBuf::from(p);
    }
    static VENV: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    VENV.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let venv = root.join(".venv");
        let py = venv.join("bin/python");
        let reqs = root.join("tests/python/requirements.txt");
        let ready = venv.join(".wsat-requirements");
        let want = std::fs::read(&reqs).expect("tests/python/requirements.txt");
        if std::fs::read(&ready).ok().as_deref() != Some(&want[..]) {
            let ok = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().is_ok_and(|s| s.success())
                && Command::new(&py)
                    .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
                    .arg(&reqs)
                    .status()
                    .is_ok_and(|s| s.success());
            assert!(ok, "cannot set up the test venv at {} (python3 -m venv, pip install)", venv.display());
            std::fs::write(&ready, &want).expect("mark the venv ready");
        }
        py
    })
    .clone()
}

/// A child process that is killed when dropped.
pub struct Server {
    pub child: Child,
    /// The first line it printed.
    pub banner: String,
}

impl Server {
    /// Starts `tests/python/<script>` with `args`; waits for its first line.
    pub fn python(script: &str, args: &[&str]) -> Server {
        let mut child = Command::new(python())
            .arg(workspace_tests().join("python").join(script))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the Python server");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("server banner");
        Server { child, banner: line.trim().to_string() }
    }

    /// The port at the end of a `...://host:port` banner.
    pub fn port(&self) -> u16 {
        self.banner.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port in banner")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback TCP echo server for every connection; returns its port.
pub fn tcp_echo_server() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = l.local_addr().expect("local addr").port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut b = vec![0u8; 65536];
                while let Ok(n) = s.read(&mut b) {
                    if n == 0 || s.write_all(&b[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// ESP-AT's default PKI (`shared/pki/esp-at-default`), beside the checkout.
pub fn esp_at_pki() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pki/esp-at-default");
    assert!(p.is_dir(), "the shared PKI is missing at {} (CI has shared/ beside the checkout)", p.display());
    p
}

/// A TLS echo server with ESP-AT's default server certificate, checking
/// client certificates against its `server_ca`.
pub fn tls_echo_server() -> Server {
    let pki = esp_at_pki();
    let f = |p: &str| pki.join(p).to_string_lossy().into_owned();
    Server::python(
        "tls-echo-server.py",
        &["127.0.0.1", "0", &f("server_cert/server_cert.crt"), &f("server_key/server.key"), &f("server_ca/server_ca.crt")],
    )
}

/// wsat on TCP with a fresh state, booted, echo on; and its host end.
pub fn wsat_tcp(dir: &Path, extra: &[&str]) -> (Wsat, HostEnd) {
    let state = arg(dir, "state");
    let mut args = vec!["--tcp", "127.0.0.1:0", "--state", &state];
    args.extend_from_slice(extra);
    let w = Wsat::start(&args);
    let mut h = HostEnd::tcp(&w.tcp_addr());
    h.expect(b"ready\r\n", "boot");
    (w, h)
}

/// Station mode and an AP, as the seed's first two steps.
pub fn join_wifi(h: &mut HostEnd) {
    h.send(b"AT+CWMODE=1\r\n");
    h.expect(b"AT+CWMODE=1\r\n\r\nOK\r\n", "CWMODE");
    h.send(b"AT+CWJAP=\"espressif\",\"1234567890\"\r\n");
    h.expect(b"AT+CWJAP=\"espressif\",\"1234567890\"\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n", "CWJAP");
}

/// `ATE0`, so expectations need not repeat every command.
pub fn echo_off(h: &mut HostEnd) {
    h.send(b"ATE0\r\n");
    h.expect(b"ATE0\r\n\r\nOK\r\n", "ATE0");
}

/// The module clock, from AT+SYSTIMESTAMP? (echo off).
pub fn systimestamp(h: &mut HostEnd) -> u64 {
    h.send(b"AT+SYSTIMESTAMP?\r\n");
    let t = h.until(b"\r\nOK\r\n");
    String::from_utf8_lossy(&t)
        .trim_start_matches("+SYSTIMESTAMP:")
        .trim_end_matches("\r\nOK\r\n")
        .parse()
        .unwrap_or_else(|_| panic!("a timestamp: {}", escape(&t)))
}

/// wsat on TCP with ESP-AT's default PKI imported (and `extra`), joined,
/// echo off and its clock set: ready for TLS with certificate checks.
pub fn wsat_tls_ready(dir: &Path, extra: &[&str]) -> (Wsat, HostEnd) {
    let pki = esp_at_pki().to_string_lossy().into_owned();
    let mut args = vec!["--pki", pki.as_str()];
    args.extend_from_slice(extra);
    let (w, mut h) = wsat_tcp(dir, &args);
    join_wifi(&mut h);
    echo_off(&mut h);
    // The module's clock must be set before it can check validity dates.
    h.at("AT+CIPSNTPCFG=1,8,\"cn.ntp.org.cn\"", "\r\nOK\r\n");
    h.expect(b"+TIME_UPDATED\r\n", "clock");
    (w, h)
}

/// One request on a control socket (`--control`); the answer.
pub fn ctl(path: &Path, verb: &str, args: &[&str]) -> serde_json::Value {
    let mut s = std::os::unix::net::UnixStream::connect(path).expect("the control socket");
    s.write_all(format!("{}\n", serde_json::json!({"verb": verb, "args": args})).as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// [`ctl`], which must succeed.
pub fn ctl_ok(path: &Path, verb: &str, args: &[&str]) -> serde_json::Value {
    let v = ctl(path, verb, args);
    assert_eq!(v["ok"], serde_json::json!(true), "{verb} {args:?}: {v}");
    v
}
