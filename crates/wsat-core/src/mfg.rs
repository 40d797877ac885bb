//! The manufacturing NVS partition (AT+SYSMFG): namespaces of typed keys.
//!
//! ESP-AT keeps factory data, the WebSocket client's PKI among it
//! (`wss_cert`/`wss_key`/`wss_ca`), in an NVS partition of namespaces and
//! keys. Values have one of eight types, numbered as AT+SYSMFG numbers
//! them. NVS limits apply: names are at most 15 bytes.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// Longest namespace or key name NVS allows.
pub const MAX_NAME: usize = 15;
/// Longest string or binary value wsat accepts (NVS blobs are capped by the
/// partition; 8 KiB holds any certificate chain a module would use).
pub const MAX_BLOB: usize = 8192;

/// One NVS value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum MfgValue {
    /// Type 1.
    U8(u8),
    /// Type 2.
    I8(i8),
    /// Type 3.
    U16(u16),
    /// Type 4.
    I16(i16),
    /// Type 5.
    U32(u32),
    /// Type 6.
    I32(i32),
    /// Type 7.
    Str(Vec<u8>),
    /// Type 8.
    Bin(Vec<u8>),
}

impl MfgValue {
    /// The AT+SYSMFG type number.
    pub fn type_number(&self) -> u8 {
        match self {
            MfgValue::U8(_) => 1,
            MfgValue::I8(_) => 2,
            MfgValue::U16(_) => 3,
            MfgValue::I16(_) => 4,
            MfgValue::U32(_) => 5,
            MfgValue::I32(_) => 6,
            MfgValue::Str(_) => 7,
            MfgValue::Bin(_) => 8,
        }
    }

    /// An integer value of type `ty` (1-6), if `n` fits that type.
    pub fn integer(ty: u8, n: i64) -> Option<MfgValue> {
        Some(match ty {
            1 => MfgValue::U8(u8::try_from(n).ok()?),
            2 => MfgValue::I8(i8::try_from(n).ok()?),
            3 => MfgValue::U16(u16::try_from(n).ok()?),
            4 => MfgValue::I16(i16::try_from(n).ok()?),
            5 => MfgValue::U32(u32::try_from(n).ok()?),
            6 => MfgValue::I32(i32::try_from(n).ok()?),
            _ => return None,
        })
    }

    /// The integer inside types 1-6.
    pub fn as_integer(&self) -> Option<i64> {
        Some(match *self {
            MfgValue::U8(v) => v.into(),
            MfgValue::I8(v) => v.into(),
            MfgValue::U16(v) => v.into(),
            MfgValue::I16(v) => v.into(),
            MfgValue::U32(v) => v.into(),
            MfgValue::I32(v) => v.into(),
            MfgValue::Str(_) | MfgValue::Bin(_) => return None,
        })
    }

    /// The bytes inside types 7 and 8.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            MfgValue::Str(b) | MfgValue::Bin(b) => Some(b),
            _ => None,
        }
    }
}

/// The partition: namespace -> key -> value, in name order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(transparent))]
pub struct MfgNvs {
    namespaces: BTreeMap<String, BTreeMap<String, MfgValue>>,
}

impl MfgNvs {
    /// An empty partition.
    pub fn new() -> Self {
        Self::default()
    }

    /// Namespace names, in order.
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.namespaces.keys().map(String::as_str)
    }

    /// Keys of `ns` with their values, in order; `None` if no such namespace.
    pub fn keys(&self, ns: &str) -> Option<impl Iterator<Item = (&str, &MfgValue)>> {
        Some(self.namespaces.get(ns)?.iter().map(|(k, v)| (k.as_str(), v)))
    }

    /// The value of `ns`/`key`.
    pub fn get(&self, ns: &str, key: &str) -> Option<&MfgValue> {
        self.namespaces.get(ns)?.get(key)
    }

    /// Sets `ns`/`key`, creating the namespace if needed.
    pub fn set(&mut self, ns: &str, key: &str, value: MfgValue) {
        self.namespaces.entry(ns.into()).or_default().insert(key.into(), value);
    }

    /// Erases one key; false if it did not exist.
    pub fn erase_key(&mut self, ns: &str, key: &str) -> bool {
        let Some(keys) = self.namespaces.get_mut(ns) else { return false };
        let found = keys.remove(key).is_some();
        if keys.is_empty() {
            self.namespaces.remove(ns);
        }
        found
    }

    /// Fills the `factory_param` namespace with an ESP32-C3 MINI-1's
    /// factory parameters (ESP-AT's `factory_param_data.csv`, with the types
    /// of `factory_param_type.csv`), as a module leaves the factory.
    pub fn add_factory_param(&mut self) {
        let ints: [(&str, u8, i64); 11] = [
            ("version", 2, 4),
            ("max_tx_power", 2, 78),
            ("start_channel", 1, 1),
            ("channel_num", 1, 13),
            ("uart_port", 2, 1),
            ("uart_baudrate", 6, 115_200),
            ("uart_tx_pin", 6, 7),
            ("uart_rx_pin", 6, 6),
            ("uart_cts_pin", 6, 5),
            ("uart_rts_pin", 6, 4),
            ("sys_store", 1, 1),
        ];
        for (key, ty, v) in ints {
            if let Some(value) = MfgValue::integer(ty, v) {
                self.set("factory_param", key, value);
            }
        }
        self.set("factory_param", "module_name", MfgValue::Str(b"MINI-1".to_vec()));
        self.set("factory_param", "country_code", MfgValue::Str(b"CN".to_vec()));
    }

    /// Erases a whole namespace; false if it did not exist.
    pub fn erase_namespace(&mut self, ns: &str) -> bool {
        self.namespaces.remove(ns).is_some()
    }
}
