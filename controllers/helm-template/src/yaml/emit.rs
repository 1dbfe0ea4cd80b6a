//! `sigs.k8s.io/yaml.Marshal` output: the value goes through JSON (sorted keys, numbers that
//! print as integers become integers) and into yaml.v2's block emitter (indentless sequences,
//! no line wrapping, strings quoted only when they would read back as something else).

use crate::template::format::format_float;
use crate::value::Value;

use super::json;

/// Marshals a value as Helm's `toYaml` input (with the trailing newline).
pub fn marshal(v: &Value) -> String {
    let mut out = String::new();
    let v = through_json(v);
    match &v {
        Value::Map(m) if !m.borrow().is_empty() => write_map(&mut out, &v, 0),
        Value::List(l) if !l.is_empty() => write_list(&mut out, &v, 0),
        other => {
            out.push_str(&scalar(other, 0, false));
            out.push('\n');
        }
    }
    out
}

/// The value as JSON round-trips it into yaml.v2: floats with integral JSON text are ints.
fn through_json(v: &Value) -> Value {
    match v {
        Value::Float(f) => {
            let text = json::float(*f);
            if !text.contains(['.', 'e', 'E']) {
                match text.parse::<i64>() {
                    Ok(i) => Value::Int(i),
                    Err(_) => Value::Float(*f),
                }
            } else {
                Value::Float(text.parse().unwrap_or(*f))
            }
        }
        Value::List(l) => Value::list(l.iter().map(through_json).collect()),
        Value::Map(m) => Value::map(m.borrow().iter().map(|(k, x)| (k.clone(), through_json(x))).collect()),
        Value::Object(o) => through_json(&o.to_data()),
        other => other.clone(),
    }
}

fn pad(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn write_map(out: &mut String, v: &Value, indent: usize) {
    let Value::Map(m) = v else { return };
    for (i, (k, x)) in m.borrow().iter().enumerate() {
        if i > 0 {
            pad(out, indent);
        }
        out.push_str(&string_scalar(k, indent, true));
        out.push(':');
        write_after_key(out, x, indent);
    }
}

fn write_after_key(out: &mut String, x: &Value, indent: usize) {
    match x {
        Value::Map(mm) if !mm.borrow().is_empty() => {
            out.push('\n');
            pad(out, indent + 2);
            write_map(out, x, indent + 2);
        }
        Value::List(l) if !l.is_empty() => {
            out.push('\n');
            pad(out, indent);
            write_list(out, x, indent);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other, indent, false));
            out.push('\n');
        }
    }
}

fn write_list(out: &mut String, v: &Value, indent: usize) {
    let Value::List(l) = v else { return };
    for (i, x) in l.iter().enumerate() {
        if i > 0 {
            pad(out, indent);
        }
        out.push_str("- ");
        match x {
            Value::Map(mm) if !mm.borrow().is_empty() => write_map(out, x, indent + 2),
            Value::List(ll) if !ll.is_empty() => write_list(out, x, indent + 2),
            other => {
                out.push_str(&scalar(other, indent, false));
                out.push('\n');
            }
        }
    }
}

fn scalar(v: &Value, indent: usize, key: bool) -> String {
    match v {
        Value::Nil => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => {
            if f.is_nan() {
                ".nan".into()
            } else if f.is_infinite() {
                if *f > 0.0 { ".inf".into() } else { "-.inf".into() }
            } else {
                format_float(*f, 'g', -1)
            }
        }
        Value::Str(s) => string_scalar(s, indent, key),
        Value::List(_) => "[]".into(),
        Value::Map(_) => "{}".into(),
        Value::Object(_) => "null".into(),
    }
}

