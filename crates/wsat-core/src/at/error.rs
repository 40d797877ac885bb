//! Errors of the AT port and how they appear on the wire.
//!
//! ESP-AT composes an error number as `0x01` (category) in the top byte, a
//! subcategory in the next byte and a 16-bit extension (for parameter
//! errors, the index of the offending parameter). With `AT+SYSLOG=1` it is
//! printed as `ERR CODE:0x%08x` before `ERROR`.

/// Why a command failed, as ESP-AT classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtError {
    /// The line had no CR LF terminator within the line buffer.
    NoTerminator,
    /// The line does not start with `AT`.
    NoAt,
    /// A parameter's length is out of range (index of the parameter).
    ParamLength(u16),
    /// A parameter has the wrong type, e.g. a string where a number belongs.
    ParamType(u16),
    /// Too many or too few parameters (the count received).
    ParamCount(u16),
    /// A parameter's value is out of range (index of the parameter).
    ParamInvalid(u16),
    /// The parameter list could not be parsed (index of the parameter).
    ParseFail(u16),
    /// No such command.
    UnsupportedCommand,
    /// The command was understood but could not be carried out.
    ExecFailed,
    /// Another command is still being processed.
    Busy,
}

impl AtError {
    /// ESP-AT's error number: category 0x01, subcategory, extension.
    pub fn code(self) -> u32 {
        let (sub, ext): (u32, u16) = match self {
            AtError::NoTerminator => (0x02, 0),
            AtError::NoAt => (0x03, 0),
            AtError::ParamLength(i) => (0x04, i),
            AtError::ParamType(i) => (0x05, i),
            AtError::ParamCount(n) => (0x06, n),
            AtError::ParamInvalid(i) => (0x07, i),
            AtError::ParseFail(i) => (0x08, i),
            AtError::UnsupportedCommand => (0x09, 0),
            AtError::ExecFailed => (0x0A, 0),
            AtError::Busy => (0x0B, 0),
        };
        (0x01 << 24) | (sub << 16) | u32::from(ext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_esp_at() {
        assert_eq!(AtError::UnsupportedCommand.code(), 0x0109_0000);
        assert_eq!(AtError::ParamInvalid(2).code(), 0x0107_0002);
        assert_eq!(AtError::NoAt.code(), 0x0103_0000);
    }
}
