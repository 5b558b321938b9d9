//! Area expressions of TEST: areas joined by `AND`, `OR`, `NOT` and parentheses
//! (`TEST POINT 1 1 WITHIN ( BOUNDS 0 0 2 2 AND NOT CIRCLE 1 1 10 )`), as Tile38 1.37 has them.
//!
//! **Grammar.** `or := and (OR and)*`, `and := unary (AND unary)*`, `unary := NOT unary |
//! ( or ) | <area>`: AND binds tighter than OR and parentheses group. (Tile38's parser does not
//! keep to this: `A OR B AND C` comes out as `A OR B OR C`, and `( A OR B ) AND C` as
//! `A OR B OR C`; we parse what was written.)
//!
//! **Meaning.** `left WITHIN|INTERSECTS right` is decided leaf against leaf: the right side is
//! taken apart first (an AND of its parts must all hold, an OR needs one, a NOT negates), then
//! the left side against each right-hand area the same way, down to one area against one
//! area. A NOT in front of the whole left side negates the whole test, as in Tile38. (Tile38
//! also lets that NOT cancel NOTs nested inside the right side, so `NOT a WITHIN ( NOT b AND
//! c )` ignores the NOT before `b`; here every NOT negates what it stands before.)
//!
//! Owns parsing and evaluating expressions; areas are parsed by `search::parse_area`.

use super::args::Args;
use super::search::parse_area;
use crate::error::{CmdError, CmdResult};
use crate::geo::{Area, Geometry};
use crate::store::Db;

/// Deepest nesting of parentheses and NOTs: the expression comes from a client, and each
/// level is a stack frame.
const MAX_DEPTH: usize = 64;

/// An expression: a (maybe negated) area, or an AND/OR of expressions.
#[derive(Debug)]
pub struct AreaExpr {
    pub negate: bool,
    pub node: Node,
}

#[derive(Debug)]
pub enum Node {
    Leaf(Area),
    And(Vec<AreaExpr>),
    Or(Vec<AreaExpr>),
}

/// The spatial predicate TEST asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    Within,
    Intersects,
}

const AREA_WORDS: [&str; 9] = [
    "point", "circle", "object", "bounds", "hash", "quadkey", "tile", "get", "sector",
];

/// True for a word that starts an area.
pub fn is_area_word(word: &str) -> bool {
    AREA_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word))
}

struct Parser<'d> {
    db: &'d Db,
    now_ms: i64,
}

impl AreaExpr {
    /// Parses one expression; the arguments after it are left for the caller.
    pub fn parse(db: &Db, a: &mut Args, now_ms: i64) -> CmdResult<AreaExpr> {
        let expr = Parser { db, now_ms }.or(a, 0)?;
        if a.peek() == Some(")") {
            return Err(CmdError::InvalidArg(")".into()));
        }
        Ok(expr)
    }

    /// True when the expression is an area (maybe negated), not an AND/OR.
    pub fn leaf(&self) -> Option<&Area> {
        match &self.node {
            Node::Leaf(area) => Some(area),
            _ => None,
        }
    }

    /// `self WITHIN|INTERSECTS right`.
    pub fn test(&self, test: Test, right: &AreaExpr) -> bool {
        self.negate ^ self.against_expr(test, right)
    }

    /// The right side taken apart (this side's own NOT is the caller's).
    fn against_expr(&self, test: Test, right: &AreaExpr) -> bool {
        right.negate
            ^ match &right.node {
                Node::Leaf(area) => self.against_area(test, area),
                Node::And(parts) => parts.iter().all(|p| self.against_expr(test, p)),
                Node::Or(parts) => parts.iter().any(|p| self.against_expr(test, p)),
            }
    }

    /// This side taken apart against one right-hand area (this side's own NOT is the
    /// caller's).
    fn against_area(&self, test: Test, right: &Area) -> bool {
        let part = |p: &AreaExpr| p.negate ^ p.against_area(test, right);
        match &self.node {
            Node::Leaf(area) => leaf_test(test, &area.to_geometry(), right),
            Node::And(parts) => parts.iter().all(part),
            Node::Or(parts) => parts.iter().any(part),
        }
    }
}

/// One area against another: `left` within or intersecting `right`.
fn leaf_test(test: Test, left: &Geometry, right: &Area) -> bool {
    match test {
        Test::Within => right.contains(left),
        Test::Intersects => right.intersects(left),
    }
}

fn is_word(a: &Args, word: &str) -> bool {
    a.peek().is_some_and(|w| w.eq_ignore_ascii_case(word))
}

