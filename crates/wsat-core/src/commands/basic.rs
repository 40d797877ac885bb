//! Basic and system commands: AT, ATE0/ATE1, AT+RST, AT+GMR, AT+CMD,
//! AT+RESTORE, AT+SYSSTORE, AT+SYSLOG, AT+SYSMSG, AT+UART_CUR/DEF,
//! AT+SYSTIMESTAMP.

use alloc::format;

use crate::at::error::AtError;
use crate::at::params::{Args, Param};
use crate::at::reply::Reply;
use crate::at::table::{Command, Set};
use crate::module::{Action, Module, Store};
use crate::settings::{Settings, UartConfig};
use crate::time::Instant;

/// `AT`: a liveness test.
pub const AT: Command = Command {
    name: "",
    summary: "Test AT startup",
    test: None,
    query: None,
    set: None,
    exec: Some(|_, _, _| Reply::Ok),
};

/// `ATE0`: echo off.
pub const ATE0: Command = Command {
    name: "E0",
    summary: "Switch echo off",
    test: None,
    query: None,
    set: None,
    exec: Some(|m, _, _| {
        m.echo = false;
        Reply::Ok
    }),
};

/// `ATE1`: echo on.
pub const ATE1: Command = Command {
    name: "E1",
    summary: "Switch echo on",
    test: None,
    query: None,
    set: None,
    exec: Some(|m, _, _| {
        m.echo = true;
        Reply::Ok
    }),
};

/// `AT+RST`: restart the module.
pub const RST: Command = Command {
    name: "+RST",
    summary: "Restart the module (prints OK, then ready); set: mode 0 normal, 1 download mode",
    test: None,
    query: None,
    set: Some(Set {
        params: &[Param::int("mode", 0, 1)],
        run: |m, a, now| {
            m.write(crate::at::reply::OK);
            if a.int(0) == Some(1) {
                m.enter_download_mode(now);
                Reply::Done
            } else {
                m.reboot(now)
            }
        },
    }),
    exec: Some(|m, _, now| {
        m.write(crate::at::reply::OK);
        m.reboot(now)
    }),
};

/// The ESP-AT release whose command set and documentation wsat follows;
/// drivers gate features on it (AT version 2.x and later).
pub const ESP_AT_VERSION: &str = "5.0.0.0";
/// The ESP-IDF release that ESP-AT builds the ESP32-C3 firmware with
/// (`module_config/module_esp32c3_default/IDF_VERSION`).
pub const SDK_VERSION: &str = "v5.4.4";

/// `AT+GMR`: version information.
pub const GMR: Command = Command {
    name: "+GMR",
    summary: "Check version information",
    test: None,
    query: None,
    set: None,
    exec: Some(|m, _, _| {
        // ESP-AT's four lines; wsat's own name and version go where the
        // real firmware puts its commit and build names.
        let module = m
            .mfg
            .get("factory_param", "module_name")
            .and_then(|v| v.as_bytes())
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("MINI-1");
        let text = format!(
            "AT version:{at}(wsat-{v} - ESP32C3 - {b})\r\nSDK version:{SDK_VERSION}\r\ncompile time(wsat-{v}):{b}\r\nBin version:{at}-wsat-{v}({module})\r\n",
            at = ESP_AT_VERSION,
            v = m.version.version,
            b = m.version.build
        );
        m.write(text.as_bytes());
        Reply::Ok
    }),
};

/// `AT+CMD?`: every supported command with its four form flags.
pub const CMD: Command = Command {
    name: "+CMD",
    summary: "List all AT commands and types supported",
    test: None,
    query: Some(|m, _, _| {
        for (i, c) in super::COMMANDS.iter().enumerate() {
            let [t, q, s, e] = c.flags().map(u8::from);
            let line = format!("+CMD:{i},\"AT{}\",{t},{q},{s},{e}\r\n", c.name);
            m.write(line.as_bytes());
        }
        Reply::Ok
    }),
    set: None,
    exec: None,
};

/// `AT+RESTORE`: factory settings, then reboot.
pub const RESTORE: Command = Command {
    name: "+RESTORE",
    summary: "Restore factory default settings and restart",
    test: None,
    query: None,
    set: None,
    exec: Some(|m, _, now| {
        m.stored = Settings::default();
        m.act(Action::Persist(Store::Settings));
        m.write(crate::at::reply::OK);
        m.reboot(now)
    }),
};

