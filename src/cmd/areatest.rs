//! TEST `<expr> WITHIN|INTERSECTS [CLIP] <expr>`: a spatial predicate between two areas or
//! area expressions (`super::areaexpr`), without touching a collection (except to read a
//! `GET key id` operand). Replies as Tile38: RESP `:1`/`:0` (with CLIP and a hit,
//! `[1, clipped-geojson]`), JSON `"result":true|false` (plus `"object"`).

use super::areaexpr::{is_area_word, AreaExpr, Test};
use super::args::Args;
use super::ReadCtx;
use crate::error::{CmdError, CmdResult};
use crate::geo::{clip_to_rect, Area};
use crate::protocol::{Reply, Value};
use crate::store::Db;

/// TEST expr1 WITHIN|INTERSECTS [CLIP] expr2
pub fn test(db: &Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Reply> {
    let first = AreaExpr::parse(db, a, ctx.now_ms)?;
    let which = a.next_str()?;
    let test = match which.to_ascii_lowercase().as_str() {
        "within" => Test::Within,
        "intersects" => Test::Intersects,
        _ => return Err(CmdError::InvalidArg(which.into())),
    };
    let mut clip = false;
    if let Some(w) = a.peek().filter(|w| w.eq_ignore_ascii_case("CLIP")) {
        if test == Test::Within {
            return Err(CmdError::InvalidArg(w.into()));
        }
        a.next_str()?;
        clip = true;
    }
    if let Some(word) = a.peek().filter(|w| clip && is_area_word(w)) {
        if matches!(
            word.to_ascii_lowercase().as_str(),
            "circle" | "object" | "get" | "sector"
        ) {
            return Err(CmdError::Other(format!("invalid clip type '{word}'")));
        }
    }
    let second = AreaExpr::parse(db, a, ctx.now_ms)?;
    if !a.is_empty() {
        return Err(a.arity_error());
    }
    let clip_areas = match (clip, first.leaf(), second.leaf()) {
        (false, ..) => None,
        (true, Some(one), Some(two)) => Some((one, two)),
        // Tile38 clips one area by another only.
        (true, ..) => return Err(CmdError::InvalidArg("clip".into())),
    };
    let hit = first.test(test, &second);
    let clipped = match clip_areas.filter(|_| hit) {
        Some((one, Area::Rect(r))) => Some(clip_to_rect(&one.to_geometry(), r).geojson_string()),
        Some((one, _)) => Some(one.to_geometry().geojson_string()),
        None => None,
    };
    let result = i64::from(hit);
    Ok(match clipped {
        None => Reply::Split {
            resp: Value::Int(result),
            json: vec![("result", Value::Bool(hit))],
        },
        Some(json) => Reply::Split {
            resp: Value::List(vec![Value::Int(result), Value::Str(json.clone())]),
            json: vec![("result", Value::Bool(hit)), ("object", Value::Json(json))],
        },
    })
}
