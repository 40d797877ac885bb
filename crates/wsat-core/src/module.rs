//! The module: one virtual ESP-AT device, driven without I/O.
//!
//! # Calling order
//!
//! The runtime owns the serial transport, the sockets, the storage and a
//! single timer. In its loop it:
//!
//! 1. feeds what arrived: [`Module::handle_serial`] for host bytes,
//!    [`Module::handle_event`] for anything else (faults, later network
//!    events), [`Module::handle_timeout`] when the timer fires;
//! 2. drains the outputs, in this order: [`Module::poll_serial`] until it
//!    returns 0 (bytes for the host), then [`Module::poll_action`] until it
//!    returns `None` (storage writes, UART changes, ...). Actions come
//!    after the output that preceded them, so a UART change is applied
//!    after the `OK` that confirmed it has gone out at the old rate;
//! 3. re-arms its timer from [`Module::poll_timeout`].
//!
//! Every input takes `now`; the module never reads a clock.
//!
//! # Port states
//!
//! Booting (after AT+RST, input is dropped), Idle (assembling command
//! lines), Busy (a command is running: complete lines are answered
//! `busy p...`), Data (after `>`: exactly N raw bytes are collected).
//! Unsolicited reports (URCs) queue up and go out only when the port is
//! Idle and no half-typed, echoed line would be split by them.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use crate::at::error::AtError;
use crate::at::line::{LineAssembler, LineEvent};
use crate::at::params::{self, Args};
use crate::at::reply::{self, Reply};
use crate::at::urc::{Piece, Reports};
use crate::at::table;
use crate::clock::ModuleClock;
use crate::commands::sntp::{ClockSource, SntpState};
use crate::commands::{self, sysmfg::MfgWrite};
use crate::mfg::MfgNvs;
use crate::settings::{Settings, UartConfig};
use crate::time::{Duration, Instant};
use crate::wifi::radio::Radio;
use crate::wifi::station::Station;
use crate::net::{SocketId, Sockets};
use crate::ws::link::{Link, Rng, LINKS};

pub use crate::action::{Action, Event, ServerTlsParams, Store, TlsParams};
pub use crate::config::{Config, RegexEngineRef, VersionInfo};

/// How long a reboot (AT+RST, AT+RESTORE) keeps the port deaf.
pub const REBOOT: Duration = Duration::from_millis(300);
/// How long an echoed, unfinished line holds back unsolicited reports.
pub const URC_HOLD: Duration = Duration::from_secs(2);
/// How long host input may wait behind a streaming report, however slowly
/// or quickly the report's bytes come; then the report is cut (its line
/// ends) and the host's input runs. The rest of the frame comes later as
/// a report of its own, from its offset.
pub const REPORT_STALL: Duration = Duration::from_secs(2);
/// The most host input held while a report owns the port (a UART's
/// receive buffer); beyond it bytes are dropped and the host hears
/// `busy p...` once the port is free, as from a module it talked over.
pub const DEFERRED_MAX: usize = 8 * 1024;

/// Where data-mode bytes go once all have arrived.
#[derive(Debug, Clone)]
pub enum DataSink {
    /// AT+SYSMFG write of a string or binary value.
    Mfg(MfgWrite),
    /// AT+WSSEND payload.
    WsSend(commands::websocket::PendingSend),
    /// AT+WSHEAD header.
    WsHead,
    /// AT+SYSMSGFILTERCFG expressions.
    MsgFilter(commands::sysmsgfilter::PendingFilter),
    /// AT+SYSFLASH write.
    Flash(commands::sysflash::PendingWrite),
    /// AT+CIPSEND / AT+CIPSENDEX payload.
    IpSend(commands::tcpip::PendingSend),
}

/// A command still running after its handler returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Job {
    /// Rebooting until the deadline.
    Reboot,
    /// AT+CWJAP waiting for the station's join.
    Join,
    /// AT+WSOPEN waiting for the link to connect.
    WsOpen(usize),
    /// AT+WSCLOSE waiting for the close handshake.
    WsClose(usize),
    /// AT+WSSEND waiting for its bytes to be written (deadline: timeout).
    WsSend {
        /// The link.
        link: usize,
        /// The send's number.
        seq: u32,
    },
    /// AT+CIPSTART waiting for TCP/IP link `.0` to connect.
    IpConnect(usize),
    /// AT+CIPSEND waiting for its bytes to be written (deadline: timeout).
    IpSend {
        /// The link.
        link: usize,
        /// The send's number.
        seq: u32,
    },
    /// AT+CIPDOMAIN waiting for the resolver.
    Resolve,
    /// AT+PING waiting for the echo.
    Ping,
    /// AT+CIPSERVER waiting for the listening socket.
    Listen,
}

