//! The replacements transformer: copies a field of one resource into fields
//! of others.

use std::path::Path;

use crate::Error;
use crate::kustomization::Target;
use crate::loader::Loader;
use crate::resource::Resource;
use crate::selector::Selector;
use crate::yaml::{Kind, Map, Value};

#[derive(Debug, Default, Clone)]
struct Options {
    delimiter: Option<String>,
    index: i64,
    create: bool,
}

struct TargetSpec {
    select: Target,
    reject: Vec<Target>,
    field_paths: Vec<String>,
    options: Options,
}

struct Replacement {
    source: Target,
    source_path: String,
    source_options: Options,
    targets: Vec<TargetSpec>,
}

fn rerr(msg: impl Into<String>) -> Error {
    Error::transform(format!("replacements: {}", msg.into()))
}

fn text(m: &Map, key: &str) -> Option<String> {
    m.get(key).and_then(Value::as_str).map(str::to_string).filter(|s| !s.is_empty())
}

fn parse_target(v: &Value) -> Result<Target, Error> {
    let m = v.as_map().ok_or_else(|| rerr("a selector must be a mapping"))?;
    for k in m.keys() {
        if !["group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"]
            .contains(&k.as_str())
        {
            return Err(rerr(format!("unknown selector field {k:?}")));
        }
    }
    Ok(Target {
        group: text(m, "group"),
        version: text(m, "version"),
        kind: text(m, "kind"),
        name: text(m, "name"),
        namespace: text(m, "namespace"),
        label_selector: text(m, "labelSelector"),
        annotation_selector: text(m, "annotationSelector"),
    })
}

fn parse_options(v: Option<&Value>) -> Result<Options, Error> {
    let Some(Value::Map(m)) = v else {
        return Ok(Options::default());
    };
    let index = match m.get("index") {
        Some(Value::Scalar(s)) if s.kind == Kind::Int => s.text.parse().map_err(|_| rerr("bad index"))?,
        None => 0,
        Some(_) => return Err(rerr("options.index must be an integer")),
    };
    Ok(Options {
        delimiter: m.get("delimiter").and_then(Value::as_str).map(str::to_string),
        index,
        create: matches!(m.get("create"), Some(Value::Scalar(s)) if s.kind == Kind::Bool && crate::yaml::is_true(&s.text)),
    })
}

fn parse_replacement(v: &Value) -> Result<Replacement, Error> {
    let m = v.as_map().ok_or_else(|| rerr("each replacement must be a mapping"))?;
    let src = m.get("source").ok_or_else(|| rerr("a replacement needs a source"))?;
    let sm = src.as_map().ok_or_else(|| rerr("source must be a mapping"))?;
    let mut sel = Map::new();
    for (k, val) in sm.iter() {
        if k != "fieldPath" && k != "options" {
            sel.insert(k.clone(), val.clone());
        }
    }
    let source = parse_target(&Value::Map(sel))?;
    let mut targets = Vec::new();
    if let Some(Value::Seq(ts)) = m.get("targets") {
        for t in ts {
            let tm = t.as_map().ok_or_else(|| rerr("a target must be a mapping"))?;
            let select = parse_target(tm.get("select").ok_or_else(|| rerr("a target needs select"))?)?;
            let reject = match tm.get("reject") {
                Some(Value::Seq(r)) => r.iter().map(parse_target).collect::<Result<_, _>>()?,
                _ => Vec::new(),
            };
            let field_paths = match tm.get("fieldPaths") {
                Some(Value::Seq(p)) => p.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
                _ => vec!["metadata.name".to_string()],
            };
            targets.push(TargetSpec { select, reject, field_paths, options: parse_options(tm.get("options"))? });
        }
    }
    Ok(Replacement {
        source,
        source_path: sm.get("fieldPath").and_then(Value::as_str).unwrap_or("metadata.name").to_string(),
        source_options: parse_options(sm.get("options"))?,
        targets,
    })
}

/// Splits a kustomize field path on dots outside brackets.
fn split_field_path(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in p.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
            }
            '.' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

enum Seg {
    Key(String),
    Match(String, String),
    Index(usize),
}

fn parse_seg(s: &str) -> Seg {
    if let Some(inner) = s.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        if let Some((k, v)) = inner.split_once('=') {
            return Seg::Match(k.to_string(), v.to_string());
        }
        return Seg::Key(inner.to_string());
    }
    Seg::Key(s.to_string())
}

