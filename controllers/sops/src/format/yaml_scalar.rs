//! How go-yaml v3 writes a string scalar (its `encode.go` `stringv` and libyaml's
//! `yaml_emitter_analyze_scalar` / `select_scalar_style`): plain when it reads back as the
//! same string and the emitter allows it, a literal block for multi-line text, else
//! single-quoted, else double-quoted with YAML escapes.

use std::sync::LazyLock;

use regex::Regex;

/// The emitter's best indent (sops sets 4).
const BEST_INDENT: usize = 4;

/// Writes `s` as go-yaml would at `indent` (the column of a literal block's lines); `is_key`
/// for a mapping key (no block scalars there).
pub(crate) fn scalar_str(s: &str, indent: usize, is_key: bool) -> String {
    let a = analyze(s);
    let requested = if s.contains('\n') {
        Style::Literal
    } else if s.is_empty() || !reads_back_as_string(s) {
        Style::Double
    } else {
        Style::Plain
    };
    let style = match requested {
        Style::Plain if a.plain => Style::Plain,
        Style::Plain if a.single => Style::Single,
        Style::Literal if a.literal && !is_key => Style::Literal,
        _ => Style::Double,
    };
    match style {
        Style::Plain => s.to_owned(),
        Style::Single => format!("'{}'", s.replace('\'', "''")),
        Style::Double => double_quoted(s),
        Style::Literal => literal(s, indent),
    }
}

#[derive(Clone, Copy)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// What libyaml's analysis allows for a scalar (block context).
struct Allowed {
    plain: bool,
    single: bool,
    literal: bool,
}

/// go-yaml's `is_printable`: no C0/C1 controls but newline, no surrogates, no BOM or
/// U+FFFE/U+FFFF, and nothing outside the Basic Multilingual Plane.
fn printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn analyze(s: &str) -> Allowed {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return Allowed { plain: false, single: true, literal: false };
    }
    let mut flow_indicators = false;
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) = (false, false, false, false);
    let (mut break_space, mut space_break, mut tabs, mut special, mut line_breaks) =
        (false, false, false, false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    let blankz = |i: usize| chars.get(i).is_none_or(|c| matches!(c, ' ' | '\t') || is_break(*c));
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = blankz(i + 1);
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                flow_indicators = true;
                block_indicators = true;
            }
            if matches!(c, '?' | ':') {
                flow_indicators = true;
                block_indicators |= followed_by_whitespace;
            }
            if c == '-' && followed_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        } else {
            if ",?[]{}".contains(c) {
                flow_indicators = true;
            }
            if c == ':' {
                flow_indicators = true;
                block_indicators |= followed_by_whitespace;
            }
            if c == '#' && preceded_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        }
        if c == '\t' {
            tabs = true;
        } else if !printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        let last = i + 1 == chars.len();
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            leading_break |= i == 0;
            trailing_break |= last;
            space_break |= previous_space;
            previous_break = true;
            previous_space = false;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = matches!(c, ' ' | '\t') || is_break(c);
    }
    let mut plain = !(leading_space || leading_break || trailing_space || trailing_break);
    let mut single = true;
    let mut literal = !trailing_space;
    if break_space {
        plain = false;
        single = false;
    }
    if space_break || tabs || special {
        plain = false;
        single = false;
    }
    if space_break || special {
        literal = false;
    }
    if line_breaks || block_indicators {
        plain = false;
    }
    let _ = flow_indicators;
    Allowed { plain, single, literal }
}

/// A literal block: `|` with a `-`/`+` chomping indicator and an indentation indicator when
/// the text starts with a space or a line break.
fn literal(s: &str, indent: usize) -> String {
    let mut out = String::from("|");
    if s.starts_with([' ', '\n']) {
        out.push_str(&BEST_INDENT.to_string());
    }
    if !s.ends_with('\n') {
        out.push('-');
    } else if s.len() == 1 || s[..s.len() - 1].ends_with('\n') {
        out.push('+');
    }
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&" ".repeat(indent));
            out.push_str(line);
        }
    }
    out
}

/// Whether go-yaml may write `s` plain: it must resolve to a string (not null, a bool, a
/// number or a timestamp) and not be a YAML 1.1 boolean or base-60 float; else it is
/// double-quoted (go-yaml v3 `encode.go` `stringv`).
fn reads_back_as_string(s: &str) -> bool {
    const OLD_BOOLS: &[&str] =
        &["y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"];
    static BASE60: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$").expect("static regex"));
    !(OLD_BOOLS.contains(&s) || BASE60.is_match(s) || resolves_to_non_string(s))
}

/// go-yaml v3's `resolve` for a plain scalar: whether it is anything but a string.
fn resolves_to_non_string(s: &str) -> bool {
    static FLOAT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$").expect("static regex"));
    static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]*)?(?:Z|[-+][0-9]{2}:[0-9]{2}))|(?: [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]*)?))?$")
            .expect("static regex")
    });
    const SPECIAL: &[&str] = &[
        "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", ".inf", ".Inf", ".INF",
        "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN",
    ];
    if SPECIAL.contains(&s) {
        return true;
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return false;
    }
    let plain = s.replace('_', "");
    go_int_base0(&plain) || FLOAT.is_match(&plain) || (first.is_ascii_digit() && TIMESTAMP.is_match(s))
}

/// Go's `strconv.ParseInt(s, 0, 64)` / `ParseUint` syntax (range aside: larger decimals are
/// floats to go-yaml, which is not a string either).
fn go_int_base0(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    let (digits, radix) = if let Some(d) = lower.strip_prefix("0x") {
        (d, 16)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (d, 8)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (d, 2)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (&lower[1..], 8)
    } else {
        (lower.as_str(), 10)
    };
    !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix))
}

/// A double-quoted scalar with libyaml's escapes.
fn double_quoted(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("\"");
    for c in s.chars() {
        let escape = match c {
            '\0' => Some('0'),
            '\u{7}' => Some('a'),
            '\u{8}' => Some('b'),
            '\t' => Some('t'),
            '\n' => Some('n'),
            '\u{b}' => Some('v'),
            '\u{c}' => Some('f'),
            '\r' => Some('r'),
            '\u{1b}' => Some('e'),
            '"' => Some('"'),
            '\\' => Some('\\'),
            '\u{85}' => Some('N'),
            '\u{a0}' => Some('_'),
            '\u{2028}' => Some('L'),
            '\u{2029}' => Some('P'),
            _ => None,
        };
        if let Some(e) = escape {
            out.push('\\');
            out.push(e);
        } else if printable(c) && c != '\u{feff}' {
            out.push(c);
        } else {
            let u = c as u32;
            let _ = if u <= 0xFF {
                write!(out, "\\x{u:02X}")
            } else if u <= 0xFFFF {
                write!(out, "\\u{u:04X}")
            } else {
                write!(out, "\\U{u:08X}")
            };
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles() {
        assert_eq!(scalar_str("plain", 4, false), "plain");
        assert_eq!(scalar_str("123", 4, false), "\"123\"");
        assert_eq!(scalar_str("a: b", 4, false), "'a: b'");
        assert_eq!(scalar_str("tab\tx", 4, false), "\"tab\\tx\"");
        assert_eq!(scalar_str("🦀", 4, false), "\"\\U0001F980\"");
        assert_eq!(scalar_str("a\nb", 4, false), "|-\n    a\n    b");
        assert_eq!(scalar_str("a\nb", 4, true), "\"a\\nb\"");
        assert_eq!(scalar_str("", 4, false), "\"\"");
    }
}
