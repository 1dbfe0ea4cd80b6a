//! The `regex` format: whether Go's `regexp.Compile` (Go 1.26's `regexp/syntax` parser with
//! Perl flags) accepts a pattern, and its error text when it does not. Only the parse is
//! followed; the expression tree is kept as far as the nested-repetition limit needs it.

/// Go's `regexp/syntax` error codes, worded as Go words them.
const INVALID_CHAR_RANGE: &str = "invalid character class range";
const INVALID_ESCAPE: &str = "invalid escape sequence";
const INVALID_NAMED_CAPTURE: &str = "invalid named capture";
const INVALID_PERL_OP: &str = "invalid or unsupported Perl syntax";
const INVALID_REPEAT_OP: &str = "invalid nested repetition operator";
const INVALID_REPEAT_SIZE: &str = "invalid repeat count";
const MISSING_BRACKET: &str = "missing closing ]";
const MISSING_PAREN: &str = "missing closing )";
const MISSING_REPEAT_ARGUMENT: &str = "missing argument to repetition operator";
const TRAILING_BACKSLASH: &str = "trailing backslash at end of expression";
const UNEXPECTED_PAREN: &str = "unexpected )";
const NESTING_DEPTH: &str = "expression nests too deeply";

/// Go bounds the height of the expression tree at 1000; Eddy bounds the group depth there.
const MAX_DEPTH: usize = 1000;

use super::unicode_names;

/// Checks `s` as `regexp.Compile` would; Go's error text when it is rejected.
pub(crate) fn check(s: &str) -> Result<(), String> {
    Parser { s, stack: Vec::new() }.parse().map_err(|(code, expr)| format!("error parsing regexp: {code}: `{expr}`"))
}

type PErr<'a> = (&'static str, &'a str);

/// A bounded repetition `{min,max}` and the bounded repetitions inside it.
#[derive(Clone)]
struct Rep {
    min: i64,
    max: i64,
    subs: Vec<Rep>,
}

/// One entry of Go's parse stack: an expression (with its bounded repetitions), or one of
/// the markers for `(` and `|`.
enum Item {
    Expr(Vec<Rep>),
    LeftParen,
    Bar,
}

/// `repeatIsValid`: the nested counts multiply to at most `n`.
fn reps_valid(reps: &[Rep], n: i64) -> bool {
    reps.iter().all(|r| {
        if r.max == 0 {
            return true;
        }
        let m = if r.max < 0 { r.min } else { r.max };
        if m > n {
            return false;
        }
        reps_valid(&r.subs, if m > 0 { n / m } else { n })
    })
}

struct Parser<'a> {
    s: &'a str,
    stack: Vec<Item>,
}

impl<'a> Parser<'a> {
    fn push(&mut self) {
        self.stack.push(Item::Expr(Vec::new()));
    }

    /// `concat`: the expressions above the last marker become one.
    fn concat(&mut self) {
        let mut reps = Vec::new();
        while let Some(Item::Expr(_)) = self.stack.last() {
            if let Some(Item::Expr(r)) = self.stack.pop() {
                reps.extend(r);
            }
        }
        self.stack.push(Item::Expr(reps));
    }

    /// Everything above the last `(` as one expression; `None` when there is no `(`.
    fn close_group(&mut self) -> Option<()> {
        self.concat();
        let at = self.stack.iter().rposition(|i| matches!(i, Item::LeftParen))?;
        let mut reps = Vec::new();
        for item in self.stack.drain(at..) {
            if let Item::Expr(r) = item {
                reps.extend(r);
            }
        }
        self.stack.push(Item::Expr(reps));
        Some(())
    }