fn lookup<'a>(v: &'a Value, segs: &[String]) -> Option<&'a Value> {
    let Some((first, rest)) = segs.split_first() else {
        return Some(v);
    };
    match (v, parse_seg(first)) {
        (Value::Map(m), Seg::Key(k)) => lookup(m.get(&k)?, rest),
        (Value::Seq(items), Seg::Match(k, want)) => {
            let it = items
                .iter()
                .find(|i| i.as_map().and_then(|m| m.get(&k)).and_then(Value::as_str) == Some(want.as_str()))?;
            lookup(it, rest)
        }
        (Value::Seq(items), Seg::Key(k)) => {
            let i: usize = k.parse().ok()?;
            lookup(items.get(i)?, rest)
        }
        _ => None,
    }
}

fn set_path(
    v: &mut Value,
    segs: &[String],
    create: bool,
    f: &dyn Fn(Option<&Value>) -> Result<Value, Error>,
) -> Result<bool, Error> {
    let Some((first, rest)) = segs.split_first() else {
        let new = f(Some(v))?;
        *v = new;
        return Ok(true);
    };
    if v.is_null() && create {
        *v = Value::Map(Map::new());
    }
    let seg = match parse_seg(first) {
        Seg::Key(k) if matches!(v, Value::Seq(_)) => match k.parse::<usize>() {
            Ok(i) => Seg::Index(i),
            Err(_) => Seg::Key(k),
        },
        s => s,
    };
    match (v, seg) {
        (Value::Map(m), Seg::Key(k)) => {
            if !m.contains_key(&k) {
                if !create {
                    return Ok(false);
                }
                if rest.is_empty() {
                    m.insert(k.clone(), f(None)?);
                    return Ok(true);
                }
                let next_is_list =
                    rest.first().is_some_and(|n| n.parse::<usize>().is_ok() || (n.starts_with('[') && n.contains('=')));
                m.insert(k.clone(), if next_is_list { Value::Seq(Vec::new()) } else { Value::Map(Map::new()) });
            }
            let child = m.get_mut(&k).ok_or_else(|| rerr("internal error"))?;
            set_path(child, rest, create, f)
        }
        (Value::Seq(items), Seg::Match(k, want)) => {
            let mut any = false;
            for it in items.iter_mut() {
                let hit = it.as_map().and_then(|m| m.get(&k)).and_then(Value::as_str) == Some(want.as_str());
                if hit {
                    any |= set_path(it, rest, create, f)?;
                }
            }
            if !any && create {
                let mut m = Map::new();
                m.insert(k.clone(), Value::str(want));
                let mut item = Value::Map(m);
                set_path(&mut item, rest, create, f)?;
                items.push(item);
                return Ok(true);
            }
            Ok(any)
        }
        (Value::Seq(items), Seg::Index(i)) => {
            if i == items.len() && create {
                items.push(if rest.is_empty() { Value::null() } else { Value::Map(Map::new()) });
            }
            match items.get_mut(i) {
                Some(it) => set_path(it, rest, create, f),
                None => Ok(false),
            }
        }
        _ => Ok(false),
    }
}

fn load_entries(loader: &Loader, dir: &Path, entries: &[Value]) -> Result<Vec<Replacement>, Error> {
    let mut out = Vec::new();
    for e in entries {
        if let Some(path) = e.as_map().and_then(|m| m.get("path")).and_then(Value::as_str) {
            let file = loader.resolve_file(dir, path)?;
            let text = loader.read_text(&file)?;
            let docs =
                crate::yaml::parse_documents(&text).map_err(|source| Error::Yaml { path: file.clone(), source })?;
            for d in docs {
                match d {
                    Value::Seq(items) => {
                        for it in &items {
                            out.push(parse_replacement(it)?);
                        }
                    }
                    v if v.is_null() => {}
                    v => out.push(parse_replacement(&v)?),
                }
            }
        } else {
            out.push(parse_replacement(e)?);
        }
    }
    Ok(out)
}

