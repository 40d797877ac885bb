//! The control plane (`--control PATH`): a Unix socket (mode 0600, removed
//! on exit) that speaks JSON lines. A request is one line,
//! `{"verb": "link", "args": ["ip0", "reset"]}`; the answer is one line,
//! `{"ok": true, ...}` or `{"ok": false, "error": "..."}`. `watch` answers
//! `{"ok": true}` and then streams events, one JSON line each, until the
//! client leaves. `wsat ctl PATH <verb> [args]` is the command-line client.
//! docs/control.md lists every verb.
//!
//! Faults act at the edge (the transports, the resolver, the radio model,
//! the clock): the core only sees what a real module would.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::sync::{broadcast, mpsc, oneshot};
use wsat_core::net::SocketId;
use wsat_core::{Duration, Event, Instant, Module};

use crate::faults::LinkFaults;
use crate::sockets::Sockets;

/// A request for the event loop, with where its answer goes.
pub struct Request {
    /// The verb and its arguments.
    pub words: Vec<String>,
    /// The answer.
    pub reply: oneshot::Sender<Value>,
}

/// The listening control socket; removed when dropped.
pub struct ControlSocket {
    path: PathBuf,
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Opens the control socket at `path`: requests come out of the returned
/// receiver; `events` feeds `watch`.
pub fn listen(path: &Path, events: broadcast::Sender<String>) -> Result<(ControlSocket, mpsc::Receiver<Request>)> {
    if let Ok(m) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        anyhow::ensure!(m.file_type().is_socket(), "{} exists and is not a socket; not replacing it", path.display());
        // A socket a running wsat still answers on is not ours to take.
        anyhow::ensure!(
            std::os::unix::net::UnixStream::connect(path).is_err(),
            "{} is the control socket of a running wsat; not replacing it",
            path.display()
        );
        std::fs::remove_file(path)?;
    }
    // Only this user may drive the module: the socket is created 0600
    // (no moment at the umask's mode), and set so again in case.
    let old_mask = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    nix::sys::stat::umask(old_mask);
    let listener = bound.with_context(|| format!("cannot create the control socket {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors, say: the control plane waits, it
                    // does not end.
                    tracing::warn!(error = %e, "control socket: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let (tx, events) = (tx.clone(), events.clone());
            tokio::spawn(async move {
                let (rd, mut wr) = stream.into_split();
                // A request is one short line: a client that sends an
                // endless one is cut off, not buffered.
                let mut lines = tokio::io::BufReader::new(rd.take(MAX_REQUEST)).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let words = match parse_request(&line) {
                        Ok(w) => w,
                        Err(e) => {
                            let _ = wr.write_all(format!("{}\n", json!({"ok": false, "error": e})).as_bytes()).await;
                            continue;
                        }
                    };
                    if words.first().map(String::as_str) == Some("watch") {
                        let mut rx = events.subscribe();
                        if wr.write_all(b"{\"ok\":true}\n").await.is_err() {
                            return;
                        }
                        loop {
                            match rx.recv().await {
                                Ok(ev) => {
                                    if wr.write_all(format!("{ev}\n").as_bytes()).await.is_err() {
                                        return;
                                    }
                                }
                                Err(broadcast::error::RecvError::Lagged(n)) => {
                                    let _ = wr.write_all(format!("{}\n", json!({"event": "lost", "count": n})).as_bytes()).await;
                                }
                                Err(broadcast::error::RecvError::Closed) => return,
                            }
                        }
                    }
                    let (reply, answer) = oneshot::channel();
                    if tx.send(Request { words, reply }).await.is_err() {
                        return;
                    }
                    let v = answer.await.unwrap_or_else(|_| json!({"ok": false, "error": "wsat is stopping"}));
                    if wr.write_all(format!("{v}\n").as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok((ControlSocket { path: path.to_path_buf() }, rx))
}

/// 9999-12-31T23:59:59Z: the latest time `clock set` takes.
const MAX_UNIX_SECS: u64 = 253_402_300_799;

/// The most one control connection may send (requests are short lines).
const MAX_REQUEST: u64 = 1 << 20;

/// `{"verb": "...", "args": [...]}` (or `{"words": [...]}`) as words.
fn parse_request(line: &str) -> Result<Vec<String>, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let strings = |v: &Value| -> Result<Vec<String>, String> {
        v.as_array()
            .ok_or("args must be a list")?
            .iter()
            .map(|a| match a {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(String::from("args must be strings or numbers")),
            })
            .collect()
    };
    if let Some(w) = v.get("words") {
        return strings(w);
    }
    let verb = v.get("verb").and_then(Value::as_str).ok_or("a request needs \"verb\"")?;
    let mut words = vec![verb.to_string()];
    if let Some(a) = v.get("args") {
        words.extend(strings(a)?);
    }
    Ok(words)
}

/// Carries out a request on the module and the network's edge.
pub fn execute(words: &[String], module: &mut Module, sockets: &mut Sockets, paced: bool, now: Instant) -> Value {
    match run(words, module, sockets, paced, now) {
        Ok(Value::Null) => json!({"ok": true}),
        Ok(v) => {
            let mut v = v;
            v["ok"] = json!(true);
            v
        }
        Err(e) => json!({"ok": false, "error": e}),
    }
}

fn arg<'a>(words: &'a [String], i: usize, what: &str) -> Result<&'a str, String> {
    words.get(i).map(String::as_str).ok_or_else(|| format!("missing {what}"))
}

fn number<T: std::str::FromStr>(words: &[String], i: usize, what: &str) -> Result<T, String> {
    arg(words, i, what)?.parse().map_err(|_| format!("{what} must be a number"))
}

/// The sockets `link <id|all>` names: `ws0`-`ws2`, `ip0`-`ip4`; a bare
/// number is WebSocket link N when that one has a connection, else TCP/IP
/// link N.
fn sockets_named(name: &str, sockets: &Sockets) -> Result<Vec<SocketId>, String> {
    if name == "all" {
        return Ok((0..3).map(SocketId::ws).chain((0..5).map(SocketId::ip)).collect());
    }
    if let Ok(n) = name.parse::<usize>() {
        if n < 3 && sockets.is_running(SocketId::ws(n)) {
            return Ok(vec![SocketId::ws(n)]);
        }
        if n < 5 {
            return Ok(vec![SocketId::ip(n)]);
        }
    }
    let (family, n) = match name.strip_prefix("ws") {
        Some(n) => ("ws", n),
        None => ("ip", name.strip_prefix("ip").unwrap_or(name)),
    };
    let n: usize = n.parse().map_err(|_| format!("no link {name:?} (ws0-ws2, ip0-ip4, all)"))?;
    match (family, n) {
        ("ws", 0..=2) => Ok(vec![SocketId::ws(n)]),
        ("ip", 0..=4) => Ok(vec![SocketId::ip(n)]),
        _ => Err(format!("no link {name:?} (ws0-ws2, ip0-ip4, all)")),
    }
}

fn run(words: &[String], module: &mut Module, sockets: &mut Sockets, paced: bool, now: Instant) -> Result<Value, String> {
    let verb = arg(words, 0, "a verb")?;
    match verb {
        "status" => Ok(status(module, paced, now)),
        "ap" => match arg(words, 1, "down, up or rssi")? {
            "down" => {
                let ms: u64 = match words.get(2).map(String::as_str) {
                    Some("--for") => number(words, 3, "--for MS")?,
                    Some(other) => return Err(format!("unknown option {other:?}")),
                    // Until `ap up`.
                    None => 10 * 365 * 24 * 3600 * 1000,
                };
                module.handle_event(Event::ApLost { down_for: Duration::from_millis(ms) }, now);
                Ok(Value::Null)
            }
            "up" => {
                module.handle_event(Event::ApBack, now);
                Ok(Value::Null)
            }
            "rssi" => {
                let dbm: i8 = number(words, 2, "the signal in dBm")?;
                module.handle_event(Event::Rssi(dbm), now);
                Ok(Value::Null)
            }
            other => Err(format!("unknown ap verb {other:?}")),
        },
        "link" => {
            let targets = sockets_named(arg(words, 1, "a link (ws0-ws2, ip0-ip4, all)")?, sockets)?;
            let what = arg(words, 2, "reset, close, stall, resume, delay, rate or drop-next")?;
            // Checked before any link is touched, whether or not one is up.
            LinkFaults::default().apply(what, words)?;
            let mut hit = 0;
            for s in &targets {
                let f = sockets.faults(*s);
                match what {
                    "reset" | "close" => {
                        if sockets.fault_end(*s, what == "close") {
                            hit += 1;
                        }
                    }
                    _ => {
                        if sockets.is_running(*s) {
                            let mut g = f.lock().map_err(|_| "poisoned")?;
                            g.apply(what, words)?;
                            hit += 1;
                        }
                    }
                }
            }
            if hit == 0 && words[1] != "all" {
                return Err(format!("link {} has no connection", words[1]));
            }
            Ok(json!({"links": hit}))
        }
        "dns" => {
            let net = sockets.net_faults();
            let mut g = net.lock().map_err(|_| "poisoned")?;
            match arg(words, 1, "fail or ok")? {
                "fail" => g.dns_fail.push(arg(words, 2, "a name or *")?.to_string()),
                "ok" => g.dns_fail.clear(),
                other => return Err(format!("unknown dns verb {other:?}")),
            }
            Ok(Value::Null)
        }
        "connect" => {
            let net = sockets.net_faults();
            let mut g = net.lock().map_err(|_| "poisoned")?;
            match arg(words, 1, "refuse or ok")? {
                "refuse" => g.refuse.push(arg(words, 2, "host:port or *")?.to_string()),
                "ok" => g.refuse.clear(),
                other => return Err(format!("unknown connect verb {other:?}")),
            }
            Ok(Value::Null)
        }
        "clock" => match arg(words, 1, "set or skew")? {
            "set" => {
                let secs: u64 = number(words, 2, "the Unix time in seconds")?;
                if secs > MAX_UNIX_SECS {
                    return Err(format!("{secs}: past the year 9999"));
                }
                module.handle_event(Event::ClockSet(secs * 1000), now);
                Ok(Value::Null)
            }
            "skew" => {
                let secs: i64 = number(words, 2, "the skew in seconds")?;
                if secs.unsigned_abs() > MAX_UNIX_SECS {
                    return Err(format!("{secs}: a skew of more than 8000 years"));
                }
                module.handle_event(Event::ClockSkew(secs * 1000), now);
                Ok(Value::Null)
            }
            other => Err(format!("unknown clock verb {other:?}")),
        },
        "reboot" => {
            module.handle_event(Event::ResetPin, now);
            Ok(Value::Null)
        }
        "power" => match arg(words, 1, "off or on")? {
            "off" => {
                module.handle_event(Event::PowerOff, now);
                Ok(Value::Null)
            }
            "on" => {
                module.handle_event(Event::PowerOn, now);
                Ok(Value::Null)
            }
            other => Err(format!("unknown power verb {other:?}")),
        },
        other => Err(format!("unknown verb {other:?} (status, ap, link, dns, connect, clock, reboot, power, watch)")),
    }
}

fn status(module: &Module, paced: bool, now: Instant) -> Value {
    let s = module.snapshot(now);
    let links: Vec<Value> = s
        .links
        .iter()
        .map(|l| {
            json!({
                "link": l.socket.to_string(),
                "kind": l.kind,
                "state": l.state,
                "tetype": l.tetype,
                "remote": l.remote,
                "remote_port": l.remote_port,
                "local_port": l.local_port,
                "bytes_in": l.bytes_in,
                "bytes_out": l.bytes_out,
                "queued": l.queued,
            })
        })
        .collect();
    json!({
        "wifi": {
            "mode": s.wifi_mode,
            "state": s.station_state,
            "ap": s.ssid,
            "ip": s.ip.map(|ip| std::net::Ipv4Addr::from(ip).to_string()),
        },
        "links": links,
        "port": {
            "echo": s.echo,
            "busy": s.busy,
            "data_mode": s.data_mode,
            "passthrough": s.passthrough,
            "baud": s.baud,
            "paced": paced,
            "powered_off": s.powered_off,
        },
        "clock_unix_ms": s.clock_unix_ms,
    })
}

/// `wsat ctl PATH <verb> [args]`: sends one request and prints the answer
/// (for `watch`, every event until the module goes away).
pub fn client(path: &Path, words: &[String]) -> ExitCode {
    let mut stream = match std::os::unix::net::UnixStream::connect(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wsat ctl: cannot reach {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let request = json!({"verb": words[0], "args": &words[1..]});
    if let Err(e) = stream.write_all(format!("{request}\n").as_bytes()) {
        eprintln!("wsat ctl: {e}");
        return ExitCode::FAILURE;
    }
    let mut lines = BufReader::new(stream).lines();
    let first = match lines.next() {
        Some(Ok(l)) => l,
        _ => {
            eprintln!("wsat ctl: no answer from {}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let ok = serde_json::from_str::<Value>(&first).ok().and_then(|v| v.get("ok").and_then(Value::as_bool)).unwrap_or(false);
    if !ok {
        let err = serde_json::from_str::<Value>(&first).ok().and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string));
        eprintln!("wsat ctl: {}", err.unwrap_or(first));
        return ExitCode::FAILURE;
    }
    println!("{first}");
    if words[0] == "watch" {
        for line in lines.map_while(Result::ok) {
            println!("{line}");
        }
    }
    ExitCode::SUCCESS
}

impl LinkFaults {
    /// Applies `link <id> <what> [arg]` (not reset or close, which end the
    /// connection) to this fault set.
    fn apply(&mut self, what: &str, words: &[String]) -> Result<(), String> {
        match what {
            "reset" | "close" => {}
            "stall" => self.stalled = true,
            "resume" => *self = LinkFaults::default(),
            "delay" => self.delay = std::time::Duration::from_millis(number(words, 3, "the delay in ms")?),
            "rate" => self.rate = number(words, 3, "the rate in bytes/s")?,
            "drop-next" => self.drop_next = number(words, 3, "a byte count")?,
            _ => return Err(format!("unknown link verb {what:?}")),
        }
        Ok(())
    }
}
