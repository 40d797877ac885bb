//! What the module asks of the runtime ([`Action`]) and the inputs other
//! than host bytes and time that it takes ([`Event`]).

use alloc::string::String;
use alloc::vec::Vec;

use crate::commands;
use crate::net::{Endpoint, SocketId, Transport};
use crate::settings::UartConfig;
use crate::time::Duration;

/// Which persistent store changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// [`Module::stored_settings`](crate::Module::stored_settings).
    Settings,
    /// [`Module::mfg`](crate::Module::mfg).
    Mfg,
    /// [`Module::flash`](crate::Module::flash): the `fs_storage` partition.
    Flash,
}

/// Something the runtime must do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Action {
    /// Write a store to persistent storage (crash-safely).
    Persist(Store),
    /// The UART settings in effect changed (pace or reconfigure the line).
    SetUart(UartConfig),
    /// The module rebooted: drop every network resource it held.
    Rebooted,
    /// Open a transport for `socket`: resolve `host`, connect (TCP, TLS)
    /// or bind (UDP), within `timeout`. Answer with
    /// [`SocketEvent::Connected`](crate::net::SocketEvent::Connected) or [`SocketEvent::Failed`](crate::net::SocketEvent::Failed). Any transport
    /// the socket still had is dropped first.
    Connect {
        /// Which socket.
        socket: SocketId,
        /// TCP, TLS or UDP, with what each needs.
        transport: Transport,
        /// Host name or address.
        host: String,
        /// Remote port.
        port: u16,
        /// Connect timeout.
        timeout: Duration,
    },
    /// Write bytes to a socket's transport, in order. With `seq`, answer
    /// [`SocketEvent::Written`](crate::net::SocketEvent::Written) once all of them are in the socket.
    Send {
        /// Which socket.
        socket: SocketId,
        /// The bytes (frames, a handshake request, a datagram).
        data: Vec<u8>,
        /// Acknowledge with this number.
        seq: Option<u32>,
        /// Hand the bytes to the socket only if it takes them now (a send
        /// timeout of 0): [`SocketEvent::Written`](crate::net::SocketEvent::Written) if it takes them all at
        /// once, [`SocketEvent::Refused`](crate::net::SocketEvent::Refused) if it takes none (nothing goes
        /// out), [`SocketEvent::Failed`](crate::net::SocketEvent::Failed) (the connection dropped) if it
        /// takes only part.
        immediate: bool,
        /// UDP: send this datagram here rather than to the connected peer.
        to: Option<Endpoint>,
    },
    /// Close a socket's transport: after what was queued for it has been
    /// written (a close frame), or at once with a TCP RST (`abort`).
    Close {
        /// Which socket.
        socket: SocketId,
        /// Reset rather than an orderly close.
        abort: bool,
    },
    /// Resolve `host` (AT+CIPDOMAIN): answer with
    /// [`Module::handle_resolved`](crate::Module::handle_resolved).
    Resolve {
        /// The name.
        host: String,
        /// Which addresses are wanted.
        family: commands::dns::Family,
        /// How long the lookup may take.
        timeout: Duration,
    },
    /// Send an ICMP echo to `host` (AT+PING): answer with
    /// [`Module::handle_ping`](crate::Module::handle_ping).
    Ping {
        /// Name or address.
        host: String,
        /// How long to wait for the reply.
        timeout: Duration,
    },
    /// Listen on the module's `port` for AT+CIPSERVER (TLS with `tls`):
    /// answer with [`Module::handle_listen`](crate::Module::handle_listen);
    /// clients go to [`Module::handle_accept`](crate::Module::handle_accept).
    /// [`Action::Close`] on the same socket stops listening.
    Listen {
        /// The listening socket.
        socket: SocketId,
        /// The module's port (the runtime may map it to another).
        port: u16,
        /// An SSL server's credentials.
        tls: Option<ServerTlsParams>,
    },
    /// Something worth logging (why a link failed, ...).
    Log(String),
    /// A time sync is due: answer with [`Module::handle_host_clock`](crate::Module::handle_host_clock) and the
    /// host's current Unix time (clock source `Host`; nothing is sent).
    ReadHostClock,
    /// Send an SNTP request to `server`'s UDP port 123 (or wherever the
    /// runtime is told to send SNTP); replies go to
    /// [`Module::handle_sntp_datagram`](crate::Module::handle_sntp_datagram).
    SntpSend {
        /// Server name or address.
        server: String,
        /// The 48-byte request.
        packet: Vec<u8>,
    },
}

/// What a TLS connection (wss://, SSL links) needs, from AT+WSCFG or
/// AT+CIPSSLC* and the manufacturing NVS (PEM or DER bytes as stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsParams {
    /// Client certificate (auth_mode 1 and 3): `wss_cert.<pki_number>`.
    pub client_cert: Option<Vec<u8>>,
    /// Its key: `wss_key.<pki_number>`.
    pub client_key: Option<Vec<u8>>,
    /// The CA the server must chain to (auth_mode 2 and 3):
    /// `wss_ca.<ca_number>`. `None`: any server is accepted.
    pub ca: Option<Vec<u8>>,
    /// The module clock, Unix seconds: certificate validity is checked
    /// against it, not against the host's clock.
    pub now_unix: u64,
    /// The server name to send (SNI); `None`: the host name connected to.
    pub sni: Option<String>,
    /// ALPN protocols to offer (none: no ALPN extension).
    pub alpn: Vec<Vec<u8>>,
    /// The name the server certificate must carry (AT+CIPSSLCCN); `None`:
    /// names are not checked, as ESP-AT does not check them by default.
    pub common_name: Option<String>,
    /// The cipher suites to offer, by IANA number (empty: every one).
    pub ciphers: Vec<u16>,
}

/// What an SSL server (AT+CIPSERVER "SSL") needs, from the manufacturing
/// NVS (`server_cert`, `server_key`, `server_ca`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTlsParams {
    /// The server's certificate (chain).
    pub cert: Vec<u8>,
    /// Its key.
    pub key: Vec<u8>,
    /// `<CA enable>`: clients must present a certificate chaining to it,
    /// valid at the module clock ([`crate::Module::clock_unix_secs`]) when
    /// the client connects.
    pub ca: Option<Vec<u8>>,
}

/// An input other than serial bytes and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Fault injection: every AP goes off the air for `down_for`.
    ApLost {
        /// How long the radio stays down.
        down_for: Duration,
    },
    /// The APs are back on the air (a station set to reconnect rejoins).
    ApBack,
    /// The signal of the AP the station uses (and scans see) is now this.
    Rssi(i8),
    /// The module clock jumps to this Unix time (milliseconds).
    ClockSet(u64),
    /// The module clock moves by this many milliseconds.
    ClockSkew(i64),
    /// The reset pin: the module restarts with no `OK`, just `ready`.
    ResetPin,
    /// Power off: the port goes silent, links vanish, settings survive.
    PowerOff,
    /// Power on after [`Event::PowerOff`]: the module boots.
    PowerOn,
}

