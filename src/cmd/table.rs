//! The command table: name, arity, kind, syntax and summary of every command, read from
//! `proto/commands.json` (the spec other programs rely on) at first use. Dispatch, arity
//! checks, lock choice and HELP all come from here.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::error::{CmdError, CmdResult};

/// How a command touches the server, which decides the lock `exec` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Reads the data set under the shared lock.
    Read,
    /// Changes the data set under the exclusive lock and logs its canonical form.
    Write,
    /// Server administration without the data lock.
    Admin,
    /// Connection state only.
    Conn,
}

/// One command's entry.
#[derive(Debug, Clone, Deserialize)]
pub struct CommandSpec {
    pub name: String,
    pub group: String,
    /// Redis convention: n = exactly n arguments including the name; -n = at least n.
    pub arity: i32,
    pub kind: Kind,
    pub syntax: String,
    pub summary: String,
}

impl CommandSpec {
    /// Checks the argument count (including the command name).
    pub fn check_arity(&self, argc: usize, sent_name: &str) -> CmdResult<()> {
        let ok = if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= self.arity.unsigned_abs() as usize
        };
        if ok {
            Ok(())
        } else {
            Err(CmdError::WrongArity(sent_name.to_string()))
        }
    }
}

#[derive(Deserialize)]
struct TableFile {
    commands: Vec<CommandSpec>,
}

/// The table, indexed by lower-case name.
pub struct CommandTable {
    pub commands: Vec<CommandSpec>,
    by_name: HashMap<String, usize>,
}

/// The command table, parsed once from the embedded `proto/commands.json`.
pub static TABLE: LazyLock<CommandTable> = LazyLock::new(|| {
    let file: TableFile = serde_json::from_str(include_str!("../../proto/commands.json"))
        .expect("proto/commands.json is valid (checked by tests)");
    let by_name = file
        .commands
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.to_ascii_lowercase(), i))
        .collect();
    CommandTable {
        commands: file.commands,
        by_name,
    }
});

/// The entry for a command name in any case.
pub fn lookup(name: &str) -> Option<&'static CommandSpec> {
    index_of(name).map(|i| &TABLE.commands[i])
}

/// The position in [`TABLE`]`.commands` of a command name in any case.
pub fn index_of(name: &str) -> Option<usize> {
    // Command names are short: lower-case on the stack instead of allocating, and hash once.
    let mut buf = [0u8; 32];
    let bytes = name.as_bytes();
    let lower = buf.get_mut(..bytes.len())?;
    lower.copy_from_slice(bytes);
    lower.make_ascii_lowercase();
    let lower = std::str::from_utf8(lower).ok()?;
    TABLE.by_name.get(lower).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_entry_has_a_handler_of_its_kind() {
        for c in &TABLE.commands {
            let h = super::super::handler(&c.name)
                .unwrap_or_else(|| panic!("no handler for {}", c.name));
            let kind = match h {
                super::super::Handler::Read(_)
                | super::super::Handler::Walk(_)
                | super::super::Handler::Timeout => Kind::Read,
                super::super::Handler::Write(_) => Kind::Write,
                super::super::Handler::Admin(_) => Kind::Admin,
                super::super::Handler::Conn(_) => Kind::Conn,
            };
            assert_eq!(kind, c.kind, "{} kind", c.name);
            assert_eq!(c.name, c.name.to_ascii_uppercase());
        }
    }

    #[test]
    fn arity_is_checked_like_redis() {
        let set = lookup("set").unwrap();
        assert!(set.check_arity(5, "set").is_ok());
        assert_eq!(
            set.check_arity(4, "set"),
            Err(CmdError::WrongArity("set".into()))
        );
        let drop = lookup("DROP").unwrap();
        assert!(drop.check_arity(2, "drop").is_ok());
        assert!(drop.check_arity(3, "drop").is_err());
    }
}
