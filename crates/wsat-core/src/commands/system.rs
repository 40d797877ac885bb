//! The Basic page's hardware commands on a virtual chip: AT+GSLP,
//! AT+SLEEP, AT+SLEEPWKCFG, AT+SYSRAM, AT+RFPOWER, AT+SYSREG, AT+SYSTEMP.
//!
//! Nothing here touches hardware; each command keeps the state a real
//! ESP32-C3 would keep and answers with it, and the ones that change how
//! the module behaves on the AT port (deep sleep) do so.

use alloc::collections::BTreeMap;
use alloc::format;

use crate::at::error::AtError;
use crate::at::params::Param;
use crate::at::reply::{self, Reply};
use crate::at::table::{Command, Set};
use crate::module::Module;
use crate::time::{Duration, Instant};

/// What the hardware commands remember until the next reboot.
#[derive(Debug, Clone, Default)]
pub struct SystemState {
    /// AT+SLEEP mode.
    pub sleep: u8,
    /// AT+SLEEPWKCFG: source, GPIO, level.
    pub wakeup: Option<(u8, u8, u8)>,
    /// AT+RFPOWER: Wi-Fi (0.25 dBm), BLE advertising, scanning, connection.
    pub rf_power: [u8; 4],
    /// AT+SYSREG writes (unwritten registers read 0).
    pub registers: BTreeMap<u32, u32>,
    /// Lowest free heap seen since power-on (AT+SYSRAM?).
    pub heap_low: u32,
}

impl SystemState {
    /// A freshly booted chip; `max_tx_power` is the factory_param value.
    /// ([`Default`] is a placeholder until the first boot sets this.)
    pub fn new(max_tx_power: u8) -> SystemState {
        SystemState { sleep: 1, wakeup: None, rf_power: [max_tx_power, 15, 15, 15], registers: BTreeMap::new(), heap_low: HEAP_TOTAL }
    }
}

/// Most distinct registers AT+SYSREG keeps written values for.
pub const MAX_REGISTERS: usize = 1024;

/// Heap of a freshly booted ESP32-C3 running ESP-AT, in bytes (total, and
/// free at boot: the AT core, Wi-Fi and lwIP take the rest).
const HEAP_TOTAL: u32 = 281_000;
const HEAP_AT_BOOT: u32 = 168_000;

impl Module {
    /// Free heap now: what boot leaves, less what the radio and the open
    /// links would hold on a real module.
    pub(crate) fn heap_free(&self) -> u32 {
        let station = if self.station.has_ip() { 26_000 } else { 0 };
        let links: u32 = self.links.iter().filter(|l| l.session.is_some()).map(|l| 9_000 + 2 * l.cfg.buffer_size as u32).sum();
        HEAP_AT_BOOT.saturating_sub(station + links)
    }
}

/// `AT+GSLP=<time>`: deep sleep; the port is silent, then `ready`.
pub const GSLP: Command = Command {
    name: "+GSLP",
    summary: "Enter Deep-sleep mode for <time> ms (the port is silent, then ready)",
    test: None,
    query: None,
    set: Some(Set {
        params: &[Param::int("time", 0, i32::MAX as i64)],
        run: |m, a, now| {
            let ms = a.int(0).unwrap_or(0) as u64; // range-checked
            m.write(format!("{ms}\r\n").as_bytes());
            m.write(reply::OK);
            // Deep sleep loses RAM: links, the station, unsaved settings.
            // Waking up is a boot; 0 restarts at once.
            let reply = m.reboot(now);
            m.set_reboot_deadline(now + Duration::from_millis(ms) + crate::module::REBOOT);
            reply
        },
    }),
    exec: None,
};

