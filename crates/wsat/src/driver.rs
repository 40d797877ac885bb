//! The runtime's event loop: one task that owns the module, the AT port,
//! the state directory and a single timer re-armed from the module's next
//! deadline (the quinn pattern).
//!
//! Each turn: carry out the module's actions, offer its output to the
//! port, then wait for whatever comes first: host input, room on the port
//! for output, the timer, socket news, a lookup's answer or a signal. The
//! port never blocks the loop: a host that stops reading holds back only
//! the module's output (and, through the read windows, the sockets whose
//! data waits for it), while timers, keep-alives and other links go on,
//! as on a real UART.

use std::collections::VecDeque;

use anyhow::Result;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant as TokioInstant};
use wsat_core::net::SocketId;
use wsat_core::settings::UartConfig;
use wsat_core::{Action, Duration, Event, Instant, Module, Store};

use crate::host::{Input, Port, PortEvent};
use crate::pacing::Line;
use crate::sockets::{News, Sockets};
use crate::state::StateDir;

/// Runtime options for the loop.
pub struct Options {
    /// Pace the port at the UART rate.
    pub pace: bool,
    /// Radio down time after SIGUSR1.
    pub ap_down: Duration,
    /// Send every SNTP query here instead of to the named servers.
    pub sntp_server: Option<std::net::SocketAddr>,
    /// Where AT+CIPSERVER listens.
    pub listen_addr: std::net::IpAddr,
    /// Module port -> host port, for AT+CIPSERVER.
    pub port_map: std::collections::HashMap<u16, u16>,
    /// `--trace FILE`.
    pub trace: Option<std::path::PathBuf>,
    /// `--control PATH`.
    pub control: Option<std::path::PathBuf>,
}

/// Maps between the tokio clock and the core's millisecond instants.
struct Clock {
    origin: TokioInstant,
}

impl Clock {
    fn now(&self) -> Instant {
        Instant::from_millis(self.origin.elapsed().as_millis() as u64)
    }

    fn to_tokio(&self, t: Instant) -> TokioInstant {
        self.origin + std::time::Duration::from_millis(t.millis())
    }
}

/// Module output on its way to the host.
#[derive(Default)]
struct Output {
    /// Bytes taken from the module, written up to `pos`.
    buf: Vec<u8>,
    pos: usize,
    /// Bytes taken from the module so far, and written so far.
    taken: u64,
    written: u64,
    /// UART changes that apply once the output before them is written
    /// (the `OK` confirming AT+UART_CUR goes out at the old rate).
    uart: VecDeque<(u64, UartConfig)>,
}