#[derive(Debug)]
pub(crate) enum PortState {
    Idle,
    Busy(Job),
    Data { remaining: usize, buf: Vec<u8>, sink: DataSink },
    /// Passthrough (AT+CIPMODE=1, AT+CIPSEND): host bytes are link 0's.
    Passthrough(crate::ip::passthrough::Passthrough),
    /// AT+CIPSENDL: host bytes go to a link as they arrive.
    SendL(commands::sendl::LongSend),
}

/// One virtual ESP-AT module.
pub struct Module {
    pub(crate) version: VersionInfo,
    /// Settings in effect (RAM).
    pub(crate) current: Settings,
    /// Settings in flash.
    pub(crate) stored: Settings,
    pub(crate) mfg: MfgNvs,
    pub(crate) radio: Radio,
    pub(crate) station: Station,
    /// ATE0/ATE1; back to on at every boot.
    pub(crate) echo: bool,
    /// AT+SYSLOG; off at every boot.
    pub(crate) syslog: bool,
    /// AT+SYSSTORE; not saved itself: every boot takes it from the
    /// manufacturing NVS (`factory_param`/`sys_store`, default 1).
    pub(crate) sysstore: bool,
    /// The module clock (AT+SYSTIMESTAMP, AT+CIPSNTPTIME, TLS validity).
    pub(crate) clock: ModuleClock,
    pub(crate) clock_source: ClockSource,
    pub(crate) sntp: SntpState,
    /// The transport table (every family's sockets).
    pub(crate) sockets: Sockets,
    /// The TCP/UDP/SSL links and their settings.
    pub(crate) ip: crate::ip::IpState,
    /// The running AT+CIPDOMAIN's options.
    pub(crate) lookup: commands::dns::LookupState,
    /// The three WebSocket links.
    pub(crate) links: [Link; LINKS],
    /// AT+WSHEAD's headers, newest first.
    pub(crate) ws_headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub(crate) rng: Rng,
    /// AT+GSLP, AT+SLEEP, AT+RFPOWER, AT+SYSREG, AT+SYSRAM state.
    pub(crate) system: commands::system::SystemState,
    /// AT+CWINIT: the Wi-Fi driver is up (1 at every boot).
    pub(crate) wifi_init: bool,
    /// AT+CWLAPOPT.
    pub(crate) lapopt: commands::wifi_config::LapOptions,
    /// AT+CWHOSTNAME (not saved).
    pub(crate) hostname: Vec<u8>,
    /// AT+CWCOUNTRY (not saved; boots from factory_param).
    pub(crate) country: commands::wifi_config::Country,
    /// When the module last booted (AT+SYSTEMP warms up from it).
    pub(crate) booted_at: Instant,
    /// AT+RST=1: the chip waits in its ROM's download mode, deaf to AT.
    download_mode: bool,
    /// Powered off (control plane): deaf and silent until powered on.
    pub(crate) powered_off: bool,
    /// The signal the control plane set for the AP (dBm), if any.
    pub(crate) rssi: Option<i8>,
    /// The `fs_storage` user partition (AT+SYSFLASH); empty while erased.
    pub(crate) flash: Vec<u8>,
    /// AT+SYSMSGFILTER's filters.
    pub(crate) msgfilter: commands::sysmsgfilter::FilterState,
    /// The runtime's regex engine, if it lent one.
    pub(crate) regex: Option<alloc::rc::Rc<dyn commands::sysmsgfilter::RegexEngine>>,
    line: LineAssembler,
    pub(crate) state: PortState,
    /// Deadline of the running job (reboot).
    job_deadline: Option<Instant>,
    out: Vec<u8>,
    out_pos: usize,
    pub(crate) urcs: Reports,
    /// Host input held while a streaming report owns the port.
    deferred: Vec<u8>,
    /// Since when host input has been held.
    deferred_since: Instant,
    /// Held input overflowed: `busy p...` is owed.
    deferred_overflow: bool,
    actions: VecDeque<Action>,
    last_input: Instant,
}

