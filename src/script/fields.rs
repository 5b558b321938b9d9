//! The `FIELDS` table a WHEREEVAL script reads: one per search, refilled for each object.
//!
//! Owns that table and the interned field names. Must not touch anything but the filter's
//! own Lua state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mlua::{Lua, Table};

use super::FieldArg;

/// The `FIELDS` table, reused from object to object, with the Lua strings of the field
/// names seen so far: a fresh table and a fresh interned name per field were most of a
/// call's cost. A script that adds a key to `FIELDS` (its `__newindex`) gets a fresh table
/// for the next object, so no object ever sees another's fields.
pub(super) struct FieldsTable {
    table: Table,
    names: HashMap<Box<str>, usize>,
    keys: Vec<mlua::LuaString>,
    /// Indexes into `keys` of the names set for the last object.
    set: Vec<usize>,
    /// Names beyond [`NAME_CACHE`], set for the last object.
    extra: Vec<mlua::LuaString>,
    touched: Arc<AtomicBool>,
}

/// Field names whose Lua strings a filter keeps.
const NAME_CACHE: usize = 1024;

impl FieldsTable {
    pub(super) fn new(lua: &Lua) -> mlua::Result<FieldsTable> {
        let touched = Arc::new(AtomicBool::new(false));
        let table = Self::fresh_table(lua, &touched)?;
        Ok(FieldsTable {
            table,
            names: HashMap::new(),
            keys: Vec::new(),
            set: Vec::new(),
            extra: Vec::new(),
            touched,
        })
    }

    fn fresh_table(lua: &Lua, touched: &Arc<AtomicBool>) -> mlua::Result<Table> {
        let table = lua.create_table()?;
        let meta = lua.create_table()?;
        let flag = touched.clone();
        let newindex =
            lua.create_function(move |_, (t, k, v): (Table, mlua::Value, mlua::Value)| {
                flag.store(true, Ordering::Relaxed);
                t.raw_set(k, v)
            })?;
        meta.raw_set("__newindex", newindex)?;
        table.set_metatable(Some(meta))?;
        lua.globals().raw_set("FIELDS", &table)?;
        Ok(table)
    }

    /// Empties the table of the last object's fields (or replaces it, if the script added
    /// keys of its own).
    pub(super) fn clear(&mut self, lua: &Lua) -> mlua::Result<()> {
        if self.touched.swap(false, Ordering::Relaxed) {
            self.table = Self::fresh_table(lua, &self.touched)?;
            self.set.clear();
            self.extra.clear();
            return Ok(());
        }
        for i in self.set.drain(..) {
            self.table.raw_set(&self.keys[i], mlua::Value::Nil)?;
        }
        for key in self.extra.drain(..) {
            self.table.raw_set(key, mlua::Value::Nil)?;
        }
        Ok(())
    }

    pub(super) fn set(&mut self, lua: &Lua, name: &str, value: FieldArg<'_>) -> mlua::Result<()> {
        let value = match value {
            FieldArg::Num(n) => mlua::Value::Number(n),
            FieldArg::Bool(b) => mlua::Value::Boolean(b),
            FieldArg::Str(s) => mlua::Value::String(lua.create_string(s)?),
        };
        if let Some(&i) = self.names.get(name) {
            self.set.push(i);
            return self.table.raw_set(&self.keys[i], value);
        }
        let key = lua.create_string(name)?;
        self.table.raw_set(&key, value)?;
        if self.keys.len() < NAME_CACHE {
            self.names.insert(name.into(), self.keys.len());
            self.set.push(self.keys.len());
            self.keys.push(key);
        } else {
            self.extra.push(key);
        }
        Ok(())
    }
}