impl Output {
    fn pending(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// What the port may write now: up to the next UART change, so the
    /// bytes after it go out at the new rate.
    fn offer(&self) -> &[u8] {
        let pending = self.pending();
        match self.uart.front() {
            Some(&(mark, _)) => &pending[..pending.len().min(mark.saturating_sub(self.written) as usize)],
            None => pending,
        }
    }
}

/// The answer to a lookup action.
enum Lookup {
    Resolved(Vec<std::net::IpAddr>),
    Pinged(Option<u32>),
}

/// Runs the module until stdin ends (for stdio) or a signal asks to stop.
pub async fn run(mut module: Module, mut port: Port, state: StateDir, opts: Options, origin: TokioInstant) -> Result<()> {
    let clock = Clock { origin };
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigusr1 = signal(SignalKind::user_defined1())?;
    let mut line = Line::new(module.uart(), opts.pace);
    // Large enough for a whole AT+WSSEND payload in one read.
    let mut buf = vec![0u8; 64 * 1024];
    let mut input_ended = false;
    let (mut sockets, mut news) = Sockets::new();
    let (sntp_tx, mut sntp_rx) = mpsc::channel(4);
    let (lookup_tx, mut lookup_rx) = mpsc::channel(4);
    let mut out = Output::default();
    let mut trace = opts.trace.as_deref().map(crate::trace::Trace::create).transpose()?;
    // `watch` subscribers hear everything that happens.
    // A bounded backlog: a subscriber that falls behind is told how many
    // events it lost, and each AT event carries at most WATCH_BYTES.
    let (events, _) = tokio::sync::broadcast::channel::<String>(1024);
    let started = std::time::Instant::now();
    // Built only when somebody listens: escaping every byte of the AT
    // stream would otherwise cost more than carrying it.
    let emit = |v: &dyn Fn() -> serde_json::Value| {
        if events.receiver_count() > 0 {
            let mut v = v();
            v["t"] = serde_json::json!(started.elapsed().as_secs_f64());
            let _ = events.send(v.to_string());
        }
    };
    let (_control, mut control_rx) = match &opts.control {
        Some(path) => {
            let (c, rx) = crate::control::listen(path, events.clone())?;
            eprintln!("wsat: control socket at {}", path.display());
            (Some(c), rx)
        }
        None => (None, mpsc::channel(1).1),
    };

    loop {
        {
            let mut net = Net { sockets: &mut sockets, sntp_tx: &sntp_tx, lookup_tx: &lookup_tx, sntp_server: opts.sntp_server, opts: &opts };
            carry_out(&mut module, &port, &state, &mut net, &mut line, &clock, &mut out);
        }
        if out.pending().is_empty() && port.attached() {
            let n = if line.paced() {
                match line.output(|o| module.poll_serial(o)) {
                    Some(bytes) => {
                        out.buf.clear();
                        out.buf.extend_from_slice(bytes);
                        bytes.len()
                    }
                    None => 0,
                }
            } else {
                // Unpaced: all of it at once, buffers exchanged, not copied.
                out.pos = 0;
                module.take_serial(&mut out.buf)
            };
            if n > 0 {
                tracing::trace!(bytes = n, "module -> host");
                out.pos = 0;
                out.taken += n as u64;
            }
        }
        apply_uart(&mut out, &mut port, &mut line);
        if let Some(t) = trace.as_mut() {
            t.flush();
        }
        for id in SocketId::all() {
            sockets.set_read_window(id, module.read_window(id));
        }
        crate::tls::MODULE_CLOCK_SECS.store(module.clock_unix_secs(clock.now()), std::sync::atomic::Ordering::Relaxed);
        if input_ended && !module.is_busy() && module.serial_pending() == 0 && out.pending().is_empty() && line.next_due().is_none() {
            port.finish().await;
            if let Some(t) = trace.as_mut() {
                t.flush();
            }
            return Ok(());
        }
        let deadline = module.poll_timeout().map(|t| clock.to_tokio(t));
        let line_due = line.next_due_for(port.attached());
        let turnaround = line_due.is_some() && line.due_is_turnaround(module.serial_pending() > 0);
        // A paced line reads no more host bytes until it has carried the
        // last ones (the host's writes then wait, as on a UART); nor does a
        // module whose passthrough link has not taken the host's last data.
        let read = !line.input_waiting() && module.serial_input_allowed();
        tokio::select! {
            event = port.next(&mut buf, read, out.offer()) => match event? {
                PortEvent::Input(Input::Data(n)) => {
                    tracing::trace!(bytes = n, "host -> module");
                    if let Some(t) = trace.as_mut() {
                        t.record(crate::trace::Dir::In, &buf[..n]);
                    }
                    emit(&|| at_event("in", &buf[..n]));
                    if line.paced() {
                        line.queue_input(&buf[..n]);
                    } else {
                        module.handle_serial(&buf[..n], clock.now());
                    }
                }
                PortEvent::Input(Input::Attached) => {}
                PortEvent::Input(Input::Detached) => module.handle_host_detached(clock.now()),
                PortEvent::Input(Input::Eof) => input_ended = true,
                PortEvent::Wrote(n) => {
                    if let Some(t) = trace.as_mut() {
                        t.record(crate::trace::Dir::Out, &out.buf[out.pos..out.pos + n]);
                    }
                    emit(&|| at_event("out", &out.buf[out.pos..out.pos + n]));
                    out.pos += n;
                    out.written += n as u64;
                }
            },
            // The paced line has carried a slice: input reaches the
            // module here, output goes out at the top of the loop.
            _ = line.sleep_until(line_due.unwrap_or_else(TokioInstant::now), turnaround), if line_due.is_some() => {
                while let Some(slice) = line.carried_input() {
                    module.handle_serial(slice, clock.now());
                }
            }
            _ = sleep_until(deadline.unwrap_or_else(TokioInstant::now)), if deadline.is_some() => {
                module.handle_timeout(clock.now());
            }
            Some(datagram) = sntp_rx.recv() => module.handle_sntp_datagram(&datagram, clock.now()),
            Some(answer) = lookup_rx.recv() => match answer {
                Lookup::Resolved(addrs) => module.handle_resolved(&addrs, clock.now()),
                Lookup::Pinged(rtt) => module.handle_ping(rtt, clock.now()),
            },
            Some(t) = news.recv() => {
                if sockets.is_current(&t) {
                    match t.news {
                        News::Event(e) => {
                            emit(&|| serde_json::json!({"event": "link", "link": t.socket.to_string(), "what": format!("{e:?}")}));
                            module.handle_socket_event(t.socket, e, clock.now());
                        }
                        News::Data(d, from) => {
                            sockets.consumed(t.socket, d.len());
                            module.handle_socket_data(t.socket, &d, from, clock.now());
                        }
                        News::Accepted(stream, peer) => match module.handle_accept(t.socket, peer, clock.now()) {
                            Some(id) => sockets.attach(id, t.socket, stream),
                            None => tracing::info!(%peer, "server: client refused"),
                        },
                    }
                }
            }
            Some(req) = control_rx.recv() => {
                emit(&|| serde_json::json!({"event": "control", "words": &req.words}));
                let answer = crate::control::execute(&req.words, &mut module, &mut sockets, opts.pace, clock.now());
                let _ = req.reply.send(answer);
            }
            _ = sigusr1.recv() => {
                tracing::warn!(down_ms = opts.ap_down.millis(), "fault injected: access point lost");
                module.handle_event(Event::ApLost { down_for: opts.ap_down }, clock.now());
            }
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
        }
    }
    port.finish().await;
    if let Some(t) = trace.as_mut() {
        t.flush();
    }
    Ok(())
}

/// The most AT bytes one `watch` event shows.
const WATCH_BYTES: usize = 4096;

/// A `watch` event for AT bytes: the first [`WATCH_BYTES`] of them and
/// their length.
fn at_event(dir: &str, bytes: &[u8]) -> serde_json::Value {
    let shown = &bytes[..bytes.len().min(WATCH_BYTES)];
    serde_json::json!({"event": "at", "dir": dir, "len": bytes.len(), "bytes": wsat_core::transcript::escape(shown)})
}

/// Applies the UART changes whose preceding output has been written (or
/// that no host is attached to wait for).
fn apply_uart(out: &mut Output, port: &mut Port, line: &mut Line) {
    while let Some(&(mark, u)) = out.uart.front() {
        if out.written < mark && port.attached() {
            return;
        }
        out.uart.pop_front();
        tracing::info!(baud = u.baud, "UART settings changed");
        line.set(u);
        if let Err(e) = port.set_uart(u) {
            tracing::error!(error = %e, "cannot apply UART settings");
        }
    }
}

/// The network resources actions act on.
struct Net<'a> {
    sockets: &'a mut Sockets,
    sntp_tx: &'a mpsc::Sender<Vec<u8>>,
    lookup_tx: &'a mpsc::Sender<Lookup>,
    sntp_server: Option<std::net::SocketAddr>,
    opts: &'a Options,
}