impl Module {
    /// A module that has just powered on: it prints `ready` and, with
    /// auto-connect on and an AP saved, starts joining it.
    pub fn new(config: Config, now: Instant) -> Module {
        let stored = config.settings.unwrap_or_default();
        let mut m = Module {
            version: config.version,
            current: stored.clone(),
            stored,
            mfg: config.mfg,
            radio: config.radio,
            station: Station::default(),
            echo: true,
            syslog: false,
            sysstore: true,
            clock: ModuleClock::epoch(now),
            clock_source: config.clock_source,
            sntp: SntpState::default(),
            sockets: Sockets::default(),
            ip: Default::default(),
            lookup: Default::default(),
            links: [Link::new(), Link::new(), Link::new()],
            ws_headers: Vec::new(),
            rng: Rng::new(config.seed),
            // Set by boot() below, from the factory parameters.
            system: Default::default(),
            wifi_init: true,
            lapopt: Default::default(),
            hostname: Vec::new(),
            country: Default::default(),
            booted_at: now,
            download_mode: false,
            powered_off: false,
            rssi: None,
            // Empty until first written: an erased partition costs no RAM.
            flash: config.flash.filter(|f| f.len() == commands::sysflash::FS_STORAGE_SIZE).unwrap_or_default(),
            msgfilter: Default::default(),
            regex: config.regex.map(|r| r.0),
            line: LineAssembler::new(),
            state: PortState::Idle,
            job_deadline: None,
            out: Vec::new(),
            out_pos: 0,
            urcs: Reports::new(),
            deferred: Vec::new(),
            deferred_since: now,
            deferred_overflow: false,
            actions: VecDeque::new(),
            last_input: now,
        };
        m.boot(now);
        m
    }

    // ----- getters -----

    /// The settings as stored in (virtual) flash.
    pub fn stored_settings(&self) -> &Settings {
        &self.stored
    }

    /// The settings in effect.
    pub fn current_settings(&self) -> &Settings {
        &self.current
    }

    /// The manufacturing NVS partition.
    pub fn mfg(&self) -> &MfgNvs {
        &self.mfg
    }

