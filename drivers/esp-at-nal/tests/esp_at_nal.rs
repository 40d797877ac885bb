//! The Rust crate `esp-at-nal` (built on atat), unmodified, drives the
//! real wsat binary over its TCP AT port: it joins Wi-Fi, reads the
//! address, opens three TCP sockets to a loopback echo server, sends and
//! receives 64 KiB on each (every byte checked) and closes them.
//!
//! Only the glue is ours: the serial adapter (an `embedded_io::Write` over
//! the TCP stream), atat's ingress loop on a thread, a `fugit_timer`
//! timer and embassy-time's clock on the host.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atat::blocking::Client;
use atat::{AtDigester, AtatIngress, Config, Ingress, IngressError, ResponseSlot, UrcChannel};
use embedded_nal::TcpClientStack;
use esp_at_nal::urc::URCMessages;
use esp_at_nal::wifi::{Adapter, WifiAdapter};
use fugit::{TimerDurationU32, TimerInstantU32};

const TIMER_HZ: u32 = 1_000_000;
/// Bytes per AT+CIPSEND (the driver cuts sends into pieces of this size).
const TX_SIZE: usize = 2048;
/// Bytes per AT+CIPRECVDATA: more than a link's passive buffer (5760), so
/// one read takes everything the module holds.
const RX_SIZE: usize = 8192;
const URC_CAPACITY: usize = 16;
/// atat's ingress buffer: a whole `+CIPRECVDATA:<n>,<RX_SIZE bytes>` and
/// what follows it must fit.
const INGRESS_BUF_SIZE: usize = RX_SIZE + 1024;
/// The command buffer holds a whole data piece.
const CMD_BUF_SIZE: usize = TX_SIZE + 64;
const SOCKETS: usize = 3;
const BYTES: usize = 64 * 1024;

type Urc = URCMessages<RX_SIZE>;

/// embassy-time's clock for atat's blocking client (it only reads it).
struct HostTimeDriver;
static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

impl embassy_time_driver::Driver for HostTimeDriver {
    fn now(&self) -> u64 {
        // atat's blocking client waits for a response by reading this
        // clock in a tight loop. A short sleep makes that wait polite, so
        // the ingress thread and wsat get the CPU on a two-core machine
        // and the waiting thread still wakes well within the time a UART
        // takes to carry the next line.
        std::thread::sleep(Duration::from_micros(20));
        let e = EPOCH.get_or_init(Instant::now).elapsed();
        (e.as_nanos() * u128::from(embassy_time_driver::TICK_HZ) / 1_000_000_000) as u64
    }
    fn schedule_wake(&self, _at: u64, waker: &core::task::Waker) {
        // Nothing async runs; wake at once.
        waker.wake_by_ref();
    }
}
embassy_time_driver::time_driver_impl!(static DRIVER: HostTimeDriver = HostTimeDriver);

/// The write half of the "serial line".
struct TcpWriter(TcpStream);

impl embedded_io::ErrorType for TcpWriter {
    type Error = std::io::Error;
}

impl embedded_io::Write for TcpWriter {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush()
    }
}

/// A one-shot countdown on the host's monotonic clock.
struct StdTimer {
    epoch: Instant,
    deadline: Option<Instant>,
}

impl fugit_timer::Timer<TIMER_HZ> for StdTimer {
    type Error = ();

    fn now(&mut self) -> TimerInstantU32<TIMER_HZ> {
        TimerInstantU32::from_ticks(self.epoch.elapsed().as_micros() as u32)
    }

    fn start(&mut self, duration: TimerDurationU32<TIMER_HZ>) -> Result<(), ()> {
        self.deadline = Some(Instant::now() + Duration::from_micros(u64::from(duration.to_micros())));
        Ok(())
    }

    fn cancel(&mut self) -> Result<(), ()> {
        self.deadline = None;
        Ok(())
    }