/// Carries out pending actions. Stores are written at once, before the
/// output that confirms them reaches the host.
fn carry_out(module: &mut Module, port: &Port, state: &StateDir, net: &mut Net<'_>, line: &mut Line, clock: &Clock, out: &mut Output) {
    while let Some(action) = module.poll_action() {
        match action {
            Action::Persist(Store::Settings) => {
                if let Err(e) = state.save_settings(module.stored_settings()) {
                    tracing::error!(error = %format!("{e:#}"), "cannot save settings");
                }
            }
            Action::Persist(Store::Flash) => {
                if let Err(e) = state.save_flash(&module.flash()) {
                    tracing::error!(error = %format!("{e:#}"), "cannot save the fs_storage partition");
                }
            }
            Action::Persist(Store::Mfg) => {
                if let Err(e) = state.save_mfg(module.mfg()) {
                    tracing::error!(error = %format!("{e:#}"), "cannot save the manufacturing NVS");
                }
            }
            Action::SetUart(u) => {
                // After the output produced before this change.
                let mark = out.taken + module.serial_pending() as u64;
                if port.attached() {
                    out.uart.push_back((mark, u));
                } else {
                    tracing::info!(baud = u.baud, "UART settings changed");
                    line.set(u);
                }
            }
            Action::Rebooted => {
                tracing::info!("module rebooted");
                net.sockets.close_all();
            }
            Action::Connect { socket, transport, host, port, timeout } => {
                tracing::info!(%socket, %host, port, "opening socket");
                net.sockets.connect(socket, transport, host, port, std::time::Duration::from_millis(timeout.millis()));
            }
            Action::Send { socket, data, seq, immediate, to } => {
                if net.sockets.send(socket, data, seq, immediate, to) {
                    // Written at once: the core hears it in this turn.
                    if let Some(seq) = seq {
                        module.handle_socket_event(socket, wsat_core::net::SocketEvent::Written(seq), clock.now());
                    }
                }
            }
            Action::Close { socket, abort } => net.sockets.close(socket, abort),
            Action::Listen { socket, port, tls } => {
                let host_port = net.opts.port_map.get(&port).copied().unwrap_or(port);
                let addr = std::net::SocketAddr::new(net.opts.listen_addr, host_port);
                let acceptor = match tls.as_ref().map(crate::tls::acceptor).transpose() {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("server: TLS credentials: {e}");
                        module.handle_listen(socket, false, clock.now());
                        continue;
                    }
                };
                match net.sockets.listen(socket, addr, acceptor) {
                    Ok(()) => {
                        tracing::info!(module_port = port, %addr, "server listening");
                        module.handle_listen(socket, true, clock.now());
                    }
                    Err(e) => {
                        tracing::warn!(%addr, error = %e, "server: cannot listen");
                        module.handle_listen(socket, false, clock.now());
                    }
                }
            }
            Action::Log(message) => tracing::info!("{message}"),
            Action::ReadHostClock => {
                let unix_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                module.handle_host_clock(unix_ms, clock.now());
            }
            Action::SntpSend { server, packet } => {
                crate::sntp::query(server, packet, net.sntp_server, net.sntp_tx.clone());
            }
            Action::Resolve { host, family, timeout } => {
                let tx = net.lookup_tx.clone();
                let timeout = std::time::Duration::from_millis(timeout.millis());
                let fails = crate::faults::dns_fails(&net.sockets.net_faults(), &host);
                tokio::spawn(async move {
                    let addrs = if fails { Vec::new() } else { crate::ping::resolve(&host, family, timeout).await };
                    let _ = tx.send(Lookup::Resolved(addrs)).await;
                });
            }
            Action::Ping { host, timeout } => {
                let tx = net.lookup_tx.clone();
                let timeout = std::time::Duration::from_millis(timeout.millis());
                let fails = crate::faults::dns_fails(&net.sockets.net_faults(), &host);
                tokio::spawn(async move {
                    let rtt = if fails { None } else { crate::ping::ping(&host, timeout).await };
                    let _ = tx.send(Lookup::Pinged(rtt)).await;
                });
            }
        }
    }
}
