//! WHERE expressions (Tile38 1.30+): `WHERE "speed > 10 && name == 'truck'"`. Owns the
//! parser (recursive descent, parsed once per command) and the evaluator. Pure: it knows
//! neither the store nor the wire; identifiers are resolved by the caller's [`Resolver`].
//!
//! The language is the subset of Tile38's (github.com/tidwall/expr) that filters use:
//! numbers (`10`, `1.5e3`, `0x1f`), strings (`'…'`, `"…"`, `` `…` `` with JavaScript escapes),
//! `true false null undefined NaN Infinity`, identifiers with member chains
//! (`properties.owner.name`, `a?.b`), the method `value.match('glob*')`, and the operators
//! `?:` `??` `||` `&&` `==` `!=` `=~` `<` `<=` `>` `>=` `+` `-` `*` `/` `%` `!` and unary `-`,
//! with JavaScript precedence. Conversions follow tidwall/expr: strings compare as strings
//! (ASCII case-insensitive, as Tile38 evaluates with `NoCase`), mixed kinds compare as numbers
//! (a non-numeric string is NaN), `&&`/`||` yield booleans. An evaluation error (comparing a
//! JSON object, a bad regex) makes the filter false, as in Tile38.

use std::cmp::Ordering;

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Undef,
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    /// A JSON object or array (a JSON field, a GeoJSON member).
    Json(serde_json::Value),
}

/// Looks up root identifiers (fields, `id`, GeoJSON members) for one object.
pub trait Resolver {
    fn root(&self, name: &str) -> Val;
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Or,
    And,
    Coalesce,
    Eq,
    Ne,
    Regex,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Lit(Val),
    /// A root identifier followed by member names.
    Path(String, Vec<String>),
    /// `target.match(pattern)`: case-insensitive glob.
    Match(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Bin(Op, Box<Expr>, Box<Expr>),
    /// `target =~ "literal"`: the pattern compiled once, when the expression is parsed.
    RegexLit(Box<Expr>, CompiledRegex),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
}

/// A regular expression compiled at parse time; two are equal when their patterns are.
#[derive(Debug, Clone)]
pub struct CompiledRegex(regex::Regex);

impl PartialEq for CompiledRegex {
    fn eq(&self, other: &CompiledRegex) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

/// Why an expression did not parse (shown to the client as `invalid argument`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError;

/// Evaluation failed; the filter answers false.
#[derive(Debug)]
struct EvalError;

type EvalResult = Result<Val, EvalError>;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Punct(&'static str),
}

const PUNCTS: [&str; 24] = [
    "?.", "??", "||", "&&", "==", "!=", "=~", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "!",
    "?", ":", "(", ")", ".", ",", "=",
];

fn tokenize(src: &str) -> Result<Vec<Tok>, SyntaxError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let (n, len) = number(&src[i..])?;
            out.push(Tok::Num(n));
            i += len;
        } else if matches!(c, b'"' | b'\'' | b'`') {
            let (s, len) = string(&src[i..])?;
            out.push(Tok::Str(s));
            i += len;
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let len = src[i..]
                .bytes()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'$')
                .count();
            out.push(Tok::Ident(src[i..i + len].to_string()));
            i += len;
        } else {
            let p = PUNCTS
                .iter()
                .find(|p| src[i..].starts_with(**p))
                .ok_or(SyntaxError)?;
            if *p == "=" {
                return Err(SyntaxError);
            }
            out.push(Tok::Punct(p));
            i += p.len();
        }
    }
    Ok(out)
}

/// A numeric literal at the start of `s`: its value and length.
fn number(s: &str) -> Result<(f64, usize), SyntaxError> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        let len = hex.bytes().take_while(u8::is_ascii_hexdigit).count();
        let v = u64::from_str_radix(&hex[..len], 16).map_err(|_| SyntaxError)?;
        return Ok((v as f64, len + 2));
    }
    let b = s.as_bytes();
    let mut len = b
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b'.')
        .count();
    if matches!(b.get(len), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(len + 1), Some(b'+' | b'-')));
        let digits = b[len + 1 + sign..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits > 0 {
            len += 1 + sign + digits;
        }
    }
    let v = s[..len].parse::<f64>().map_err(|_| SyntaxError)?;
    Ok((v, len))
}