/// The replacement value for an existing scalar keeps that scalar's type,
/// as kustomize keeps the target node's tag (a text that does not fit the
/// type fails when the result is rendered, like upstream).
fn typed_like(old: &crate::yaml::Scalar, value: Value) -> Value {
    match value {
        Value::Scalar(v) if old.kind != Kind::Null => {
            let kind = if old.kind == Kind::Timestamp { Kind::Str } else { old.kind };
            Value::Scalar(crate::yaml::Scalar { text: v.text, kind })
        }
        other => other,
    }
}

/// A newly created field holds an untagged scalar, so its type follows its
/// text (labels and annotations stay strings).
fn fresh_scalar(value: Value, string_field: bool) -> Value {
    match value {
        Value::Scalar(s) => {
            let kind = if string_field { Kind::Str } else { crate::yaml::resolve_plain(&s.text) };
            Value::Scalar(crate::yaml::Scalar { text: s.text, kind })
        }
        other => other,
    }
}

fn delimited(old: Option<&Value>, value: &Value, opts: &Options, string_field: bool) -> Result<Value, Error> {
    let finish = |v: Value| match old {
        Some(Value::Scalar(o)) if o.kind != Kind::Null => Ok(typed_like(o, v)),
        _ => Ok(fresh_scalar(v, string_field)),
    };
    let Some(delim) = &opts.delimiter else {
        return finish(value.clone());
    };
    let new = value.as_str().unwrap_or_default().to_string();
    let old_text = old.and_then(Value::as_str).unwrap_or_default();
    let mut parts: Vec<String> = old_text.split(delim.as_str()).map(str::to_string).collect();
    let idx = usize::try_from(opts.index).map_err(|_| rerr("options.index must not be negative"))?;
    // Like kustomize, a missing part is padded with empty parts.
    if idx >= parts.len() {
        parts.resize(idx + 1, String::new());
    }
    parts[idx] = new;
    finish(Value::str(parts.join(delim)))
}

/// Applies `replacements` entries.
pub fn apply(loader: &Loader, dir: &Path, ra: &mut [Resource], entries: &[Value]) -> Result<(), Error> {
    for rep in load_entries(loader, dir, entries)? {
        let sel = Selector::exact(&rep.source)?;
        let sources: Vec<&Resource> = ra.iter().filter(|r| sel.matches(r)).collect();
        let source = match sources.len() {
            1 => sources[0],
            0 => return Err(rerr(format!("nothing selected by source {:?}", rep.source))),
            n => return Err(rerr(format!("source selects {n} resources; it must select exactly one"))),
        };
        let root = Value::Map(source.obj.clone());
        let segs = split_field_path(&rep.source_path);
        let mut value = lookup(&root, &segs)
            .cloned()
            .ok_or_else(|| rerr(format!("fieldPath {:?} is missing in the source {}", rep.source_path, source.id())))?;
        if let Some(d) = &rep.source_options.delimiter {
            let s = value.as_str().unwrap_or_default().to_string();
            let parts: Vec<&str> = s.split(d.as_str()).collect();
            let idx = usize::try_from(rep.source_options.index).unwrap_or(usize::MAX);
            let part =
                parts.get(idx).ok_or_else(|| rerr(format!("options.index is out of bounds for source value {s:?}")))?;
            value = Value::str(*part);
        }
        for t in &rep.targets {
            // kustomize v5.6 and later (the v5.8 Flux embeds) read a target's group, version,
            // kind, name and namespace as anchored regular expressions; the source stays exact.
            let tsel = Selector::new(&t.select)?;
            let rejects: Vec<Selector> = t.reject.iter().map(Selector::new).collect::<Result<_, _>>()?;
            for r in ra.iter_mut() {
                if !tsel.matches(r) || rejects.iter().any(|x| x.matches(r)) {
                    continue;
                }
                for fp in &t.field_paths {
                    let segs = split_field_path(fp);
                    let mut root = Value::Map(std::mem::take(&mut r.obj));
                    let string_field = fp.starts_with("metadata.labels.") || fp.starts_with("metadata.annotations.");
                    let res = set_path(&mut root, &segs, t.options.create, &|old| {
                        delimited(old, &value, &t.options, string_field)
                    });
                    if let Value::Map(m) = root {
                        r.obj = m;
                    }
                    if !res? && !t.options.create {
                        return Err(rerr(format!("unable to find field {fp:?} in replacement target {}", r.id())));
                    }
                }
            }
        }
    }
    Ok(())
}
