//! A host on wsat's AT port, as firmware would drive it: blocking reads,
//! one command at a time, waiting for `>` and `SEND OK` as the AT protocol
//! requires, and picking `+WS_DATA` and `+IPD` reports out of the stream
//! wherever they come. In passthrough it hands its socket to the caller.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// A running `wsat --tcp`.
pub struct Wsat {
    child: Child,
    _state: Option<tempfile::TempDir>,
    /// Its pid, for /proc.
    pub pid: String,
}

impl Drop for Wsat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wsat_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("WSAT_BIN") {
        return Ok(PathBuf::from(p));
    }
    let p = std::env::current_exe()?.with_file_name("wsat");
    if !p.exists() {
        bail!("no wsat binary at {} (cargo build --release -p wsat, or set WSAT_BIN)", p.display());
    }
    Ok(p)
}

/// One `+WS_DATA` or `+IPD` report.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    pub link: usize,
    /// When its last byte arrived.
    pub at: Instant,
}

/// When a started wsat printed its port and when `ready` arrived.
#[derive(Debug, Clone, Copy)]
pub struct Startup {
    pub spawned: Instant,
    pub banner: Instant,
    pub ready: Instant,
}

/// The host end of the AT port.
pub struct Host {
    tcp: TcpStream,
    buf: Vec<u8>,
    /// What each read lands in (zeroed once, not at every read).
    scratch: Vec<u8>,
    /// Start of unread bytes in `buf`.
    pos: usize,
    /// AT+WSDATAFMT mask used on every link.
    mask: u8,
    /// Payload bytes reported per link.
    pub echoed: [usize; 3],
    /// Every report, in order.
    pub reports: Vec<Report>,
    /// Bytes the host wrote and read (everything on the "wire").
    pub wire: usize,
    /// `reports.len()` when the last send's `>` came.
    pub reports_at_prompt: usize,
}

const REPORT: &[u8] = b"+WS_DATA:";
const IPD: &[u8] = b"+IPD,";

/// When each step of one stop-and-wait send was seen by the host.
#[derive(Debug, Clone, Copy)]
pub struct SendTimes {
    /// The command line written.
    pub command: Instant,
    /// Its `>` read.
    pub prompt: Instant,
    /// The data written.
    pub data: Instant,
    /// `SEND OK` read.
    pub send_ok: Instant,
}

impl Host {
    /// Starts wsat (with `args` added) and attaches to its TCP port.
    pub fn start(args: &[&str]) -> Result<(Wsat, Host)> {
        let (w, mut h, _) = Host::spawn(args, None)?;
        h.command("ATE0")?;
        h.command("AT+CWJAP=\"bench\",\"\"")?;
        Ok((w, h))
    }

