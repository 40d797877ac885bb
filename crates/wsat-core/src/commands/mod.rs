//! The command table: every AT command wsat supports, one entry each.
//!
//! Each group of commands lives in its own file (`basic.rs`, `wifi.rs`,
//! `sysmfg.rs`, `websocket.rs`); this table lists them in the order AT+CMD?
//! prints them.

pub mod addr;
pub mod basic;
pub mod passthrough;
pub mod sendl;
pub mod server;
pub mod dns;
pub mod softap;
pub mod ssl;
pub mod sntp;
pub mod sysflash;
pub mod sysmfg;
pub mod sysmsgfilter;
pub mod system;
pub mod tcpip;
pub mod websocket;
pub mod wifi;
pub mod wifi_config;

use crate::at::table::Command;

/// A command whose whole state is one number among the settings (saved
/// under AT+SYSSTORE): `AT<name>?` prints `<name>:<n>`, `AT<name>=<n>`
/// sets it within `min..=max`.
macro_rules! saved_number {
    ($name:literal, $summary:literal, $param:literal, $min:literal, $max:literal, $field:ident) => {
        $crate::at::table::Command {
            name: $name,
            summary: $summary,
            test: None,
            query: Some(|m, _, _| {
                let line = alloc::format!("{}:{}\r\n", $name, m.current.$field);
                m.write(line.as_bytes());
                $crate::at::reply::Reply::Ok
            }),
            set: Some($crate::at::table::Set {
                params: &[$crate::at::params::Param::int($param, $min, $max)],
                run: |m, a, _| {
                    let v = a.int(0).unwrap_or($min) as _;
                    m.save(|s| s.$field = v);
                    $crate::at::reply::Reply::Ok
                },
            }),
            exec: None,
        }
    };
}
pub(crate) use saved_number;

/// Every supported command, in AT+CMD? order.
pub static COMMANDS: &[Command] = &[
    // Basic, in the order ESP-AT's ESP32-C3 core registers them.
    basic::AT,
    basic::ATE0,
    basic::ATE1,
    basic::RST,
    basic::GMR,
    basic::CMD,
    passthrough::SAVETRANSLINK,
    passthrough::TRANSINTVL,
    basic::SYSTIMESTAMP,
    system::GSLP,
    system::SLEEP,
    system::SLEEPWKCFG,
    basic::RESTORE,
    system::SYSRAM,
    sysflash::SYSFLASH,
    sysmfg::SYSMFG,
    sysmsgfilter::SYSMSGFILTER,
    sysmsgfilter::SYSMSGFILTERCFG,
    system::RFPOWER,
    basic::SYSMSG,
    basic::SYSLOG,
    basic::SYSSTORE,
    system::SYSREG,
    system::SYSTEMP,
    // Wi-Fi.
    wifi_config::CWINIT,
    wifi::CWMODE,
    wifi_config::CWBANDWIDTH,
    wifi::CWSTATE,
    wifi_config::CWCONFIG,
    wifi::CWJAP,
    wifi_config::CWRECONNCFG,
    wifi::CWLAP,
    wifi_config::CWLAPOPT,
    wifi::CWQAP,
    softap::CWSAP,
    softap::CWLIF,
    softap::CWQIF,
    wifi_config::CWDHCP,
    softap::CWDHCPS,
    wifi_config::CWSTAPROTO,
    softap::CWAPPROTO,
    wifi::CWAUTOCONN,
    wifi_config::CWHOSTNAME,
    wifi_config::CWCOUNTRY,
    // TCP/IP addresses (registered by the Wi-Fi library).
    wifi_config::CIPSTAMAC,
    softap::CIPAPMAC,
    wifi::CIPSTA,
    softap::CIPAP,
    // TCP/IP, in the order ESP-AT's at_ipCmd registers them.
    tcpip::CIFSR,
    tcpip::CIPV6,
    dns::CIPDNS,
    dns::CIPDOMAIN,
    tcpip::CIPSTATUS,
    tcpip::CIPSTATE,
    tcpip::CIPSTART,
    tcpip::CIPSTARTEX,
    tcpip::CIPTCPOPT,
    tcpip::CIPCLOSE,
    tcpip::CIPCONNPERSIST,
    tcpip::CIPSEND,
    sendl::CIPSENDL,
    sendl::CIPSENDLCFG,
    tcpip::CIPSENDEX,
    tcpip::CIPDINFO,
    tcpip::CIPMUX,
    tcpip::CIPRECVMODE,
    tcpip::CIPRECVTYPE,
    tcpip::CIPRECVDATA,
    tcpip::CIPRECVLEN,
    server::CIPSERVER,
    server::CIPSERVERMAXCONN,
    ssl::CIPSSLCCONF,
    ssl::CIPSSLCCN,
    ssl::CIPSSLCSNI,
    ssl::CIPSSLCALPN,
    ssl::CIPSSLCPSK,
    ssl::CIPSSLCPSKHEX,
    ssl::CIPSSLCCIPHER,
    passthrough::CIPMODE,
    server::CIPSTO,
    sntp::CIPSNTPCFG,
    sntp::CIPSNTPINTV,
    sntp::CIPSNTPTIME,
    tcpip::CIPRECONNINTV,
    dns::PING,
    // WebSocket.
    websocket::WSCFG,
    websocket::WSOPEN,
    websocket::WSHEAD,
    websocket::WSSEND,
    websocket::WSDATAFMT,
    websocket::WSCLOSE,
    // The UART commands live in ESP-AT's open at_uart_cmd.c.
    basic::UART,
    basic::UART_CUR,
    basic::UART_DEF,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, a) in COMMANDS.iter().enumerate() {
            for b in &COMMANDS[i + 1..] {
                assert_ne!(a.name, b.name);
            }
        }
    }
}
