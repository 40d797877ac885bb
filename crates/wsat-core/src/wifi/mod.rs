//! The virtual Wi-Fi: a radio with access points, and the station's link
//! to one of them.

pub mod radio;
pub mod station;
