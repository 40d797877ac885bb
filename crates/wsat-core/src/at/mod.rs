//! The AT port: line assembly, the parameter grammar, the command table's
//! shape, error codes and response framing. The engine that ties them
//! together is [`crate::module::Module`]; the commands are in
//! [`crate::commands`].

pub mod error;
pub mod line;
pub mod params;
pub mod reply;
pub mod table;
pub mod urc;
