//! Dotted JSON paths for JGET/JSET/JDEL (the subset of GJSON paths Tile38 users write:
//! `a.b.c`, array indexes `a.0`, `\.` to escape a dot, `-1` to append on JSET).

use serde_json::{Map, Value};

fn components(path: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    out.last_mut().expect("non-empty").push(n);
                }
            }
            '.' => out.push(String::new()),
            _ => out.last_mut().expect("non-empty").push(c),
        }
    }
    out
}

/// Types a JSET value without RAW/STR: numbers, booleans and null stay raw, anything else is
/// a string.
pub fn auto_value(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => v,
        _ => Value::String(text.to_string()),
    }
}

/// The value at `path`.
pub fn get<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    components(path)
        .iter()
        .try_fold(doc, |cur, part| match cur {
            Value::Object(m) => m.get(part.as_str()),
            Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        })
}

/// A path that cannot be set: it runs through a scalar or past the end of an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPath;

/// Sets the value at `path`, creating objects along the way.
pub fn set(doc: &mut Value, path: &str, value: Value) -> Result<(), BadPath> {
    let parts = components(path);
    let (last, init) = parts.split_last().ok_or(BadPath)?;
    let mut cur = doc;
    for part in init {
        cur = child_or_create(cur, part)?;
    }
    match cur {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) if last == "-1" => {
            a.push(value);
            Ok(())
        }
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| BadPath)?;
            match i.cmp(&a.len()) {
                std::cmp::Ordering::Less => a[i] = value,
                std::cmp::Ordering::Equal => a.push(value),
                std::cmp::Ordering::Greater => return Err(BadPath),
            }
            Ok(())
        }
        _ => Err(BadPath),
    }
}

fn child_or_create<'a>(cur: &'a mut Value, part: &str) -> Result<&'a mut Value, BadPath> {
    match cur {
        Value::Object(m) => Ok(m
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()))),
        Value::Array(a) => {
            let i: usize = part.parse().map_err(|_| BadPath)?;
            a.get_mut(i).ok_or(BadPath)
        }
        _ => Err(BadPath),
    }
}

/// Deletes the value at `path`; false when there was none.
pub fn delete(doc: &mut Value, path: &str) -> bool {
    let parts = components(path);
    let Some((last, init)) = parts.split_last() else {
        return false;
    };
    let mut cur = doc;
    for part in init {
        let next = match cur {
            Value::Object(m) => m.get_mut(part.as_str()),
            Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return false,
        }
    }
    match cur {
        Value::Object(m) => m.shift_remove(last.as_str()).is_some(),
        Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => {
                a.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_get_delete_paths() {
        let mut d = json!({});
        set(&mut d, "properties.name", json!("bus")).unwrap();
        set(&mut d, "a\\.b", json!(1)).unwrap();
        assert_eq!(d.to_string(), r#"{"properties":{"name":"bus"},"a.b":1}"#);
        assert_eq!(get(&d, "properties.name"), Some(&json!("bus")));
        set(&mut d, "list", json!([1, 2])).unwrap();
        set(&mut d, "list.-1", json!(3)).unwrap();
        assert_eq!(get(&d, "list.2"), Some(&json!(3)));
        assert!(set(&mut d, "list.9", json!(0)).is_err());
        assert!(delete(&mut d, "list.0"));
        assert!(!delete(&mut d, "nope.x"));
        assert_eq!(get(&d, "list"), Some(&json!([2, 3])));
    }

    #[test]
    fn auto_values_keep_numbers_raw() {
        assert_eq!(auto_value("12.5"), json!(12.5));
        assert_eq!(auto_value("true"), json!(true));
        assert_eq!(auto_value("hello"), json!("hello"));
        assert_eq!(auto_value("{\"a\":1}"), json!("{\"a\":1}"));
    }
}
