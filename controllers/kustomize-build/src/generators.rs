//! configMapGenerator and secretGenerator, and kustomize's name hashes.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::Error;
use crate::kustomization::{GenOptions, GeneratorArgs};
use crate::loader::Loader;
use crate::resource::{Behavior, Resource};
use crate::yaml::{Map, Value};

fn gen_err(name: &str, msg: impl std::fmt::Display) -> Error {
    Error::transform(format!("generator {name:?}: {msg}"))
}

fn strip_quotes(v: &str) -> &str {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] { &v[1..v.len() - 1] } else { v }
}

/// Collected key/value pairs of a generator; values are raw bytes.
fn collect_pairs(args: &GeneratorArgs, dir: &Path, loader: &Loader) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    for env in &args.envs {
        let path = loader.resolve_file(dir, env)?;
        let text = loader.read_text(&path)?;
        for (i, line) in text.split('\n').enumerate() {
            let mut line = line.strip_suffix('\r').unwrap_or(line);
            if i == 0 {
                line = line.strip_prefix('\u{FEFF}').unwrap_or(line);
            }
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = match line.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (line.to_string(), std::env::var(line).unwrap_or_default()),
            };
            let env_name_ok = !k.is_empty()
                && !k.starts_with(|c: char| c.is_ascii_digit())
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
            if !env_name_ok {
                return Err(gen_err(
                    &args.name,
                    format!("{env}: line {}: {k:?} is not a valid environment variable name", i + 1),
                ));
            }
            pairs.push((k, v.into_bytes()));
        }
    }
    for lit in &args.literals {
        let Some((k, v)) = lit.split_once('=') else {
            return Err(gen_err(&args.name, format!("invalid literal source {lit:?}, expected key=value")));
        };
        pairs.push((k.to_string(), strip_quotes(v).as_bytes().to_vec()));
    }
    for f in &args.files {
        let (key, file) = match f.split_once('=') {
            Some((k, p)) => {
                if k.is_empty() {
                    return Err(gen_err(&args.name, format!("key names or file paths cannot be empty: {f:?}")));
                }
                (k.to_string(), p.to_string())
            }
            None => {
                let base = Path::new(f).file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
                (base, f.clone())
            }
        };
        let path = loader.resolve_file(dir, &file)?;
        if path.is_dir() {
            return Err(gen_err(&args.name, format!("{file:?} is a directory, expected a file")));
        }
        pairs.push((key, loader.read(&path)?));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (k, _) in &pairs {
        if k.is_empty() {
            return Err(gen_err(&args.name, "key names cannot be empty"));
        }
        if seen.contains(&k.as_str()) {
            return Err(gen_err(&args.name, format!("illegally repeats the key {k:?}")));
        }
        seen.push(k);
    }
    Ok(pairs)
}

fn merged_options(global: Option<&GenOptions>, local: Option<&GenOptions>) -> GenOptions {
    let mut o = global.cloned().unwrap_or_default();
    if let Some(l) = local {
        for (k, v) in &l.labels {
            o.labels.retain(|(x, _)| x != k);
            o.labels.push((k.clone(), v.clone()));
        }
        for (k, v) in &l.annotations {
            o.annotations.retain(|(x, _)| x != k);
            o.annotations.push((k.clone(), v.clone()));
        }
        if l.disable_name_suffix_hash.is_some() {
            o.disable_name_suffix_hash = l.disable_name_suffix_hash;
        }
        if l.immutable.is_some() {
            o.immutable = l.immutable;
        }
    }
    o
}

