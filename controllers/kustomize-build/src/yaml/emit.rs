//! Rendering documents exactly as kustomize prints them.
//!
//! kustomize turns each resource into JSON and then into YAML with go-yaml v2,
//! so mapping keys are sorted, numbers are normalised and strings are quoted
//! only when a reader would otherwise see another type. The writer below
//! follows the libyaml emitter rules (indentation, line folding at 80
//! columns, the choice between plain, quoted and literal styles).

use std::cmp::Ordering;

use super::Value;
use super::resolve::{Kind, go_parse_float, go_parse_int, timestamp_rfc3339, v2_needs_quotes};

/// An error turning a value into output text.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct EmitError(pub String);

enum Out {
    /// A string, styled by the emitter.
    Str(String),
    /// Text that is always written plain (numbers, booleans, null).
    Raw(String),
    Seq(Vec<Out>),
    Map(Vec<(String, Out)>),
}

/// Renders one document (with a trailing newline).
///
/// # Errors
/// Values JSON cannot carry (infinities, NaN).
pub fn emit_document(v: &Value) -> Result<String, super::parse::YamlError> {
    let out = convert(v).map_err(|e| super::parse::YamlError { line: 0, message: e.0 })?;
    let mut e = Emitter::default();
    e.node(&out, false, false);
    // Document end: make sure the text ends with a line break.
    e.write_indent();
    Ok(e.out)
}

fn convert(v: &Value) -> Result<Out, EmitError> {
    Ok(match v {
        Value::Scalar(s) => match s.kind {
            Kind::Str => Out::Str(s.text.clone()),
            Kind::Null => Out::Raw("null".into()),
            Kind::Bool => {
                let t = &s.text;
                if super::resolve::is_true(t) {
                    Out::Raw("true".into())
                } else if matches!(
                    t.as_str(),
                    "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE"
                ) {
                    Out::Raw("false".into())
                } else {
                    return Err(EmitError(format!("cannot decode !!str `{t}` as a !!bool")));
                }
            }
            Kind::Int => {
                let plain: String = s.text.chars().filter(|c| *c != '_').collect();
                match go_parse_int(&plain) {
                    Some(i) => Out::Raw(i.to_string()),
                    None => return Err(EmitError(format!("cannot decode !!str `{}` as a !!int", s.text))),
                }
            }
            Kind::Float => Out::Raw(float_out(&s.text)?),
            Kind::Timestamp => match timestamp_rfc3339(&s.text) {
                Some(t) => Out::Str(t),
                None => Out::Str(s.text.clone()),
            },
        },
        Value::Seq(items) => Out::Seq(items.iter().map(convert).collect::<Result<_, _>>()?),
        Value::Map(m) => {
            let mut entries: Vec<(String, Out)> =
                m.iter().map(|(k, v)| Ok((k.clone(), convert(v)?))).collect::<Result<_, EmitError>>()?;
            go_sort(&mut entries, |a, b| key_less(&a.0, &b.0));
            Out::Map(entries)
        }
    })
}

fn float_out(text: &str) -> Result<String, EmitError> {
    let f = match text {
        ".nan" | ".NaN" | ".NAN" => f64::NAN,
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => f64::INFINITY,
        "-.inf" | "-.Inf" | "-.INF" => f64::NEG_INFINITY,
        _ => {
            let plain: String = text.chars().filter(|c| *c != '_').collect();
            match go_parse_float(&plain) {
                Some(f) => f,
                None => match go_parse_int(&plain) {
                    #[allow(clippy::cast_precision_loss)]
                    Some(i) => i as f64,
                    None => return Err(EmitError(format!("cannot decode !!str `{text}` as a !!float"))),
                },
            }
        }
    };
    if !f.is_finite() {
        return Err(EmitError(format!("json: unsupported value: {text} (infinity and NaN cannot be rendered)")));
    }
    // JSON writes integral values below 1e21 as plain integers, which go-yaml
    // then reads back as integers when they fit 64 bits.
    if f.fract() == 0.0 && f.abs() < 1e21 {
        #[allow(clippy::cast_possible_truncation)]
        let i = f as i128;
        if i >= i128::from(i64::MIN) && i <= i128::from(u64::MAX) {
            return Ok(i.to_string());
        }
    }
    Ok(format_go_float(f))
}

