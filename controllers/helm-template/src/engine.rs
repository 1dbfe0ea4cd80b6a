//! Helm's engine: every template of a chart and its subcharts parsed into one set (in Helm's
//! order, so later definitions win as in Helm), executed with per-chart values, `<no value>`
//! removed, and Helm's wording for parse and execution errors.

use std::collections::BTreeMap;
use std::rc::Rc;

use std::sync::Arc;

use crate::chart::{CachedParse, Chart};
use crate::funcs;
use crate::funcs::helm::{WARN_END, WARN_START};
use crate::objects::Files;
use crate::template::exec::{Exec, ExecError, TemplateSet};
use crate::template::parse::{Tree, parse};
use crate::value::Value;

/// A template to render, with the values it sees.
struct Renderable {
    text: String,
    vals: Value,
    base_path: String,
}

/// Renders every template; the map is keyed by template path (`chart/templates/x.yaml`).
pub fn render_chart(chart: &Chart, top: &Value, strict: bool) -> Result<BTreeMap<String, String>, String> {
    let mut tpls: BTreeMap<String, Renderable> = BTreeMap::new();
    rec_all(chart, &mut tpls, top, "", true);
    let mut keys: Vec<&String> = tpls.keys().collect();
    // Helm parses deeper paths first, and within a depth in reverse lexical order.
    keys.sort_by(|a, b| {
        let (ca, cb) = (a.matches('/').count(), b.matches('/').count());
        cb.cmp(&ca).then_with(|| b.cmp(a))
    });
    let mut set = TemplateSet::new();
    for name in &keys {
        let r = &tpls[*name];
        let parsed = match chart.parse_cache.get(name, &r.text) {
            Some(p) => p,
            None => {
                let p = parse(name, &r.text, &funcs::exists).map_err(|e| parse_error(name, &e.0))?;
                let cached = Arc::new(CachedParse {
                    main: Arc::new(p.main),
                    defined: p.defined.into_iter().map(Arc::new).collect(),
                });
                chart.parse_cache.put(name, &r.text, cached.clone());
                cached
            }
        };
        add_tree(&mut set, parsed.main.clone());
        for t in &parsed.defined {
            add_tree(&mut set, t.clone());
        }
    }
    let set = Rc::new(set);
    let mut exec = Exec::new(set, strict);
    let mut out = BTreeMap::new();
    for name in &keys {
        let base = name.rsplit('/').next().unwrap_or(name);
        if base.starts_with('_') {
            continue;
        }
        let r = &tpls[*name];
        if let Value::Map(m) = &r.vals {
            let mut t = BTreeMap::new();
            t.insert("Name".to_string(), Value::str(name.as_str()));
            t.insert("BasePath".to_string(), Value::str(r.base_path.as_str()));
            m.borrow_mut().insert("Template".into(), Value::map(t));
        }
        let s = exec.execute_template(name, &r.vals).map_err(|e| exec_error(name, &e))?;
        out.insert(name.to_string(), s.replace("<no value>", ""));
    }
    Ok(out)
}

fn add_tree(set: &mut TemplateSet, t: Arc<Tree>) {
    let name = t.name.to_string();
    if set.contains_key(&name) && t.is_empty() {
        return;
    }
    set.insert(name, t);
}

