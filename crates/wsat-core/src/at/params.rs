//! The ESP-AT parameter grammar and its checking against a command's schema.
//!
//! `AT+CMD=<p0>,<p1>,...`: each parameter is an integer (decimal, or hex
//! with `0x`), a double-quoted string, or empty (omitted, takes its
//! default). Inside a string a backslash makes the next byte literal, which
//! is how ESP-AT writes `\"`, `\,` and `\\`. Parsing is separate from
//! checking: [`parse`] gives raw [`Value`]s; [`Args::check`] holds them
//! against a [`Param`] schema from the command table.

use alloc::vec::Vec;

use super::error::AtError;

/// One raw parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A quoted string, escapes resolved.
    Str(Vec<u8>),
    /// An empty field.
    Omitted,
}

/// Splits and decodes a parameter list (the bytes after `=`).
pub fn parse(mut s: &[u8]) -> Result<Vec<Value>, AtError> {
    let mut out = Vec::new();
    loop {
        let index = u16::try_from(out.len()).unwrap_or(u16::MAX);
        let (value, rest) = match s.first() {
            None | Some(b',') => (Value::Omitted, s),
            Some(b'"') => parse_str(&s[1..]).ok_or(AtError::ParseFail(index))?,
            Some(_) => parse_int(s).ok_or(AtError::ParseFail(index))?,
        };
        out.push(value);
        match rest.split_first() {
            None => return Ok(out),
            Some((b',', tail)) => s = tail,
            Some(_) => return Err(AtError::ParseFail(index)),
        }
    }
}

fn parse_str(s: &[u8]) -> Option<(Value, &[u8])> {
    let mut v = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'\\' => {
                v.push(*s.get(i + 1)?);
                i += 2;
            }
            b'"' => return Some((Value::Str(v), &s[i + 1..])),
            b => {
                v.push(b);
                i += 1;
            }
        }
    }
    None
}

fn parse_int(s: &[u8]) -> Option<(Value, &[u8])> {
    let end = s.iter().position(|&b| b == b',').unwrap_or(s.len());
    let (text, rest) = s.split_at(end);
    let (neg, digits) = match text.split_first()? {
        (b'-', d) => (true, d),
        (b'+', d) => (false, d),
        _ => (false, text),
    };
    let (radix, digits) = match digits {
        [b'0', b'x' | b'X', hex @ ..] => (16, hex),
        _ => (10, digits),
    };
    if digits.is_empty() {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        let v = char::from(d).to_digit(radix)?;
        n = n.checked_mul(i64::from(radix))?.checked_add(i64::from(v))?;
    }
    Some((Value::Int(if neg { -n } else { n }), rest))
}

/// The type and range of one parameter in a command's schema.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// An integer in `min..=max`.
    Int {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// A string of `min..=max` bytes.
    Str {
        /// Shortest accepted length.
        min: usize,
        /// Longest accepted length.
        max: usize,
    },
    /// A number or a string: a field whose meaning shifts with the mode
    /// (AT+CIPMUX puts a link id first); the handler checks it.
    Any,
}

/// One parameter of a set command.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// The name the ESP-AT documentation uses.
    pub name: &'static str,
    /// Type and range.
    pub kind: Kind,
    /// Whether it may be left out.
    pub optional: bool,
}

impl Param {
    /// A mandatory integer parameter.
    pub const fn int(name: &'static str, min: i64, max: i64) -> Param {
        Param { name, kind: Kind::Int { min, max }, optional: false }
    }
    /// A mandatory string parameter.
    pub const fn str(name: &'static str, min: usize, max: usize) -> Param {
        Param { name, kind: Kind::Str { min, max }, optional: false }
    }
    /// A parameter the handler types and checks itself.
    pub const fn any(name: &'static str) -> Param {
        Param { name, kind: Kind::Any, optional: false }
    }
    /// The same parameter, optional.
    pub const fn opt(self) -> Param {
        Param { optional: true, ..self }
    }
}

/// Parameters that passed their schema.
#[derive(Debug, Clone, Default)]
pub struct Args {
    values: Vec<Value>,
}

impl Args {
    /// No parameters (test, query and execute forms).
    pub fn none() -> Args {
        Args { values: Vec::new() }
    }

    /// Checks raw values against `schema`.
    pub fn check(values: Vec<Value>, schema: &[Param]) -> Result<Args, AtError> {
        let count = u16::try_from(values.len()).unwrap_or(u16::MAX);
        if values.len() > schema.len() {
            return Err(AtError::ParamCount(count));
        }
        for (i, p) in schema.iter().enumerate() {
            let index = i as u16; // schemas are a handful of entries long
            match (values.get(i), p.kind) {
                (None, _) if !p.optional => return Err(AtError::ParamCount(count)),
                (Some(Value::Omitted), _) if !p.optional => return Err(AtError::ParamInvalid(index)),
                (None | Some(Value::Omitted), _) => {}
                (Some(_), Kind::Any) => {}
                (Some(Value::Int(n)), Kind::Int { min, max }) => {
                    if *n < min || *n > max {
                        return Err(AtError::ParamInvalid(index));
                    }
                }
                (Some(Value::Str(s)), Kind::Str { min, max }) => {
                    if s.len() < min || s.len() > max {
                        return Err(AtError::ParamLength(index));
                    }
                }
                (Some(_), _) => return Err(AtError::ParamType(index)),
            }
        }
        Ok(Args { values })
    }

