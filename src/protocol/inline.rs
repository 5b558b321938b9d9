//! Splitting text command lines into arguments: inline (telnet) RESP lines and Tile38 HTTP
//! request paths.
//!
//! [`split_line`] follows redis' `sdssplitargs` with one Tile38-friendly difference: a quote
//! only opens a quoted argument at the start of a token, so raw JSON such as
//! `{"type":"Point","coordinates":[1,2]}` stays one argument.

const UNBALANCED: &str = "Protocol error: unbalanced quotes in request";

/// Splits a telnet/inline command line into arguments.
///
/// Arguments are separated by ASCII whitespace. A token starting with `"` is a quoted string
/// with backslash escapes (`\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\a`, `\xHH`; any other escaped
/// character stands for itself); a token starting with `'` is taken verbatim except for `\'`.
/// A closing quote must be followed by whitespace or the end of the line. Quotes inside a
/// bare token are literal.
pub fn split_line(line: &str) -> Result<Vec<String>, String> {
    let bytes = line.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && is_space(bytes[i]) {
            i += 1;
        }
        if i == bytes.len() {
            return Ok(args);
        }
        let (arg, next) = match bytes[i] {
            b'"' => read_double_quoted(bytes, i + 1)?,
            b'\'' => read_single_quoted(bytes, i + 1)?,
            _ => read_bare(bytes, i),
        };
        args.push(arg);
        i = next;
    }
}

/// Turns a Tile38 HTTP request path (`/SET+fleet+truck1+POINT+33+-115`) into a command line:
/// strips the leading `/`, turns `+` into spaces and decodes `%HH` escapes (as Go's
/// `url.QueryUnescape`; a malformed escape is kept literally). `?` is not special.
pub fn url_path_to_line(path: &str) -> String {
    let bytes = path.strip_prefix('/').unwrap_or(path).as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match hex_pair(bytes, i + 1) {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a line the way Tile38's native/HTTP reader does (`readNativeMessageLine`):
/// arguments are separated by spaces, a token starting with `{` takes the rest of the line
/// (JSON may contain spaces), and for `SET ... STRING "text"` a double-quoted remainder is
/// one argument without its quotes. No escapes are interpreted.
pub fn split_native_line(line: &str) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        if rest.starts_with('{') {
            args.push(rest.to_string());
            break;
        }
        if rest.len() >= 2 && rest.starts_with('"') && rest.ends_with('"') && is_set_string(&args) {
            args.push(rest[1..rest.len() - 1].to_string());
            break;
        }
        match rest.split_once(' ') {
            Some((token, tail)) => {
                if !token.is_empty() {
                    args.push(token.to_string());
                }
                rest = tail;
            }
            None => {
                args.push(rest.to_string());
                break;
            }
        }
    }
    args
}

