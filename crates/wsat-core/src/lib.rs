//! # wsat-core
//!
//! The sans-IO core of wsat, a virtual ESP-AT Wi-Fi module. It owns every
//! protocol decision (AT line assembly and parsing, the declarative command
//! table, data mode, the Wi-Fi and link state machines) and performs no I/O:
//! bytes and events go in with the current time, and output bytes, actions
//! for the runtime and the next deadline come out. See [`Module`] for the
//! calling order.
//!
//! The crate is `#![no_std]` with `alloc` so that it builds for the
//! microcontrollers a real module runs on (`riscv32imc-unknown-none-elf`).

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod action;
pub mod at;
pub mod clock;
pub mod commands;
pub mod config;
pub mod ip;
pub mod mfg;
pub mod module;
pub mod settings;
pub mod sntp;
pub mod status;
pub mod time;
pub mod transcript;
pub mod wifi;
pub mod net;
pub mod ws;

pub use module::{Action, Config, Event, Module, ServerTlsParams, Store, TlsParams, VersionInfo};
pub use time::{Duration, Instant};
