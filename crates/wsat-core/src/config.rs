//! What a module starts from: its version strings, stored state, radio,
//! entropy, clock source and the engines the runtime lends it.

use alloc::string::String;
use alloc::vec::Vec;

use crate::commands;
use crate::commands::sntp::ClockSource;
use crate::mfg::MfgNvs;
use crate::settings::Settings;
use crate::wifi::radio::Radio;

/// Names and versions printed by AT+GMR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// The product's version (the runtime's package version).
    pub version: String,
    /// When it was built, as free text.
    pub build: String,
}

/// Everything a module starts from.
#[derive(Debug, Clone)]
pub struct Config {
    /// Printed by AT+GMR.
    pub version: VersionInfo,
    /// The stored settings, as last persisted (`None`: factory defaults).
    pub settings: Option<Settings>,
    /// The manufacturing NVS partition.
    pub mfg: MfgNvs,
    /// The virtual radio.
    pub radio: Radio,
    /// Entropy for masking keys and handshake nonces (fresh per start).
    pub seed: u64,
    /// Where time syncs get the time from.
    pub clock_source: ClockSource,
    /// The `fs_storage` user partition as last persisted (`None`: erased).
    pub flash: Option<Vec<u8>>,
    /// A regex engine for AT+SYSMSGFILTERCFG (`None`: filters are refused).
    pub regex: Option<RegexEngineRef>,
}

/// A shared handle on the runtime's regex engine.
#[derive(Clone)]
pub struct RegexEngineRef(pub alloc::rc::Rc<dyn commands::sysmsgfilter::RegexEngine>);

impl core::fmt::Debug for RegexEngineRef {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RegexEngine")
    }
}

