//! Helm's own template functions: `include`, `tpl`, `required`, `fail`, the YAML/JSON/TOML
//! converters, `lookup` (empty in template mode) and `getHostByName` (DNS disabled).

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use super::{FResult, Func, FuncError, arg_str, want};
use crate::template::exec::Exec;
use crate::template::parse::parse;
use crate::value::Value;
use crate::yaml;

/// Helm's marker around `required`/`fail` messages.
pub const WARN_START: &str = "HELM_ERR_START";
/// The closing marker.
pub const WARN_END: &str = "HELM_ERR_END";
/// Helm's limit on nested includes of one template.
const RECURSION_MAX: usize = 1000;

pub(super) fn register(m: &mut HashMap<&'static str, Func>) {
    m.insert("include", include);
    m.insert("tpl", tpl);
    m.insert("required", |_, a| {
        want(a, 2, "required")?;
        let warn = arg_str(a, 0)?;
        match &a[1] {
            Value::Nil => Err(FuncError::Plain(format!("{WARN_START}{warn}{WARN_END}"))),
            Value::Str(s) if s.is_empty() => Err(FuncError::Plain(format!("{WARN_START}{warn}{WARN_END}"))),
            v => Ok(v.clone()),
        }
    });
    m.insert("fail", |_, a| {
        want(a, 1, "fail")?;
        Err(FuncError::Plain(format!("{WARN_START}{}{WARN_END}", arg_str(a, 0)?)))
    });
    m.insert("toYaml", |_, a| {
        want(a, 1, "toYaml")?;
        Ok(Value::str(yaml::emit::marshal(&a[0]).trim_end_matches('\n').to_string()))
    });
    m.insert("mustToYaml", |_, a| {
        want(a, 1, "mustToYaml")?;
        Ok(Value::str(yaml::emit::marshal(&a[0]).trim_end_matches('\n').to_string()))
    });
    m.insert("toYamlPretty", |_, a| {
        want(a, 1, "toYamlPretty")?;
        Ok(Value::str(yaml::emit::marshal_pretty(&a[0]).trim_end_matches('\n').to_string()))
    });
    m.insert("fromYaml", |_, a| {
        want(a, 1, "fromYaml")?;
        let s = arg_str(a, 0)?;
        Ok(match yaml::parse(&s) {
            Ok(Value::Map(m)) => Value::Map(m),
            Ok(Value::Nil) => Value::empty_map(),
            Ok(other) => error_map(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&other)
            )),
            Err(e) => error_map(e.to_string()),
        })
    });
    m.insert("fromYamlArray", |_, a| {
        want(a, 1, "fromYamlArray")?;
        let s = arg_str(a, 0)?;
        Ok(match yaml::parse(&s) {
            Ok(Value::List(l)) => Value::List(l),
            Ok(Value::Nil) => Value::list(Vec::new()),
            Ok(other) => Value::list(vec![Value::str(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
                json_kind(&other)
            ))]),
            Err(e) => Value::list(vec![Value::str(e.to_string())]),
        })
    });
    m.insert("toJson", |_, a| {
        want(a, 1, "toJson")?;
        Ok(Value::str(yaml::json::marshal(&a[0])))
    });
    m.insert("mustToJson", |_, a| {
        want(a, 1, "mustToJson")?;
        Ok(Value::str(yaml::json::marshal(&a[0])))
    });
    m.insert("toPrettyJson", |_, a| {
        want(a, 1, "toPrettyJson")?;
        Ok(Value::str(yaml::json::marshal_indent(&a[0])))
    });
    m.insert("toRawJson", |_, a| {
        want(a, 1, "toRawJson")?;
        let s = yaml::json::marshal(&a[0]);
        Ok(Value::str(s.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&")))
    });
    m.insert("fromJson", |_, a| {
        want(a, 1, "fromJson")?;
        let s = arg_str(a, 0)?;
        Ok(match yaml::json::parse(&s) {
            Ok(Value::Map(m)) => Value::Map(m),
            Ok(other) => error_map(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&other)
            )),
            Err(e) => error_map(e.to_string()),
        })
    });
    m.insert("fromJsonArray", |_, a| {
        want(a, 1, "fromJsonArray")?;
        let s = arg_str(a, 0)?;
        Ok(match yaml::json::parse(&s) {
            Ok(Value::List(l)) => Value::List(l),
            Ok(other) => Value::list(vec![Value::str(format!(
                "json: cannot unmarshal {} into Go value of type []interface {{}}",
                json_kind(&other)
            ))]),
            Err(e) => Value::list(vec![Value::str(e.to_string())]),
        })
    });
    m.insert("toToml", |_, a| {
        want(a, 1, "toToml")?;
        Ok(Value::str(yaml::toml::encode(&a[0]).unwrap_or_else(|e| e.to_string())))
    });
    m.insert("lookup", |_, a| {
        want(a, 4, "lookup")?;
        Ok(Value::empty_map())
    });
    m.insert("getHostByName", |_, a| {
        want(a, 1, "getHostByName")?;
        Ok(Value::str(""))
    });
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::List(_) => "array",
        Value::Map(_) => "object",
        Value::Str(_) => "string",
        Value::Bool(_) => "bool",
        Value::Int(_) | Value::Float(_) => "number",
        _ => "null",
    }
}

fn error_map(msg: String) -> Value {
    let mut m = BTreeMap::new();
    m.insert("Error".to_string(), Value::str(msg));
    Value::map(m)
}

fn include(ex: &mut Exec, a: &[Value]) -> FResult {
    want(a, 2, "include")?;
    let name = arg_str(a, 0)?;
    let count = ex.include_counts.entry(name.clone()).or_insert(0);
    if *count > RECURSION_MAX {
        return Err(FuncError::Plain(format!(
            "rendering template has a nested reference name: {name}: unable to execute template"
        )));
    }
    *count += 1;
    let r = ex.execute_template(&name, &a[1]);
    if let Some(c) = ex.include_counts.get_mut(&name) {
        *c -= 1;
    }
    match r {
        Ok(s) => Ok(Value::str(s)),
        Err(e) => Err(FuncError::Nested(e)),
    }
}

fn tpl(ex: &mut Exec, a: &[Value]) -> FResult {
    want(a, 2, "tpl")?;
    let text = arg_str(a, 0)?;
    let root = ex.root_name.clone();
    let parsed = parse(&root, &text, &super::exists).map_err(|e| {
        FuncError::Plain(format!("cannot parse template {}: {e}", crate::template::format::go_quote(&text)))
    })?;
    // The tpl text sees every template plus its own definitions; they vanish afterwards.
    let saved = Rc::clone(&ex.set);
    let mut set = (*saved).clone();
    for t in parsed.defined {
        if !t.is_empty() || !set.contains_key(&*t.name) {
            set.insert(t.name.to_string(), std::sync::Arc::new(t));
        }
    }
    ex.set = Rc::new(set);
    let r = ex.execute_tree(&parsed.main, &a[1]);
    ex.set = saved;
    match r {
        Ok(s) => Ok(Value::str(s.replace("<no value>", ""))),
        Err(mut e) => {
            let msg = format!(
                "error during tpl function execution for {}: {}",
                crate::template::format::go_quote(&text),
                e.message
            );
            e.chain.insert(0, msg.clone());
            e.message = msg;
            Err(FuncError::Nested(e))
        }
    }
}
