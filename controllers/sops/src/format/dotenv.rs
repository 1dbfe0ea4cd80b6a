//! dotenv documents (sops `stores/dotenv`): `KEY=value` lines (a literal `\n` in a value is a
//! newline), `#` comment lines, empty lines dropped; the metadata as `sops_`-prefixed
//! flattened keys.

use crate::error::DocumentError;
use crate::gofmt;
use crate::tree::{Branch, Item, Key, Value};

/// Parses a dotenv document into one branch.
pub(crate) fn load(data: &[u8]) -> Result<Vec<Branch>, DocumentError> {
    let text = std::str::from_utf8(data).map_err(|_| DocumentError::Syntax("dotenv input is not UTF-8".into()))?;
    let mut branch = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            branch.push(Item::comment(comment));
        } else {
            // The line itself may hold a secret: name only its number.
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| DocumentError::Syntax(format!("invalid dotenv input line {}", n + 1)))?;
            branch.push(Item::new(key, Value::Str(value.replace("\\n", "\n"))));
        }
    }
    Ok(vec![branch])
}

/// Writes the first branch as dotenv.
pub(crate) fn emit(branches: &[Branch]) -> Result<Vec<u8>, String> {
    let branch = branches.first().ok_or("no document")?;
    let mut out = String::new();
    for item in branch {
        match &item.key {
            Key::Comment(c) | Key::LineComment(c) => {
                out.push('#');
                out.push_str(c);
                out.push('\n');
            }
            Key::Str(k) => {
                let value = match &item.value {
                    Value::Map(_) | Value::Seq(_) => {
                        return Err(format!("cannot use complex value in dotenv file; offending key {k}"));
                    }
                    Value::Str(s) => s.replace('\n', "\\n"),
                    other => value_to_string(other),
                };
                out.push_str(k);
                out.push('=');
                out.push_str(&value);
                out.push('\n');
            }
        }
    }
    Ok(out.into_bytes())
}

/// sops' `ValToString` for non-string leaves (dotenv and INI output).
pub(crate) fn value_to_string(value: &Value) -> String {
    match value {
        Value::Str(s) | Value::Time(s) | Value::Comment(s) => s.clone(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => {
            let g = gofmt::format_g(*f).to_uppercase().replace("INF", "Inf").replace("NAN", "NaN");
            if g.contains('.') || g.contains('E') || g.contains("Inf") || g.contains("NaN") {
                g
            } else {
                format!("{:.1}", f)
            }
        }
        Value::Bool(b) => b.to_string(),
        Value::Null => "<nil>".into(),
        Value::Map(_) | Value::Seq(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let src = "#c\nA=1\nB=x\\ny\n";
        let branches = load(src.as_bytes()).unwrap();
        assert_eq!(branches[0][2].value, Value::Str("x\ny".into()));
        assert_eq!(String::from_utf8(emit(&branches).unwrap()).unwrap(), src);
    }

    #[test]
    fn bad_line_does_not_leak() {
        let err = load(b"SECRETVALUE\n").unwrap_err();
        assert!(!err.to_string().contains("SECRETVALUE"));
    }
}