    /// Pushes a `(`, unless groups already nest too deeply.
    fn open(&mut self) -> Result<(), PErr<'a>> {
        if self.stack.iter().filter(|i| matches!(i, Item::LeftParen)).count() >= MAX_DEPTH {
            return Err((NESTING_DEPTH, self.s));
        }
        self.stack.push(Item::LeftParen);
        Ok(())
    }

    fn rest(&self, t: &str) -> usize {
        self.s.len() - t.len()
    }

    fn parse(&mut self) -> Result<(), PErr<'a>> {
        let s = self.s;
        let mut t = s;
        let mut last_repeat: Option<usize> = None;
        while let Some(c) = t.chars().next() {
            let mut repeat = None;
            match c {
                '(' if t.starts_with("(?") => t = self.perl_flags(t)?,
                '(' => {
                    self.open()?;
                    t = &t[1..];
                }
                '|' => {
                    self.concat();
                    let n = self.stack.len();
                    if n >= 2 && matches!(self.stack[n - 2], Item::Bar) {
                        self.stack.swap(n - 1, n - 2);
                    } else {
                        self.stack.push(Item::Bar);
                    }
                    t = &t[1..];
                }
                ')' => {
                    self.close_group().ok_or((UNEXPECTED_PAREN, s))?;
                    t = &t[1..];
                }
                '^' | '$' | '.' => {
                    self.push();
                    t = &t[1..];
                }
                '[' => t = self.class(t)?,
                '*' | '+' | '?' => {
                    let before = self.rest(t);
                    t = self.repeat(None, before, &t[1..], last_repeat)?;
                    repeat = Some(before);
                }
                '{' => {
                    let before = self.rest(t);
                    match parse_repeat(t) {
                        None => {
                            self.push();
                            t = &t[1..];
                        }
                        Some((min, max, after)) => {
                            if !(0..=1000).contains(&min) || max > 1000 || (max >= 0 && min > max) {
                                return Err((INVALID_REPEAT_SIZE, &s[before..self.rest(after)]));
                            }
                            t = self.repeat(Some((min, max)), before, after, last_repeat)?;
                            repeat = Some(before);
                        }
                    }
                }
                '\\' => t = self.backslash(t)?,
                c => {
                    self.push();
                    t = &t[c.len_utf8()..];
                }
            }
            last_repeat = repeat;
        }
        if self.close_group().is_some() {
            return Err((MISSING_PAREN, s));
        }
        Ok(())
    }

    /// `repeat`: applies `*`, `+`, `?` (`bounds` none) or `{min,max}` to the expression on top.
    fn repeat(
        &mut self,
        bounds: Option<(i64, i64)>,
        before: usize,
        after: &'a str,
        last_repeat: Option<usize>,
    ) -> Result<&'a str, PErr<'a>> {
        let after = after.strip_prefix('?').unwrap_or(after);
        let end = self.rest(after);
        if let Some(last) = last_repeat {
            return Err((INVALID_REPEAT_OP, &self.s[last..end]));
        }
        let Some(Item::Expr(reps)) = self.stack.last_mut() else {
            return Err((MISSING_REPEAT_ARGUMENT, &self.s[before..end]));
        };
        if let Some((min, max)) = bounds {
            let rep = Rep { min, max, subs: std::mem::take(reps) };
            if (min >= 2 || max >= 2) && !reps_valid(std::slice::from_ref(&rep), 1000) {
                return Err((INVALID_REPEAT_SIZE, &self.s[before..end]));
            }
            *reps = vec![rep];
        }
        Ok(after)
    }

    /// A `\` outside a class.
    fn backslash(&mut self, t: &'a str) -> Result<&'a str, PErr<'a>> {
        match t.as_bytes().get(1) {
            Some(b'A' | b'b' | b'B' | b'z' | b'd' | b'D' | b's' | b'S' | b'w' | b'W') => {
                self.push();
                return Ok(&t[2..]);
            }
            Some(b'C') => return Err((INVALID_ESCAPE, &t[..2])),
            Some(b'Q') => {
                let body = &t[2..];
                let (lit, rest) = body.split_once("\\E").unwrap_or((body, ""));
                if !lit.is_empty() {
                    self.push();
                }
                return Ok(rest);
            }
            Some(b'p' | b'P') => {
                let rest = unicode_class(t)?;
                self.push();
                return Ok(rest);
            }
            _ => {}
        }
        let (_, rest) = escape(t)?;
        self.push();
        Ok(rest)
    }

    /// `parsePerlFlags`: `(?flags)`, `(?flags:`, `(?P<name>`, `(?<name>`.
    fn perl_flags(&mut self, s: &'a str) -> Result<&'a str, PErr<'a>> {
        let b = s.as_bytes();
        let with_p = b.len() > 4 && b[2] == b'P' && b[3] == b'<';
        let with_name = b.len() > 3 && b[2] == b'<';
        if with_p || with_name {
            let start = if with_p { 4 } else { 3 };
            let Some(end) = s.find('>') else { return Err((INVALID_NAMED_CAPTURE, s)) };
            let name = &s[start..end];
            if name.is_empty() || !name.bytes().all(|c| c == b'_' || c.is_ascii_alphanumeric()) {
                return Err((INVALID_NAMED_CAPTURE, &s[..=end]));
            }
            self.open()?;
            return Ok(&s[end + 1..]);
        }
        let mut t = &s[2..];
        let mut negated = false;
        let mut saw_flag = false;
        while let Some(c) = t.chars().next() {
            t = &t[c.len_utf8()..];
            match c {
                'i' | 'm' | 's' | 'U' => saw_flag = true,
                '-' if !negated => {
                    negated = true;
                    saw_flag = false;
                }
                ':' | ')' if !negated || saw_flag => {
                    if c == ':' {
                        self.open()?;
                    }
                    return Ok(t);
                }
                _ => break,
            }
        }
        Err((INVALID_PERL_OP, &s[..s.len() - t.len()]))
    }

    /// `parseClass`: a `[...]` class.
    fn class(&mut self, s: &'a str) -> Result<&'a str, PErr<'a>> {
        let mut t = &s[1..];
        if let Some(r) = t.strip_prefix('^') {
            t = r;
        }
        let mut first = true;
        while t.is_empty() || !t.starts_with(']') || first {
            first = false;
            if t.len() > 2
                && t.starts_with("[:")
                && let Some(i) = t[2..].find(":]")
            {
                let name = &t[..i + 4];
                let inner = &name[2..name.len() - 2];
                if !unicode_names::POSIX.contains(&inner.strip_prefix('^').unwrap_or(inner)) {
                    return Err((INVALID_CHAR_RANGE, name));
                }
                t = &t[i + 4..];
                continue;
            }
            if t.starts_with("\\p") || t.starts_with("\\P") {
                t = unicode_class(t)?;
                continue;
            }
            if t.starts_with('\\') && matches!(t.as_bytes().get(1), Some(b'd' | b'D' | b's' | b'S' | b'w' | b'W')) {
                t = &t[2..];
                continue;
            }
            let rng = t;
            let lo;
            (lo, t) = class_char(t, s)?;
            if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
                let hi;
                (hi, t) = class_char(&t[1..], s)?;
                if hi < lo {
                    return Err((INVALID_CHAR_RANGE, &rng[..rng.len() - t.len()]));
                }
            }
        }
        self.push();
        Ok(&t[1..])
    }
}

