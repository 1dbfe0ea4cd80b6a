//! Sprig's list and dict functions.

use std::collections::{BTreeMap, HashMap};

use crate::funcs::{FResult, Func, FuncError, arg_list, arg_str, strval, to_int64, want, want_at_least};
use crate::template::exec::Exec;
use crate::value::{Map, Value};

fn list_ok(v: Vec<Value>) -> FResult {
    Ok(Value::list(v))
}

fn arg_map(v: &Value, name: &str) -> Result<Map, FuncError> {
    match v {
        Value::Map(m) => Ok(m.clone()),
        // A nil map reads as empty (Go passes nil maps through).
        Value::Nil => Ok(Value::empty_map_rc()),
        _ => Err(FuncError::Type { index: usize::MAX, expected: "map[string]interface {}", func: name.to_string() }),
    }
}

pub(super) fn register(m: &mut HashMap<&'static str, Func>) {
    m.insert("list", |_, a| list_ok(a.to_vec()));
    m.insert("tuple", |_, a| list_ok(a.to_vec()));
    m.insert("dict", |_, a| {
        let mut d = BTreeMap::new();
        let mut it = a.chunks(2);
        for pair in &mut it {
            // Sprig's strval is fmt's %v: a nil key is "<nil>".
            let k = if matches!(pair[0], Value::Nil) { "<nil>".to_string() } else { strval(&pair[0]) };
            d.insert(k, pair.get(1).cloned().unwrap_or_default());
        }
        Ok(Value::map(d))
    });
    m.insert("get", |_, a| {
        want(a, 2, "get")?;
        let d = arg_map(&a[0], "get")?;
        let k = arg_str(a, 1)?;
        let v = d.borrow().get(&k).cloned();
        Ok(v.unwrap_or_else(|| Value::str("")))
    });
    m.insert("set", |_, a| {
        want(a, 3, "set")?;
        if a[0].is_nil() {
            return Err(FuncError::Plain("assignment to entry in nil map".into()));
        }
        let d = arg_map(&a[0], "set")?;
        d.borrow_mut().insert(arg_str(a, 1)?, a[2].clone());
        Ok(Value::Map(d))
    });
    m.insert("unset", |_, a| {
        want(a, 2, "unset")?;
        let d = arg_map(&a[0], "unset")?;
        d.borrow_mut().remove(&arg_str(a, 1)?);
        Ok(Value::Map(d))
    });
    m.insert("hasKey", |_, a| {
        want(a, 2, "hasKey")?;
        let d = arg_map(&a[0], "hasKey")?;
        let k = arg_str(a, 1)?;
        Ok(Value::Bool(d.borrow().contains_key(&k)))
    });
    m.insert("keys", |_, a| {
        let mut out = Vec::new();
        for d in a {
            out.extend(arg_map(d, "keys")?.borrow().keys().map(|k| Value::str(k.as_str())));
        }
        list_ok(out)
    });
    m.insert("values", |_, a| {
        want(a, 1, "values")?;
        list_ok(arg_map(&a[0], "values")?.borrow().values().cloned().collect())
    });
    m.insert("pick", |_, a| {
        want_at_least(a, 1, "pick")?;
        let d = arg_map(&a[0], "pick")?;
        let mut out = BTreeMap::new();
        for i in 1..a.len() {
            let k = arg_str(a, i)?;
            if let Some(v) = d.borrow().get(&k) {
                out.insert(k, v.clone());
            }
        }
        Ok(Value::map(out))
    });
    m.insert("omit", |_, a| {
        want_at_least(a, 1, "omit")?;
        let d = arg_map(&a[0], "omit")?;
        let drop: Vec<String> = a[1..].iter().map(strval).collect();
        let out = d.borrow().iter().filter(|(k, _)| !drop.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        Ok(Value::map(out))
    });
    m.insert("merge", |_, a| merge(a, false));
    m.insert("mergeOverwrite", |_, a| merge(a, true));
    m.insert("deepCopy", |_, a| {
        want(a, 1, "deepCopy")?;
        if a[0].is_nil() {
            return Err(FuncError::Plain("reflect: call of reflect.Value.Type on zero Value".into()));
        }
        Ok(a[0].deep_copy())
    });
    m.insert("dig", dig);
    m.insert("append", |_, a| {
        want(a, 2, "append")?;
        let mut l = arg_list(&a[0], "append")?;
        l.push(a[1].clone());
        list_ok(l)
    });
    m.insert("push", |_, a| {
        want(a, 2, "push")?;
        let mut l = arg_list(&a[0], "push")?;
        l.push(a[1].clone());
        list_ok(l)
    });
    m.insert("prepend", |_, a| {
        want(a, 2, "prepend")?;
        let mut l = arg_list(&a[0], "prepend")?;
        l.insert(0, a[1].clone());
        list_ok(l)
    });
    m.insert("first", |_, a| {
        want(a, 1, "first")?;
        Ok(arg_list(&a[0], "first")?.first().cloned().unwrap_or_default())
    });
    m.insert("last", |_, a| {
        want(a, 1, "last")?;
        Ok(arg_list(&a[0], "last")?.last().cloned().unwrap_or_default())
    });
    m.insert("rest", |_, a| {
        want(a, 1, "rest")?;
        let l = arg_list(&a[0], "rest")?;
        if l.is_empty() {
            return Ok(Value::Nil);
        }
        list_ok(l[1..].to_vec())
    });
    m.insert("initial", |_, a| {
        want(a, 1, "initial")?;
        let l = arg_list(&a[0], "initial")?;
        if l.is_empty() {
            return Ok(Value::Nil);
        }
        list_ok(l[..l.len() - 1].to_vec())
    });
    m.insert("uniq", |_, a| {
        want(a, 1, "uniq")?;
        let mut out: Vec<Value> = Vec::new();
        for x in arg_list(&a[0], "uniq")? {
            if !out.iter().any(|y| y.deep_equal(&x)) {
                out.push(x);
            }
        }
        list_ok(out)
    });
    m.insert("without", |_, a| {
        want_at_least(a, 1, "without")?;
        let l = arg_list(&a[0], "without")?;
        list_ok(l.into_iter().filter(|x| !a[1..].iter().any(|y| y.deep_equal(x))).collect())
    });
    m.insert("has", |_, a| {
        want(a, 2, "has")?;
        if a[1].is_nil() {
            return Ok(Value::Bool(false));
        }
        let l = arg_list(&a[1], "has")?;
        Ok(Value::Bool(l.iter().any(|x| x.deep_equal(&a[0]))))
    });
    m.insert("compact", |_, a| {
        want(a, 1, "compact")?;
        list_ok(arg_list(&a[0], "compact")?.into_iter().filter(|x| !super::misc::empty(x)).collect())
    });
    m.insert("concat", |_, a| {
        let mut out = Vec::new();
        for l in a {
            out.extend(arg_list(l, "concat")?);
        }
        list_ok(out)
    });
    m.insert("reverse", |_, a| {
        want(a, 1, "reverse")?;
        let mut l = arg_list(&a[0], "reverse")?;
        l.reverse();
        list_ok(l)
    });
    m.insert("slice", |_, a| {
        want_at_least(a, 1, "slice")?;
        let l = match &a[0] {
            Value::List(l) => l.to_vec(),
            other => {
                return Err(FuncError::Plain(format!(
                    "list should be type of slice or array but {}",
                    other.kind_name()
                )));
            }
        };
        if l.is_empty() {
            return Ok(Value::Nil);
        }
        let start = a.get(1).map_or(0, to_int64);
        let end = a.get(2).map_or(l.len() as i64, to_int64);
        if start < 0 || end < start || end as usize > l.len() {
            return Err(FuncError::Plain(format!("runtime error: slice bounds out of range [{start}:{end}]")));
        }
        list_ok(l[start as usize..end as usize].to_vec())
    });
    m.insert("until", |_, a| {
        want(a, 1, "until")?;
        let n = to_int64(&a[0]);
        let step = if n < 0 { -1 } else { 1 };
        list_ok(until_step(0, n, step))
    });
    m.insert("untilStep", |_, a| {
        want(a, 3, "untilStep")?;
        list_ok(until_step(to_int64(&a[0]), to_int64(&a[1]), to_int64(&a[2])))
    });
    m.insert("seq", |_, a| {
        let n: Vec<i64> = a.iter().map(to_int64).collect();
        let (start, end, step) = match n.as_slice() {
            [e] => (1, *e, if *e >= 1 { 1 } else { -1 }),
            [s, e] => (*s, *e, if e >= s { 1 } else { -1 }),
            [s, st, e] => (*s, *e, *st),
            _ => return Ok(Value::str("")),
        };
        let mut out = Vec::new();
        if step == 0 || (step > 0 && start > end) || (step < 0 && start < end) {
            return Ok(Value::str(""));
        }
        let mut i = start;
        while (step > 0 && i <= end) || (step < 0 && i >= end) {
            out.push(i.to_string());
            i += step;
        }
        Ok(Value::str(out.join(" ")))
    });
}

fn until_step(start: i64, stop: i64, step: i64) -> Vec<Value> {
    let mut v = Vec::new();
    if step == 0 || (step > 0 && start >= stop) || (step < 0 && start <= stop) {
        return v;
    }
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        v.push(Value::Int(i));
        i += step;
    }
    v
}

