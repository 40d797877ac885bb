//! wsat: a virtual ESP-AT WebSocket module.
//!
//! This crate is the thin tokio runtime around `wsat-core`: command line,
//! transports for the AT port (`host/`), the state directory (`state.rs`),
//! the networks file, PKI import, UART pacing and the event loop
//! (`driver.rs`). Every protocol decision is in the core.

// One audited exception: registering the pacing timerfd (pacing.rs).
#![deny(unsafe_code)]

mod cli;
mod driver;
mod host;
mod ping;
mod sockets;
mod networks;
mod pacing;
mod pki;
mod regex_engine;
mod sntp;
mod state;
mod tls;
mod trace;
mod control;
mod faults;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use tracing_subscriber::EnvFilter;
use wsat_core::wifi::radio::Radio;
use wsat_core::{Config, Duration, Instant, Module, VersionInfo};

use crate::cli::Cli;
use crate::host::Port;
use crate::state::StateDir;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(cli::Command::Trace { file, to_transcript }) => return trace_command(file, *to_transcript),
        Some(cli::Command::Ctl { path, words }) => return control::client(path, words),
        None => {}
    }
    if cli.command_reference {
        print!("{}", wsat_core::at::table::reference_markdown(wsat_core::commands::COMMANDS));
        return ExitCode::SUCCESS;
    }
    let default = ["warn", "info", "debug", "trace"][usize::from(cli.verbose.min(3))];
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)))
        .init();
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wsat: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wsat: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `wsat trace FILE [--to-transcript]`.
fn trace_command(file: &std::path::Path, to_transcript: bool) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("wsat: cannot read {}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    if !to_transcript {
        print!("{text}");
        return ExitCode::SUCCESS;
    }
    match trace::to_transcript(&text, env!("CARGO_PKG_VERSION")) {
        Ok(t) => {
            print!("{t}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wsat: {}: {e:#}", file.display());
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    if let Some((m, _)) = cli.port_map.iter().enumerate().find_map(|(i, a)| cli.port_map[..i].iter().find(|b| b.0 == a.0)) {
        anyhow::bail!("--port-map: module port {m} is mapped twice");
    }
    let state_path = cli.state.clone().unwrap_or_else(StateDir::default_path);
    let state = StateDir::open(&state_path)?;
    let mut settings = state.load_settings()?;
    let mut mfg = state.load_mfg()?;
    if let Some(dir) = &cli.pki {
        let n = pki::import(dir, &mut mfg)?;
        state.save_mfg(&mfg)?;
        tracing::info!(count = n, dir = %dir.display(), "imported PKI into the manufacturing NVS");
    } else if !cli.no_factory_pki && !pki::has_pki(&mfg) {
        // A module leaves the factory with credentials; so does wsat.
        let dir = state.path().join("pki");
        let ca = pki::generate(&dir, &mut mfg).context("cannot generate the factory PKI")?;
        state.save_mfg(&mfg)?;
        eprintln!(
            "wsat: generated a factory PKI in {}; servers the module should trust (AT+WSCFG auth_mode 2, 3) need a \
             certificate signed by {} (key: {}), and servers that check clients should trust that CA",
            dir.display(),
            ca.display(),
            dir.join("ca.key").display()
        );
    }
    if mfg.keys("factory_param").is_none() {
        // A module leaves the factory with its parameters.
        mfg.add_factory_param();
        state.save_mfg(&mfg)?;
    }
    let flash = state.load_flash()?;
    if let Some(baud) = cli.baud {
        settings.get_or_insert_with(Default::default).uart.baud = baud;
    }
    let radio = match &cli.networks {
        Some(path) => networks::load(path)?,
        None => Radio::Permissive,
    };
    let uart = settings.clone().unwrap_or_default().uart;

    let port = if let Some(addr) = cli.tcp {
        let p = host::tcp::TcpPort::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        eprintln!("wsat: AT port listening on tcp://{}", p.local_addr()?);
        Port::Tcp(p)
    } else if let Some(addr) = &cli.connect {
        eprintln!("wsat: AT port dials tcp://{addr}");
        Port::Dial(host::dial::DialPort::new(addr))
    } else if let Some(link) = &cli.pty {
        let p = host::pty::PtyPort::open(link).with_context(|| format!("cannot create a pty at {}", link.display()))?;
        eprintln!("wsat: AT port on {} -> {}", link.display(), p.slave_path().display());
        Port::Pty(p)
    } else if let Some(dev) = &cli.serial {
        let p = host::serial::SerialPort::open(dev, uart).with_context(|| format!("cannot open {}", dev.display()))?;
        eprintln!("wsat: AT port on {} at {} baud", dev.display(), uart.baud);
        Port::Serial(p)
    } else {
        let p = host::stdio::StdioPort::open().context("cannot use stdin/stdout")?;
        if p.is_terminal() {
            eprintln!(
                "wsat {}: virtual ESP-AT module. Type AT commands (Enter sends CR LF); Ctrl-C quits. State: {}",
                env!("CARGO_PKG_VERSION"),
                state.path().display()
            );
        }
        Port::Stdio(p)
    };

    let origin = tokio::time::Instant::now();
    let config = Config {
        version: VersionInfo { version: env!("CARGO_PKG_VERSION").into(), build: std::env::consts::ARCH.into() },
        settings,
        mfg,
        radio,
        seed: entropy(),
        clock_source: match cli.clock {
            cli::ClockArg::Host => wsat_core::commands::sntp::ClockSource::Host,
            cli::ClockArg::Sntp => wsat_core::commands::sntp::ClockSource::Sntp,
        },
        flash,
        regex: Some(wsat_core::module::RegexEngineRef(std::rc::Rc::new(regex_engine::Engine))),
    };
    let module = Module::new(config, Instant::ZERO);
    let opts = driver::Options {
        pace: cli.pace,
        ap_down: Duration::from_millis(cli.ap_down_ms),
        sntp_server: cli.sntp_server,
        listen_addr: cli.listen_addr,
        port_map: cli.port_map.iter().copied().collect(),
        trace: cli.trace.clone(),
        control: cli.control.clone(),
    };
    driver::run(module, port, state, opts, origin).await
}

/// A fresh random seed from the OS (through the standard library's
/// randomly keyed hasher), for masking keys and handshake nonces.
fn entropy() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.finish()
}
