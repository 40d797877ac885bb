//! The AT port on a pseudo-terminal, linked at a path of the user's choice
//! (`--pty /tmp/wsat` gives `/tmp/wsat -> /dev/pts/N`), for QEMU, Renode,
//! picocom or any program that opens a serial device.
//!
//! wsat keeps the slave side open itself, so the terminal survives clients
//! coming and going; it starts in raw mode so bytes pass unchanged, and it
//! is not exclusive, so other programs may open it.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::{SerialPort as _, SerialStream};

use super::{Input, PortEvent};

/// A pseudo-terminal serving the AT port.
pub struct PtyPort {
    master: SerialStream,
    /// Held open so the master never sees a hang-up between clients.
    _slave: SerialStream,
    link: PathBuf,
    slave_path: PathBuf,
}

impl PtyPort {
    /// Creates the terminal and the link at `link`. An existing symlink
    /// there is replaced; any other file is left alone and is an error.
    pub fn open(link: &Path) -> io::Result<PtyPort> {
        let (master, mut slave) = SerialStream::pair()?;
        slave.set_exclusive(false)?;
        let slave_path = PathBuf::from(
            slave.name().ok_or_else(|| io::Error::other("the pseudo-terminal has no name"))?,
        );
        match std::fs::symlink_metadata(link) {
            Ok(m) if m.file_type().is_symlink() => std::fs::remove_file(link)?,
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a symlink; not replacing it", link.display()),
                ))
            }
            Err(_) => {}
        }
        std::os::unix::fs::symlink(&slave_path, link)?;
        Ok(PtyPort { master, _slave: slave, link: link.to_path_buf(), slave_path })
    }

    /// The terminal's own device path (`/dev/pts/N`).
    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }

    pub(super) async fn next(&mut self, buf: &mut [u8], read: bool, out: &[u8]) -> io::Result<PortEvent> {
        let (mut rd, mut wr) = tokio::io::split(&mut self.master);
        loop {
            tokio::select! {
                r = rd.read(buf), if read => match r {
                    Ok(n) if n > 0 => return Ok(PortEvent::Input(Input::Data(n))),
                    // 0 or EIO: no peer right now (cannot happen while we
                    // hold the slave, but a transient error must not end
                    // the port).
                    Ok(_) | Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                },
                w = wr.write(out), if !out.is_empty() => return w.map(PortEvent::Wrote),
                else => std::future::pending::<()>().await,
            }
        }
    }
}

impl Drop for PtyPort {
    fn drop(&mut self) {
        // Remove our link only if it still points at our terminal.
        if std::fs::read_link(&self.link).is_ok_and(|t| t == self.slave_path) {
            let _ = std::fs::remove_file(&self.link);
        }
    }
}