/// `parseClassChar`.
fn class_char<'a>(t: &'a str, whole: &'a str) -> Result<(u32, &'a str), PErr<'a>> {
    match t.chars().next() {
        None => Err((MISSING_BRACKET, whole)),
        Some('\\') => escape(t),
        Some(c) => Ok((c as u32, &t[c.len_utf8()..])),
    }
}

/// `parseRepeat`: `{min}`, `{min,}` (max -1) or `{min,max}`; min -1 when a number is too big.
fn parse_repeat(s: &str) -> Option<(i64, i64, &str)> {
    let s = s.strip_prefix('{')?;
    let (mut min, s) = parse_int(s)?;
    let max;
    let s = match s.strip_prefix(',') {
        None => {
            if s.is_empty() {
                return None;
            }
            max = min;
            s
        }
        Some(s) if s.starts_with('}') => {
            max = -1;
            s
        }
        Some(s) => {
            let (m, s) = parse_int(s)?;
            max = m;
            if m < 0 {
                min = -1;
            }
            s
        }
    };
    Some((min, max, s.strip_prefix('}')?))
}

/// `parseInt`: decimal digits without a leading zero; -1 when too big.
fn parse_int(s: &str) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    if b.first().is_none_or(|c| !c.is_ascii_digit()) || (b.len() >= 2 && b[0] == b'0' && b[1].is_ascii_digit()) {
        return None;
    }
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut v: i64 = 0;
    for c in &b[..n] {
        if v >= 100_000_000 {
            v = -1;
            break;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some((v, &s[n..]))
}

/// `parseUnicodeClass` for `s` starting with `\p` or `\P`.
fn unicode_class(s: &str) -> Result<&str, PErr<'_>> {
    let t = &s[2..];
    let (seq, name, rest) = match t.chars().next() {
        Some('{') => {
            let Some(end) = s.find('}') else { return Err((INVALID_CHAR_RANGE, s)) };
            (&s[..=end], &s[3..end], &s[end + 1..])
        }
        c => {
            let n = 2 + c.map_or(0, char::len_utf8);
            (&s[..n], &s[2..n], &s[n..])
        }
    };
    let name = name.strip_prefix('^').unwrap_or(name);
    if !unicode_names::known(name) {
        return Err((INVALID_CHAR_RANGE, seq));
    }
    Ok(rest)
}

