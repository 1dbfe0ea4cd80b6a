//! Legacy `vars`: `$(NAME)` references in selected fields are replaced by a
//! field of another resource once the build is complete.

use crate::Error;
use crate::fieldspec::{self, FieldSpec};
use crate::resource::Resource;
use crate::yaml::{Kind, Value};

/// A declared variable.
#[derive(Debug, Clone)]
pub struct Var {
    name: String,
    kind: String,
    api_version: Option<String>,
    object: String,
    field_path: String,
}

/// Parses a `vars` entry.
pub fn parse(v: &Value) -> Result<Var, Error> {
    let bad = |m: &str| Error::transform(format!("vars: {m}"));
    let m = v.as_map().ok_or_else(|| bad("each var must be a mapping"))?;
    let name =
        m.get("name").and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or_else(|| bad("a var needs a name"))?;
    let objref = m.get("objref").and_then(Value::as_map).ok_or_else(|| bad("a var needs an objref"))?;
    let text = |k: &str| objref.get(k).and_then(Value::as_str).map(str::to_string).filter(|s| !s.is_empty());
    Ok(Var {
        name: name.to_string(),
        kind: text("kind").ok_or_else(|| bad("objref needs a kind"))?,
        api_version: text("apiVersion"),
        object: text("name").ok_or_else(|| bad("objref needs a name"))?,
        field_path: m
            .get("fieldref")
            .and_then(|f| f.get_path(&["fieldpath"]))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("metadata.name")
            .to_string(),
    })
}

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for seg in path.split('.') {
        let (key, idx) = match seg.find('[') {
            Some(i) => (&seg[..i], Some(&seg[i..])),
            None => (seg, None),
        };
        if !key.is_empty() {
            cur = cur.as_map()?.get(key)?;
        }
        let mut rest = idx;
        while let Some(r) = rest {
            let close = r.find(']')?;
            let inner = &r[1..close];
            let items = cur.as_seq()?;
            cur = match inner.split_once('=') {
                Some((k, want)) => {
                    items.iter().find(|i| i.as_map().and_then(|m| m.get(k)).and_then(Value::as_str) == Some(want))?
                }
                None => items.get(inner.parse::<usize>().ok()?)?,
            };
            rest = if close + 1 < r.len() { Some(&r[close + 1..]) } else { None };
        }
    }
    Some(cur)
}

fn reference_specs() -> Vec<FieldSpec> {
    let mut v = vec![
        FieldSpec::new(None, None, "metadata/labels", false),
        FieldSpec::new(None, None, "metadata/annotations", false),
        FieldSpec::new(None, Some("Ingress"), "spec/rules/host", false),
        FieldSpec::new(None, Some("Ingress"), "spec/tls/hosts", false),
        FieldSpec::new(None, Some("Ingress"), "spec/tls/secretName", false),
    ];
    let pods: [(&str, &str); 7] = [
        ("Pod", "spec"),
        ("Deployment", "spec/template/spec"),
        ("ReplicaSet", "spec/template/spec"),
        ("DaemonSet", "spec/template/spec"),
        ("StatefulSet", "spec/template/spec"),
        ("Job", "spec/template/spec"),
        ("CronJob", "spec/jobTemplate/spec/template/spec"),
    ];
    for (kind, pod) in pods {
        for c in ["containers", "initContainers"] {
            for f in ["args", "command", "env/value", "volumeMounts/mountPath"] {
                v.push(FieldSpec::new(None, Some(kind), &format!("{pod}/{c}/{f}"), false));
            }
        }
        if let Some(tpl) = pod.strip_suffix("/spec") {
            v.push(FieldSpec::new(None, Some(kind), &format!("{tpl}/metadata/annotations"), false));
        }
    }
    v
}

/// Expands `$(NAME)` in a string; `$$` escapes a dollar.
fn expand(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            if b[i + 1] == b'$' {
                out.push('$');
                i += 2;
                continue;
            }
            if b[i + 1] == b'('
                && let Some(end) = s[i + 2..].find(')')
            {
                let name = &s[i + 2..i + 2 + end];
                if let Some(v) = lookup(name) {
                    out.push_str(&v);
                } else {
                    out.push_str(&s[i..i + 3 + end]);
                }
                i += 3 + end;
                continue;
            }
        }
        let ch = s[i..].chars().next().unwrap_or('\0');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn substitute(v: &mut Value, values: &[(String, Value)], strings_only: bool) {
    match v {
        Value::Seq(items) => {
            for it in items {
                substitute(it, values, strings_only);
            }
        }
        Value::Map(m) => {
            for (_, x) in m.iter_mut() {
                substitute(x, values, strings_only);
            }
        }
        Value::Scalar(s) if s.kind == Kind::Str => {
            if let Some(name) = s.text.strip_prefix("$(").and_then(|r| r.strip_suffix(')'))
                && let Some((_, val)) = values.iter().find(|(n, _)| n == name)
            {
                *v = if strings_only { Value::str(val.as_str().unwrap_or_default()) } else { val.clone() };
                return;
            }
            let lookup =
                |n: &str| values.iter().find(|(k, _)| k == n).and_then(|(_, x)| x.as_str().map(str::to_string));
            let new = expand(&s.text, &lookup);
            s.text = new;
        }
        Value::Scalar(_) => {}
    }
}

/// Resolves all vars against the final resources and substitutes them.
pub fn resolve(resources: &mut [Resource], vars: &[Var]) -> Result<(), Error> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut values: Vec<(String, Value)> = Vec::new();
    for var in vars {
        if values.iter().any(|(n, _)| *n == var.name) {
            return Err(Error::transform(format!("var {:?} is defined more than once", var.name)));
        }
        let matches: Vec<&Resource> = resources
            .iter()
            .filter(|r| {
                r.kind() == var.kind
                    && r.names.contains(&var.object)
                    && var.api_version.as_deref().is_none_or(|a| a == r.api_version())
            })
            .collect();
        let target = match matches.len() {
            1 => matches[0],
            0 => {
                return Err(Error::transform(format!(
                    "var {:?} cannot be mapped to a field in the set of known resources",
                    var.name
                )));
            }
            _ => return Err(Error::transform(format!("var {:?} matches more than one resource", var.name))),
        };
        let root = Value::Map(target.obj.clone());
        let val = lookup(&root, &var.field_path).cloned().ok_or_else(|| {
            Error::transform(format!("var {:?}: field {:?} not found in {}", var.name, var.field_path, target.id()))
        })?;
        if !matches!(val, Value::Scalar(_)) {
            return Err(Error::transform(format!("var {:?}: field {:?} is not a scalar", var.name, var.field_path)));
        }
        values.push((var.name.clone(), val));
    }
    let specs = reference_specs();
    for r in resources.iter_mut() {
        for spec in &specs {
            // The object's own annotation values are always strings.
            let strings_only = spec.path == ["metadata", "annotations"];
            fieldspec::apply_specs(r, std::slice::from_ref(spec), &mut |v: &mut Value| {
                substitute(v, &values, strings_only);
                Ok(())
            })?;
        }
    }
    Ok(())
}