    /// Number of fields given (omitted ones included).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no field was given.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Integer parameter `i`, if given.
    pub fn int(&self, i: usize) -> Option<i64> {
        match self.values.get(i) {
            Some(Value::Int(n)) => Some(*n),
            _ => None,
        }
    }

    /// Field `i` as given (`None` past the end).
    pub fn value(&self, i: usize) -> Option<&Value> {
        self.values.get(i)
    }

    /// String parameter `i`, if given.
    pub fn str(&self, i: usize) -> Option<&[u8]> {
        match self.values.get(i) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn s(b: &[u8]) -> Value {
        Value::Str(b.to_vec())
    }

    #[test]
    fn table() {
        type Case<'a> = (&'a [u8], Result<Vec<Value>, AtError>);
        let cases: &[Case] = &[
            (b"1", Ok(vec![Value::Int(1)])),
            (b"-12,0x1F,0XfF", Ok(vec![Value::Int(-12), Value::Int(31), Value::Int(255)])),
            (b"\"ssid\",\"pwd\",,1", Ok(vec![s(b"ssid"), s(b"pwd"), Value::Omitted, Value::Int(1)])),
            (b"\"a\\\"b\\,c\\\\d\\x\"", Ok(vec![s(b"a\"b,c\\dx")])),
            (b"", Ok(vec![Value::Omitted])),
            (b",", Ok(vec![Value::Omitted, Value::Omitted])),
            (b"\"\"", Ok(vec![s(b"")])),
            (b"\"a,b\",2", Ok(vec![s(b"a,b"), Value::Int(2)])),
            (b"1a", Err(AtError::ParseFail(0))),
            (b"1,\"abc", Err(AtError::ParseFail(1))),
            (b"\"abc\"x", Err(AtError::ParseFail(0))),
            (b"1, 2", Err(AtError::ParseFail(1))),
            (b"-", Err(AtError::ParseFail(0))),
            (b"0x", Err(AtError::ParseFail(0))),
            (b"99999999999999999999", Err(AtError::ParseFail(0))),
            (b"\"a\\", Err(AtError::ParseFail(0))),
        ];
        for (input, want) in cases {
            assert_eq!(&parse(input), want, "input {:?}", core::str::from_utf8(input));
        }
    }

    const SCHEMA: &[Param] = &[Param::int("mode", 0, 3), Param::str("name", 1, 4).opt(), Param::int("n", -1, 1).opt()];

    #[test]
    fn schema_checks() {
        let ok = Args::check(parse(b"3,\"ab\"").unwrap(), SCHEMA).unwrap();
        assert_eq!((ok.int(0), ok.str(1), ok.int(2)), (Some(3), Some(&b"ab"[..]), None));
        assert!(Args::check(parse(b"2,,-1").unwrap(), SCHEMA).is_ok());
        let err = |input: &[u8]| Args::check(parse(input).unwrap(), SCHEMA).unwrap_err();
        assert_eq!(err(b"4"), AtError::ParamInvalid(0));
        assert_eq!(err(b"\"1\""), AtError::ParamType(0));
        assert_eq!(err(b"1,2"), AtError::ParamType(1));
        assert_eq!(err(b"1,\"abcde\""), AtError::ParamLength(1));
        assert_eq!(err(b"1,\"\""), AtError::ParamLength(1));
        assert_eq!(err(b"1,,,1"), AtError::ParamCount(4));
        assert_eq!(err(b",\"a\""), AtError::ParamInvalid(0));
        assert_eq!(err(b""), AtError::ParamInvalid(0));
    }

    /// Writes a string parameter the way a host driver would.
    fn quote(raw: &[u8]) -> Vec<u8> {
        let mut q = vec![b'"'];
        for &b in raw {
            if matches!(b, b'"' | b',' | b'\\') {
                q.push(b'\\');
            }
            q.push(b);
        }
        q.push(b'"');
        q
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&input);
        }

        #[test]
        fn round_trips(items in proptest::collection::vec(
            prop_oneof![
                any::<i64>().prop_filter("i64::MIN has no positive twin", |n| *n != i64::MIN).prop_map(Value::Int),
                proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Str),
                Just(Value::Omitted),
            ], 1..8)) {
            let mut line = Vec::new();
            for (i, v) in items.iter().enumerate() {
                if i > 0 { line.push(b','); }
                match v {
                    Value::Int(n) => line.extend_from_slice(alloc::format!("{n}").as_bytes()),
                    Value::Str(s) => line.extend_from_slice(&quote(s)),
                    Value::Omitted => {}
                }
            }
            prop_assert_eq!(parse(&line).unwrap(), items);
        }

        #[test]
        fn hex_and_decimal_agree(n in 0i64..=i64::MAX) {
            let hex = alloc::format!("0x{n:x}");
            let dec = alloc::format!("{n}");
            prop_assert_eq!(parse(hex.as_bytes()).unwrap(), parse(dec.as_bytes()).unwrap());
        }
    }
}
