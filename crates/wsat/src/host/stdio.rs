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

use super::{Input, PortEvent};

/// stdin/stdout as an AT port.
pub struct StdioPort {
    rx: mpsc::Receiver<Vec<u8>>,
    pending: Vec<u8>,
    /// Output goes to a writer task, so a stalled stdout never blocks the
    /// module (and a write is never half-done when `next` is cancelled).
    out_tx: Option<mpsc::Sender<Vec<u8>>>,
    writer: Option<tokio::task::JoinHandle<()>>,
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
        let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(4);
        let writer = tokio::spawn(async move {
            let mut stdout = tokio::io::stdout();
            while let Some(chunk) = out_rx.recv().await {
                if stdout.write_all(&chunk).await.is_err() || stdout.flush().await.is_err() {
                    break;
                }
            }
        });
        Ok(StdioPort { rx, pending: Vec::new(), out_tx: Some(out_tx), writer: Some(writer), saved, eof_said: false, tty })
    }

    /// True when a person is typing at a terminal.
    pub fn is_terminal(&self) -> bool {
        self.tty
    }

    pub(super) async fn next(&mut self, buf: &mut [u8], read: bool, out: &[u8]) -> io::Result<PortEvent> {
        loop {
            if read && !self.pending.is_empty() {
                let n = self.pending.len().min(buf.len());
                buf[..n].copy_from_slice(&self.pending[..n]);
                self.pending.drain(..n);
                return Ok(PortEvent::Input(Input::Data(n)));
            }
            tokio::select! {
                chunk = self.rx.recv(), if read && !self.eof_said => match chunk {
                    Some(mut chunk) => {
                        if self.tty {
                            chunk = crlf(&chunk);
                        }
                        self.pending = chunk;
                    }
                    None => {
                        self.eof_said = true;
                        return Ok(PortEvent::Input(Input::Eof));
                    }
                },
                permit = async { self.out_tx.as_ref()?.reserve().await.ok() }, if !out.is_empty() => {
                    let permit = permit.ok_or_else(|| io::Error::from(io::ErrorKind::BrokenPipe))?;
                    permit.send(out.to_vec());
                    return Ok(PortEvent::Wrote(out.len()));
                }
                else => std::future::pending::<()>().await,
            }
        }
    }
}

impl StdioPort {
    /// Waits until everything handed over has reached stdout.
    pub(super) async fn finish(&mut self) {
        self.out_tx = None;
        if let Some(w) = self.writer.take() {
            let _ = w.await;
        }
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