    fn wait(&mut self) -> nb::Result<(), ()> {
        match self.deadline {
            Some(d) if Instant::now() >= d => {
                self.deadline = None;
                Ok(())
            }
            Some(_) => {
                // The driver polls this while it waits for SEND OK.
                std::thread::sleep(Duration::from_micros(200));
                Err(nb::Error::WouldBlock)
            }
            None => Err(nb::Error::Other(())),
        }
    }
}

/// atat's ingress: AT port bytes in, responses and URCs out.
fn spawn_ingress(mut reader: TcpStream, slot: &'static ResponseSlot<INGRESS_BUF_SIZE>, urcs: &'static UrcChannel<Urc, URC_CAPACITY, 1>) {
    let buf: &'static mut [u8] = Box::leak(vec![0u8; INGRESS_BUF_SIZE].into_boxed_slice());
    std::thread::spawn(move || {
        let mut ingress: Ingress<'static, AtDigester<Urc>, Urc, INGRESS_BUF_SIZE, URC_CAPACITY, 1> =
            Ingress::new(AtDigester::<Urc>::new(), buf, slot, urcs);
        loop {
            let wb = ingress.write_buf();
            if wb.is_empty() {
                ingress.clear();
                continue;
            }
            let n = match reader.read(wb) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            // The blocking form of `ingress.advance(n).await`.
            let mut r = ingress.try_advance(n);
            while let Err(IngressError::UrcChannelFull) = r {
                std::thread::sleep(Duration::from_millis(1));
                r = ingress.try_advance(0);
            }
        }
    });
}

/// The wsat binary of this workspace (built first if `cargo test` was
/// asked for this package alone).
fn wsat_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target profile directory");
    let bin = dir.join("wsat");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo).args(["build", "-p", "wsat"]).status().is_ok_and(|s| s.success());
        assert!(ok, "cannot build the wsat binary");
    }
    bin
}

/// wsat on a TCP AT port with a fresh state directory.
struct Wsat {
    child: Child,
    addr: String,
    _dir: PathBuf,
}

impl Drop for Wsat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

/// wsat paces its AT port at 115200 baud, as a real module's UART runs:
/// esp-at-nal overwrites its count of unread bytes with each `+IPD`
/// notice and then subtracts what it just read, so a notice that arrives
/// together with the `OK` of AT+CIPRECVDATA (possible only on a line
/// faster than any UART) would be lost to the driver and the socket would
/// stall. At 115200 baud the notice trails the `OK` by over a millisecond.
fn start_wsat() -> Wsat {
    let dir = std::env::temp_dir().join(format!("wsat-esp-at-nal-{}", std::process::id()));
    let mut child = Command::new(wsat_binary())
        .args(["--tcp", "127.0.0.1:0", "--pace", "--no-factory-pki", "--state"])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wsat starts");
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if let Some(addr) = line.rsplit("tcp://").next().filter(|_| line.contains("AT port")) {
                let _ = tx.send(addr.trim().to_string());
            }
            eprintln!("[wsat] {line}");
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).expect("wsat's AT port banner");
    Wsat { child, addr, _dir: dir }
}