/// `parseEscape` for `s` starting with `\`: the character and the rest.
fn escape(s: &str) -> Result<(u32, &str), PErr<'_>> {
    let mut t = &s[1..];
    let Some(c) = t.chars().next() else { return Err((TRAILING_BACKSLASH, "")) };
    t = &t[c.len_utf8()..];
    let bad = |t: &str| (INVALID_ESCAPE, &s[..s.len() - t.len()]);
    let octal = |t: &str| t.as_bytes().first().is_some_and(|d| (b'0'..=b'7').contains(d));
    match c {
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((c as u32, t)),
        '1'..='7' | '0' if c == '0' || octal(t) => {
            let mut r = c as u32 - '0' as u32;
            for _ in 1..3 {
                if !octal(t) {
                    break;
                }
                r = r * 8 + u32::from(t.as_bytes()[0] - b'0');
                t = &t[1..];
            }
            Ok((r, t))
        }
        'x' => {
            let Some(c) = t.chars().next() else { return Err(bad(t)) };
            t = &t[c.len_utf8()..];
            if c == '{' {
                let mut r: u32 = 0;
                let mut digits = 0;
                loop {
                    let Some(c) = t.chars().next() else { return Err(bad(t)) };
                    t = &t[c.len_utf8()..];
                    if c == '}' {
                        break;
                    }
                    let Some(v) = c.to_digit(16) else { return Err(bad(t)) };
                    r = r * 16 + v;
                    if r > 0x10_ffff {
                        return Err(bad(t));
                    }
                    digits += 1;
                }
                if digits == 0 {
                    return Err(bad(t));
                }
                return Ok((r, t));
            }
            let x = c.to_digit(16);
            let y = t.chars().next().and_then(|c| c.to_digit(16));
            if let Some(c) = t.chars().next() {
                t = &t[c.len_utf8()..];
            }
            match (x, y) {
                (Some(x), Some(y)) => Ok((x * 16 + y, t)),
                _ => Err(bad(t)),
            }
        }
        'a' => Ok((7, t)),
        'f' => Ok((12, t)),
        'n' => Ok((10, t)),
        'r' => Ok((13, t)),
        't' => Ok((9, t)),
        'v' => Ok((11, t)),
        _ => Err(bad(t)),
    }
}
