//! `sigs.k8s.io/yaml.Marshal` output: the value goes through JSON (sorted keys, numbers that
//! print as integers become integers) and into yaml.v2's block emitter (indentless sequences,
//! no line wrapping, strings quoted only when they would read back as something else).

use crate::template::format::format_float;
use crate::value::Value;

use super::json;

/// Marshals a value as Helm's `toYaml` input (with the trailing newline).
pub fn marshal(v: &Value) -> String {
    emit(&through_json(v), false)
}

/// Marshals a value as Helm's `toYamlPretty`: yaml.v3 with two-space indentation (sequences
/// indented under their key, no line folding, numbers as Go prints them).
pub fn marshal_pretty(v: &Value) -> String {
    emit(&plain_data(v), true)
}

fn emit(v: &Value, pretty: bool) -> String {
    let mut out = String::new();
    match v {
        Value::Map(m) if !m.borrow().is_empty() => write_map(&mut out, v, 0, pretty),
        Value::List(l) if !l.is_empty() => write_list(&mut out, v, 0, pretty),
        other => {
            out.push_str(&scalar(other, 0, false, 0, pretty));
            out.push('\n');
        }
    }
    out
}

/// Objects as their data, `int64` as `int`.
fn plain_data(v: &Value) -> Value {
    match v {
        Value::List(l) => Value::list(l.iter().map(plain_data).collect()),
        Value::Map(m) => Value::map(m.borrow().iter().map(|(k, x)| (k.clone(), plain_data(x))).collect()),
        Value::Object(o) => plain_data(&o.to_data()),
        Value::Int64(i) => Value::Int(*i),
        other => other.clone(),
    }
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
        Value::Int64(i) => Value::Int(*i),
        other => other.clone(),
    }
}

fn pad(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn write_map(out: &mut String, v: &Value, indent: usize, pretty: bool) {
    let Value::Map(m) = v else { return };
    for (i, (k, x)) in m.borrow().iter().enumerate() {
        if i > 0 {
            pad(out, indent);
        }
        out.push_str(&string_scalar(k, indent, true, 0, pretty));
        out.push(':');
        write_after_key(out, x, indent, pretty);
    }
}

fn write_after_key(out: &mut String, x: &Value, indent: usize, pretty: bool) {
    match x {
        Value::Map(mm) if !mm.borrow().is_empty() => {
            out.push('\n');
            pad(out, indent + 2);
            write_map(out, x, indent + 2, pretty);
        }
        Value::List(l) if !l.is_empty() => {
            out.push('\n');
            let at = if pretty { indent + 2 } else { indent };
            pad(out, at);
            write_list(out, x, at, pretty);
        }
        other => {
            out.push(' ');
            let col = column(out);
            out.push_str(&scalar(other, indent, false, col, pretty));
            out.push('\n');
        }
    }
}

fn write_list(out: &mut String, v: &Value, indent: usize, pretty: bool) {
    let Value::List(l) = v else { return };
    for (i, x) in l.iter().enumerate() {
        if i > 0 {
            pad(out, indent);
        }
        out.push_str("- ");
        match x {
            Value::Map(mm) if !mm.borrow().is_empty() => write_map(out, x, indent + 2, pretty),
            Value::List(ll) if !ll.is_empty() => write_list(out, x, indent + 2, pretty),
            other => {
                let col = column(out);
                out.push_str(&scalar(other, indent, false, col, pretty));
                out.push('\n');
            }
        }
    }
}

fn column(out: &str) -> usize {
    out.rfind('\n').map_or(out.chars().count(), |i| out[i + 1..].chars().count())
}

fn scalar(v: &Value, indent: usize, key: bool, col: usize, pretty: bool) -> String {
    match v {
        Value::Nil => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) | Value::Int64(i) => i.to_string(),
        Value::Float(f) => {
            if f.is_nan() {
                ".nan".into()
            } else if f.is_infinite() {
                if *f > 0.0 { ".inf".into() } else { "-.inf".into() }
            } else {
                format_float(*f, 'g', -1)
            }
        }
        Value::Str(s) => string_scalar(s, indent, key, col, pretty),
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
    if is_timestamp(s) {
        return true;
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

/// yaml.v2's timestamp forms (`2006-1-2`, with `T`/`t`/space time and optional zone).
fn is_timestamp(s: &str) -> bool {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(
            r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})?)|(?: [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?))?$",
        )
        .ok()
    })
    .as_ref()
    .is_some_and(|r| r.is_match(s))
}

fn printable(c: char) -> bool {
    matches!(c, '\n' | '\u{85}')
        || (' '..='~').contains(&c)
        || ('\u{a0}'..='\u{d7ff}').contains(&c)
        || ('\u{e000}'..='\u{fffd}').contains(&c) && c != '\u{feff}'
        || c >= '\u{10000}'
}

