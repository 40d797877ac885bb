//! The AT port on stdin/stdout: scripts pipe bytes in, people type.
//!
//! When stdin is a terminal, wsat makes it an AT console: the terminal's
//! own line editing and echo are switched off (the module echoes, as a
//! real one does; Ctrl-C still quits), and Enter sends CR LF, the line end
//! AT commands need. The terminal is restored on exit. When stdin is a pipe
//! or file, bytes pass unchanged, and wsat exits once input has ended and
//! the last command has finished.

use std::io::{self, IsTerminal, Read};

use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg, Termios};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::Input;

/// stdin/stdout as an AT port.
pub struct StdioPort {
    rx: mpsc::Receiver<Vec<u8>>,
    pending: Vec<u8>,
    stdout: tokio::io::Stdout,
    saved: Option<Termios>,
    eof_said: bool,
    /// Stdin is a terminal: map Enter to CR LF.
    tty: bool,
}

impl StdioPort {
    /// Takes over stdin and stdout.
    pub fn open() -> io::Result<StdioPort> {
        let tty = io::stdin().is_terminal();
        let saved = if tty {
            let stdin = io::stdin();
            let old = tcgetattr(&stdin)?;
            let mut t = old.clone();
            t.local_flags.remove(LocalFlags::ICANON | LocalFlags::ECHO);
            tcsetattr(&stdin, SetArg::TCSANOW, &t)?;
            Some(old)
        } else {
            None
        };
        // Blocking reads on a thread: stdin cannot be read asynchronously
        // in general (files, terminals), and a thread makes reads
        // cancel-safe for the driver.
        let (tx, rx) = mpsc::channel(16);
        std::thread::Builder::new().name("wsat-stdin".into()).spawn(move || {
            let mut buf = vec![0u8; 4096];
            let mut stdin = io::stdin().lock();
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx.blocking_send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
        })?;
        Ok(StdioPort { rx, pending: Vec::new(), stdout: tokio::io::stdout(), saved, eof_said: false, tty })
    }

    /// True when a person is typing at a terminal.
    pub fn is_terminal(&self) -> bool {
        self.tty
    }

    pub(super) async fn next_input(&mut self, buf: &mut [u8]) -> io::Result<Input> {
        if self.pending.is_empty() {
            match self.rx.recv().await {
                Some(mut chunk) => {
                    if self.tty {
                        chunk = crlf(&chunk);
                    }
                    self.pending = chunk;
                }
                None if !self.eof_said => {
                    self.eof_said = true;
                    return Ok(Input::Eof);
                }
                None => std::future::pending::<()>().await,
            }
        }
        let n = self.pending.len().min(buf.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(Input::Data(n))
    }

    pub(super) async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stdout.write_all(bytes).await?;
        self.stdout.flush().await
    }
}

/// Enter on a terminal gives CR (mapped to LF by the tty) or LF: send CR LF.
fn crlf(chunk: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(chunk.len() + 1);
    for &b in chunk {
        if b == b'\n' {
            out.extend_from_slice(b"\r\n");
        } else {
            out.push(b);
        }
    }
    out
}

impl Drop for StdioPort {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = tcsetattr(io::stdin(), SetArg::TCSANOW, t);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn enter_becomes_crlf() {
        assert_eq!(super::crlf(b"AT\n"), b"AT\r\n");
        assert_eq!(super::crlf(b"A\nB\n"), b"A\r\nB\r\n");
    }
}