/// Generates one ConfigMap or Secret.
pub fn generate(
    args: &GeneratorArgs,
    secret: bool,
    global: Option<&GenOptions>,
    dir: &Path,
    loader: &Loader,
) -> Result<Resource, Error> {
    if args.name.is_empty() {
        return Err(Error::transform("a generator needs a name"));
    }
    let opts = merged_options(global, args.options.as_ref());
    let pairs = collect_pairs(args, dir, loader)?;
    let mut meta = Map::new();
    meta.insert("name", Value::str(&args.name));
    if let Some(ns) = &args.namespace {
        meta.insert("namespace", Value::str(ns));
    }
    if !opts.labels.is_empty() {
        meta.insert("labels", Value::Map(opts.labels.iter().map(|(k, v)| (k.clone(), Value::str(v))).collect()));
    }
    if !opts.annotations.is_empty() {
        meta.insert(
            "annotations",
            Value::Map(opts.annotations.iter().map(|(k, v)| (k.clone(), Value::str(v))).collect()),
        );
    }
    let mut obj = Map::new();
    obj.insert("apiVersion", Value::str("v1"));
    obj.insert("kind", Value::str(if secret { "Secret" } else { "ConfigMap" }));
    obj.insert("metadata", Value::Map(meta));
    let mut data = Map::new();
    let mut binary = Map::new();
    for (k, v) in pairs {
        if secret {
            data.insert(k, Value::str(base64_lines(&v)));
        } else {
            match String::from_utf8(v) {
                Ok(s) => {
                    // kustomize writes multi-line values as literal blocks and
                    // cannot read back one whose first line starts with a tab.
                    if s.starts_with('\t') && s.contains('\n') && literal_block_allowed(&s) {
                        return Err(gen_err(
                            &args.name,
                            format!(
                                "the value of {k:?} starts with a tab and spans several lines, which kustomize cannot encode"
                            ),
                        ));
                    }
                    data.insert(k, Value::str(s));
                }
                Err(e) => binary.insert(k, Value::str(base64_lines(e.as_bytes()))),
            }
        }
    }
    if !data.is_empty() {
        obj.insert("data", Value::Map(data));
    }
    if !binary.is_empty() {
        obj.insert("binaryData", Value::Map(binary));
    }
    if secret {
        let t = args.secret_type.clone().filter(|t| !t.is_empty()).unwrap_or_else(|| "Opaque".into());
        obj.insert("type", Value::str(t));
    }
    if opts.immutable == Some(true) {
        obj.insert("immutable", Value::bool(true));
    }
    let mut r = Resource::new(obj);
    r.needs_hash = opts.disable_name_suffix_hash != Some(true);
    r.behavior = match args.behavior.as_deref() {
        None | Some("create") => Behavior::Create,
        Some("merge") => Behavior::Merge,
        Some("replace") => Behavior::Replace,
        Some(other) => return Err(gen_err(&args.name, format!("unknown behavior {other:?}"))),
    };
    Ok(r)
}

/// Whether go-yaml v3 would write this multi-line string as a literal block
/// (tabs allowed; no trailing space, no space before a line break and no
/// unprintable characters).
fn literal_block_allowed(s: &str) -> bool {
    let printable = |c: char| {
        let u = c as u32;
        c == '\t'
            || u == 0x0A
            || (0x20..=0x7E).contains(&u)
            || (0xA0..=0xD7FF).contains(&u)
            || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
    };
    if s.ends_with(' ') || !s.chars().all(printable) {
        return false;
    }
    let breaks = ['\n', '\u{85}', '\u{2028}', '\u{2029}'];
    !s.chars().zip(s.chars().skip(1)).any(|(a, b)| a == ' ' && breaks.contains(&b))
}

/// Base64 as kustomize writes generated data: encodings of 70 characters or
/// more are broken into lines of 70, each ending with a newline.
#[must_use]
pub fn base64_lines(data: &[u8]) -> String {
    const LINE: usize = 70;
    let enc = base64(data);
    if enc.len() < LINE {
        return enc;
    }
    let mut out = String::with_capacity(enc.len() + enc.len() / LINE + 1);
    for chunk in enc.as_bytes().chunks(LINE) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Standard base64 with padding.
#[must_use]
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    out
}

/// Writes a string as Go's `encoding/json` would.
fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_string_map(m: Option<&Value>, out: &mut String) {
    let Some(Value::Map(m)) = m else {
        out.push_str("null");
        return;
    };
    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(k, out);
        out.push(':');
        json_string(v.as_str().unwrap_or_default(), out);
    }
    out.push('}');
}

/// The hash suffix kustomize appends to a generated ConfigMap or Secret.
#[must_use]
pub fn name_hash(r: &Resource) -> String {
    let mut j = String::from("{");
    match r.kind() {
        "Secret" => {
            j.push_str("\"data\":");
            json_string_map(r.obj.get("data"), &mut j);
            j.push_str(",\"kind\":\"Secret\",\"name\":\"\",\"type\":");
            json_string(r.obj.get("type").and_then(Value::as_str).unwrap_or_default(), &mut j);
        }
        _ => {
            if let Some(Value::Map(b)) = r.obj.get("binaryData")
                && !b.is_empty()
            {
                j.push_str("\"binaryData\":");
                json_string_map(r.obj.get("binaryData"), &mut j);
                j.push(',');
            }
            j.push_str("\"data\":");
            json_string_map(r.obj.get("data"), &mut j);
            j.push_str(",\"kind\":\"ConfigMap\",\"name\":\"\"");
        }
    }
    j.push('}');
    let digest = Sha256::digest(j.as_bytes());
    let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    hex.chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}
