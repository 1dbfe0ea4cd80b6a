//! Go's `fmt` formatting of template values: `%v` of every kind, the `Sprintf` verbs and flags
//! charts use, `Sprint`/`Sprintln` spacing, and Go's float formatting (`1e+06`).

use crate::value::Value;

/// Formats a float as Go's `strconv.FormatFloat(f, verb, prec, 64)` does, for the verbs
/// `e`, `E`, `f`, `g`, `G` (`prec < 0` means the shortest representation).
pub fn format_float(f: f64, verb: char, prec: i32) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    match verb {
        'f' | 'F' => {
            if prec < 0 {
                let (neg, digits, exp) = shortest_digits(f);
                fmt_f_digits(neg, &digits, exp)
            } else {
                format!("{:.*}", prec as usize, f)
            }
        }
        'e' | 'E' => {
            let s = if prec < 0 {
                let (neg, digits, exp) = shortest_digits(f);
                fmt_e_digits(neg, &digits, exp)
            } else {
                let (neg, digits, exp) = fixed_digits(f, prec as usize + 1);
                fmt_e_digits(neg, &digits, exp)
            };
            if verb == 'E' { s.to_uppercase() } else { s }
        }
        _ => {
            let shortest = prec < 0;
            let (neg, mut digits, exp) =
                if shortest { shortest_digits(f) } else { fixed_digits(f, prec.max(1) as usize) };
            // Trailing zeros never appear in %g.
            while digits.len() > 1 && digits.ends_with('0') {
                digits.pop();
            }
            let mut eprec = if shortest { 6 } else { prec.max(1) };
            let nd = digits.len() as i32;
            if !shortest && eprec > nd && nd > exp {
                eprec = nd;
            }
            let s = if exp < -4 || exp >= eprec {
                fmt_e_digits(neg, &digits, exp)
            } else {
                fmt_f_digits(neg, &digits, exp)
            };
            if verb == 'G' { s.to_uppercase() } else { s }
        }
    }
}

/// The shortest round-trip decimal digits of `f`, with the decimal exponent of the first digit.
fn shortest_digits(f: f64) -> (bool, String, i32) {
    let s = format!("{:e}", f.abs());
    split_e(f.is_sign_negative(), &s)
}

/// `n` significant digits of `f`, correctly rounded.
fn fixed_digits(f: f64, n: usize) -> (bool, String, i32) {
    let s = format!("{:.*e}", n.saturating_sub(1), f.abs());
    split_e(f.is_sign_negative(), &s)
}

fn split_e(neg: bool, s: &str) -> (bool, String, i32) {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    if digits.chars().all(|c| c == '0') {
        return (neg, "0".into(), 0);
    }
    (neg, digits, exp)
}

fn fmt_e_digits(neg: bool, digits: &str, exp: i32) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs();
    if e < 10 {
        out.push('0');
    }
    out.push_str(&e.to_string());
    out
}

fn fmt_f_digits(neg: bool, digits: &str, exp: i32) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let point = exp + 1;
    if point <= 0 {
        out.push_str("0.");
        for _ in 0..(-point) {
            out.push('0');
        }
        out.push_str(digits);
    } else if point as usize >= digits.len() {
        out.push_str(digits);
        for _ in 0..(point as usize - digits.len()) {
            out.push('0');
        }
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
    out
}

/// `%v` of a value, as `fmt.Sprint` prints it.
pub fn sprint_v(v: &Value) -> String {
    let mut out = String::new();
    write_v(&mut out, v);
    out
}

fn write_v(out: &mut String, v: &Value) {
    match v {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&format_float(*f, 'g', -1)),
        Value::Str(s) => out.push_str(s),
        Value::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, x);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, x)) in m.borrow().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v(out, x);
            }
            out.push(']');
        }
        Value::Object(o) => out.push_str(&o.display()),
    }
}

/// Go's `fmt.Sprint`: spaces between operands when neither side is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = matches!(a, Value::Str(_));
        if i > 0 && !is_str && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        write_v(&mut out, a);
    }
    out
}

