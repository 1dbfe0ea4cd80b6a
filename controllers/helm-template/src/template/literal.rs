//! Literals inside actions: Go's string unquoting and number constants.

use super::lex::ItemType;
use super::node::Number;

/// Go's `strconv.Unquote` for `"…"`, `` `…` `` and `'…'` literals.
pub fn unquote(s: &str) -> Option<String> {
    if s.len() >= 2 && s.starts_with('`') && s.ends_with('`') {
        return Some(s[1..s.len() - 1].replace('\r', ""));
    }
    if s.len() < 2 {
        return None;
    }
    let q = s.chars().next()?;
    if !(q == '"' || q == '\'') || !s.ends_with(q) {
        return None;
    }
    let body = &s[1..s.len() - 1];
    let mut out = String::new();
    let mut it = body.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = it.next()?;
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '"' | '\'' => out.push(e),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = (0..n).filter_map(|_| it.next()).collect();
                let v = u32::from_str_radix(&hex, 16).ok()?;
                out.push(char::from_u32(v)?);
            }
            '0'..='7' => {
                let mut oct = String::from(e);
                for _ in 0..2 {
                    oct.push(it.next()?);
                }
                out.push(char::from_u32(u32::from_str_radix(&oct, 8).ok()?)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

pub(super) fn parse_number(text: &str, typ: ItemType) -> Option<Number> {
    if typ == ItemType::CharConstant {
        let s = unquote(text)?;
        let c = s.chars().next()?;
        return Some(Number {
            text: text.into(),
            int: Some(c as i64),
            float: Some(c as u32 as f64),
            is_float_literal: false,
            is_char: true,
        });
    }
    let clean = text.replace('_', "");
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, clean.trim_start_matches('+').to_string()),
    };
    let lower = body.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.chars().all(|c| c.is_ascii_digit()) {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else {
        lower.parse::<i64>().ok()
    }
    .map(|v| if neg { -v } else { v });
    let is_hex = lower.starts_with("0x");
    let float = if is_hex { int.map(|i| i as f64) } else { clean.parse::<f64>().ok() };
    let float = float.or_else(|| int.map(|i| i as f64));
    if int.is_none() && float.is_none() {
        return None;
    }
    let is_float_literal = !is_hex && lower.contains(['.', 'e']);
    // An integer literal with a fractional float part is still an integer (1.0 is a float).
    let int =
        if is_float_literal { float.filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18).map(|f| f as i64) } else { int };
    Some(Number { text: text.into(), int, float, is_float_literal, is_char: false })
}
