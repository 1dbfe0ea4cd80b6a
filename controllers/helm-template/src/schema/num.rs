//! Numbers in schema validation: exact decimal comparison (Go's `big.Rat` from the number's
//! text) and the way `golang.org/x/text/message`'s English printer shows numbers in messages
//! (`1,000`, `20,000.5`, `1.234567×10⁰⁶`).

use std::cmp::Ordering;

/// A decimal number `m × 10^e`, kept with its `f64` for numbers too long to compare exactly.
#[derive(Debug, Clone, Copy)]
pub struct Dec {
    m: i128,
    e: i32,
    exact: bool,
    /// The value as a float.
    pub f: f64,
}

impl Dec {
    /// Parses a decimal literal (`-12.5e3`, `1e+21`).
    pub fn parse(text: &str) -> Option<Dec> {
        let f: f64 = text.parse().ok()?;
        if !f.is_finite() {
            return None;
        }
        let (mant, exp) = match text.find(['e', 'E']) {
            Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
            None => (text, 0),
        };
        let (neg, mant) = match mant.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, mant.strip_prefix('+').unwrap_or(mant)),
        };
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        let digits: String = format!("{int}{frac}").trim_start_matches('0').to_string();
        let mut e = exp.saturating_sub(frac.len() as i32);
        let trimmed = digits.trim_end_matches('0');
        e = e.saturating_add((digits.len() - trimmed.len()) as i32);
        if trimmed.is_empty() {
            return Some(Dec { m: 0, e: 0, exact: true, f });
        }
        match trimmed.parse::<i128>() {
            Ok(m) if trimmed.len() <= 36 => Some(Dec { m: if neg { -m } else { m }, e, exact: true, f }),
            _ => Some(Dec { m: 0, e: 0, exact: false, f }),
        }
    }

    /// The two mantissas scaled to a common exponent, when that fits.
    fn aligned(&self, o: &Dec) -> Option<(i128, i128)> {
        if !self.exact || !o.exact {
            return None;
        }
        let e = self.e.min(o.e);
        let scale = |d: &Dec| -> Option<i128> {
            let k = u32::try_from(d.e - e).ok()?;
            10i128.checked_pow(k).and_then(|p| d.m.checked_mul(p))
        };
        Some((scale(self)?, scale(o)?))
    }

    /// Compares two numbers.
    pub fn compare(&self, o: &Dec) -> Ordering {
        match self.aligned(o) {
            Some((a, b)) => a.cmp(&b),
            None => self.f.partial_cmp(&o.f).unwrap_or(Ordering::Equal),
        }
    }

    /// Whether `self / o` is an integer (`multipleOf`).
    pub fn is_multiple_of(&self, o: &Dec) -> bool {
        match self.aligned(o) {
            Some((_, 0)) => false,
            Some((a, b)) => a % b == 0,
            None => (self.f / o.f).fract() == 0.0,
        }
    }

    /// Whether the number is an integer.
    pub fn is_int(&self) -> bool {
        if self.exact { self.m == 0 || self.e >= 0 } else { self.f.fract() == 0.0 }
    }
}

/// `%d` of an integer as the English printer shows it: digits grouped by three with commas.
pub fn int(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let grouped = group(&s);
    if n < 0 { format!("-{grouped}") } else { grouped }
}

fn group(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `%v` of a `float64` as the English printer shows it: `%g`'s shortest digits, plain with
/// grouped thousands for exponents -4..5, else `d.ddd×10ⁿⁿ` with a superscript exponent.
pub fn float(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let sci = format!("{:e}", f.abs());
    let Some((mant, exp)) = sci.split_once('e') else { return sci };
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let mut m = digits[..1].to_string();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let e = format!("{:02}", exp.unsigned_abs());
        let mut sup = String::new();
        if exp < 0 {
            sup.push('⁻');
        }
        for c in e.chars() {
            sup.push(match c {
                '0' => '⁰',
                '1' => '¹',
                '2' => '²',
                '3' => '³',
                '4' => '⁴',
                '5' => '⁵',
                '6' => '⁶',
                '7' => '⁷',
                '8' => '⁸',
                _ => '⁹',
            });
        }
        return format!("{sign}{m}×10{sup}");
    }
    let dp = exp + 1;
    let (int, frac) = if dp <= 0 {
        ("0".to_string(), format!("{}{digits}", "0".repeat(dp.unsigned_abs() as usize)))
    } else {
        let dp = dp as usize;
        if digits.len() <= dp {
            (format!("{digits}{}", "0".repeat(dp - digits.len())), String::new())
        } else {
            (digits[..dp].to_string(), digits[dp..].to_string())
        }
    };
    let int = group(&int);
    if frac.is_empty() { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_numbers() {
        assert_eq!(int(1100), "1,100");
        assert_eq!(int(-1000), "-1,000");
        assert_eq!(float(20000.5), "20,000.5");
        assert_eq!(float(1234567.0), "1.234567×10⁰⁶");
        assert_eq!(float(1e-7), "1×10⁻⁰⁷");
        assert_eq!(float(1.5e300), "1.5×10³⁰⁰");
        assert_eq!(float(-2e-9), "-2×10⁻⁰⁹");
        assert_eq!(float(0.0001), "0.0001");
        assert_eq!(float(-1234.5), "-1,234.5");
        assert_eq!(float(-5.0), "-5");
    }

    #[test]
    fn decimals() {
        let d = |s| Dec::parse(s).unwrap_or_else(|| panic!("{s}"));
        assert!(d("0.3").is_multiple_of(&d("0.1")));
        assert!(!d("0.35").is_multiple_of(&d("0.1")));
        assert_eq!(d("1e+21").compare(&d("1000000000000000000000")), Ordering::Equal);
        assert_eq!(d("-5").compare(&d("0")), Ordering::Less);
        assert!(d("2.0").is_int());
        assert!(!d("2.5").is_int());
    }
}