/// How yaml.v2 writes a string scalar.
fn string_scalar(s: &str, indent: usize, key: bool, col: usize, pretty: bool) -> String {
    let special = s.chars().any(|c| !printable(c));
    let multiline = s.contains('\n');
    if multiline {
        let space_break = s.contains(" \n");
        let trailing_space = s.ends_with(' ');
        if !key && !special && !space_break && !trailing_space {
            return literal(s, indent);
        }
        return Quoted { col, indent, wrap: !key && !pretty }.double(s);
    }
    let q = Quoted { col, indent, wrap: !key && !pretty };
    if special || resolves_non_string(s) {
        return q.double(s);
    }
    if plain_allowed(s) {
        return q.plain(s);
    }
    q.single(s)
}

/// Writes flow scalars as libyaml does, folding at a space once the line passes 80 columns.
struct Quoted {
    col: usize,
    indent: usize,
    wrap: bool,
}

const BEST_WIDTH: usize = 80;

impl Quoted {
    fn plain(&self, s: &str) -> String {
        let chars: Vec<char> = s.chars().collect();
        let mut out = String::new();
        let mut col = self.col;
        let mut spaces = false;
        for i in 0..chars.len() {
            let c = chars[i];
            if c == ' ' {
                if self.wrap && !spaces && col > BEST_WIDTH && chars.get(i + 1) != Some(&' ') {
                    col = self.newline(&mut out);
                } else {
                    out.push(' ');
                    col += 1;
                }
                spaces = true;
            } else {
                out.push(c);
                col += 1;
                spaces = false;
            }
        }
        out
    }

    fn newline(&self, out: &mut String) -> usize {
        out.push('\n');
        pad(out, self.indent + 2);
        self.indent + 2
    }

    fn single(&self, s: &str) -> String {
        let chars: Vec<char> = s.chars().collect();
        let mut out = String::from("'");
        let mut col = self.col + 1;
        let mut spaces = false;
        let n = chars.len();
        for i in 0..n {
            let c = chars[i];
            if c == ' ' {
                if self.wrap && !spaces && col > BEST_WIDTH && i != 0 && i != n - 1 && chars.get(i + 1) != Some(&' ') {
                    col = self.newline(&mut out);
                } else {
                    out.push(' ');
                    col += 1;
                }
                spaces = true;
            } else {
                if c == '\'' {
                    out.push_str("''");
                    col += 2;
                } else {
                    out.push(c);
                    col += 1;
                }
                spaces = false;
            }
        }
        out.push('\'');
        out
    }

    fn double(&self, s: &str) -> String {
        let chars: Vec<char> = s.chars().collect();
        let mut out = String::from("\"");
        let mut col = self.col + 1;
        let mut spaces = false;
        let n = chars.len();
        for i in 0..n {
            let c = chars[i];
            if c == ' ' {
                if self.wrap && !spaces && col > BEST_WIDTH && i != 0 && i != n - 1 {
                    col = self.newline(&mut out);
                    if chars.get(i + 1) == Some(&' ') {
                        out.push('\\');
                        col += 1;
                    }
                } else {
                    out.push(' ');
                    col += 1;
                }
                spaces = true;
            } else {
                let e = escape_char(c);
                col += e.chars().count();
                out.push_str(&e);
                spaces = false;
            }
        }
        out.push('"');
        out
    }
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

fn escape_char(c: char) -> String {
    match c {
        '"' => "\\\"".into(),
        '\\' => "\\\\".into(),
        '\n' => "\\n".into(),
        '\t' => "\\t".into(),
        '\r' => "\\r".into(),
        '\0' => "\\0".into(),
        '\x07' => "\\a".into(),
        '\x08' => "\\b".into(),
        '\x0b' => "\\v".into(),
        '\x0c' => "\\f".into(),
        '\x1b' => "\\e".into(),
        '\u{85}' => "\\N".into(),
        '\u{a0}' => "\\_".into(),
        '\u{2028}' => "\\L".into(),
        '\u{2029}' => "\\P".into(),
        c if !printable(c) => {
            let n = c as u32;
            if n <= 0xff {
                format!("\\x{n:02X}")
            } else if n <= 0xffff {
                format!("\\u{n:04X}")
            } else {
                format!("\\U{n:08X}")
            }
        }
        c => c.to_string(),
    }
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
        assert_eq!(string_scalar("true", 0, false, 0, false), "\"true\"");
        assert_eq!(string_scalar("", 0, false, 0, false), "\"\"");
        assert_eq!(string_scalar("a: b", 0, false, 0, false), "'a: b'");
        assert_eq!(string_scalar("- x", 0, false, 0, false), "'- x'");
        assert_eq!(string_scalar("1.5", 0, false, 0, false), "\"1.5\"");
        assert_eq!(string_scalar("hello world", 0, false, 0, false), "hello world");
        assert_eq!(string_scalar("a\nb\n", 0, false, 0, false), "|\n  a\n  b");
    }
}
