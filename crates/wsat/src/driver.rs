//! The runtime's event loop: one task that owns the module, the AT port,
//! the state directory and a single timer re-armed from the module's next
//! deadline (the quinn pattern).
//!
//! Each turn: wait for host input, the timer, or a signal; hand it to the
//! module; then write the module's output to the host (paced, if asked) and
//! carry out its actions, in that order.

use anyhow::Result;
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::{sleep_until, Instant as TokioInstant};
use wsat_core::{Action, Duration, Event, Instant, Module, Store};

use crate::host::{Input, Port};
use crate::links::{LinkNews, Links};
use crate::pacing::Line;
use crate::state::StateDir;

/// Runtime options for the loop.
pub struct Options {
    /// Pace the port at the UART rate.
    pub pace: bool,
    /// Radio down time after SIGUSR1.
    pub ap_down: Duration,
    /// Send every SNTP query here instead of to the named servers.
    pub sntp_server: Option<std::net::SocketAddr>,
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
    let (mut links, mut news) = Links::new();
    let (sntp_tx, mut sntp_rx) = tokio::sync::mpsc::channel(4);
    let mut net = Net { links: &mut links, sntp_tx: &sntp_tx, sntp_server: opts.sntp_server };

    loop {
        flush(&mut module, &mut port, &state, &mut net, &mut line, &clock).await;
        let links = &mut *net.links;
        for id in 0..wsat_core::ws::link::LINKS {
            links.set_read_allowed(id, module.link_read_allowed(id));
        }
        if input_ended && !module.is_busy() && module.serial_pending() == 0 && line.next_due().is_none() {
            return Ok(());
        }
        let deadline = module.poll_timeout().map(|t| clock.to_tokio(t));
        let line_due = line.next_due();
        tokio::select! {
            // A paced line reads no more host bytes until it has carried
            // the last ones (the host's writes then wait, as on a UART).
            input = port.next_input(&mut buf), if !line.input_waiting() => match input? {
                Input::Data(n) => {
                    tracing::trace!(bytes = n, "host -> module");
                    if line.paced() {
                        line.queue_input(&buf[..n]);
                    } else {
                        module.handle_serial(&buf[..n], clock.now());
                    }
                }
                Input::Attached => {}
                Input::Detached => module.handle_host_detached(clock.now()),
                Input::Eof => input_ended = true,
            },
            // The paced line has carried a slice: input reaches the
            // module here, output goes out in `flush`.
            _ = line.sleep_until(line_due.unwrap_or_else(TokioInstant::now)), if line_due.is_some() => {
                while let Some(slice) = line.carried_input() {
                    module.handle_serial(slice, clock.now());
                }
            }
            _ = sleep_until(deadline.unwrap_or_else(TokioInstant::now)), if deadline.is_some() => {
                module.handle_timeout(clock.now());
            }
            Some(datagram) = sntp_rx.recv() => module.handle_sntp_datagram(&datagram, clock.now()),
            Some(t) = news.recv() => {
                if links.is_current(&t) {
                    match t.news {
                        LinkNews::Event(e) => module.handle_link_event(t.link, e, clock.now()),
                        LinkNews::Data(d) => module.handle_link_data(t.link, &d, clock.now()),
                    }
                }
            }
            _ = sigusr1.recv() => {
                tracing::warn!(down_ms = opts.ap_down.millis(), "fault injected: access point lost");
                module.handle_event(Event::ApLost { down_for: opts.ap_down }, clock.now());
            }
            _ = sigterm.recv() => return Ok(()),
            _ = sigint.recv() => return Ok(()),
        }
    }
}

/// The network resources actions act on.
struct Net<'a> {
    links: &'a mut Links,
    sntp_tx: &'a tokio::sync::mpsc::Sender<Vec<u8>>,
    sntp_server: Option<std::net::SocketAddr>,
}

/// Writes output and carries out actions until neither is left (carrying
/// out an action can produce output, e.g. a time sync's `+TIME_UPDATED`).
async fn flush(
    module: &mut Module,
    port: &mut Port,
    state: &StateDir,
    net: &mut Net<'_>,
    line: &mut Line,
    clock: &Clock,
) {
    loop {
        write_output(module, port, line, clock).await;
        if !carry_out(module, port, state, net, line, clock) {
            return;
        }
    }
}

/// Writes pending output to the host (when one is attached). On a paced
/// line, only what the line has carried by now; the rest waits for the
/// line's next deadline in the event loop.
async fn write_output(module: &mut Module, port: &mut Port, line: &mut Line, clock: &Clock) {
    while port.attached() {
        let Some(bytes) = line.output(|out| module.poll_serial(out)) else { break };
        tracing::trace!(bytes = bytes.len(), "module -> host");
        if let Err(e) = port.write_all(bytes).await {
            tracing::info!(error = %e, "host gone while writing");
            module.handle_host_detached(clock.now());
            break;
        }
    }
}

/// Carries out pending actions; true if there were any.
fn carry_out(
    module: &mut Module,
    port: &mut Port,
    state: &StateDir,
    net: &mut Net<'_>,
    line: &mut Line,
    clock: &Clock,
) -> bool {
    let links = &mut *net.links;
    let mut any = false;
    while let Some(action) = module.poll_action() {
        any = true;
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
                tracing::info!(baud = u.baud, "UART settings changed");
                line.set(u);
                if let Err(e) = port.set_uart(u) {
                    tracing::error!(error = %e, "cannot apply UART settings");
                }
            }
            Action::Rebooted => tracing::info!("module rebooted"),
            Action::LinkConnect { link, host, port, tls, timeout } => {
                tracing::info!(link, %host, port, tls = tls.is_some(), "opening link");
                links.connect(link, host, port, tls, std::time::Duration::from_millis(timeout.millis()));
            }
            Action::LinkSend { link, data, seq, immediate } => links.send(link, data, seq, immediate),
            Action::LinkClose { link } => links.close(link),
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
        }
    }
    any
}