/// Go's `fmt.Sprintln`: always spaces, and a newline.
pub fn sprintln(args: &[Value]) -> String {
    let parts: Vec<String> = args.iter().map(sprint_v).collect();
    let mut s = parts.join(" ");
    s.push('\n');
    s
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c == '\u{fffd}' || !is_printable(c) => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_printable(c: char) -> bool {
    // Good enough for Unicode text: control and format characters are not printable.
    !(c.is_control() || matches!(c as u32, 0x200b..=0x200f | 0x2028..=0x202e | 0xfeff)) || c == '\u{fffd}'
}

#[derive(Default, Clone, Copy)]
struct Flags {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprintf` for template values.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut argi = 0;
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        let mut fl = Flags::default();
        while i < chars.len() {
            match chars[i] {
                '-' => fl.minus = true,
                '+' => fl.plus = true,
                '#' => fl.sharp = true,
                ' ' => fl.space = true,
                '0' => fl.zero = true,
                _ => break,
            }
            i += 1;
        }
        let mut num = String::new();
        while i < chars.len() && chars[i].is_ascii_digit() {
            num.push(chars[i]);
            i += 1;
        }
        if !num.is_empty() {
            fl.width = num.parse().ok();
        }
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            let mut p = String::new();
            while i < chars.len() && chars[i].is_ascii_digit() {
                p.push(chars[i]);
                i += 1;
            }
            fl.prec = Some(p.parse().unwrap_or(0));
        }
        if i >= chars.len() {
            out.push_str("%!(NOVERB)");
            break;
        }
        let verb = chars[i];
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        if argi >= args.len() {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        }
        let arg = &args[argi];
        argi += 1;
        let body = format_verb(arg, verb, fl);
        out.push_str(&pad(&body, fl));
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[argi..]
            .iter()
            .map(|a| match a {
                Value::Nil => "<nil>".to_string(),
                _ => format!("{}={}", a.type_name(), sprint_v(a)),
            })
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn pad(body: &str, fl: Flags) -> String {
    let Some(w) = fl.width else {
        return body.to_string();
    };
    let n = body.chars().count();
    if n >= w {
        return body.to_string();
    }
    let fill = w - n;
    if fl.minus {
        format!("{body}{}", " ".repeat(fill))
    } else if fl.zero {
        // Zero padding goes after the sign.
        let (sign, rest) = match body.strip_prefix(['-', '+']) {
            Some(r) => (&body[..1], r),
            None => ("", body),
        };
        format!("{sign}{}{rest}", "0".repeat(fill))
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}

fn bad_verb(arg: &Value, verb: char) -> String {
    match arg {
        Value::Nil => format!("%!{verb}(<nil>)"),
        _ => format!("%!{verb}({}={})", arg.type_name(), sprint_v(arg)),
    }
}

fn sign(s: String, fl: Flags, nonneg: bool) -> String {
    if nonneg && fl.plus {
        format!("+{s}")
    } else if nonneg && fl.space {
        format!(" {s}")
    } else {
        s
    }
}

fn format_verb(arg: &Value, verb: char, fl: Flags) -> String {
    match arg {
        Value::List(l) if verb != 'T' && verb != 'p' => {
            let parts: Vec<String> = l.iter().map(|x| format_verb(x, verb, fl)).collect();
            return format!("[{}]", parts.join(" "));
        }
        Value::Map(m) if verb != 'T' && verb != 'p' => {
            let parts: Vec<String> = m
                .borrow()
                .iter()
                .map(|(k, x)| {
                    format!("{}:{}", format_verb(&Value::str(k.as_str()), verb, fl), format_verb(x, verb, fl))
                })
                .collect();
            return format!("map[{}]", parts.join(" "));
        }
        _ => {}
    }
    if verb == 'T' {
        return arg.type_name();
    }
    let orig = arg;
    let arg = &*arg.normalized();
    match (arg, verb) {
        (Value::Nil, 'v' | 's' | 'd' | 'q' | 'x' | 'X' | 'f' | 'g' | 'e' | 't') => {
            if verb == 'v' {
                "<nil>".into()
            } else {
                format!("%!{verb}(<nil>)")
            }
        }
        (Value::Bool(b), 'v' | 't') => b.to_string(),
        (Value::Int(i), 'v' | 'd') => sign(i.to_string(), fl, *i >= 0),
        (Value::Int(i), 'x') => hex_int(*i, false, fl),
        (Value::Int(i), 'X') => hex_int(*i, true, fl),
        (Value::Int(i), 'o') => {
            if *i < 0 {
                format!("-{:o}", i.unsigned_abs())
            } else {
                format!("{i:o}")
            }
        }
        (Value::Int(i), 'b') => format!("{i:b}"),
        (Value::Int(i), 'c') => char::from_u32(*i as u32).unwrap_or('\u{fffd}').to_string(),
        (Value::Int(i), 'q') => {
            format!("'{}'", char::from_u32(*i as u32).unwrap_or('\u{fffd}'))
        }
        (Value::Float(f), 'v') => sign(format_float(*f, 'g', -1), fl, *f >= 0.0),
        (Value::Float(f), 'e' | 'E' | 'f' | 'F') => {
            sign(format_float(*f, verb, fl.prec.map_or(6, |p| p as i32)), fl, *f >= 0.0)
        }
        (Value::Float(f), 'g' | 'G') => sign(format_float(*f, verb, fl.prec.map_or(-1, |p| p as i32)), fl, *f >= 0.0),
        (Value::Str(s), 'v' | 's') => match fl.prec {
            Some(p) => s.chars().take(p).collect(),
            None => s.to_string(),
        },
        (Value::Str(s), 'q') => {
            if fl.sharp && !s.contains('`') {
                format!("`{s}`")
            } else {
                go_quote(s)
            }
        }
        (Value::Str(s), 'x') => s.bytes().map(|b| format!("{b:02x}")).collect(),
        (Value::Str(s), 'X') => s.bytes().map(|b| format!("{b:02X}")).collect(),
        (Value::Object(o), 'v' | 's') => o.display(),
        (_, 'v') => sprint_v(arg),
        _ => bad_verb(orig, verb),
    }
}

