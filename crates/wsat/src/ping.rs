//! AT+CIPDOMAIN's lookups and AT+PING's echoes, on the host's network.
//!
//! Names resolve through the host's resolver (`getaddrinfo`, so
//! `/etc/hosts` and `localhost` work); AT+CIPDNS's servers are reported
//! but not used (see `docs/compatibility.md`). A ping is an ICMP echo: on
//! an unprivileged ICMP socket where the system allows one
//! (`net.ipv4.ping_group_range`), else on a raw socket (CAP_NET_RAW, as
//! root); where neither may be opened, a TCP connection attempt to the
//! host's port 7 stands in: a SYN answered by SYN-ACK or RST is a round
//! trip the host really made. A host that does not answer is never given
//! a time.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use wsat_core::commands::dns::Family;

/// The addresses `host` resolves to, in the order asked for.
pub async fn resolve(host: &str, family: Family, timeout: Duration) -> Vec<IpAddr> {
    let found = match tokio::time::timeout(timeout, tokio::net::lookup_host((host, 0))).await {
        Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect::<Vec<_>>(),
        _ => return Vec::new(),
    };
    let mut out: Vec<IpAddr> = Vec::new();
    for a in found {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    match family {
        Family::V4 => out.retain(IpAddr::is_ipv4),
        Family::V6 => out.retain(IpAddr::is_ipv6),
        // IPv4 first, IPv6 after.
        Family::PreferV4 => out.sort_by_key(IpAddr::is_ipv6),
    }
    out
}

/// The round trip to `host` in milliseconds, or `None` if it did not
/// answer within `timeout` (or the name did not resolve).
pub async fn ping(host: &str, timeout: Duration) -> Option<u32> {
    let start = Instant::now();
    let ip = *resolve(host, Family::PreferV4, timeout).await.first()?;
    let left = timeout.saturating_sub(start.elapsed());
    let rtt = match echo(ip, left).await {
        Ok(rtt) => rtt,
        Err(why) => {
            tracing::info!(%ip, "no ICMP socket ({why}); timing a TCP connection attempt instead");
            tcp_probe(ip, left).await
        }
    }?;
    // A module reports whole milliseconds; loopback answers in less than one.
    Some(u32::try_from(rtt.as_millis()).unwrap_or(u32::MAX))
}

/// An ICMP echo; `Err` when no ICMP socket may be opened.
async fn echo(ip: IpAddr, timeout: Duration) -> Result<Option<Duration>, String> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockProtocol, SockType};
    let (af, proto) = match ip {
        IpAddr::V4(_) => (AddressFamily::Inet, SockProtocol::Icmp),
        IpAddr::V6(_) => (AddressFamily::Inet6, SockProtocol::IcmpV6),
    };
    let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
    // The unprivileged kind first; the kernel fills in id and checksum.
    let (fd, raw) = match socket(af, SockType::Datagram, flags, proto) {
        Ok(fd) => (fd, false),
        Err(_) => match socket(af, SockType::Raw, flags, proto) {
            Ok(fd) => (fd, true),
            Err(e) => return Err(e.to_string()),
        },
    };
    let sock = UdpSocket::from_std(std::net::UdpSocket::from(fd)).map_err(|e| e.to_string())?;
    let id = std::process::id() as u16;
    let seq: u16 = rand_seq();
    let request_type = if ip.is_ipv4() { 8 } else { 128 };
    let reply_type = if ip.is_ipv4() { 0 } else { 129 };
    let mut packet = vec![request_type, 0, 0, 0, (id >> 8) as u8, id as u8, (seq >> 8) as u8, seq as u8];
    packet.extend_from_slice(b"wsat-ping-wsat-ping-wsat-ping-wsat-ping-wsat-pin");
    if raw && ip.is_ipv4() {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    let start = Instant::now();
    sock.send_to(&packet, SocketAddr::new(ip, 0)).await.map_err(|e| e.to_string())?;
    let mut buf = [0u8; 1500];
    let wait = async {
        loop {
            let Ok((n, from)) = sock.recv_from(&mut buf).await else { continue };
            if from.ip() != ip {
                continue;
            }
            // A raw IPv4 socket hands over the IP header too.
            let icmp = if raw && ip.is_ipv4() {
                let hl = usize::from(buf[0] & 0x0f) * 4;
                &buf[hl.min(n)..n]
            } else {
                &buf[..n]
            };
            let seq_ok = icmp.len() >= 8 && icmp[6..8] == seq.to_be_bytes();
            // Datagram sockets rewrite the id; raw ones keep ours.
            let id_ok = !raw || (icmp.len() >= 8 && icmp[4..6] == id.to_be_bytes());
            if icmp.first() == Some(&reply_type) && seq_ok && id_ok {
                return start.elapsed();
            }
        }
    };
    Ok(tokio::time::timeout(timeout, wait).await.ok())
}

/// The ICMPv4 checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn rand_seq() -> u16 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    (nanos >> 8) as u16
}

/// A TCP SYN to port 7: SYN-ACK or RST within `timeout` is an answer.
async fn tcp_probe(ip: IpAddr, timeout: Duration) -> Option<Duration> {
    let start = Instant::now();
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(SocketAddr::new(ip, 7))).await {
        Ok(Ok(_)) => Some(start.elapsed()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some(start.elapsed()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_rfc1071_example() {
        // An echo request with id 1, seq 1 and no payload.
        let p = [8, 0, 0, 0, 0, 1, 0, 1];
        assert_eq!(checksum(&p), 0xf7fd);
    }

    #[tokio::test]
    async fn loopback_answers_and_a_bad_name_does_not() {
        assert!(ping("127.0.0.1", Duration::from_secs(2)).await.is_some());
        assert_eq!(ping("no-such-host.invalid", Duration::from_secs(2)).await, None);
        assert_eq!(resolve("localhost", Family::V4, Duration::from_secs(2)).await.first(), Some(&IpAddr::from([127, 0, 0, 1])));
    }
}