fn dig(_: &mut Exec, a: &[Value]) -> FResult {
    want_at_least(a, 3, "dig")?;
    let d = arg_map(&a[a.len() - 1], "dig")?;
    let default = a[a.len() - 2].clone();
    let keys: Vec<String> = a[..a.len() - 2].iter().map(strval).collect();
    let mut cur = Value::Map(d);
    for k in keys {
        let next = match &cur {
            Value::Map(m) => m.borrow().get(&k).cloned(),
            _ => None,
        };
        match next {
            Some(v) => cur = v,
            None => return Ok(default),
        }
    }
    Ok(cur)
}

/// mergo's deep merge as Sprig's `merge` (fill only) and `mergeOverwrite` use it.
fn merge_into(dst: &Map, src: &Map, overwrite: bool) {
    let src = src.borrow().clone();
    for (k, sv) in src {
        let dv = dst.borrow().get(&k).cloned();
        match (dv, &sv) {
            (Some(Value::Map(dm)), Value::Map(sm)) => merge_into(&dm, sm, overwrite),
            (Some(dv), _) => {
                let empty = super::misc::empty(&dv);
                if (overwrite && !super::misc::empty(&sv)) || empty {
                    dst.borrow_mut().insert(k, sv.clone());
                }
            }
            (None, _) => {
                dst.borrow_mut().insert(k, sv.clone());
            }
        }
    }
}

fn merge(a: &[Value], overwrite: bool) -> FResult {
    let name = if overwrite { "mergeOverwrite" } else { "merge" };
    want_at_least(a, 1, name)?;
    let dst = arg_map(&a[0], name)?;
    for s in &a[1..] {
        let src = arg_map(s, name)?;
        merge_into(&dst, &src, overwrite);
    }
    Ok(Value::Map(dst))
}
