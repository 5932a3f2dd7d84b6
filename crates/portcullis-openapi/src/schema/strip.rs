//! Removing what a response schema does not declare (excessive data exposure): properties of
//! closed objects that the schema does not name, and `writeOnly` properties.

use serde_json::Value;

use super::{Extra, SchemaId, Schemas};

/// Deepest nesting walked (deeper values were already refused by the body limits).
const MAX_DEPTH: usize = 128;

/// Removes undeclared properties from `value` as schema `id` describes it. Returns how many
/// properties were removed.
pub(crate) fn strip(schemas: &Schemas, id: SchemaId, value: &mut Value) -> usize {
    strip_at(schemas, id, value, 0)
}

fn strip_at(schemas: &Schemas, id: SchemaId, value: &mut Value, depth: usize) -> usize {
    if depth > MAX_DEPTH {
        return 0;
    }
    let node = schemas.node(id);
    let mut removed = 0;
    match value {
        Value::Object(map) => {
            let before = map.len();
            map.retain(|key, _| {
                let declared = node.declares(key) || node.pattern_property(key).is_some();
                let keep = declared || node.extra != Extra::Closed;
                keep && !schemas
                    .property_schema(id, key)
                    .is_some_and(|p| schemas.node(p).write_only)
            });
            removed += before - map.len();
            for (key, child) in map.iter_mut() {
                if let Some(p) = schemas.property_schema(id, key) {
                    removed += strip_at(schemas, p, child, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                if let Some(s) = node.prefix_items.get(i).copied().or(node.items) {
                    removed += strip_at(schemas, s, item, depth + 1);
                } else if let Some(s) = composed_items(schemas, id) {
                    removed += strip_at(schemas, s, item, depth + 1);
                }
            }
        }
        _ => {}
    }
    removed
}

/// The `items` schema of an array schema that only gets it through `allOf`.
fn composed_items(schemas: &Schemas, id: SchemaId) -> Option<SchemaId> {
    let node = schemas.node(id);
    node.all_of.iter().find_map(|m| schemas.node(*m).items)
}