fn hex_int(i: i64, upper: bool, fl: Flags) -> String {
    let (neg, a) = (i < 0, i.unsigned_abs());
    let mut s = if upper { format!("{a:X}") } else { format!("{a:x}") };
    if fl.sharp {
        s = format!("{}{s}", if upper { "0X" } else { "0x" });
    }
    if neg { format!("-{s}") } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_go_prints_them() {
        let v = |f: f64| format_float(f, 'g', -1);
        assert_eq!(v(1_000_000.0), "1e+06");
        assert_eq!(v(100_000.0), "100000");
        assert_eq!(v(1_234_567.0), "1.234567e+06");
        assert_eq!(v(0.5), "0.5");
        assert_eq!(v(0.00001), "1e-05");
        assert_eq!(v(0.0001), "0.0001");
        assert_eq!(v(-2.5), "-2.5");
        assert_eq!(v(0.0), "0");
        assert_eq!(format_float(1.23456, 'f', 2), "1.23");
        assert_eq!(format_float(1234.5678, 'e', 3), "1.235e+03");
        assert_eq!(format_float(1234.5678, 'g', 3), "1.23e+03");
        assert_eq!(format_float(100.0, 'g', 3), "100");
    }

    #[test]
    fn sprintf_verbs() {
        let s = |f: &str, a: Vec<Value>| sprintf(f, &a);
        assert_eq!(s("%d-%s", vec![Value::Int(3), "x".into()]), "3-x");
        assert_eq!(s("%05d", vec![Value::Int(-42)]), "-0042");
        assert_eq!(s("%-4s|", vec!["ab".into()]), "ab  |");
        assert_eq!(s("%q", vec!["a\"b".into()]), "\"a\\\"b\"");
        assert_eq!(s("%d", vec!["x".into()]), "%!d(string=x)");
        assert_eq!(s("%s %s", vec!["x".into()]), "x %!s(MISSING)");
        assert_eq!(s("%s", vec!["x".into(), Value::Int(1)]), "x%!(EXTRA int=1)");
        assert_eq!(s("%v", vec![Value::Nil]), "<nil>");
        assert_eq!(s("%.2f", vec![Value::Float(2.0 / 3.0)]), "0.67");
        assert_eq!(s("%x", vec![Value::Int(255)]), "ff");
        assert_eq!(s("%v", vec![Value::list(vec![Value::Int(1), "a".into()])]), "[1 a]");
    }

    #[test]
    fn sprint_spacing() {
        assert_eq!(sprint(&[Value::Int(1), Value::Int(2)]), "1 2");
        assert_eq!(sprint(&["a".into(), Value::Int(2)]), "a2");
        assert_eq!(sprintln(&["a".into(), Value::Int(2)]), "a 2\n");
    }
}