/// A loopback echo server for every connection.
fn echo_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut b = [0u8; 16384];
                while let Ok(n) = s.read(&mut b) {
                    if n == 0 || s.write_all(&b[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn esp_at_nal_joins_and_echoes_64_kib_on_three_sockets() {
    // The driver's buffers (heapless, RX_SIZE each) travel on the stack.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(run_driver)
        .unwrap()
        .join()
        .unwrap();
}

fn run_driver() {
    let wsat = start_wsat();
    let remote = echo_server();
    let stream = TcpStream::connect(&wsat.addr).expect("connect to the AT port");
    stream.set_nodelay(true).unwrap();
    // Glue: a real module's boot banner is gone by the time a driver
    // starts talking; take wsat's `ready` off the line first.
    let mut reader = stream.try_clone().unwrap();
    let mut boot = Vec::new();
    let mut b = [0u8; 64];
    while !boot.ends_with(b"ready\r\n") {
        let n = reader.read(&mut b).expect("boot banner");
        assert!(n > 0, "AT port closed");
        boot.extend_from_slice(&b[..n]);
    }

    let slot: &'static ResponseSlot<INGRESS_BUF_SIZE> = Box::leak(Box::new(ResponseSlot::new()));
    let urcs: &'static UrcChannel<Urc, URC_CAPACITY, 1> = Box::leak(Box::new(UrcChannel::new()));
    let subscriber = urcs.subscribe().expect("subscribe");
    spawn_ingress(reader, slot, urcs);
    let cmd_buf: &'static mut [u8] = Box::leak(vec![0u8; CMD_BUF_SIZE].into_boxed_slice());
    let client = Client::new(TcpWriter(stream), slot, cmd_buf, Config::new());
    let timer = StdTimer { epoch: Instant::now(), deadline: None };
    let mut adapter: Adapter<'_, _, _, TIMER_HZ, TX_SIZE, RX_SIZE, URC_CAPACITY> = Adapter::new(client, subscriber, timer);

    // AT+CWMODE=1, AT+CWJAP (the virtual radio's default AP).
    adapter.join("espressif", "1234567890").expect("join");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !adapter.get_join_status().ip_assigned {
        assert!(Instant::now() < deadline, "no WIFI GOT IP");
        std::thread::sleep(Duration::from_millis(10));
    }
    let address = adapter.get_address().expect("AT+CIFSR");
    assert!(address.ipv4.is_some(), "an IPv4 address: {:?}", address.ipv4);

    // The first socket sends AT+CIPMUX=1, the first connect AT+CIPRECVMODE=1.
    let mut sockets = Vec::new();
    for _ in 0..SOCKETS {
        let mut s = adapter.socket().expect("socket");
        nb::block!(adapter.connect(&mut s, remote)).expect("connect");
        sockets.push(s);
    }

    // A distinct pattern per socket; every byte is checked on its way back.
    // The sockets take turns: a 4 KiB slice out, then its echo read back
    // once it has reached the module. (esp-at-nal overwrites its count of
    // unread bytes with each `+IPD` notice before it subtracts what it has
    // just read; reading only what has fully arrived keeps it from
    // meeting a notice that crosses its read, as can happen on a real
    // module too.)
    let pattern = |sock: usize, i: usize| (i as u32).wrapping_mul(31).wrapping_add(sock as u32 * 101) as u8;
    let mut sent = [0usize; SOCKETS];
    let mut received = [0usize; SOCKETS];
    let mut rx = vec![0u8; RX_SIZE];
    let slice = 4096;
    while received.iter().any(|&r| r < BYTES) {
        for (k, s) in sockets.iter_mut().enumerate() {
            if sent[k] == BYTES {
                continue;
            }
            let len = slice.min(BYTES - sent[k]);
            let data: Vec<u8> = (sent[k]..sent[k] + len).map(|i| pattern(k, i)).collect();
            let n = nb::block!(adapter.send(s, &data)).expect("send");
            assert_eq!(n, len);
            sent[k] += n;
            std::thread::sleep(Duration::from_millis(30));
            let deadline = Instant::now() + Duration::from_secs(20);
            while received[k] < sent[k] {
                match adapter.receive(s, &mut rx) {
                    Ok(n) => {
                        for (j, b) in rx[..n].iter().enumerate() {
                            assert_eq!(*b, pattern(k, received[k] + j), "socket {k}: byte {}", received[k] + j);
                        }
                        received[k] += n;
                    }
                    Err(nb::Error::WouldBlock) => std::thread::sleep(Duration::from_millis(1)),
                    Err(nb::Error::Other(e)) => panic!("receive on socket {k}: {e:?}"),
                }
                assert!(Instant::now() < deadline, "stalled: sent {sent:?}, received {received:?}");
            }
        }
    }
    assert_eq!(received, [BYTES; SOCKETS]);
    for s in sockets {
        adapter.close(s).expect("close");
    }
}
