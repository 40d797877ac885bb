//! Replays a golden transcript against the real binary, over TCP or a
//! pseudo-terminal, in real time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::transcript_format::{self, Step};
use super::{HostEnd, Wsat};

/// Which AT port the replay uses.
#[derive(Clone, Copy, Debug)]
pub enum Transport {
    /// `--tcp`.
    Tcp,
    /// `--pty`.
    Pty,
}

fn start(t: Transport, state: &Path, link: &Path) -> (Wsat, HostEnd) {
    let state = state.to_string_lossy().into_owned();
    match t {
        Transport::Tcp => {
            // The transcripts assume an empty manufacturing NVS.
            let w = Wsat::start(&["--tcp", "127.0.0.1:0", "--state", &state, "--no-factory-pki"]);
            let host = HostEnd::tcp(&w.tcp_addr());
            (w, host)
        }
        Transport::Pty => {
            let link_s = link.to_string_lossy().into_owned();
            let w = Wsat::start(&["--pty", &link_s, "--state", &state, "--no-factory-pki"]);
            let host = HostEnd::tty(link);
            (w, host)
        }
    }
}

/// Runs transcript `text` (called `name` in messages) on a fresh wsat.
pub fn run(t: Transport, name: &str, text: &str) {
    let dir = super::tempdir();
    let state = dir.path().join("state");
    let link: PathBuf = dir.path().join("ttyWSAT");
    let (mut wsat, mut host) = start(t, &state, &link);
    for (i, step) in transcript_format::parse(text, env!("CARGO_PKG_VERSION")).into_iter().enumerate() {
        let ctx = format!("{name} over {t:?}: step {}", i + 1);
        match step {
            Step::Send(b) => host.send(&b),
            Step::Expect(b) => host.expect(&b, &ctx),
            Step::Wait(ms) => std::thread::sleep(Duration::from_millis(ms)),
            Step::Restart => {
                drop(host);
                wsat.stop();
                (wsat, host) = start(t, &state, &link);
            }
        }
    }
    let trailing = host.quiet_for(Duration::from_millis(400));
    assert!(trailing.is_empty(), "{name} over {t:?}: unexpected trailing output: {}", super::escape(&trailing));
    wsat.stop();
}

