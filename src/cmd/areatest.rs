//! TEST `<area> WITHIN|INTERSECTS [CLIP] <area>`: one spatial predicate between two areas,
//! without touching a collection (except to read a `GET key id` operand). Replies as Tile38:
//! RESP `:1`/`:0` (with CLIP and a hit, `[1, clipped-geojson]`), JSON `"result":true|false`
//! (plus `"object"`).

use super::args::Args;
use super::search::parse_area;
use super::ReadCtx;
use crate::error::{CmdError, CmdResult};
use crate::geo::{clip_to_rect, Area};
use crate::protocol::{Reply, Value};
use crate::store::Db;

/// TEST area1 WITHIN|INTERSECTS [CLIP] area2
pub fn test(db: &Db, a: &mut Args, ctx: &ReadCtx) -> CmdResult<Reply> {
    let word = a.next_str()?;
    let first = parse_area(db, word, a, ctx.now_ms)?.to_geometry();
    let which = a.next_str()?;
    let within = match which.to_ascii_lowercase().as_str() {
        "within" => true,
        "intersects" => false,
        _ => return Err(CmdError::InvalidArg(which.into())),
    };
    let mut clip = false;
    if let Some(w) = a.peek().filter(|w| w.eq_ignore_ascii_case("CLIP")) {
        if within {
            return Err(CmdError::InvalidArg(w.into()));
        }
        a.next_str()?;
        clip = true;
    }
    let word = a.next_str()?;
    if clip
        && matches!(
            word.to_ascii_lowercase().as_str(),
            "circle" | "object" | "get" | "sector"
        )
    {
        return Err(CmdError::Other(format!("invalid clip type '{word}'")));
    }
    let second = parse_area(db, word, a, ctx.now_ms)?;
    if !a.is_empty() {
        return Err(a.arity_error());
    }
    let hit = if within {
        second.contains(&first)
    } else {
        second.intersects(&first)
    };
    let clipped = match (&second, clip && hit) {
        (Area::Rect(r), true) => Some(clip_to_rect(&first, r).geojson_string()),
        (_, true) => Some(first.geojson_string()),
        _ => None,
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
