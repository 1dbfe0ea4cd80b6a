//! Values coalescing exactly as Helm's `chartutil` does it: user values over chart defaults,
//! `null` deleting a default, subchart defaults under the subchart's key, `global` pushed down.

use std::collections::BTreeMap;

use super::Chart;
use crate::value::{Map, Value};

/// Helm's `LoadValues`: every YAML document of a values file (or `values.yaml`), merged in
/// order; empty documents count for nothing. `None` when a document is not a map.
pub fn load_values(text: &str) -> Result<Option<Map>, crate::yaml::YamlError> {
    let base = Value::empty_map_rc();
    for doc in crate::yaml::parse_all(text)? {
        match doc {
            Value::Map(m) => merge_maps(&base, &m),
            Value::Nil => {}
            _ => return Ok(None),
        }
    }
    Ok(Some(base))
}

/// Helm's `mergeMaps` for user values (files, then `--set` flags): maps merge, anything else
/// replaces; nulls are kept (they delete chart defaults later).
pub fn merge_maps(a: &Map, b: &Map) {
    for (k, v) in b.borrow().iter() {
        if let Value::Map(bm) = v {
            let existing = a.borrow().get(k).cloned();
            if let Some(Value::Map(am)) = existing {
                merge_maps(&am, bm);
                continue;
            }
        }
        a.borrow_mut().insert(k.clone(), v.clone());
    }
}

/// `CoalesceValues` (`merge == false`) or `MergeValues` (`merge == true`).
pub fn coalesce_values(chart: &Chart, vals: &Value, merge: bool) -> Value {
    let copy = match vals.deep_copy() {
        Value::Map(m) => m,
        _ => Value::empty_map_rc(),
    };
    let mut failed = None;
    coalesce(chart, &copy, merge, &mut failed);
    Value::Map(copy)
}

/// `CoalesceValues` with its error: a subchart's section that is not a map is Helm's
/// `type mismatch on NAME: %t` (Go's bad-verb rendering of the value).
pub fn coalesce_values_checked(chart: &Chart, vals: &Value) -> Result<Value, String> {
    let copy = match vals.deep_copy() {
        Value::Map(m) => m,
        _ => Value::empty_map_rc(),
    };
    let mut failed = None;
    coalesce(chart, &copy, false, &mut failed);
    match failed {
        Some(e) => Err(e),
        None => Ok(Value::Map(copy)),
    }
}