/// `AT+SYSSTORE`: whether settings go to flash.
pub const SYSSTORE: Command = Command {
    name: "+SYSSTORE",
    summary: "Query/set parameter store mode",
    test: None,
    query: Some(|m, _, _| {
        let line = format!("+SYSSTORE:{}\r\n", u8::from(m.sysstore));
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("store_mode", 0, 1)],
        run: |m, a, _| {
            m.sysstore = a.int(0) == Some(1);
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+SYSLOG`: ERR CODE lines before ERROR.
pub const SYSLOG: Command = Command {
    name: "+SYSLOG",
    summary: "Enable/disable the AT error code prompt",
    test: None,
    query: Some(|m, _, _| {
        let line = format!("+SYSLOG:{}\r\n", u8::from(m.syslog));
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("status", 0, 1)],
        run: |m, a, _| {
            m.syslog = a.int(0) == Some(1);
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+SYSMSG`: optional system message formats (bit field).
pub const SYSMSG: Command = Command {
    name: "+SYSMSG",
    summary: "Query/set system prompt information",
    test: None,
    query: Some(|m, _, _| {
        // ESP-AT ends this line with OK's own CR LF.
        let line = format!("+SYSMSG:{}", m.current.sysmsg);
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("state", 0, 7)],
        run: |m, a, _| {
            let v = a.int(0).unwrap_or(0) as u8; // checked 0..=7 by the schema
            m.save(|s| s.sysmsg = v);
            Reply::Ok
        },
    }),
    exec: None,
};

const UART_PARAMS: &[Param] = &[
    Param::int("baudrate", 80, 5_000_000),
    Param::int("databits", 5, 8),
    Param::int("stopbits", 1, 3),
    Param::int("parity", 0, 2),
    Param::int("flow control", 0, 3),
];

fn uart_from(a: &Args) -> UartConfig {
    // Every field is mandatory and range-checked by UART_PARAMS.
    let n = |i| a.int(i).unwrap_or(0);
    UartConfig {
        baud: n(0) as u32,
        data_bits: n(1) as u8,
        stop_bits: n(2) as u8,
        parity: n(3) as u8,
        flow_control: n(4) as u8,
    }
}

fn write_uart(m: &mut Module, name: &str, u: UartConfig) {
    let line = format!(
        "+{name}:{},{},{},{},{}\r\n",
        u.baud, u.data_bits, u.stop_bits, u.parity, u.flow_control
    );
    m.write(line.as_bytes());
}

/// AT+UART_DEF's set form (and AT+UART's): saved, and in effect after the
/// OK, which goes out at the old rate.
fn set_uart_def(m: &mut Module, a: &Args, _: Instant) -> Reply {
    let u = uart_from(a);
    m.save_always(|s| s.uart = u);
    m.write(crate::at::reply::OK);
    m.act(Action::SetUart(u));
    Reply::Done
}

/// `AT+UART`: registered by ESP-AT's `at_uart_cmd.c` beside the two
/// documented names (undocumented): queries the settings in effect as
/// `+UART:`, and sets like AT+UART_DEF.
pub const UART: Command = Command {
    name: "+UART",
    summary: "Undocumented alias registered by ESP-AT: query as AT+UART_CUR?, set as AT+UART_DEF",
    test: None,
    query: Some(|m, _, _| {
        let u = m.current.uart;
        write_uart(m, "UART", u);
        Reply::Ok
    }),
    set: Some(Set { params: UART_PARAMS, run: set_uart_def }),
    exec: None,
};

/// `AT+UART_CUR`: the UART settings in effect, not saved.
pub const UART_CUR: Command = Command {
    name: "+UART_CUR",
    summary: "Current UART configuration, not saved in flash",
    test: None,
    query: Some(|m, _, _| {
        let u = m.current.uart;
        write_uart(m, "UART_CUR", u);
        Reply::Ok
    }),
    set: Some(Set {
        params: UART_PARAMS,
        run: |m, a, _| {
            let u = uart_from(a);
            m.current.uart = u;
            // OK goes out at the old rate; the runtime switches after it.
            m.write(crate::at::reply::OK);
            m.act(Action::SetUart(u));
            Reply::Done
        },
    }),
    exec: None,
};

/// `AT+UART_DEF`: the UART settings, saved in flash.
pub const UART_DEF: Command = Command {
    name: "+UART_DEF",
    summary: "Default UART configuration, saved in flash",
    test: None,
    query: Some(|m, _, _| {
        let u = m.stored.uart;
        write_uart(m, "UART_DEF", u);
        Reply::Ok
    }),
    set: Some(Set { params: UART_PARAMS, run: set_uart_def }),
    exec: None,
};

/// `AT+SYSTIMESTAMP`: the module's Unix time.
pub const SYSTIMESTAMP: Command = Command {
    name: "+SYSTIMESTAMP",
    summary: "Query/set local time stamp",
    test: None,
    query: Some(|m, _, now| {
        // ESP-AT ends this line with OK's own CR LF.
        let line = format!("+SYSTIMESTAMP:{}", unix_time(m, now));
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("Unix_timestamp", 0, u32::MAX as i64)],
        run: |m, a, now| {
            let Some(t) = a.int(0) else { return Reply::Error(AtError::ParamInvalid(0)) };
            m.clock.set(t as u64 * 1000, now); // range-checked non-negative
            Reply::Ok
        },
    }),
    exec: None,
};

/// The module clock in Unix seconds.
pub fn unix_time(m: &Module, now: Instant) -> u64 {
    m.clock.unix_secs(now)
}
