//! Applying schema defaults, as kube-apiserver does for structural schemas.
//!
//! For every object node, each declared property that is absent (or `null` while not nullable)
//! and has a `default` gets a copy of it; then defaulting continues inside all present values,
//! including the ones just set. Array items and map values are defaulted with their schemas.
//! Metadata is left alone (its schema declares no properties).

use serde_json::Value;

use crate::schema::Schema;

/// Fills in defaults below `value` according to `schema`.
pub fn default(schema: &Schema, value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, prop) in &schema.properties {
                let Some(d) = &prop.default else { continue };
                match map.get(name) {
                    None => {
                        map.insert(name.clone(), d.clone());
                    }
                    Some(Value::Null) if !prop.nullable => {
                        map.insert(name.clone(), d.clone());
                    }
                    Some(_) => {}
                }
            }
            for (name, v) in map.iter_mut() {
                if let Some(prop) = schema.properties.get(name) {
                    default(prop, v);
                } else if let Some(ap) = &schema.additional_properties {
                    default(ap, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &schema.items {
                for v in items {
                    default(item_schema, v);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sets_absent_and_null_fields_and_recurses_into_new_defaults() {
        let s = Schema::object()
            .prop("a", Schema::string().default_value("x"))
            .prop("o", Schema::object().default_json(json!({})).prop("inner", Schema::integer().default_value(3)))
            .prop("list", Schema::array(Schema::object().prop("b", Schema::boolean().default_value(false))));
        let mut v = json!({"a": null, "list": [{}, {"b": true}]});
        default(&s, &mut v);
        assert_eq!(v, json!({"a": "x", "list": [{"b": false}, {"b": true}], "o": {"inner": 3}}));
    }

    #[test]
    fn keeps_present_values_and_nullable_nulls() {
        let s = Schema::object()
            .prop("a", Schema::string().default_value("x"))
            .prop("n", Schema::string().nullable().default_value("y"));
        let mut v = json!({"a": "mine", "n": null});
        default(&s, &mut v);
        assert_eq!(v, json!({"a": "mine", "n": null}));
    }
}
