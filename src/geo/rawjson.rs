//! Raw JSON text helpers for the GeoJSON parser: splitting an object into its top-level members
//! and an array into its elements as slices of the input, and compacting raw JSON text. They
//! let foreign members (`properties`, `id`, ...) be re-emitted exactly as the client wrote them
//! (numbers and escapes untouched), only without insignificant whitespace, as Tile38 does.
//!
//! The input must already be known to be valid JSON; on anything unexpected the splitters
//! return `None` rather than panic.

/// One top-level member of a JSON object, as slices of the input text.
pub(super) struct RawMember<'a> {
    /// The decoded key.
    pub key: String,
    /// The key exactly as written, quotes included.
    pub key_raw: &'a str,
    /// The value exactly as written.
    pub value: &'a str,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    i
}

/// Index just past the string literal opening at `b[i]`.
fn end_of_string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Index just past the object or array opening at `b[i]`.
fn end_of_container(b: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = end_of_string(b, i)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Index just past the JSON value starting at `b[i]`.
fn end_of_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => end_of_string(b, i),
        b'{' | b'[' => end_of_container(b, i),
        _ => {
            let mut j = i;
            while j < b.len() && !is_ws(b[j]) && !matches!(b[j], b',' | b'}' | b']') {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// The top-level members of `text` in order, or `None` when it is not a JSON object.
pub(super) fn object_members(text: &str) -> Option<Vec<RawMember<'_>>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    let mut out = Vec::new();
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = end_of_string(b, i)?;
        let key_raw = &text[i..key_end];
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(b, i + 1);
        let end = end_of_value(b, start)?;
        let key = serde_json::from_str(key_raw).ok()?;
        out.push(RawMember {
            key,
            key_raw,
            value: &text[start..end],
        });
        i = skip_ws(b, end);
        match *b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            b'}' => return Some(out),
            _ => return None,
        }
    }
}

/// The elements of `text` in order, or `None` when it is not a JSON array.
pub(super) fn array_elements(text: &str) -> Option<Vec<&str>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let mut out = Vec::new();
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b']') {
        return Some(out);
    }
    loop {
        let end = end_of_value(b, i)?;
        out.push(&text[i..end]);
        i = skip_ws(b, end);
        match *b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            b']' => return Some(out),
            _ => return None,
        }
    }
}

/// Appends `raw` (valid JSON) to `out` without whitespace outside string literals.
pub(super) fn compact_into(raw: &str, out: &mut String) {
    let mut in_string = false;
    let mut escaped = false;
    for c in raw.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_object_members() {
        let text = r#" { "a" : 1.50 , "b\"c":{"x":[1, "]}"]}, "d":"e f",  "g":null } "#;
        let m = object_members(text).unwrap();
        let got: Vec<(&str, &str, &str)> = m
            .iter()
            .map(|m| (m.key.as_str(), m.key_raw, m.value))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", r#""a""#, "1.50"),
                ("b\"c", r#""b\"c""#, r#"{"x":[1, "]}"]}"#),
                ("d", r#""d""#, r#""e f""#),
                ("g", r#""g""#, "null"),
            ]
        );
        assert_eq!(object_members("{}").unwrap().len(), 0);
        assert!(object_members("[1]").is_none());
        assert!(object_members("null").is_none());
        assert!(object_members("").is_none());
    }

    #[test]
    fn splits_array_elements() {
        let got = array_elements(r#"[ {"a":[1,2]} , "x,y", 3e2,[] ]"#).unwrap();
        assert_eq!(got, vec![r#"{"a":[1,2]}"#, r#""x,y""#, "3e2", "[]"]);
        assert_eq!(array_elements("[ ]").unwrap().len(), 0);
        assert!(array_elements("{}").is_none());
    }

    #[test]
    fn compacts_outside_strings_only() {
        let mut out = String::new();
        compact_into("{ \"a b\" : [ 1.0 ,\n\t\"x \\\" y\" ] }", &mut out);
        assert_eq!(out, r#"{"a b":[1.0,"x \" y"]}"#);
    }
}