/// `AT+SLEEP`: the sleep mode.
pub const SLEEP: Command = Command {
    name: "+SLEEP",
    summary: "Query/set the sleep mode (0 off, 1 modem, 2 light, 3 modem listen interval)",
    test: None,
    query: Some(|m, _, _| {
        m.write(format!("+SLEEP:{}\r\n", m.system.sleep).as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("sleep mode", 0, 3)],
        run: |m, a, _| {
            let mode = a.int(0).unwrap_or(0) as u8;
            let wifi = m.current.wifi_mode;
            // Modem sleep needs station-only (or null) mode; light sleep
            // cannot run with the SoftAP up.
            let allowed = match mode {
                1 | 3 => wifi <= 1,
                2 => wifi & 2 == 0,
                _ => true,
            };
            if !allowed {
                return Reply::Error(AtError::ExecFailed);
            }
            m.system.sleep = mode;
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+SLEEPWKCFG=<wakeup source>,<param1>[,<param2>]`
pub const SLEEPWKCFG: Command = Command {
    name: "+SLEEPWKCFG",
    summary: "Set the light-sleep wakeup source (2: GPIO) and its level",
    test: None,
    query: None,
    set: Some(Set {
        params: &[Param::int("wakeup source", 0, 2), Param::int("param1", 0, 21), Param::int("param2", 0, 1).opt()],
        run: |m, a, _| {
            // Sources 0 and 1 are "reserved, not supported now".
            if a.int(0) != Some(2) {
                return Reply::Error(AtError::ParamInvalid(0));
            }
            let (gpio, level) = (a.int(1).unwrap_or(0) as u8, a.int(2).unwrap_or(0) as u8);
            m.system.wakeup = Some((2, gpio, level));
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+SYSRAM`: heap figures.
pub const SYSRAM: Command = Command {
    name: "+SYSRAM",
    summary: "Query the heap: free and lowest free; set: the figures for a capability mask",
    test: None,
    query: Some(|m, _, _| {
        let free = m.heap_free();
        m.system.heap_low = m.system.heap_low.min(free);
        // ESP-AT ends this line with OK's own CR LF.
        m.write(format!("+SYSRAM:{free},{}", m.system.heap_low).as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("caps", 1, u32::MAX as i64)],
        run: |m, a, _| {
            let caps = a.int(0).unwrap_or(0) as u32;
            // MALLOC_CAP_EXEC (bit 0), 32BIT (1), 8BIT (2), DMA (3),
            // INTERNAL (11), DEFAULT (12) describe the C3's one internal
            // heap; SPIRAM (10) and the rest match nothing on a C3.
            const KNOWN: u32 = 0b1_1000_0000_1111;
            if caps & !KNOWN != 0 {
                m.write(b"+SYSRAM:0,0,0,0");
                return Reply::Ok;
            }
            let free = m.heap_free();
            m.system.heap_low = m.system.heap_low.min(free);
            let largest = free * 3 / 5;
            m.write(format!("+SYSRAM:{largest},{free},{},{HEAP_TOTAL}", m.system.heap_low).as_bytes());
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+RFPOWER`: RF TX power.
pub const RFPOWER: Command = Command {
    name: "+RFPOWER",
    summary: "Query/set RF TX power (Wi-Fi in 0.25 dBm; BLE advertising, scanning, connection levels)",
    test: None,
    query: Some(|m, _, _| {
        if !m.wifi_on() {
            return Reply::Error(AtError::ExecFailed);
        }
        let [w, a, s, c] = m.system.rf_power;
        m.write(format!("+RFPOWER:{w},{a},{s},{c}\r\n").as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[
            Param::int("wifi_power", 40, 84),
            Param::int("ble_adv_power", 0, 15).opt(),
            Param::int("ble_scan_power", 0, 15).opt(),
            Param::int("ble_conn_power", 0, 15).opt(),
        ],
        run: |m, a, _| {
            if !m.wifi_on() {
                return Reply::Error(AtError::ExecFailed);
            }
            let p = &mut m.system.rf_power;
            p[0] = a.int(0).unwrap_or(78) as u8;
            if let Some(adv) = a.int(1) {
                // Scanning and connection follow advertising, as ESP-AT
                // adjusts them.
                p[1..].fill(adv as u8);
            }
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+SYSREG=<direct>,<address>[,<write value>]`
pub const SYSREG: Command = Command {
    name: "+SYSREG",
    summary: "Read (0) or write (1) a 32-bit register of the virtual chip",
    test: None,
    query: None,
    set: Some(Set {
        params: &[
            Param::int("direct", 0, 1),
            Param::int("address", 0, u32::MAX as i64),
            Param::int("write value", 0, u32::MAX as i64).opt(),
        ],
        run: |m, a, _| {
            let addr = a.int(1).unwrap_or(0) as u32;
            if addr % 4 != 0 {
                // A misaligned word access faults on the chip.
                return Reply::Error(AtError::ParamInvalid(1));
            }
            match (a.int(0), a.int(2)) {
                (Some(0), None) => {
                    let v = m.system.registers.get(&addr).copied().unwrap_or(0);
                    m.write(format!("+SYSREG:0x{v:08x}\r\n").as_bytes());
                    Reply::Ok
                }
                (Some(1), Some(v)) => {
                    // The register file is bounded: a host writing all over
                    // the address space cannot grow the module without end.
                    if m.system.registers.len() >= MAX_REGISTERS && !m.system.registers.contains_key(&addr) {
                        return Reply::Error(AtError::ExecFailed);
                    }
                    m.system.registers.insert(addr, v as u32);
                    Reply::Ok
                }
                _ => Reply::Error(AtError::ParamCount(a.len() as u16)),
            }
        },
    }),
    exec: None,
};

/// `AT+SYSTEMP?`: the chip's temperature.
pub const SYSTEMP: Command = Command {
    name: "+SYSTEMP",
    summary: "Read the chip's internal temperature in Celsius",
    test: None,
    query: Some(|m, _, now: Instant| {
        // Warms up by 0.4 degrees a minute for five minutes after boot,
        // and with the radio on.
        let up_min = now.saturating_since(m.booted_at).millis() / 60_000;
        let mut centi = 2650 + (up_min.min(5) as i64) * 40;
        if m.station.has_ip() {
            centi += 180;
        }
        m.write(format!("+SYSTEMP:{}.{:02}\r\n", centi / 100, centi % 100).as_bytes());
        Reply::Ok
    }),
    set: None,
    exec: None,
};
