//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// wsat: a virtual ESP-AT WebSocket module. It speaks AT commands on a
/// serial line (stdin/stdout by default) and opens real WebSocket
/// connections on this machine's network.
#[derive(Debug, Parser)]
#[command(name = "wsat", version, about, long_about = None)]
pub struct Cli {
    /// Serve the AT port over TCP at ADDR (one client at a time, like ser2net).
    #[arg(long, value_name = "ADDR", group = "transport")]
    pub tcp: Option<SocketAddr>,

    /// Create a pseudo-terminal and link it at PATH (for QEMU, Renode, picocom...).
    #[arg(long, value_name = "PATH", group = "transport")]
    pub pty: Option<PathBuf>,

    /// Use a real serial port (a UART) as the AT port.
    #[arg(long, value_name = "DEV", group = "transport")]
    pub serial: Option<PathBuf>,

    /// Dial out: the AT port connects to a TCP server at HOST:PORT (Renode's
    /// server socket terminal, `qemu -serial tcp::PORT,server`), and again
    /// whenever the peer goes away.
    #[arg(long, value_name = "HOST:PORT", group = "transport", value_parser = parse_host_port)]
    pub connect: Option<String>,

    /// Record every byte on the AT port, both ways, with timestamps, in
    /// FILE (`wsat trace FILE --to-transcript` makes a golden transcript).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,

    /// Open a control socket (a Unix socket, mode 0600) at PATH: faults on
    /// demand, live status, an event stream (see docs/control.md and
    /// `wsat ctl`).
    #[arg(long, value_name = "PATH")]
    pub control: Option<PathBuf>,

    /// Line rate at start, in baud (default: the stored AT+UART_DEF, 115200).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(80..=5_000_000))]
    pub baud: Option<u32>,

    /// Pace the AT port at the UART's baud rate (start bit, data, parity and
    /// stop bits per byte), both ways, as a real UART would.
    #[arg(long)]
    pub pace: bool,

    /// Directory for persistent settings and the manufacturing NVS
    /// (default: $XDG_STATE_HOME/wsat or ~/.local/state/wsat).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,

    /// Import an ESP-AT `raw_data` style PKI directory into the
    /// manufacturing NVS at start (wss_ca/, wss_cert/, wss_key/).
    #[arg(long, value_name = "DIR")]
    pub pki: Option<PathBuf>,

    /// Do not generate a factory PKI when the manufacturing NVS has no
    /// WebSocket credentials (start with the NVS as it is).
    #[arg(long, conflicts_with = "pki")]
    pub no_factory_pki: bool,

    /// A TOML file of access points: the radio then knows only these.
    #[arg(long, value_name = "FILE")]
    pub networks: Option<PathBuf>,

    /// Where the module clock gets its time when AT+CIPSNTPCFG enables sync:
    /// `host` (this computer's clock, nothing sent) or `sntp` (real SNTP over
    /// UDP; the clock starts at 1970 until a server answers).
    #[arg(long, value_enum, default_value_t = ClockArg::Host)]
    pub clock: ClockArg,

    /// Send every SNTP query to this address (host:port) instead of the
    /// servers AT+CIPSNTPCFG names (for a local SNTP server).
    #[arg(long, value_name = "ADDR")]
    pub sntp_server: Option<SocketAddr>,

    /// The address AT+CIPSERVER listens on. A virtual module must not open
    /// this computer to the network unless asked: the default is loopback.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub listen_addr: std::net::IpAddr,

    /// Map a module port to a port of this computer for AT+CIPSERVER
    /// (`80:8080`; repeatable), so several modules can all "listen on 80".
    #[arg(long, value_name = "MODULE:HOST", value_parser = parse_port_map)]
    pub port_map: Vec<(u16, u16)>,

    /// How long the radio stays down after SIGUSR1 (fault injection), in ms.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub ap_down_ms: u64,

    /// Print the AT command reference (Markdown) and exit.
    #[arg(long)]
    pub command_reference: bool,

    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG
    /// overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Tools around a running (or recorded) module.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Talk to a running wsat's control socket: `wsat ctl PATH status`,
    /// `wsat ctl PATH ap down --for 3000`, `wsat ctl PATH link ip0 reset`...
    /// Prints the JSON answer; exits non-zero when the verb fails.
    Ctl {
        /// The socket given to `wsat --control`.
        path: PathBuf,
        /// The verb and its arguments.
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true, trailing_var_arg = true)]
        words: Vec<String>,
    },
    /// Read a trace recorded with `--trace`.
    Trace {
        /// The trace file.
        file: PathBuf,
        /// Print it as a golden transcript (tests/transcripts/*.at).
        #[arg(long)]
        to_transcript: bool,
    },
}

/// `--connect HOST:PORT`.
fn parse_host_port(s: &str) -> Result<String, String> {
    let (host, port) = s.rsplit_once(':').ok_or("expected HOST:PORT, e.g. localhost:4000")?;
    if host.trim_matches(['[', ']']).is_empty() {
        return Err("expected HOST:PORT: the host is empty".into());
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(s.to_string()),
        _ => Err(format!("{port:?} is not a port (1-65535)")),
    }
}

/// `--port-map MODULE:HOST`.
fn parse_port_map(s: &str) -> Result<(u16, u16), String> {
    let (m, h) = s.split_once(':').ok_or("expected MODULE:HOST, e.g. 80:8080")?;
    let port = |p: &str| p.trim().parse::<u16>().map_err(|_| format!("{p:?} is not a port (0-65535)"));
    Ok((port(m)?, port(h)?))
}

/// `--clock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClockArg {
    /// Synced from this computer's clock.
    Host,
    /// Synced by SNTP over UDP only.
    Sntp,
}