fn is_set_string(args: &[String]) -> bool {
    match (args.first(), args.last()) {
        (Some(first), Some(last)) => {
            first.eq_ignore_ascii_case("set") && last.eq_ignore_ascii_case("string")
        }
        _ => false,
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_pair(bytes: &[u8], at: usize) -> Option<u8> {
    let hi = (*bytes.get(at)? as char).to_digit(16)?;
    let lo = (*bytes.get(at + 1)? as char).to_digit(16)?;
    Some((hi * 16 + lo) as u8)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read_bare(bytes: &[u8], start: usize) -> (String, usize) {
    let end = bytes[start..]
        .iter()
        .position(|&b| is_space(b))
        .map_or(bytes.len(), |p| start + p);
    (lossy(&bytes[start..end]), end)
}

/// Finishes a quoted token whose closing quote ends just before `next`.
fn close_quoted(bytes: &[u8], arg: &[u8], next: usize) -> Result<(String, usize), String> {
    match bytes.get(next) {
        Some(&b) if !is_space(b) => Err(UNBALANCED.to_string()),
        _ => Ok((lossy(arg), next)),
    }
}

fn read_double_quoted(bytes: &[u8], start: usize) -> Result<(String, usize), String> {
    let mut arg = Vec::new();
    let mut i = start;
    loop {
        match bytes.get(i) {
            None => return Err(UNBALANCED.to_string()),
            Some(b'"') => return close_quoted(bytes, &arg, i + 1),
            Some(b'\\') => {
                let Some(&c) = bytes.get(i + 1) else {
                    return Err(UNBALANCED.to_string());
                };
                if let (b'x', Some(b)) = (c, hex_pair(bytes, i + 2)) {
                    arg.push(b);
                    i += 4;
                    continue;
                }
                arg.push(match c {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'a' => 0x07,
                    other => other,
                });
                i += 2;
            }
            Some(&c) => {
                arg.push(c);
                i += 1;
            }
        }
    }
}

fn read_single_quoted(bytes: &[u8], start: usize) -> Result<(String, usize), String> {
    let mut arg = Vec::new();
    let mut i = start;
    loop {
        match bytes.get(i) {
            None => return Err(UNBALANCED.to_string()),
            Some(b'\'') => return close_quoted(bytes, &arg, i + 1),
            Some(b'\\') if bytes.get(i + 1) == Some(&b'\'') => {
                arg.push(b'\'');
                i += 2;
            }
            Some(&c) => {
                arg.push(c);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Vec<String> {
        split_line(line).expect("split")
    }

    #[test]
    fn plain_words() {
        assert_eq!(split("GET fleet truck1"), ["GET", "fleet", "truck1"]);
        assert_eq!(split("  PING \t  "), ["PING"]);
        assert!(split("").is_empty());
        assert!(split("   ").is_empty());
    }

    #[test]
    fn raw_json_stays_one_argument() {
        let line = r#"SET fleet truck1 OBJECT {"type":"Point","coordinates":[1,2]}"#;
        assert_eq!(
            split(line),
            [
                "SET",
                "fleet",
                "truck1",
                "OBJECT",
                r#"{"type":"Point","coordinates":[1,2]}"#
            ]
        );
        assert_eq!(split(r#"a b"c d"#), ["a", r#"b"c"#, "d"]);
    }

    #[test]
    fn double_quotes_and_escapes() {
        assert_eq!(
            split(r#"SET fleet truck1 STRING "hello world""#),
            ["SET", "fleet", "truck1", "STRING", "hello world"]
        );
        assert_eq!(
            split(r#""a\"b" "c\\d" "\n\r\t" "\x41\x42" "\q" """#),
            ["a\"b", "c\\d", "\n\r\t", "AB", "q", ""]
        );
        assert_eq!(split(r#""\xc3\xa9""#), ["é"]);
        assert_eq!(split(r#""\xZZ""#), ["xZZ"]);
    }

    #[test]
    fn single_quotes_are_verbatim() {
        assert_eq!(split(r#"'a "b" \n' x"#), [r#"a "b" \n"#, "x"]);
        assert_eq!(split(r"'it\'s'"), ["it's"]);
    }

    #[test]
    fn unbalanced_quotes() {
        for line in [r#"GET "fleet"#, "GET 'fleet", r#""a"b"#, "'a'b", r#""abc\"#] {
            assert_eq!(split_line(line), Err(UNBALANCED.to_string()), "{line}");
        }
    }

    #[test]
    fn url_paths() {
        assert_eq!(
            url_path_to_line("/SET+fleet+truck1+POINT+33+-115"),
            "SET fleet truck1 POINT 33 -115"
        );
        assert_eq!(url_path_to_line("/GET%20fleet%2Btruck"), "GET fleet+truck");
        assert_eq!(url_path_to_line("/a%zz%4"), "a%zz%4");
        assert_eq!(url_path_to_line("/%7B%22a%22%3A1%7D"), r#"{"a":1}"#);
        assert_eq!(url_path_to_line("PING"), "PING");
        assert_eq!(url_path_to_line("/"), "");
    }

    #[test]
    fn native_lines() {
        assert_eq!(
            split_native_line(
                r#"SET fleet truck1 OBJECT {"type": "Point", "coordinates": [1, 2]}"#
            ),
            [
                "SET",
                "fleet",
                "truck1",
                "OBJECT",
                r#"{"type": "Point", "coordinates": [1, 2]}"#
            ]
        );
        assert_eq!(
            split_native_line(r#"SET fleet x STRING "a b""#),
            ["SET", "fleet", "x", "STRING", "a b"]
        );
        assert_eq!(
            split_native_line(r#"GET  fleet "x y""#),
            ["GET", "fleet", "\"x", "y\""]
        );
        assert!(split_native_line("").is_empty());
    }
}
