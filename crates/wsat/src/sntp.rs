//! The network side of SNTP: one UDP exchange per query the core asks for.
//!
//! Each query gets its own ephemeral socket and waits a few seconds for
//! replies, which go to the core unchecked (the core matches and validates
//! them). `--sntp-server` sends every query to one address instead of the
//! named servers, so tests use a local server and nothing leaves the
//! machine.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Sends `packet` to `server` (port 123) or to `override_addr`; forwards
/// the replies that come back within the core's query timeout.
pub fn query(server: String, packet: Vec<u8>, override_addr: Option<SocketAddr>, replies: mpsc::Sender<Vec<u8>>) {
    tokio::spawn(async move {
        let target = match override_addr {
            Some(a) => a,
            None => match tokio::net::lookup_host((server.as_str(), 123)).await.map(|mut i| i.next()) {
                Ok(Some(a)) => a,
                Ok(None) | Err(_) => {
                    tracing::info!(%server, "SNTP server name does not resolve");
                    return;
                }
            },
        };
        let bind: SocketAddr = if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().expect("literal address");
        let sock = match UdpSocket::bind(bind).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open a UDP socket for SNTP");
                return;
            }
        };
        if let Err(e) = sock.send_to(&packet, target).await {
            tracing::info!(%target, error = %e, "SNTP send failed");
            return;
        }
        tracing::debug!(%server, %target, "SNTP query sent");
        let mut buf = [0u8; 512];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
        while let Ok(Ok((n, from))) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await {
            if from == target && replies.send(buf[..n].to_vec()).await.is_err() {
                return;
            }
        }
    });
}
