//! The YAML that Flux substitutes in: kyaml's rendering of an object (go-yaml v3 encoding
//! nodes), which keeps each scalar's source style. That style decides what a substituted
//! value becomes: `"${PORT}"` stays a string, `${PORT}` turns into a number, and a plain
//! `on` is read back as a boolean (Flux converts the result with YAML 1.1 rules).

use crate::yaml::{Kind, Map, Scalar, Style, Value, resolve_plain};

/// Renders an object as block YAML with each scalar in its source style.
pub(super) fn render(m: &Map) -> String {
    let mut out = String::new();
    map(&mut out, m, 0);
    out
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn map(out: &mut String, m: &Map, indent: usize) {
    let mut first = true;
    for (k, v) in m.iter() {
        if !first {
            pad(out, indent);
        }
        first = false;
        out.push_str(&key(k));
        out.push(':');
        value_after_key(out, v, indent);
    }
}

fn seq(out: &mut String, items: &[Value], indent: usize) {
    let mut first = true;
    for v in items {
        if !first {
            pad(out, indent);
        }
        first = false;
        out.push('-');
        match v {
            Value::Map(m) if !m.is_empty() => {
                out.push(' ');
                map(out, m, indent + 2);
            }
            Value::Seq(s) if !s.is_empty() => {
                out.push(' ');
                seq(out, s, indent + 2);
            }
            other => inline(out, other, indent + 2),
        }
    }
}

/// A mapping key: plain when that reads back as the same string, else double-quoted.
fn key(k: &str) -> String {
    if plain_safe(k) && resolve_plain(k) == Kind::Str && !k.contains('\n') {
        k.to_string()
    } else {
        let mut out = String::new();
        double(&mut out, k);
        out
    }
}

/// What follows `key:`: a nested block on the next lines, or an inline value.
fn value_after_key(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Map(m) if !m.is_empty() => {
            out.push('\n');
            pad(out, indent + 2);
            map(out, m, indent + 2);
        }
        Value::Seq(s) if !s.is_empty() => {
            out.push('\n');
            pad(out, indent);
            seq(out, s, indent);
        }
        other => inline(out, other, indent + 2),
    }
}

/// An empty collection or a scalar after `key:` or `-`, ending the line.
fn inline(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Map(_) => out.push_str(" {}\n"),
        Value::Seq(_) => out.push_str(" []\n"),
        Value::Scalar(s) => scalar(out, s, indent),
    }
}

fn scalar(out: &mut String, s: &Scalar, indent: usize) {
    if s.kind != Kind::Str {
        out.push(' ');
        out.push_str(if s.kind == Kind::Null && s.text.is_empty() { "null" } else { &s.text });
        out.push('\n');
        return;
    }
    let text = &s.text;
    let style = match s.style {
        // go-yaml v3 writes a plain string holding a line break as a literal block, and quotes
        // one that would read back as another type.
        Style::Plain if text.contains('\n') => Style::Literal,
        Style::Plain if resolve_plain(text) != Kind::Str => Style::DoubleQuoted,
        Style::Plain if !plain_safe(text) => Style::SingleQuoted,
        Style::SingleQuoted if text.contains('\n') => Style::DoubleQuoted,
        Style::Folded => Style::Literal,
        other => other,
    };
    let style = if style == Style::Literal && !literal_safe(text) { Style::DoubleQuoted } else { style };
    out.push(' ');
    match style {
        Style::Plain => out.push_str(text),
        Style::SingleQuoted => {
            out.push('\'');
            out.push_str(&text.replace('\'', "''"));
            out.push('\'');
        }
        Style::Literal | Style::Folded => literal(out, text, indent),
        Style::DoubleQuoted => double(out, text),
    }
    if !matches!(style, Style::Literal | Style::Folded) {
        out.push('\n');
    }
}

fn literal(out: &mut String, text: &str, indent: usize) {
    out.push('|');
    if text.starts_with(' ') {
        out.push('2');
    }
    let body = text.trim_end_matches('\n');
    let trailing = text.len() - body.len();
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    out.push('\n');
    for line in text.split_inclusive('\n').chain(if trailing == 0 { None } else { Some("") }) {
        if line.is_empty() {
            continue;
        }
        if line != "\n" {
            pad(out, indent);
        }
        out.push_str(line);
    }
    if trailing == 0 {
        out.push('\n');
    }
}

fn double(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Whether a string can be written plain in block context and read back as itself.
fn plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    if s.starts_with(' ') || s.ends_with(' ') || s.ends_with(':') {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first)
        && !(matches!(first, '-' | '?' | ':') && s.len() > 1 && !s[1..].starts_with(' '))
    {
        return false;
    }
    !(s.contains(": ")
        || s.contains(" #")
        || s.chars().any(char::is_control)
        || s.starts_with("---")
        || s.starts_with("..."))
}

/// Whether a literal block can hold the text verbatim.
fn literal_safe(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') && !s.starts_with('\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    fn roundtrip(yaml: &str) {
        let docs = parse_documents(yaml).expect("valid");
        let Some(Value::Map(m)) = docs.first() else { panic!("mapping") };
        let text = render(m);
        let back = parse_documents(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back[0], Value::Map(m.clone()), "{text}");
    }

    #[test]
    fn renders_what_parses_back_to_the_same_object() {
        roundtrip(
            "a: 1\nb: x\nc: \"2\"\nd: 'it''s'\ne: |\n  line1\n  line2\nf: |-\n  no newline\ng: [1, \"two\", {h: null}]\ni: {}\nj: []\nk:\n- - nested\n- {l: m}\n",
        );
        roundtrip(
            "s: \"tab\\there\\\\ \\\"q\\\"\"\nt: ' lead'\nu: 'a: b'\nv: '- x'\nw: '#c'\nx: |+\n  keep\n\ny: \"\"\nz: \"\\x01\"\n",
        );
        roundtrip(
            "m: |2\n   indented first\n  second\nfold: >\n  folded\n  text\nkey with space: 1\n\"quoted: key\": 2\n",
        );
    }

    #[test]
    fn scalars_keep_their_source_style() {
        let docs = parse_documents("p: \"${X}\"\nq: ${X}\nr: '${X}'\ns: on\n").expect("valid");
        let Some(Value::Map(m)) = docs.first() else { panic!("mapping") };
        assert_eq!(render(m), "p: \"${X}\"\nq: ${X}\nr: '${X}'\ns: on\n");
    }
}