    /// Starts wsat (in `state`, or a fresh state directory) and waits for
    /// `ready`, with no command sent; returns when the AT port's address
    /// was printed and when `ready` arrived.
    pub fn spawn(args: &[&str], state: Option<&std::path::Path>) -> Result<(Wsat, Host, Startup)> {
        let fresh = if state.is_none() { Some(tempfile::tempdir()?) } else { None };
        let dir = state.or(fresh.as_ref().map(tempfile::TempDir::path)).context("a state directory")?.to_path_buf();
        let spawned = Instant::now();
        let mut child = Command::new(wsat_binary()?)
            .args(["--tcp", "127.0.0.1:0", "--no-factory-pki", "--state"])
            .arg(&dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().context("stderr")?;
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
        let addr = loop {
            let line = lines.next().context("wsat exited")??;
            if let Some(a) = line.split("tcp://").nth(1) {
                break a.trim().to_string();
            }
        };
        let banner = Instant::now();
        // Keep draining stderr so wsat never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        let pid = child.id().to_string();
        let tcp = TcpStream::connect(addr)?;
        tcp.set_nodelay(true)?;
        // A stuck exchange becomes an error, not a hung benchmark.
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(20)))?;
        let mut h = Host { tcp, buf: Vec::with_capacity(256 * 1024), scratch: vec![0; 64 * 1024], pos: 0, mask: 48, echoed: [0; 3], reports: Vec::new(), wire: 0, reports_at_prompt: 0 };
        h.until(b"ready\r\n")?;
        let ready = Instant::now();
        Ok((Wsat { child, _state: fresh, pid }, h, Startup { spawned, banner, ready }))
    }

    /// Opens link `id` to `url` with the largest receive buffer and the
    /// given report format. Every link of a host must use the same mask.
    pub fn open(&mut self, id: usize, url: &str, level: u8, mask: u8) -> Result<()> {
        self.mask = mask;
        self.command(&format!("AT+WSCFG={id},60,120,16384"))?;
        self.command(&format!("AT+WSDATAFMT={id},{level},{mask}"))?;
        self.command(&format!("AT+WSOPEN={id},\"{url}\""))
    }

    /// Sends a command line and waits for its `OK`.
    pub fn command(&mut self, line: &str) -> Result<()> {
        self.send(format!("{line}\r\n").as_bytes())?;
        self.until(b"\r\nOK\r\n").with_context(|| line.to_string())
    }

    /// Writes bytes to the port.
    pub fn send(&mut self, b: &[u8]) -> Result<()> {
        self.wire += b.len();
        self.tcp.write_all(b)?;
        Ok(())
    }

    /// One AT+WSSEND of `data` on `link`: command, `>`, data, `SEND OK`.
    pub fn ws_send(&mut self, link: usize, data: &[u8]) -> Result<SendTimes> {
        self.stop_and_wait(&format!("AT+WSSEND={link},{},2", data.len()), data)
    }

    /// One AT+CIPSEND of `data` (single-connection mode).
    pub fn cip_send(&mut self, data: &[u8]) -> Result<SendTimes> {
        self.stop_and_wait(&format!("AT+CIPSEND={}", data.len()), data)
    }

    /// A stop-and-wait send: `line`, `>`, `data`, `SEND OK`.
    fn stop_and_wait(&mut self, line: &str, data: &[u8]) -> Result<SendTimes> {
        let command = Instant::now();
        self.send(format!("{line}\r\n").as_bytes())?;
        self.until(b"\r\nOK\r\n\r\n>")?;
        let prompt = Instant::now();
        self.reports_at_prompt = self.reports.len();
        self.send(data)?;
        let data_sent = Instant::now();
        self.until(b"\r\nSEND OK\r\n")?;
        Ok(SendTimes { command, prompt, data: data_sent, send_ok: Instant::now() })
    }

    /// Enters passthrough (AT+CIPMODE=1 and a link must be up): sends
    /// AT+CIPSEND, waits for `>`, and returns the socket with any bytes
    /// that came after the `>` (the link's data).
    pub fn passthrough(&mut self) -> Result<(TcpStream, Vec<u8>)> {
        self.send(b"AT+CIPSEND\r\n")?;
        self.until(b"\r\nOK\r\n\r\n>")?;
        let rest = self.buf.split_off(self.pos);
        self.buf.clear();
        self.pos = 0;
        Ok((self.tcp.try_clone()?, rest))
    }

    /// Reads until `token`, taking in reports met on the way.
    pub fn until(&mut self, token: &[u8]) -> Result<()> {
        loop {
            let unread = &self.buf[self.pos..];
            let t = find(unread, token);
            let r = first_report(unread);
            match (t, r) {
                (Some(t), r) if r.is_none_or(|r| t < r) => {
                    self.pos += t + token.len();
                    return Ok(());
                }
                (_, Some(r)) => {
                    self.pos += r;
                    self.report()?;
                }
                _ => self.fill()?,
            }
        }
    }

    /// Reads until at least one more report has arrived.
    pub fn next_report(&mut self) -> Result<()> {
        loop {
            if let Some(r) = first_report(&self.buf[self.pos..]) {
                self.pos += r;
                return self.report();
            }
            self.fill()?;
        }
    }

    /// Waits until every link in `0..links` has had `bytes` echoed.
    pub fn wait_echoed(&mut self, links: usize, bytes: usize) -> Result<()> {
        while (0..links).any(|l| self.echoed[l] < bytes) {
            self.next_report()?;
        }
        Ok(())
    }

    /// Parses the report at `pos`: `+WS_DATA:<id>,[fields,]<data_len>,<data>[\r\n]`
    /// or `+IPD,[<id>,]<len>:<data>\r\n`.
    /// Offsets are kept relative to `pos`: `fill` moves the buffer.
    fn report(&mut self) -> Result<()> {
        if self.buf[self.pos..].starts_with(IPD) {
            return self.ipd();
        }
        let fields = 1 + (self.mask & 31).count_ones() as usize;
        let mut values = [0usize; 6];
        let mut at = REPORT.len();
        for v in values.iter_mut().take(fields) {
            let comma = loop {
                if let Some(c) = self.buf[self.pos + at..].iter().position(|&b| b == b',') {
                    break at + c;
                }
                self.fill()?;
            };
            *v = std::str::from_utf8(&self.buf[self.pos + at..self.pos + comma])?.parse().context("report field")?;
            at = comma + 1;
        }
        let (link, data_len) = (values[0], values[fields - 1]);
        let end = at + data_len + if self.mask & 32 != 0 { 2 } else { 0 };
        while self.buf.len() < self.pos + end {
            self.fill()?;
        }
        self.pos += end;
        self.echoed[link] += data_len;
        self.reports.push(Report { link, at: Instant::now() });
        Ok(())
    }

    /// `+IPD,[<id>,]<len>:<data>\r\n` at `pos`.
    fn ipd(&mut self) -> Result<()> {
        let colon = loop {
            if let Some(c) = self.buf[self.pos..].iter().position(|&b| b == b':') {
                break c;
            }
            self.fill()?;
        };
        let head = std::str::from_utf8(&self.buf[self.pos + IPD.len()..self.pos + colon])?;
        let fields: Vec<usize> = head.split(',').map(str::parse).collect::<Result<_, _>>().context("+IPD field")?;
        let (link, data_len) = match fields.as_slice() {
            [len] => (0, *len),
            [id, len] => (*id, *len),
            _ => bail!("+IPD with remote address: not expected"),
        };
        let end = colon + 1 + data_len + 2;
        while self.buf.len() < self.pos + end {
            self.fill()?;
        }
        self.pos += end;
        self.echoed[link] += data_len;
        self.reports.push(Report { link, at: Instant::now() });
        Ok(())
    }

    /// Reads more bytes (dropping consumed ones first).
    fn fill(&mut self) -> Result<()> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let len = self.buf.len();
        let n = self.tcp.read(&mut self.scratch).with_context(|| {
            let tail = &self.buf[len.saturating_sub(80)..len];
            format!(
                "reading the AT port; {} reports, echoed {:?}; last bytes {:?}",
                self.reports.len(),
                self.echoed,
                String::from_utf8_lossy(tail)
            )
        })?;
        self.buf.extend_from_slice(&self.scratch[..n]);
        if n == 0 {
            bail!("wsat closed the AT port");
        }
        self.wire += n;
        Ok(())
    }
}

/// Where the first `+WS_DATA` or `+IPD` report starts.
fn first_report(hay: &[u8]) -> Option<usize> {
    match (find(hay, REPORT), find(hay, IPD)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