    /// The `fs_storage` user partition.
    pub fn flash(&self) -> alloc::borrow::Cow<'_, [u8]> {
        if self.flash.is_empty() {
            alloc::borrow::Cow::Owned(commands::sysflash::blank_fs_storage())
        } else {
            alloc::borrow::Cow::Borrowed(&self.flash)
        }
    }

    /// The UART settings in effect.
    pub fn uart(&self) -> UartConfig {
        self.current.uart
    }

    /// True while a command is running or data is being collected.
    pub fn is_busy(&self) -> bool {
        !matches!(self.state, PortState::Idle | PortState::Passthrough(_))
    }

    /// True while the port is in passthrough mode (host bytes are data).
    pub fn in_passthrough(&self) -> bool {
        matches!(self.state, PortState::Passthrough(_))
    }

    /// False while the module cannot take more host bytes now (passthrough
    /// data the link's socket has not taken yet): the runtime stops reading
    /// the port, and the transport's flow control holds the host.
    pub fn serial_input_allowed(&self) -> bool {
        match &self.state {
            PortState::Passthrough(pt) => self.pt_backlog() + pt.pending() < crate::ip::PASSTHROUGH_WINDOW,
            PortState::SendL(s) => self.sockets.in_flight(s.socket()) < crate::ip::PASSTHROUGH_WINDOW,
            _ => true,
        }
    }

    // ----- inputs -----

    /// Bytes from the host. All of them are consumed.
    pub fn handle_serial(&mut self, bytes: &[u8], now: Instant) {
        self.last_input = now;
        if self.download_mode || self.powered_off {
            // The ROM bootloader owns the chip; the AT firmware hears nothing.
            return;
        }
        if self.urcs.report_open() {
            // A report is streaming: the host's bytes wait until it ends
            // (or until they have waited REPORT_STALL), so no echo or
            // response lands inside it.
            if self.deferred.is_empty() {
                self.deferred_since = now;
            }
            let room = DEFERRED_MAX - self.deferred.len();
            if bytes.len() > room {
                self.deferred_overflow = true;
            }
            self.deferred.extend_from_slice(&bytes[..bytes.len().min(room)]);
            return;
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            match &mut self.state {
                PortState::Data { sink: DataSink::IpSend(_), .. } if bytes == b"+++" => {
                    // `+++` alone while AT+CIPSEND waits for data cancels it.
                    self.state = PortState::Idle;
                    self.out.extend_from_slice(b"\r\nSEND Canceled\r\n");
                    rest = &[];
                }
                PortState::Data { remaining, buf, sink: DataSink::IpSend(s) } if s.ex => {
                    // AT+CIPSENDEX: escapes are undone as bytes arrive (the
                    // length counts data bytes); `\0` ends the data early.
                    let mut ended = false;
                    let mut used = 0;
                    for &b in rest {
                        if *remaining == 0 {
                            break;
                        }
                        used += 1;
                        let (byte, end) = s.ex_byte(b);
                        if end {
                            ended = true;
                            break;
                        }
                        if let Some(byte) = byte {
                            buf.push(byte);
                            *remaining -= 1;
                        }
                    }
                    rest = &rest[used..];
                    if ended || *remaining == 0 {
                        self.finish_data(now);
                    }
                }
                PortState::Data { remaining, buf, .. } => {
                    let n = (*remaining).min(rest.len());
                    buf.extend_from_slice(&rest[..n]);
                    *remaining -= n;
                    rest = &rest[n..];
                    if *remaining == 0 {
                        self.finish_data(now);
                    }
                }
                PortState::Passthrough(pt) => {
                    pt.input(rest, now);
                    rest = &[];
                    self.pt_pump(now);
                }
                PortState::SendL(_) => {
                    let used = self.sendl_input(rest, now);
                    rest = &rest[used..];
                }
                PortState::Busy(Job::Reboot) => break,
                PortState::Busy(_) => {
                    // A command is running: each burst of input is refused
                    // with one `busy p...` and dropped, never run later;
                    // except AT+RST, which ESP-AT obeys even now.
                    rest = &[];
                    self.line.reset();
                    if bytes.windows(8).any(|w| w.eq_ignore_ascii_case(b"AT+RST\r\n")) {
                        self.out.extend_from_slice(reply::FORCE_RESTART);
                        let _ = self.reboot(now);
                    } else {
                        if self.syslog {
                            self.out.extend_from_slice(alloc::format!("ERR CODE:0x{:08x}\r\n", AtError::Busy.code()).as_bytes());
                        }
                        self.out.extend_from_slice(reply::BUSY);
                    }
                }
                PortState::Idle => {
                    let mut echo = Vec::new();
                    let mut used = 0;
                    let mut event = None;
                    for &b in rest {
                        used += 1;
                        event = self.line.push(b, &mut echo);
                        if event.is_some() {
                            break;
                        }
                    }
                    rest = &rest[used..];
                    if self.echo {
                        self.out.extend_from_slice(&echo);
                    }
                    match event {
                        Some(LineEvent::Line(line)) => self.dispatch(&line, now),
                        // ESP-AT reports an over-long line as one without `AT`.
                        Some(LineEvent::TooLong) => self.finish(Reply::Error(AtError::NoAt)),
                        None => {}
                    }
                }
            }
        }
        self.flush_urcs(now);
    }

    /// The host went away (TCP client closed): forget its half-sent line
    /// and abandon a data transfer, so the next host finds a fresh port.
    pub fn handle_host_detached(&mut self, now: Instant) {
        if self.download_mode {
            // Whoever held the chip in download mode let go: the next host
            // finds it booted, as after esptool's reset.
            self.download_mode = false;
            self.job_deadline = None;
            self.boot(now);
        }
        self.line.reset();
        self.deferred.clear();
        self.deferred_overflow = false;
        if let PortState::Data { .. } = self.state {
            self.state = PortState::Idle;
            self.finish(Reply::Error(AtError::ExecFailed));
        }
        if let PortState::SendL(_) = self.state {
            // The next host's bytes are not the old long send's data: it
            // ends as a cancelled one does.
            self.state = PortState::Idle;
            self.write_unfiltered(b"\r\nSEND CANCELLED\r\n");
        }
        self.flush_urcs(now);
    }

    /// An event other than host bytes.
    pub fn handle_event(&mut self, event: Event, now: Instant) {
        match event {
            Event::ApLost { down_for } => {
                self.station.radio_down_until = Some(now + down_for);
                self.station_lost(now);
            }
            Event::ApBack => {
                self.station.radio_down_until = None;
                if self.station.reconnect_at.is_some() {
                    self.station.reconnect_at = Some(now);
                }
            }
            Event::Rssi(dbm) => {
                self.rssi = Some(dbm);
                if let Some(ap) = self.station.ap.as_mut() {
                    ap.rssi = dbm;
                }
            }
            Event::ClockSet(unix_ms) => self.clock.set(unix_ms, now),
            Event::ClockSkew(ms) => {
                let t = self.clock.unix_ms(now) as i64 + ms;
                self.clock.set(t.max(0) as u64, now);
            }
            Event::ResetPin => {
                if !self.powered_off {
                    let _ = self.reboot(now);
                }
            }
            Event::PowerOff => {
                let _ = self.reboot(now);
                self.job_deadline = None;
                self.out.clear();
                self.out_pos = 0;
                self.powered_off = true;
            }
            Event::PowerOn => {
                if core::mem::take(&mut self.powered_off) {
                    self.job_deadline = Some(now);
                }
            }
        }
        self.flush_urcs(now);
    }

    /// Time has reached (or passed) [`Module::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.powered_off {
            return;
        }
        if self.job_deadline.is_some_and(|t| t <= now) {
            self.job_deadline = None;
            match self.state {
                PortState::Busy(Job::Reboot) => self.boot(now),
                PortState::Busy(Job::WsSend { .. }) => {
                    self.state = PortState::Idle;
                    self.finish(Reply::Error(AtError::ExecFailed));
                }
                PortState::Busy(Job::IpSend { .. }) => {
                    // The socket did not take the data in time.
                    self.state = PortState::Idle;
                    self.write(reply::SEND_FAIL);
                }
                PortState::Busy(Job::IpConnect(id)) => {
                    self.state = PortState::Idle;
                    self.finish(Reply::Error(AtError::ExecFailed));
                    // A link that never came up: ERROR, no CLOSED.
                    self.ip_free(id, false);
                }
                PortState::Busy(Job::Listen) => {
                    self.state = PortState::Idle;
                    self.server_stop(false);
                    self.finish(Reply::Error(AtError::ExecFailed));
                }
                PortState::Busy(ref job @ (Job::Resolve | Job::Ping)) => {
                    let job = job.clone();
                    self.state = PortState::Idle;
                    self.finish_lookup_timeout(job);
                }
                _ => {}
            }
        }
        self.wifi_timers(now);
        self.ws_timers(now);
        self.ip_timers(now);
        self.sntp_timers(now);
        self.flush_urcs(now);
    }

    // ----- outputs -----

    /// Copies pending host-bound bytes into `buf`; returns how many.
    #[must_use]
    pub fn poll_serial(&mut self, buf: &mut [u8]) -> usize {
        let pending = &self.out[self.out_pos..];
        let n = pending.len().min(buf.len());
        buf[..n].copy_from_slice(&pending[..n]);
        self.out_pos += n;
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        n
    }

    /// Moves every pending host-bound byte into `dst` (emptied first), by
    /// exchanging buffers when none of them was taken yet: an unpaced port
    /// writes the module's output without copying it again.
    pub fn take_serial(&mut self, dst: &mut Vec<u8>) -> usize {
        dst.clear();
        if self.out_pos == 0 {
            core::mem::swap(&mut self.out, dst);
        } else {
            dst.extend_from_slice(&self.out[self.out_pos..]);
            self.out.clear();
            self.out_pos = 0;
        }
        dst.len()
    }

    /// The module clock now, Unix seconds (what certificates are checked
    /// against).
    pub fn clock_unix_secs(&self, now: Instant) -> u64 {
        self.clock.unix_secs(now)
    }

    /// Bytes waiting for the host.
    pub fn serial_pending(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// The next thing the runtime must do.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Module::handle_timeout`] must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.powered_off {
            return None;
        }
        let urc_hold = (!self.urcs.is_empty() && matches!(self.state, PortState::Idle) && !self.line.is_idle())
            .then_some(self.last_input + URC_HOLD);
        [
            self.job_deadline,
            self.station.join.as_ref().map(|j| j.next),
            self.station.reconnect_at,
            urc_hold,
            self.ws_next_deadline(),
            self.ip_next_deadline(),
            self.sntp_next_deadline(),
            (self.urcs.report_open() && !self.deferred.is_empty()).then_some(self.deferred_since + REPORT_STALL),
        ]
            .into_iter()
            .flatten()
            .min()
    }

    // ----- internals used by the commands -----

    /// Appends one message for the host (a command's response line, its
    /// final result), through AT+SYSMSGFILTER's filters.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        let kept = self.msgfilter.apply(bytes);
        self.out.extend_from_slice(kept);
    }

    /// Appends bytes that no filter may touch.
    pub(crate) fn write_unfiltered(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// Queues an unsolicited report line (without its CR LF); filters
    /// apply to the whole line as one message.
    pub(crate) fn urc(&mut self, line: &[u8]) {
        let mut l = Vec::with_capacity(line.len() + 2);
        l.extend_from_slice(line);
        l.extend_from_slice(b"\r\n");
        let kept = self.msgfilter.apply(&l);
        if kept.len() != l.len() {
            l = kept.to_vec();
        }
        if !l.is_empty() {
            self.urcs.line(l);
        }
    }

    /// Queues an action for the runtime.
    pub(crate) fn act(&mut self, action: Action) {
        // Several saves in one turn are one write.
        if !matches!(action, Action::Persist(_)) || !self.actions.contains(&action) {
            self.actions.push_back(action);
        }
    }

    /// Queues a piece of a socket's data report (`+WS_DATA`, `+IPD`):
    /// header (may be empty), data, CR LF.
    pub(crate) fn urc_report(&mut self, socket: SocketId, piece: Piece, head: &[u8], data: &[u8], crlf: bool) {
        let mut r = Vec::with_capacity(head.len() + data.len() + 2);
        r.extend_from_slice(head);
        r.extend_from_slice(data);
        if crlf {
            r.extend_from_slice(b"\r\n");
        }
        self.urcs.link(socket, piece, r);
    }

    /// Bytes the host has yet to take: output plus queued reports.
    pub fn serial_backlog(&self) -> usize {
        self.serial_pending() + self.urcs.len_bytes()
    }

    /// Logs a line about link `id` through the runtime.
    pub(crate) fn log_link(&mut self, id: usize, msg: &str) {
        self.actions.push_back(Action::Log(alloc::format!("link {id}: {msg}")));
    }

    /// Housekeeping after any input: reports go out when they may.
    pub(crate) fn after_input(&mut self, now: Instant) {
        self.flush_urcs(now);
    }

    /// Marks the port busy with `job` until `deadline` (then it fails).
    pub(crate) fn busy_with_deadline(&mut self, job: Job, deadline: Instant) -> Reply {
        self.job_deadline = Some(deadline);
        self.busy_with(job)
    }

    /// True if the running command is `job`.
    pub(crate) fn running(&self, job: &Job) -> bool {
        matches!(&self.state, PortState::Busy(j) if j == job)
    }

    /// The AT+WSSEND running on link `link`, if any: its send number.
    pub(crate) fn running_send(&self, link: usize) -> Option<u32> {
        match &self.state {
            PortState::Busy(Job::WsSend { link: l, seq }) if *l == link => Some(*seq),
            _ => None,
        }
    }

    /// The AT+CIPSEND running on TCP/IP link `link`, if any: its send number.
    pub(crate) fn running_ip_send(&self, link: usize) -> Option<u32> {
        match &self.state {
            PortState::Busy(Job::IpSend { link: l, seq }) if *l == link => Some(*seq),
            _ => None,
        }
    }

    /// True if AT+WSCLOSE is waiting for link `id`.
    pub(crate) fn closing_command(&self, id: usize) -> bool {
        self.running(&Job::WsClose(id))
    }

    /// Ends the running command `job` (if it is the one running).
    pub(crate) fn complete(&mut self, job: Job, reply: Reply) {
        if self.running(&job) {
            self.state = PortState::Idle;
            self.job_deadline = None;
            self.finish(reply);
        }
    }

    /// Changes a setting governed by AT+SYSSTORE: in RAM, and in flash too
    /// while SYSSTORE is on.
    pub(crate) fn save(&mut self, f: impl Fn(&mut Settings)) {
        f(&mut self.current);
        if self.sysstore {
            f(&mut self.stored);
            self.act(Action::Persist(Store::Settings));
        }
    }

    /// Changes a setting that ESP-AT always writes to flash.
    pub(crate) fn save_always(&mut self, f: impl Fn(&mut Settings)) {
        f(&mut self.current);
        f(&mut self.stored);
        self.act(Action::Persist(Store::Settings));
    }

    /// Starts a reboot: the port goes deaf, then the module boots again
    /// from its stored settings.
    pub(crate) fn reboot(&mut self, now: Instant) -> Reply {
        self.job_deadline = Some(now + REBOOT);
        self.urcs.clear();
        self.station = Station::default();
        self.ws_drop_all();
        self.ip_drop_all();
        self.ws_headers.clear();
        self.act(Action::Rebooted);
        self.state = PortState::Busy(Job::Reboot);
        Reply::Done
    }

    /// Moves the end of a reboot started by [`Module::reboot`] (deep sleep
    /// lasts as long as asked).
    pub(crate) fn set_reboot_deadline(&mut self, at: Instant) {
        self.job_deadline = Some(at);
    }

    /// AT+RST=1: the chip restarts into its ROM's download mode, where the
    /// AT port stays silent until the host detaches or wsat restarts.
    pub(crate) fn enter_download_mode(&mut self, now: Instant) {
        let _ = self.reboot(now);
        self.job_deadline = None;
        self.download_mode = true;
        self.act(Action::Log(String::from("AT+RST=1: the chip waits in download mode until the host detaches or wsat restarts")));
    }

    /// True while the Wi-Fi driver is up and the mode is not 0.
    pub(crate) fn wifi_on(&self) -> bool {
        self.wifi_init && self.current.wifi_mode != 0
    }

    /// The MAC address of the station (0) or the SoftAP (1): as set, or
    /// the factory one (the SoftAP's is the station's plus one, as on an
    /// ESP32-C3).
    pub(crate) fn mac(&self, netif: usize) -> [u8; 6] {
        self.current.macs[netif].unwrap_or_else(|| {
            let mut mac = crate::wifi::station::FACTORY_MAC;
            mac[5] = mac[5].wrapping_add(netif as u8);
            mac
        })
    }

    /// The station leaves its AP for good (mode change, driver off):
    /// `WIFI DISCONNECT` if it had a link, links down, no reconnection.
    pub(crate) fn drop_station(&mut self, now: Instant) {
        if self.station.disconnect() {
            self.urc(b"WIFI DISCONNECT");
            self.network_down(now);
        }
        let target = core::mem::take(&mut self.station.target);
        self.station = Station { target, ..Station::default() };
    }

    /// The station lost its network: links on it go down (TCP/IP links
    /// AT+CIPCONNPERSIST keeps stay).
    pub(crate) fn network_down(&mut self, now: Instant) {
        self.ip.sta_state = 5;
        self.ws_network_down(now);
        self.ip_network_down(now);
    }

    /// What a boot resets: everything the chip keeps only in RAM.
    fn boot_volatile_state(&mut self, now: Instant) {
        let factory = |key: &str| self.mfg.get("factory_param", key);
        let max_tx = factory("max_tx_power").and_then(|v| v.as_integer()).map_or(78, |v| v.clamp(40, 84) as u8);
        let code = factory("country_code").and_then(|v| v.as_bytes()).map_or(b"CN".to_vec(), <[u8]>::to_vec);
        let start = factory("start_channel").and_then(|v| v.as_integer()).map_or(1, |v| v.clamp(1, 14) as u8);
        let count = factory("channel_num").and_then(|v| v.as_integer()).map_or(13, |v| v.clamp(1, 14) as u8);
        self.system = commands::system::SystemState::new(max_tx);
        self.country = commands::wifi_config::Country { policy: 0, code, start, count };
        self.wifi_init = true;
        self.lapopt = Default::default();
        self.hostname = b"espressif".to_vec();
        self.booted_at = now;
    }

    /// Marks the port busy until a background step finishes the command.
    pub(crate) fn busy_with(&mut self, job: Job) -> Reply {
        self.state = PortState::Busy(job);
        Reply::Pending
    }

    // ----- the engine -----

    fn boot(&mut self, now: Instant) {
        let uart_before = self.current.uart;
        self.current = self.stored.clone();
        self.echo = true;
        self.syslog = false;
        self.sysstore = self.mfg.get("factory_param", "sys_store").and_then(|v| v.as_integer()) != Some(0);
        // SNTP settings are not saved; the RTC keeps running across a
        // restart (an ESP32-C3 keeps it; a power cycle starts at 1970).
        self.sntp = SntpState::default();
        self.boot_volatile_state(now);
        if self.current.savetranslink.is_some() {
            // AT+SAVETRANSLINK: single connection, passthrough, and the
            // link opens once the station has an address.
            self.ip.cipmode = true;
            self.ip.mux = false;
            self.ip.boot_link = true;
        }
        self.line.reset();
        self.state = PortState::Idle;
        self.out.extend_from_slice(reply::READY);
        if self.current.uart != uart_before {
            self.act(Action::SetUart(self.current.uart));
        }
        if self.current.autoconn && self.current.wifi_mode & 1 == 1 {
            if let Some(config) = self.current.station.clone() {
                commands::wifi::start_join(self, config, crate::wifi::station::JoinOrigin::Background, now);
            }
        }
    }

    fn dispatch(&mut self, line: &[u8], now: Instant) {
        if line.is_empty() {
            return;
        }
        if line.len() < 2 || !line[..2].eq_ignore_ascii_case(b"AT") {
            return self.finish(Reply::Error(AtError::NoAt));
        }
        let rest = &line[2..];
        let name_len = rest.iter().position(|&b| b == b'=' || b == b'?').unwrap_or(rest.len());
        let (name, form) = rest.split_at(name_len);
        // ESP-AT upper-cases command names: `at+gmr` is AT+GMR.
        let name = name.to_ascii_uppercase();
        let Some(cmd) = table::lookup(commands::COMMANDS, &name) else {
            return self.finish(Reply::Error(AtError::UnsupportedCommand));
        };
        let reply = match form {
            b"" => cmd.exec.map(|h| h(self, &Args::none(), now)),
            b"?" => cmd.query.map(|h| h(self, &Args::none(), now)),
            b"=?" => cmd.test.map(|h| h(self, &Args::none(), now)),
            [b'=', list @ ..] => cmd.set.map(|set| {
                match params::parse(list).and_then(|v| Args::check(v, set.params)) {
                    Ok(args) => (set.run)(self, &args, now),
                    Err(e) => Reply::Error(e),
                }
            }),
            _ => Some(Reply::Error(AtError::ParseFail(0))),
        };
        match reply {
            Some(r) => self.finish(r),
            // A form the command does not register: ESP-AT answers a NULL
            // handler with a bare ERROR, no ERR CODE even under AT+SYSLOG.
            None => self.write(reply::ERROR),
        }
        if matches!(self.state, PortState::Data { remaining: 0, .. }) {
            // A prompt for zero bytes (`AT+WSSEND=0,0`): `>` went out and
            // the (empty) data is complete at once.
            self.finish_data(now);
        }
    }

    /// Writes a handler's final result and moves the port on.
    fn finish(&mut self, reply: Reply) {
        match reply {
            Reply::Ok => self.write(reply::OK),
            Reply::Error(e) => {
                let mut msg = Vec::new();
                reply::write_error(&mut msg, e, self.syslog);
                self.write(&msg);
            }
            Reply::Done | Reply::Pending => {}
            Reply::Prompt { len, sink } => {
                self.out.extend_from_slice(reply::PROMPT);
                self.state = PortState::Data { remaining: len, buf: Vec::with_capacity(len), sink };
            }
        }
    }

    fn finish_data(&mut self, now: Instant) {
        let PortState::Data { buf, sink, .. } = core::mem::replace(&mut self.state, PortState::Idle) else {
            return;
        };
        let reply = match sink {
            DataSink::Mfg(w) => commands::sysmfg::finish_write(self, w, buf, now),
            DataSink::WsSend(s) => commands::websocket::finish_send(self, s, buf, now),
            DataSink::WsHead => commands::websocket::finish_head(self, buf),
            DataSink::MsgFilter(p) => commands::sysmsgfilter::finish_filter(self, p, buf),
            DataSink::Flash(w) => commands::sysflash::finish_write(self, w, buf),
            DataSink::IpSend(s) => commands::tcpip::finish_send(self, s, buf, now),
        };
        self.finish(reply);
    }

    fn wifi_timers(&mut self, now: Instant) {
        if self.station.join.as_ref().is_some_and(|j| j.next <= now) {
            commands::wifi::step_join(self, now);
        }
        if self.station.reconnect_at.is_some_and(|t| t <= now) {
            self.station.reconnect_at = None;
            if let Some(config) = self.current.station.clone() {
                commands::wifi::start_join(self, config, crate::wifi::station::JoinOrigin::Background, now);
            }
        }
    }

    /// The AP vanished under the station (fault or radio loss).
    fn station_lost(&mut self, now: Instant) {
        let had_link = self.station.disconnect();
        if had_link {
            self.urc(b"WIFI DISCONNECT");
            self.network_down(now);
        }
        if self.running(&Job::Join) {
            self.complete(Job::Join, Reply::Error(AtError::ExecFailed));
        }
        let interval = self.current.reconn_interval;
        self.station.attempts = 0;
        if had_link && interval > 0 {
            self.station.state = crate::wifi::station::StaState::Connecting;
            self.station.reconnect_at = Some(now + Duration::from_secs(u64::from(interval)));
        }
    }

    fn flush_urcs(&mut self, now: Instant) {
        if let PortState::Passthrough(_) = self.state {
            // Under AT+SYSMSG bit 2 the status messages go into the data
            // stream; otherwise they wait for the end of passthrough.
            if self.current.sysmsg & 4 != 0 {
                self.urcs.drain_into(&mut self.out);
            }
            return;
        }
        if !matches!(self.state, PortState::Idle) {
            return;
        }
        let partial_echoed = self.echo && !self.line.is_idle();
        if partial_echoed && now < self.last_input + URC_HOLD {
            return;
        }
        self.urcs.drain_into(&mut self.out);
        if !self.deferred.is_empty() && now >= self.deferred_since + REPORT_STALL {
            if let Some(crate::net::socket::Family::WebSocket(link)) = self.urcs.open_link().map(SocketId::family) {
                // The host has waited long enough behind a report that is
                // stalled or trickling: cut it.
                self.ws_cut_report(link);
                self.urcs.drain_into(&mut self.out);
            }
        }
        if !self.urcs.report_open() && core::mem::take(&mut self.deferred_overflow) {
            self.out.extend_from_slice(reply::BUSY);
        }
        if !self.urcs.report_open() && !self.deferred.is_empty() {
            let held = core::mem::take(&mut self.deferred);
            self.handle_serial(&held, now);
        }
    }
}