fn rec_all(c: &Chart, tpls: &mut BTreeMap<String, Renderable>, parent: &Value, parent_path: &str, root: bool) -> Value {
    let get = |k: &str| match parent {
        Value::Map(m) => m.borrow().get(k).cloned().unwrap_or_default(),
        _ => Value::Nil,
    };
    let mut meta = c.metadata.as_map();
    meta.insert("IsRoot".into(), Value::Bool(root));
    let values = if root {
        get("Values")
    } else {
        match get("Values") {
            Value::Map(m) => match m.borrow().get(c.name()) {
                Some(v @ Value::Map(_)) => v.clone(),
                _ => Value::empty_map(),
            },
            _ => Value::empty_map(),
        }
    };
    let files = Files { files: c.files.iter().map(|f| (f.name.clone(), f.data.clone())).collect() };
    let subcharts = Value::empty_map();
    let mut next = BTreeMap::new();
    next.insert("Chart".to_string(), Value::map(meta));
    next.insert("Files".to_string(), Value::Object(Rc::new(files)));
    next.insert("Release".to_string(), get("Release"));
    next.insert("Capabilities".to_string(), get("Capabilities"));
    next.insert("Values".to_string(), values);
    next.insert("Subcharts".to_string(), subcharts.clone());
    let next = Value::map(next);
    let full_path = if root { c.name().to_string() } else { format!("{parent_path}/charts/{}", c.name()) };
    for child in &c.dependencies {
        let v = rec_all(child, tpls, &next, &full_path, false);
        if let Value::Map(m) = &subcharts {
            m.borrow_mut().insert(child.name().to_string(), v);
        }
    }
    for t in &c.templates {
        let base = t.name.rsplit('/').next().unwrap_or(&t.name);
        if c.is_library() && !base.starts_with('_') {
            continue;
        }
        tpls.insert(
            format!("{full_path}/{}", t.name),
            Renderable {
                text: String::from_utf8_lossy(&t.data).into_owned(),
                vals: next.clone(),
                base_path: format!("{full_path}/templates"),
            },
        );
    }
    next
}

/// Helm's `cleanupParseError`.
fn parse_error(filename: &str, msg: &str) -> String {
    let tokens: Vec<&str> = msg.split(": ").collect();
    if tokens.len() == 1 {
        return format!("parse error in ({filename}): {msg}");
    }
    format!("parse error at ({}): {}", tokens[1], tokens[tokens.len() - 1])
}

struct Trace {
    location: String,
    message: String,
    function: String,
}

fn parse_trace(s: &str) -> Option<Trace> {
    let rem = s.strip_prefix("template: ")?;
    if rem.starts_with("no template ") {
        return Some(Trace { location: String::new(), message: s.to_string(), function: String::new() });
    }
    if let Some((name, after)) = rem.split_once(": executing ") {
        let after = after.strip_prefix('"')?;
        let end = after.find('"')?;
        let func = &after[..end];
        let rest = after[end + 1..].strip_prefix(" at <")?;
        let (loc, msg) = rest.split_once(">: ")?;
        let msg = match msg.find(" template:") {
            Some(i) => &msg[..i],
            None => msg,
        };
        return Some(Trace {
            location: name.to_string(),
            message: msg.to_string(),
            function: format!("executing \"{func}\" at <{loc}>:"),
        });
    }
    let sep = rem.rfind(": ")?;
    let mut msg = &rem[sep + 2..];
    if let Some(i) = msg.find(" template:") {
        msg = &msg[..i];
    }
    Some(Trace { location: rem[..sep].to_string(), message: msg.to_string(), function: String::new() })
}

/// Helm's `reformatExecErrorMsg`.
fn exec_error(filename: &str, e: &ExecError) -> String {
    let tokens: Vec<&str> = e.message.splitn(3, ": ").collect();
    if tokens.len() != 3 {
        return format!("execution error in ({filename}): {}", e.message);
    }
    if let Some(start) = tokens[2].find(WARN_START)
        && let Some(end) = tokens[2].rfind(WARN_END)
        && end >= start + WARN_START.len()
    {
        return format!("execution error at ({}): {}", tokens[1], &tokens[2][start + WARN_START.len()..end]);
    }
    let mut traces: Vec<Trace> = Vec::new();
    for m in &e.chain {
        let Some(t) = parse_trace(m) else {
            return e.message.clone();
        };
        let dup = traces
            .last()
            .is_some_and(|l| l.location == t.location && l.message == t.message && l.function == t.function);
        if !dup {
            traces.push(t);
        }
    }
    let mut out = String::new();
    for t in traces {
        if !t.location.is_empty() {
            out.push_str(&format!("{}\n  ", t.location));
        }
        if !t.function.is_empty() {
            out.push_str(&format!("{}\n    ", t.function));
        }
        if !t.message.is_empty() {
            out.push_str(&format!("{}\n", t.message));
        }
    }
    out.trim().to_string()
}
