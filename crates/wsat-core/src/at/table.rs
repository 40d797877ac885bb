//! The shape of the declarative command table.
//!
//! One [`Command`] per AT command: its name, a one-line summary, and a
//! handler for each of the four forms it supports (test `=?`, query `?`,
//! set `=...`, execute). A set form carries its parameter schema, checked
//! before the handler runs. The table itself is `crate::commands::COMMANDS`;
//! dispatch, `AT+CMD?` and the generated command reference all read it.

use alloc::string::String;
use core::fmt::Write;

use super::params::{Args, Kind, Param};
use super::reply::Reply;
use crate::module::Module;
use crate::time::Instant;

/// A handler for one form of a command.
pub type Handler = fn(&mut Module, &Args, Instant) -> Reply;

/// The set form of a command: its schema and handler.
#[derive(Clone, Copy)]
pub struct Set {
    /// The parameters, in order.
    pub params: &'static [Param],
    /// Runs with parameters that passed the schema.
    pub run: Handler,
}

/// One entry of the command table.
#[derive(Clone, Copy)]
pub struct Command {
    /// The name as typed after `AT` (`"+CWMODE"`, `"E0"`, `""` for `AT`).
    pub name: &'static str,
    /// One line for the command reference.
    pub summary: &'static str,
    /// `AT<name>=?`
    pub test: Option<Handler>,
    /// `AT<name>?`
    pub query: Option<Handler>,
    /// `AT<name>=<params>`
    pub set: Option<Set>,
    /// `AT<name>`
    pub exec: Option<Handler>,
}

impl Command {
    /// The four support flags in AT+CMD? order: test, query, set, execute.
    pub fn flags(&self) -> [bool; 4] {
        [self.test.is_some(), self.query.is_some(), self.set.is_some(), self.exec.is_some()]
    }
}

/// Finds a command by the name typed after `AT`.
pub fn lookup(table: &'static [Command], name: &[u8]) -> Option<&'static Command> {
    table.iter().find(|c| c.name.as_bytes() == name)
}

/// The command reference, in Markdown, generated from `table`.
pub fn reference_markdown(table: &[Command]) -> String {
    let mut s = String::new();
    s.push_str("# AT command reference\n\n");
    s.push_str("Generated from the command table in `crates/wsat-core/src/commands/`\n");
    s.push_str("(`cargo run -p wsat -- --command-reference > docs/commands.md`); a unit test keeps\n");
    s.push_str("this file in step with the code. `AT+CMD?` reports the same flags.\n\n");
    s.push_str("| Command | Test | Query | Set | Execute | Summary |\n");
    s.push_str("|---|---|---|---|---|---|\n");
    for c in table {
        let [t, q, st, e] = c.flags().map(|f| if f { "yes" } else { "-" });
        let _ = writeln!(s, "| `AT{}` | {t} | {q} | {st} | {e} | {} |", c.name, c.summary);
    }
    s.push_str("\n## Set parameters\n\n");
    for c in table {
        let Some(set) = c.set else { continue };
        let _ = write!(s, "- `AT{}=", c.name);
        for (i, p) in set.params.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            if p.optional {
                let _ = write!(s, "[<{}>]", p.name);
            } else {
                let _ = write!(s, "<{}>", p.name);
            }
        }
        s.push('`');
        for p in set.params {
            match p.kind {
                Kind::Int { min, max } => {
                    let _ = write!(s, "; {}: {}..={}", p.name, min, max);
                }
                Kind::Str { min, max } => {
                    let _ = write!(s, "; {}: string of {}..={} bytes", p.name, min, max);
                }
                Kind::Any => {
                    let _ = write!(s, "; {}: number or string, by mode", p.name);
                }
            }
        }
        s.push('\n');
    }
    s
}
