//! TOML output as BurntSushi/toml's encoder writes it (Helm's `toToml`): plain keys first,
//! then tables, each group sorted; nested tables indented by two spaces per level; floats
//! always carry a decimal point or exponent; nils skipped.

use crate::template::format::format_float;
use crate::value::Value;

/// A value TOML cannot hold.
#[derive(Debug, Clone, thiserror::Error)]
#[error("toml: {0}")]
pub struct TomlError(String);

/// Encodes `v` (normally a map) as TOML.
pub fn encode(v: &Value) -> Result<String, TomlError> {
    let mut enc = Encoder { out: String::new() };
    match v {
        Value::Map(_) => enc.table(&[], v)?,
        other => enc.element(other)?,
    }
    Ok(enc.out)
}

struct Encoder {
    out: String,
}

fn is_table(v: &Value) -> bool {
    matches!(v, Value::Map(_))
}

fn is_array_of_tables(v: &Value) -> bool {
    matches!(v, Value::List(l) if !l.is_empty() && l.iter().all(is_table))
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn bare_key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        k.to_string()
    } else {
        quote(k)
    }
}

fn indent(depth: usize) -> String {
    "  ".repeat(depth.saturating_sub(1))
}

impl Encoder {
    fn newline(&mut self) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
    }

    fn element(&mut self, v: &Value) -> Result<(), TomlError> {
        match v {
            Value::Nil => return Err(TomlError("cannot encode a nil value".into())),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) | Value::Int64(i) => self.out.push_str(&i.to_string()),
            Value::Float(f) => {
                let s = if f.is_nan() {
                    "nan".to_string()
                } else if f.is_infinite() {
                    if *f > 0.0 { "inf".into() } else { "-inf".into() }
                } else {
                    let s = format_float(*f, 'g', -1);
                    if s.contains(['.', 'e']) { s } else { format!("{s}.0") }
                };
                self.out.push_str(&s);
            }
            Value::Str(s) => self.out.push_str(&quote(s)),
            Value::List(l) => {
                self.out.push('[');
                for (i, x) in l.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    if x.is_nil() {
                        return Err(TomlError("cannot encode array with nil element".into()));
                    }
                    self.element(x)?;
                }
                self.out.push(']');
            }
            Value::Map(m) => {
                // An inline table.
                self.out.push('{');
                for (i, (k, x)) in m.borrow().iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.out.push_str(&bare_key(k));
                    self.out.push_str(" = ");
                    self.element(x)?;
                }
                self.out.push('}');
            }
            Value::Object(o) => self.element(&o.to_data())?,
        }
        Ok(())
    }

    fn table(&mut self, key: &[String], v: &Value) -> Result<(), TomlError> {
        let Value::Map(m) = v else { return Ok(()) };
        let m = m.borrow();
        let (direct, sub): (Vec<_>, Vec<_>) =
            m.iter().filter(|(_, x)| !x.is_nil()).partition(|(_, x)| !is_table(x) && !is_array_of_tables(x));
        for (k, x) in direct {
            let mut path = key.to_vec();
            path.push(k.clone());
            self.out.push_str(&indent(path.len()));
            self.out.push_str(&bare_key(k));
            self.out.push_str(" = ");
            self.element(x)?;
            self.newline();
        }
        for (k, x) in sub {
            let mut path = key.to_vec();
            path.push(k.clone());
            let name: Vec<String> = path.iter().map(|p| bare_key(p)).collect();
            if let Value::List(items) = x {
                for item in items.iter() {
                    self.newline();
                    self.out.push_str(&format!("{}[[{}]]", indent(path.len()), name.join(".")));
                    self.newline();
                    self.table(&path, item)?;
                }
                continue;
            }
            if path.len() == 1 {
                self.newline();
            }
            self.out.push_str(&format!("{}[{}]", indent(path.len()), name.join(".")));
            self.newline();
            self.table(&path, x)?;
        }
        Ok(())
    }
}
