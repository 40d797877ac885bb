//! Nothing here: this package exists for its test, `tests/esp_at_nal.rs`,
//! which runs the third-party `esp-at-nal` driver (crates.io, unmodified)
//! against the real `wsat` binary, with loopback echo servers as peers.