/// Whether yaml.v2 would read the plain scalar `s` as something other than a string.
pub fn resolves_non_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True",
        "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", ".inf", ".Inf", ".INF", "+.inf",
        "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN", "<<",
    ];
    if SPECIAL.contains(&s) {
        return true;
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return false;
    }
    let plain = s.replace('_', "");
    if crate::funcs::parse_go_int(s).is_some() || crate::funcs::parse_go_int(&plain).is_some() {
        return true;
    }
    if let Some(b) = plain.strip_prefix("0b")
        && !b.is_empty()
        && b.chars().all(|c| c == '0' || c == '1')
    {
        return true;
    }
    let float_re = is_yaml_float(&plain);
    if float_re {
        return true;
    }
    // Base 60 floats (1:20), which yaml.v2 quotes.
    let b60 = s.trim_start_matches(['+', '-']);
    let parts: Vec<&str> = b60.split(':').collect();
    parts.len() > 1
        && parts[0].chars().next().is_some_and(|c| c.is_ascii_digit() && c != '0')
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '_' || c == '.'))
}

/// yaml.v2's float pattern `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
pub fn is_yaml_float(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let b = s.trim_start_matches(['+', '-']);
    let (mant, exp) = match b.find(['e', 'E']) {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    let mant_ok = if let Some(frac) = mant.strip_prefix('.') {
        !frac.is_empty() && frac.chars().all(|c| c.is_ascii_digit())
    } else {
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        !int.is_empty() && int.chars().all(|c| c.is_ascii_digit()) && frac.chars().all(|c| c.is_ascii_digit())
    };
    let exp_ok = match exp {
        None => true,
        Some(e) => {
            let e = e.trim_start_matches(['+', '-']);
            !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
        }
    };
    mant_ok && exp_ok && (s.len() - b.len()) <= 1
}

fn printable(c: char) -> bool {
    matches!(c, '\n' | '\u{85}')
        || (' '..='~').contains(&c)
        || ('\u{a0}'..='\u{d7ff}').contains(&c)
        || ('\u{e000}'..='\u{fffd}').contains(&c) && c != '\u{feff}'
        || c >= '\u{10000}'
}

/// How yaml.v2 writes a string scalar.
fn string_scalar(s: &str, indent: usize, key: bool) -> String {
    let special = s.chars().any(|c| !printable(c));
    let multiline = s.contains('\n');
    if multiline {
        let space_break = s.contains(" \n");
        let trailing_space = s.ends_with(' ');
        if !key && !special && !space_break && !trailing_space {
            return literal(s, indent);
        }
        return double_quoted(s);
    }
    if special {
        return double_quoted(s);
    }
    if resolves_non_string(s) {
        return double_quoted(s);
    }
    if plain_allowed(s) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "''"))
}

fn plain_allowed(s: &str) -> bool {
    let b: Vec<char> = s.chars().collect();
    if b.is_empty() || b[0] == ' ' || b[b.len() - 1] == ' ' {
        return false;
    }
    let followed_by_blank = |i: usize| b.get(i + 1).is_none_or(|c| *c == ' ');
    match b[0] {
        '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`' => {
            return false;
        }
        '?' | ':' | '-' if followed_by_blank(0) => return false,
        _ => {}
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    for i in 1..b.len() {
        match b[i] {
            ':' if followed_by_blank(i) => return false,
            '#' if b[i - 1] == ' ' => return false,
            _ => {}
        }
    }
    true
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0b' => out.push_str("\\v"),
            '\x0c' => out.push_str("\\f"),
            '\x1b' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if !printable(c) => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02X}"));
                } else if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04X}"));
                } else {
                    out.push_str(&format!("\\U{n:08X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn literal(s: &str, indent: usize) -> String {
    let mut out = String::from("|");
    if s.starts_with(' ') || s.starts_with('\n') {
        out.push('2');
    }
    let trailing = s.len() - s.trim_end_matches('\n').len();
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    let body = if trailing == 1 { &s[..s.len() - 1] } else { s };
    let body = if trailing > 1 { &body[..body.len() - 1] } else { body };
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            pad(&mut out, indent + 2);
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_as_yaml_v2() {
        assert_eq!(string_scalar("true", 0, false), "\"true\"");
        assert_eq!(string_scalar("", 0, false), "\"\"");
        assert_eq!(string_scalar("a: b", 0, false), "'a: b'");
        assert_eq!(string_scalar("- x", 0, false), "'- x'");
        assert_eq!(string_scalar("1.5", 0, false), "\"1.5\"");
        assert_eq!(string_scalar("hello world", 0, false), "hello world");
        assert_eq!(string_scalar("a\nb\n", 0, false), "|\n  a\n  b");
    }
}
