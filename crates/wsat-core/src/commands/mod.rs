//! The command table: every AT command wsat supports, one entry each.
//!
//! Each group of commands lives in its own file (`basic.rs`, `wifi.rs`,
//! `sysmfg.rs`, `websocket.rs`); this table lists them in the order AT+CMD?
//! prints them.

pub mod basic;
pub mod sntp;
pub mod sysmfg;
pub mod websocket;
pub mod wifi;

use crate::at::table::Command;

/// Every supported command, in AT+CMD? order.
pub static COMMANDS: &[Command] = &[
    basic::AT,
    basic::ATE0,
    basic::ATE1,
    basic::RST,
    basic::GMR,
    basic::CMD,
    basic::SYSTIMESTAMP,
    basic::RESTORE,
    basic::SYSMSG,
    basic::SYSLOG,
    basic::SYSSTORE,
    sysmfg::SYSMFG,
    wifi::CWMODE,
    wifi::CWSTATE,
    wifi::CWJAP,
    wifi::CWQAP,
    wifi::CWLAP,
    wifi::CWAUTOCONN,
    wifi::CIPSTA,
    sntp::CIPSNTPCFG,
    sntp::CIPSNTPTIME,
    sntp::CIPSNTPINTV,
    websocket::WSCFG,
    websocket::WSHEAD,
    websocket::WSOPEN,
    websocket::WSSEND,
    websocket::WSDATAFMT,
    websocket::WSCLOSE,
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