/// Go's `%t` of a value that may not be a bool (`%!t(string=x)`, lists element-wise).
fn bad_bool_verb(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::List(l) => format!("[{}]", l.iter().map(bad_bool_verb).collect::<Vec<_>>().join(" ")),
        Value::Map(m) => format!(
            "map[{}]",
            m.borrow()
                .iter()
                .map(|(k, v)| format!("%!t(string={k}):{}", bad_bool_verb(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Value::Nil => "%!t(<nil>)".into(),
        Value::Str(s) => format!("%!t(string={s})"),
        Value::Int(i) => format!("%!t(int={i})"),
        Value::Int64(i) => format!("%!t(int64={i})"),
        Value::Float(_) => format!("%!t(float64={})", crate::template::format::sprint_v(v)),
        Value::Object(o) => format!("%!t({}={})", o.type_name(), o.display()),
    }
}

fn coalesce(chart: &Chart, dest: &Map, merge: bool, failed: &mut Option<String>) {
    coalesce_own(chart, dest, merge);
    coalesce_deps(chart, dest, merge, failed);
}

fn coalesce_deps(chart: &Chart, dest: &Map, merge: bool, failed: &mut Option<String>) {
    for sub in &chart.dependencies {
        if failed.is_some() {
            return;
        }
        let name = sub.name().to_string();
        let existing = dest.borrow().get(&name).cloned();
        let dv = match existing {
            None => {
                let m = Value::empty_map_rc();
                dest.borrow_mut().insert(name.clone(), Value::Map(m.clone()));
                m
            }
            Some(Value::Map(m)) => m,
            Some(other) => {
                *failed = Some(format!("type mismatch on {name}: {}", bad_bool_verb(&other)));
                return;
            }
        };
        coalesce_globals(&dv, dest);
        coalesce(sub, &dv, merge, failed);
    }
}

fn coalesce_globals(dest: &Map, src: &Map) {
    let dg = match dest.borrow().get("global").cloned() {
        None => Value::empty_map_rc(),
        Some(Value::Map(m)) => m,
        Some(_) => return,
    };
    let sg = match src.borrow().get("global").cloned() {
        None => Value::empty_map_rc(),
        Some(Value::Map(m)) => m,
        Some(_) => return,
    };
    for (key, val) in sg.borrow().iter() {
        if let Value::Map(vm) = val {
            // A shallow copy, as Helm's copyMap.
            let vv: Map = std::rc::Rc::new(std::cell::RefCell::new(vm.borrow().clone()));
            let existing = dg.borrow().get(key).cloned();
            match existing {
                None => {
                    dg.borrow_mut().insert(key.clone(), Value::Map(vv));
                }
                Some(Value::Map(dm)) => {
                    coalesce_tables(&vv, &dm, true);
                    dg.borrow_mut().insert(key.clone(), Value::Map(vv));
                }
                Some(_) => {}
            }
        } else {
            let existing = dg.borrow().get(key).cloned();
            if !matches!(existing, Some(Value::Map(_))) {
                dg.borrow_mut().insert(key.clone(), val.clone());
            }
        }
    }
    dest.borrow_mut().insert("global".into(), Value::Map(dg));
}

fn clean_nils(m: &Map) {
    m.borrow_mut().retain(|_, v| !v.is_nil());
    for v in m.borrow().values() {
        if let Value::Map(sub) = v {
            clean_nils(sub);
        }
    }
}

fn coalesce_own(chart: &Chart, v: &Map, merge: bool) {
    let defaults = chart.values();
    let Value::Map(vc) = defaults else { return };
    let sub_names: Vec<&str> = chart.dependencies.iter().map(Chart::name).collect();
    for (key, val) in vc.borrow().iter() {
        let existing = v.borrow().get(key).cloned();
        match existing {
            Some(Value::Nil) if !merge => {
                v.borrow_mut().remove(key);
            }
            Some(Value::Map(dest)) => {
                if let Value::Map(src) = val {
                    let merge = merge || sub_names.contains(&key.as_str());
                    if !merge {
                        clean_nils(src);
                    }
                    coalesce_tables(&dest, src, merge);
                }
            }
            Some(_) => {}
            None => {
                if !merge {
                    if val.is_nil() {
                        continue;
                    }
                    if let Value::Map(sub) = val {
                        clean_nils(sub);
                    }
                }
                v.borrow_mut().insert(key.clone(), val.clone());
            }
        }
    }
}

/// `coalesceTablesFullKey`: `dst` has precedence over `src`.
pub fn coalesce_tables(dst: &Map, src: &Map, merge: bool) {
    let src_non_nil: Vec<String> = src.borrow().iter().filter(|(_, v)| !v.is_nil()).map(|(k, _)| k.clone()).collect();
    let dst_nils: Vec<String> = dst.borrow().iter().filter(|(_, v)| v.is_nil()).map(|(k, _)| k.clone()).collect();
    for k in dst_nils {
        src.borrow_mut().insert(k, Value::Nil);
    }
    let entries: Vec<(String, Value)> = src.borrow().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (key, val) in entries {
        let dv = dst.borrow().get(&key).cloned();
        match dv {
            Some(Value::Nil) if !merge && src_non_nil.contains(&key) => {
                dst.borrow_mut().remove(&key);
            }
            None => {
                dst.borrow_mut().insert(key, val);
            }
            Some(dv) => {
                if let (Value::Map(vm), Value::Map(dm)) = (&val, &dv) {
                    coalesce_tables(dm, vm, merge);
                }
            }
        }
    }
}

impl Value {
    /// A fresh empty shared map.
    pub fn empty_map_rc() -> Map {
        std::rc::Rc::new(std::cell::RefCell::new(BTreeMap::new()))
    }
}

/// Reads `a.b.c` from a values map (Helm's `Values.Table`/`PathValue`).
pub fn path_value(v: &Value, path: &str) -> Option<Value> {
    let mut cur = v.clone();
    for part in path.split('.') {
        let next = match &cur {
            Value::Map(m) => m.borrow().get(part).cloned(),
            _ => None,
        }?;
        cur = next;
    }
    Some(cur)
}
