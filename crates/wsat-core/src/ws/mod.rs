//! The WebSocket client (RFC 6455), sans-IO: frames, masking, UTF-8
//! validation, the opening handshake, URIs.

pub mod frame;
pub mod handshake;
pub mod link;
pub mod mask;
pub mod uri;
pub mod utf8;