/// Formats a float like Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
#[must_use]
pub fn format_go_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let sign = if neg { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    if exp < 0 {
        let zeros = "0".repeat(usize::try_from(-exp - 1).unwrap_or(0));
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = usize::try_from(exp + 1).unwrap_or(1);
    if digits.len() <= point {
        format!("{sign}{digits}{}", "0".repeat(point - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
}

/// Sorts like Go's `sort.Sort`, which matters because go-yaml v2's key order
/// is not transitive for some mixes of letters and digits: small inputs use
/// insertion sort exactly as Go does.
fn go_sort<T>(items: &mut [T], less: impl Fn(&T, &T) -> bool) {
    if items.len() <= 12 {
        for i in 1..items.len() {
            let mut j = i;
            while j > 0 && less(&items[j], &items[j - 1]) {
                items.swap(j, j - 1);
                j -= 1;
            }
        }
    } else {
        items.sort_by(|a, b| {
            if less(a, b) {
                Ordering::Less
            } else if less(b, a) {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        });
    }
}

/// go-yaml v2's mapping key order: letters compare by code point, runs of
/// digits compare numerically, and non-letters sort before letters.
#[cfg(test)]
#[must_use]
pub fn key_order(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    if key_less(a, b) {
        Ordering::Less
    } else if key_less(b, a) {
        Ordering::Greater
    } else {
        a.cmp(b)
    }
}

fn key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let mut an: i64 = 0;
        let mut bn: i64 = 0;
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.wrapping_mul(10).wrapping_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.wrapping_mul(10).wrapping_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

struct Analysis {
    multiline: bool,
    flow_plain: bool,
    block_plain: bool,
    single: bool,
    block: bool,
}

const BEST_WIDTH: usize = 80;
const BEST_INDENT: i32 = 2;

struct Emitter {
    out: String,
    column: usize,
    indent: i32,
    indents: Vec<i32>,
    whitespace: bool,
    indention: bool,
    flow_level: usize,
}

impl Default for Emitter {
    fn default() -> Self {
        Self {
            out: String::new(),
            column: 0,
            indent: -1,
            indents: Vec::new(),
            whitespace: true,
            indention: true,
            flow_level: 0,
        }
    }
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blankz(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || is_break(c) || c == '\0',
    }
}

fn analyze(value: &str) -> Analysis {
    if value.is_empty() {
        return Analysis { multiline: false, flow_plain: false, block_plain: true, single: true, block: false };
    }
    let chars: Vec<char> = value.chars().collect();
    let mut block_ind = false;
    let mut flow_ind = false;
    let mut line_breaks = false;
    let mut special = false;
    let mut leading_space = false;
    let mut leading_break = false;
    let mut trailing_space = false;
    let mut trailing_break = false;
    let mut break_space = false;
    let mut space_break = false;
    let mut prev_space = false;
    let mut prev_break = false;
    if value.starts_with("---") || value.starts_with("...") {
        block_ind = true;
        flow_ind = true;
    }
    let mut preceded_by_ws = true;
    let mut followed_by_ws = is_blankz(chars.get(1).copied());
    let n = chars.len();
    for i in 0..n {
        let c = chars[i];
        if i == 0 {
            if matches!(
                c,
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`'
            ) {
                flow_ind = true;
                block_ind = true;
            }
            if c == '?' || c == ':' {
                flow_ind = true;
                if followed_by_ws {
                    block_ind = true;
                }
            }
            if c == '-' && followed_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        } else {
            if matches!(c, ',' | '?' | '[' | ']' | '{' | '}') {
                flow_ind = true;
            }
            if c == ':' {
                flow_ind = true;
                if followed_by_ws {
                    block_ind = true;
                }
            }
            if c == '#' && preceded_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == n - 1 {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            if i == 0 {
                leading_break = true;
            }
            if i == n - 1 {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = is_blankz(Some(c));
        if i + 1 < n {
            followed_by_ws = is_blankz(chars.get(i + 2).copied());
        }
    }
    let mut a = Analysis { multiline: line_breaks, flow_plain: true, block_plain: true, single: true, block: true };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.flow_plain = false;
        a.block_plain = false;
    }
    if trailing_space {
        a.block = false;
    }
    if break_space {
        a.flow_plain = false;
        a.block_plain = false;
        a.single = false;
    }
    if space_break || special {
        a.flow_plain = false;
        a.block_plain = false;
        a.single = false;
        a.block = false;
    }
    if line_breaks {
        a.flow_plain = false;
        a.block_plain = false;
    }
    if flow_ind {
        a.flow_plain = false;
    }
    if block_ind {
        a.block_plain = false;
    }
    a
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn write_indent(&mut self) {
        let indent = usize::try_from(self.indent.max(0)).unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, ind: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        for c in ind.chars() {
            self.put(c);
        }
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
    }

    fn node(&mut self, v: &Out, mapping_ctx: bool, simple_key: bool) {
        match v {
            Out::Str(s) => self.scalar(s, true, simple_key),
            Out::Raw(s) => self.scalar(s, false, simple_key),
            Out::Seq(items) if items.is_empty() || self.flow_level > 0 => {
                self.write_indicator("[", true, true, false);
                self.increase_indent(true, false);
                self.flow_level += 1;
                self.flow_level -= 1;
                self.pop_indent();
                self.write_indicator("]", false, false, false);
            }
            Out::Map(items) if items.is_empty() || self.flow_level > 0 => {
                self.write_indicator("{", true, true, false);
                self.increase_indent(true, false);
                self.flow_level += 1;
                self.flow_level -= 1;
                self.pop_indent();
                self.write_indicator("}", false, false, false);
            }
            Out::Seq(items) => {
                let indentless = mapping_ctx && !self.indention;
                self.increase_indent(false, indentless);
                for it in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.node(it, false, false);
                }
                self.pop_indent();
            }
            Out::Map(entries) => {
                self.increase_indent(false, false);
                for (k, val) in entries {
                    self.write_indent();
                    let simple = k.chars().count() <= 128 && !k.chars().any(is_break);
                    if simple {
                        self.scalar(k, true, true);
                        self.write_indicator(":", false, false, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.scalar(k, true, false);
                        self.write_indent();
                        self.write_indicator(":", true, false, true);
                    }
                    self.node(val, true, false);
                }
                self.pop_indent();
            }
        }
    }

    fn scalar(&mut self, s: &str, is_string: bool, simple_key: bool) {
        let requested = if !is_string {
            Style::Plain
        } else if s.contains('\n') {
            Style::Literal
        } else if v2_needs_quotes(s) {
            Style::Double
        } else {
            Style::Plain
        };
        let a = analyze(s);
        let mut style = requested;
        if simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain {
            if (self.flow_level > 0 && !a.flow_plain) || (self.flow_level == 0 && !a.block_plain) {
                style = Style::Single;
            }
            if s.is_empty() && (self.flow_level > 0 || simple_key) {
                style = Style::Single;
            }
        }
        if style == Style::Single && !a.single {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block || self.flow_level > 0 || simple_key) {
            style = Style::Double;
        }
        self.increase_indent(true, false);
        let allow_breaks = !simple_key;
        match style {
            Style::Plain => self.write_plain(s, allow_breaks),
            Style::Single => self.write_single(s, allow_breaks),
            Style::Double => self.write_double(s, allow_breaks),
            Style::Literal => self.write_literal(s),
        }
        self.pop_indent();
    }

    fn write_plain(&mut self, s: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        let mut breaks = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && chars.get(i + 1).copied() != Some(' ') {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
            i += 1;
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single(&mut self, s: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        let mut breaks = false;
        let n = chars.len();
        for i in 0..n {
            let c = chars[i];
            if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i > 0 && i + 1 < n && chars[i + 1] != ' ' {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
    }

    fn write_double(&mut self, s: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        let n = chars.len();
        let mut spaces = false;
        for i in 0..n {
            let c = chars[i];
            if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                let u = c as u32;
                let esc = match u {
                    0x00 => Some('0'),
                    0x07 => Some('a'),
                    0x08 => Some('b'),
                    0x09 => Some('t'),
                    0x0A => Some('n'),
                    0x0B => Some('v'),
                    0x0C => Some('f'),
                    0x0D => Some('r'),
                    0x1B => Some('e'),
                    0x22 => Some('"'),
                    0x5C => Some('\\'),
                    0x85 => Some('N'),
                    0xA0 => Some('_'),
                    0x2028 => Some('L'),
                    0x2029 => Some('P'),
                    _ => None,
                };
                if let Some(e) = esc {
                    self.put(e);
                } else {
                    let text = if u <= 0xFF {
                        format!("x{u:02X}")
                    } else if u <= 0xFFFF {
                        format!("u{u:04X}")
                    } else {
                        format!("U{u:08X}")
                    };
                    for ch in text.chars() {
                        self.put(ch);
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i != 0 && i != n - 1 {
                    self.write_indent();
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
    }

    fn write_literal(&mut self, s: &str) {
        self.write_indicator("|", true, false, false);
        // Block scalar hints.
        let chars: Vec<char> = s.chars().collect();
        if chars.first().is_some_and(|c| *c == ' ' || is_break(*c)) {
            self.write_indicator("2", false, false, false);
        }
        let chomp = match chars.len() {
            0 => Some("-"),
            n if !is_break(chars[n - 1]) => Some("-"),
            1 => Some("+"),
            n if is_break(chars[n - 2]) => Some("+"),
            _ => None,
        };
        if let Some(h) = chomp {
            self.write_indicator(h, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in chars {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                    breaks = false;
                }
                self.put(c);
                self.indention = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_formatting() {
        assert_eq!(format_go_float(1.5), "1.5");
        assert_eq!(format_go_float(3e-5), "3e-05");
        assert_eq!(format_go_float(1e20), "1e+20");
        assert_eq!(format_go_float(1_234_567.5), "1.2345675e+06");
        assert_eq!(format_go_float(123_456.5), "123456.5");
        assert_eq!(format_go_float(0.0001), "0.0001");
        assert_eq!(format_go_float(1.234_567_890_123_456_8e20), "1.2345678901234568e+20");
    }

    #[test]
    fn key_order_is_natural() {
        let mut keys = vec!["a2", "a10", "B", "_x", "-y", "1", "", "f11", "f2"];
        keys.sort_by(|a, b| key_order(a, b));
        assert_eq!(keys, vec!["", "-y", "_x", "1", "B", "a2", "a10", "f2", "f11"]);
    }
}