impl Parser<'_> {
    fn or(&self, a: &mut Args, depth: usize) -> CmdResult<AreaExpr> {
        self.joined(a, depth, "or", Node::Or, Self::and)
    }

    fn and(&self, a: &mut Args, depth: usize) -> CmdResult<AreaExpr> {
        self.joined(a, depth, "and", Node::And, Self::unary)
    }

    /// `part (word part)*`, one node for two parts or more.
    fn joined(
        &self,
        a: &mut Args,
        depth: usize,
        word: &str,
        node: fn(Vec<AreaExpr>) -> Node,
        part: fn(&Self, &mut Args, usize) -> CmdResult<AreaExpr>,
    ) -> CmdResult<AreaExpr> {
        let first = part(self, a, depth)?;
        if !is_word(a, word) {
            return Ok(first);
        }
        let mut parts = vec![first];
        while is_word(a, word) {
            a.next_str()?;
            parts.push(part(self, a, depth)?);
        }
        Ok(AreaExpr {
            negate: false,
            node: node(parts),
        })
    }

    fn unary(&self, a: &mut Args, depth: usize) -> CmdResult<AreaExpr> {
        if depth >= MAX_DEPTH {
            return Err(CmdError::Other(format!(
                "area expression nested deeper than {MAX_DEPTH}"
            )));
        }
        let Some(word) = a.peek() else {
            return Err(a.arity_error());
        };
        let lower = word.to_ascii_lowercase();
        match lower.as_str() {
            "not" => {
                a.next_str()?;
                let mut e = self.unary(a, depth + 1)?;
                e.negate = !e.negate;
                Ok(e)
            }
            "(" => {
                a.next_str()?;
                let e = self.or(a, depth + 1)?;
                if a.peek() != Some(")") {
                    return Err(a.arity_error());
                }
                a.next_str()?;
                Ok(e)
            }
            // An operator or `)` where an operand belongs: Tile38's wording.
            "and" | "or" | ")" => Err(CmdError::InvalidArg(lower)),
            _ if is_area_word(word) => {
                a.next_str()?;
                let area = parse_area(self.db, word, a, self.now_ms)?;
                Ok(AreaExpr {
                    negate: false,
                    node: Node::Leaf(area),
                })
            }
            _ => Err(a.arity_error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `text` (space-separated) as one expression.
    fn parse(text: &str) -> CmdResult<AreaExpr> {
        let words: Vec<&str> = text.split(' ').collect();
        let req = crate::protocol::request::Request::from_strs(&words);
        let mut a = Args::new("TEST", req.argv());
        AreaExpr::parse(&Db::default(), &mut a, 0)
    }

    fn shape(e: &AreaExpr) -> String {
        let inner = match &e.node {
            Node::Leaf(Area::Point { lat, .. }) => format!("p{lat}"),
            Node::Leaf(_) => "area".into(),
            Node::And(p) => format!("({})", p.iter().map(shape).collect::<Vec<_>>().join("&")),
            Node::Or(p) => format!("({})", p.iter().map(shape).collect::<Vec<_>>().join("|")),
        };
        if e.negate {
            format!("!{inner}")
        } else {
            inner
        }
    }

    #[test]
    fn and_binds_tighter_and_parentheses_group() {
        let e = parse("POINT 1 0 OR POINT 2 0 AND POINT 3 0").unwrap();
        assert_eq!(shape(&e), "(p1|(p2&p3))");
        let e = parse("( POINT 1 0 OR POINT 2 0 ) AND NOT POINT 3 0").unwrap();
        assert_eq!(shape(&e), "((p1|p2)&!p3)");
        let e = parse("NOT NOT ( POINT 1 0 )").unwrap();
        assert_eq!(shape(&e), "p1");
    }

    #[test]
    fn malformed_expressions_get_tile38s_errors() {
        let err = |t: &str| parse(t).unwrap_err().text(false);
        assert_eq!(err("AND POINT 1 0"), "invalid argument 'and'");
        assert_eq!(err("POINT 1 0 OR OR POINT 1 0"), "invalid argument 'or'");
        assert_eq!(err("POINT 1 0 )"), "invalid argument ')'");
        assert_eq!(err("( )"), "invalid argument ')'");
        let arity = "wrong number of arguments for 'test' command";
        assert_eq!(err("( POINT 1 0"), arity);
        assert_eq!(err("NOT"), arity);
        assert_eq!(err("POINT 1 0 AND"), arity);
        let deep = format!("{}POINT 1 0", "NOT ".repeat(MAX_DEPTH + 1));
        assert!(err(deep.trim()).contains("nested deeper"));
    }

    #[test]
    fn tests_compose_leaf_by_leaf() {
        let t = |l: &str, test: Test, r: &str| parse(l).unwrap().test(test, &parse(r).unwrap());
        let inside = "POINT 1 1";
        let both = "BOUNDS 0 0 2 2 AND CIRCLE 1 1 1000";
        assert!(t(inside, Test::Within, both));
        assert!(!t(
            inside,
            Test::Within,
            "BOUNDS 0 0 2 2 AND NOT CIRCLE 1 1 1000"
        ));
        assert!(t(inside, Test::Within, "BOUNDS 5 5 6 6 OR BOUNDS 0 0 2 2"));
        assert!(t("NOT POINT 1 1", Test::Within, "BOUNDS 5 5 6 6"));
        // The left side's NOT negates the whole test.
        assert!(!t(
            "NOT POINT 1 1",
            Test::Within,
            "BOUNDS 5 5 6 6 OR BOUNDS 0 0 2 2"
        ));
        assert!(t(
            "POINT 1 1 OR POINT 9 9",
            Test::Intersects,
            "BOUNDS 0 0 2 2"
        ));
        assert!(!t(
            "POINT 1 1 AND POINT 9 9",
            Test::Intersects,
            "BOUNDS 0 0 2 2"
        ));
        // A NOT inside the right side keeps its meaning under a negated left side.
        assert!(!t(
            "NOT POINT 1 1",
            Test::Within,
            "( NOT BOUNDS 5 5 6 6 AND BOUNDS 0 0 2 2 )"
        ));
    }
}