/// A quoted string at the start of `s` (JavaScript escapes): its value and raw length.
fn string(s: &str) -> Result<(String, usize), SyntaxError> {
    let quote = s.as_bytes()[0] as char;
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((out, i + 1)),
            '\\' => {
                let (_, e) = chars.next().ok_or(SyntaxError)?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    '0' => out.push('\0'),
                    'u' | 'x' => {
                        let n = if e == 'u' { 4 } else { 2 };
                        let hex: String =
                            (0..n).filter_map(|_| chars.next().map(|c| c.1)).collect();
                        let code = u32::from_str_radix(&hex, 16).map_err(|_| SyntaxError)?;
                        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    other => out.push(other),
                }
            }
            c if (c as u32) < 0x20 => return Err(SyntaxError),
            c => out.push(c),
        }
    }
    Err(SyntaxError)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(q)) if *q == p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: &str) -> Result<(), SyntaxError> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(SyntaxError)
        }
    }

    fn conditional(&mut self) -> Result<Expr, SyntaxError> {
        let cond = self.binary(0)?;
        if !self.eat("?") {
            return Ok(cond);
        }
        let yes = self.conditional()?;
        self.expect(":")?;
        let no = self.conditional()?;
        Ok(Expr::Cond(Box::new(cond), Box::new(yes), Box::new(no)))
    }

    /// Binary operators by precedence level (0 = loosest), all left-associative.
    fn binary(&mut self, level: usize) -> Result<Expr, SyntaxError> {
        const LEVELS: [&[(&str, Op)]; 7] = [
            &[("??", Op::Coalesce)],
            &[("||", Op::Or)],
            &[("&&", Op::And)],
            &[("==", Op::Eq), ("!=", Op::Ne), ("=~", Op::Regex)],
            &[("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)],
            &[("+", Op::Add), ("-", Op::Sub)],
            &[("*", Op::Mul), ("/", Op::Div), ("%", Op::Mod)],
        ];
        let Some(ops) = LEVELS.get(level) else {
            return self.unary();
        };
        let mut left = self.binary(level + 1)?;
        'outer: loop {
            for (p, op) in ops.iter() {
                if self.eat(p) {
                    let right = self.binary(level + 1)?;
                    left = match (op, &right) {
                        (Op::Regex, Expr::Lit(Val::Str(p))) => match regex::Regex::new(p) {
                            Ok(re) => Expr::RegexLit(Box::new(left), CompiledRegex(re)),
                            // Evaluates to false, as a bad pattern computed at run time does.
                            Err(_) => Expr::Bin(*op, Box::new(left), Box::new(right)),
                        },
                        _ => Expr::Bin(*op, Box::new(left), Box::new(right)),
                    };
                    continue 'outer;
                }
            }
            return Ok(left);
        }
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        if self.eat("!") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.eat("-") {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        if self.eat("+") {
            return self.unary();
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        let tok = self.peek().cloned().ok_or(SyntaxError)?;
        self.pos += 1;
        let base = match tok {
            Tok::Num(n) => return Ok(Expr::Lit(Val::Num(n))),
            Tok::Str(s) => Expr::Lit(Val::Str(s)),
            Tok::Punct("(") => {
                let e = self.conditional()?;
                self.expect(")")?;
                e
            }
            Tok::Ident(id) => match id.as_str() {
                "true" => Expr::Lit(Val::Bool(true)),
                "false" => Expr::Lit(Val::Bool(false)),
                "null" => Expr::Lit(Val::Null),
                "undefined" => Expr::Lit(Val::Undef),
                "NaN" => Expr::Lit(Val::Num(f64::NAN)),
                "Infinity" => Expr::Lit(Val::Num(f64::INFINITY)),
                _ => Expr::Path(id, Vec::new()),
            },
            Tok::Punct(_) => return Err(SyntaxError),
        };
        self.members(base)
    }

    /// Member chains and `.match(…)` calls after a primary.
    fn members(&mut self, mut e: Expr) -> Result<Expr, SyntaxError> {
        while self.eat(".") || self.eat("?.") {
            let Some(Tok::Ident(name)) = self.peek().cloned() else {
                return Err(SyntaxError);
            };
            self.pos += 1;
            if name == "match" && self.eat("(") {
                let pattern = self.conditional()?;
                self.expect(")")?;
                e = Expr::Match(Box::new(e), Box::new(pattern));
                continue;
            }
            e = match e {
                Expr::Path(root, mut rest) => {
                    rest.push(name);
                    Expr::Path(root, rest)
                }
                // Members of literals and results are undefined in filters.
                _ => Expr::Lit(Val::Undef),
            };
        }
        Ok(e)
    }
}

impl Expr {
    /// Parses an expression; the whole text must be consumed.
    pub fn parse(src: &str) -> Result<Expr, SyntaxError> {
        let mut p = Parser {
            toks: tokenize(src)?,
            pos: 0,
        };
        let e = p.conditional()?;
        if p.pos != p.toks.len() {
            return Err(SyntaxError);
        }
        Ok(e)
    }

    /// True when the expression holds for the object `r` describes (false on an error).
    pub fn matches(&self, r: &dyn Resolver) -> bool {
        self.eval(r).map(|v| truthy(&v)).unwrap_or(false)
    }

    fn eval(&self, r: &dyn Resolver) -> EvalResult {
        Ok(match self {
            Expr::Lit(v) => v.clone(),
            Expr::Path(root, rest) => rest.iter().fold(r.root(root), |v, name| member(&v, name)),
            Expr::Match(target, pattern) => {
                let (t, p) = (target.eval(r)?, pattern.eval(r)?);
                let glob = wildmatch::WildMatch::new(&to_str(&p).to_lowercase());
                Val::Bool(glob.matches(&to_str(&t).to_lowercase()))
            }
            Expr::Not(e) => Val::Bool(!truthy(&e.eval(r)?)),
            Expr::Neg(e) => Val::Num(-to_num(&e.eval(r)?)),
            Expr::Cond(c, yes, no) => {
                if truthy(&c.eval(r)?) {
                    yes.eval(r)?
                } else {
                    no.eval(r)?
                }
            }
            Expr::Bin(op, a, b) => binop(*op, a.eval(r)?, b.eval(r)?)?,
            Expr::RegexLit(a, re) => Val::Bool(re.0.is_match(&to_str(&a.eval(r)?))),
        })
    }
}

/// A member of a JSON value (undefined for anything else).
fn member(v: &Val, name: &str) -> Val {
    match v {
        Val::Json(j) => j.get(name).map_or(Val::Undef, from_json),
        _ => Val::Undef,
    }
}

/// A JSON value as an expression value.
pub fn from_json(j: &serde_json::Value) -> Val {
    use serde_json::Value as J;
    match j {
        J::Null => Val::Null,
        J::Bool(b) => Val::Bool(*b),
        J::Number(n) => Val::Num(n.as_f64().unwrap_or(f64::NAN)),
        J::String(s) => Val::Str(s.clone()),
        other => Val::Json(other.clone()),
    }
}

fn binop(op: Op, a: Val, b: Val) -> EvalResult {
    if matches!(a, Val::Json(_)) || matches!(b, Val::Json(_)) {
        // tidwall/expr hands custom objects to Tile38, which knows only `=~`.
        if op != Op::Regex {
            return Err(EvalError);
        }
    }
    Ok(match op {
        Op::Or => Val::Bool(truthy(&a) || truthy(&b)),
        Op::And => Val::Bool(truthy(&a) && truthy(&b)),
        Op::Coalesce => match a {
            Val::Undef | Val::Null => b,
            a => a,
        },
        Op::Regex => {
            let re = regex::Regex::new(&to_str(&b)).map_err(|_| EvalError)?;
            Val::Bool(re.is_match(&to_str(&a)))
        }
        Op::Eq => Val::Bool(compare(&a, &b) == Some(Ordering::Equal)),
        Op::Ne => Val::Bool(compare(&a, &b) != Some(Ordering::Equal)),
        Op::Lt => Val::Bool(compare(&a, &b) == Some(Ordering::Less)),
        Op::Le => Val::Bool(matches!(
            compare(&a, &b),
            Some(Ordering::Less | Ordering::Equal)
        )),
        Op::Gt => Val::Bool(compare(&a, &b) == Some(Ordering::Greater)),
        Op::Ge => Val::Bool(matches!(
            compare(&a, &b),
            Some(Ordering::Greater | Ordering::Equal)
        )),
        Op::Add => add(a, b),
        Op::Sub => Val::Num(to_num(&a) - to_num(&b)),
        Op::Mul => Val::Num(to_num(&a) * to_num(&b)),
        Op::Div => Val::Num(to_num(&a) / to_num(&b)),
        Op::Mod => Val::Num(to_num(&a) % to_num(&b)),
    })
}

/// Two strings compare as text (case-insensitively), anything else as numbers; None when a
/// number is NaN.
fn compare(a: &Val, b: &Val) -> Option<Ordering> {
    if let (Val::Str(x), Val::Str(y)) = (a, b) {
        return Some(cmp_nocase(x, y));
    }
    to_num(a).partial_cmp(&to_num(b))
}

/// ASCII case-insensitive byte order.
pub fn cmp_nocase(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

fn add(a: Val, b: Val) -> Val {
    let numeric = |v: &Val| matches!(v, Val::Num(_) | Val::Bool(_) | Val::Null | Val::Undef);
    if numeric(&a) && numeric(&b) {
        Val::Num(to_num(&a) + to_num(&b))
    } else {
        Val::Str(to_str(&a) + &to_str(&b))
    }
}

fn truthy(v: &Val) -> bool {
    match v {
        Val::Undef | Val::Null | Val::Json(_) => false,
        Val::Bool(b) => *b,
        Val::Str(s) => !s.is_empty(),
        // tidwall/expr tests `x != 0`, so NaN is true there as well.
        Val::Num(n) => *n != 0.0,
    }
}

fn to_num(v: &Val) -> f64 {
    match v {
        Val::Null => 0.0,
        Val::Bool(b) => f64::from(u8::from(*b)),
        Val::Num(n) => *n,
        Val::Str(s) => s.trim().parse::<f64>().unwrap_or(f64::NAN),
        Val::Undef | Val::Json(_) => f64::NAN,
    }
}

fn to_str(v: &Val) -> String {
    match v {
        Val::Undef => "undefined".into(),
        Val::Null => "null".into(),
        Val::Bool(b) => b.to_string(),
        Val::Num(n) if n.is_infinite() => if *n > 0.0 { "Infinity" } else { "-Infinity" }.into(),
        Val::Num(n) => crate::store::field::format_number(*n),
        Val::Str(s) => s.clone(),
        Val::Json(j) => j.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<&'static str, Val>);

    impl Resolver for Map {
        fn root(&self, name: &str) -> Val {
            self.0.get(name).cloned().unwrap_or(Val::Num(0.0))
        }
    }

    fn obj() -> Map {
        Map(HashMap::from([
            ("speed", Val::Num(45.0)),
            ("name", Val::Str("Truck One".into())),
            ("active", Val::Bool(true)),
            (
                "properties",
                Val::Json(serde_json::json!({"owner": {"name": "Ann"}, "n": 3})),
            ),
        ]))
    }

    fn t(src: &str) -> bool {
        Expr::parse(src)
            .unwrap_or_else(|_| panic!("{src}"))
            .matches(&obj())
    }

    #[test]
    fn comparisons_and_logic() {
        assert!(t("speed > 10 && speed <= 45"));
        assert!(!t("speed > 10 && speed < 45"));
        assert!(t("speed < 10 || name == 'truck one'"));
        assert!(t("!(speed == 1) && active"));
        assert!(t("speed == '45'"), "mixed kinds compare as numbers");
        assert!(!t("name > 5"), "NaN comparisons are false");
        assert!(t("name != 5"));
        assert!(t("missing == 0"), "unknown fields read as 0");
        assert!(t("speed * 2 + 1 == 91 && speed % 10 == 5 && -speed < 0"));
        assert!(t("'a' + 1 == 'A1'"));
        assert!(t("speed > 50 ? false : true"));
        assert!(t("(undefined ?? 7) == 7"));
        assert!(t(
            "1 + 2 * 3 == 7 && (1 + 2) * 3 == 9 && 0x10 == 16 && 1e2 == 100"
        ));
    }

    #[test]
    fn members_match_and_regex() {
        assert!(t("properties.owner.name == 'ann'"));
        assert!(t("properties.n >= 3"));
        assert!(t("properties?.nothing == undefined || true"));
        assert!(!t("properties.nothing.deeper == 1"));
        assert!(t("name.match('truck*')"));
        assert!(!t("name.match('car*')"));
        assert!(t("name =~ '^Truck [A-Z]'"));
        assert!(!t("name =~ '(' "), "a bad regex is false, not an error");
        assert!(!t("properties == 1"), "JSON objects do not compare");
    }

    #[test]
    fn syntax_errors() {
        for bad in [
            "",
            "speed >",
            "speed = 1",
            "(speed > 1",
            "speed > 1)",
            "'open",
            "a ? b",
            "1 2",
            "a.",
            "#",
        ] {
            assert_eq!(Expr::parse(bad), Err(SyntaxError), "{bad:?}");
        }
    }
}
