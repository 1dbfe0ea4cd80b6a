//! The Prometheus text exposition format (0.0.4) exactly as Go's `prometheus/common/expfmt`
//! writes it, so that Eddy's `/metrics` reads byte for byte like a Flux controller's:
//!
//! - `# HELP` (backslash and newline escaped) and `# TYPE` lines before each family;
//! - label values escaped for backslash, double quote and newline; labels in name order,
//!   `le` last on histogram buckets;
//! - numbers as Go's `strconv.FormatFloat(f, 'g', -1, 64)` (shortest round-trip digits,
//!   exponent form below 1e-4 and from 1e6 on: `1e+06`, `1.5e-05`), with `+Inf`, `-Inf`,
//!   `NaN`; histogram bucket and sample counts as integers.

use std::fmt::Write as _;

/// Appends `# HELP` and `# TYPE` lines.
pub(crate) fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

fn labels(out: &mut String, labels: &[(&str, &str)], le: Option<f64>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (name, value) in labels {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '"' => out.push_str("\\\""),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    if let Some(le) = le {
        if !first {
            out.push(',');
        }
        out.push_str("le=\"");
        write_float(out, le);
        out.push('"');
    }
    out.push('}');
}

/// Appends one sample line with a float value; `labels` must be in name order.
pub(crate) fn sample(out: &mut String, name: &str, label_pairs: &[(&str, &str)], value: f64) {
    out.push_str(name);
    labels(out, label_pairs, None);
    out.push(' ');
    write_float(out, value);
    out.push('\n');
}

/// A histogram's state: cumulative bucket counts (one per bound), total count and sum.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HistogramSnapshot {
    pub(crate) cumulative: Vec<u64>,
    pub(crate) count: u64,
    pub(crate) sum: f64,
}

/// Appends a histogram's `_bucket` lines (then `+Inf`), `_sum` and `_count`.
pub(crate) fn histogram(
    out: &mut String,
    name: &str,
    label_pairs: &[(&str, &str)],
    bounds: &[f64],
    h: &HistogramSnapshot,
) {
    for (bound, count) in bounds.iter().zip(&h.cumulative) {
        out.push_str(name);
        out.push_str("_bucket");
        labels(out, label_pairs, Some(*bound));
        let _ = writeln!(out, " {count}");
    }
    out.push_str(name);
    out.push_str("_bucket");
    labels(out, label_pairs, Some(f64::INFINITY));
    let _ = writeln!(out, " {}", h.count);
    out.push_str(name);
    out.push_str("_sum");
    labels(out, label_pairs, None);
    out.push(' ');
    write_float(out, h.sum);
    out.push('\n');
    out.push_str(name);
    out.push_str("_count");
    labels(out, label_pairs, None);
    let _ = writeln!(out, " {}", h.count);
}

/// Appends `f` as expfmt's `writeFloat` does.
pub(crate) fn write_float(out: &mut String, f: f64) {
    if f == 1.0 {
        out.push('1');
    } else if f == 0.0 {
        out.push('0');
    } else if f == -1.0 {
        out.push_str("-1");
    } else if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        go_format_g(out, f);
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` for a finite, non-zero `f`.
fn go_format_g(out: &mut String, f: f64) {
    // Rust's `{:e}` gives the same shortest round-trip digits: "d[.ddd]e<exp>".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    if f < 0.0 {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        // %e: first digit, the rest after a point, exponent with a sign and two digits at least.
        out.push(char::from(digits[0]));
        if digits.len() > 1 {
            out.push('.');
            digits[1..].iter().for_each(|d| out.push(char::from(*d)));
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.unsigned_abs());
        return;
    }
    // %f with as many decimals as the digits need.
    let point = exp + 1; // digits before the decimal point
    let digit = |i: i32| usize::try_from(i).ok().and_then(|i| digits.get(i)).map_or('0', |d| char::from(*d));
    if point > 0 {
        (0..point).for_each(|i| out.push(digit(i)));
    } else {
        out.push('0');
    }
    let decimals = i32::try_from(digits.len()).unwrap_or(i32::MAX) - point;
    if decimals > 0 {
        out.push('.');
        (point..point + decimals).for_each(|i| out.push(digit(i)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(f: f64) -> String {
        let mut s = String::new();
        write_float(&mut s, f);
        s
    }

    /// Expected strings are Go 1.26's `strconv.FormatFloat(f, 'g', -1, 64)` output.
    #[test]
    fn floats_read_as_go_writes_them() {
        let cases: &[(f64, &str)] = &[
            (0.005, "0.005"),
            (1.25, "1.25"),
            (60.0, "60"),
            (1e6, "1e+06"),
            (123_456_789.0, "1.23456789e+08"),
            (1e21, "1e+21"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (1e-7, "1e-07"),
            (100_000.0, "100000"),
            (1_234_567.5, "1.2345675e+06"),
            (3e20, "3e+20"),
            (9.999_999_999_999_999e-6, "9.999999999999999e-06"),
            (0.038_363_583_488_692_544, "0.038363583488692544"),
            (1_799.999_999_999_998_6, "1799.9999999999986"),
            (-2.5, "-2.5"),
            (1.0, "1"),
            (0.0, "0"),
            (-1.0, "-1"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (f, want) in cases {
            assert_eq!(g(*f), *want, "{f:?}");
        }
    }

    #[test]
    fn escaping() {
        let mut out = String::new();
        header(&mut out, "m", "a \\ b\nc \"q\"", "gauge");
        sample(&mut out, "m", &[("a", "x\"y\\z\nw"), ("b", "")], 2.0);
        assert_eq!(out, "# HELP m a \\\\ b\\nc \"q\"\n# TYPE m gauge\nm{a=\"x\\\"y\\\\z\\nw\",b=\"\"} 2\n");
    }

    #[test]
    fn histogram_lines() {
        let mut out = String::new();
        let h = HistogramSnapshot { cumulative: vec![1, 3], count: 4, sum: 12.5 };
        histogram(&mut out, "h", &[("c", "x")], &[0.5, 1e6], &h);
        assert_eq!(
            out,
            "h_bucket{c=\"x\",le=\"0.5\"} 1\nh_bucket{c=\"x\",le=\"1e+06\"} 3\nh_bucket{c=\"x\",le=\"+Inf\"} 4\n\
             h_sum{c=\"x\"} 12.5\nh_count{c=\"x\"} 4\n"
        );
    }
}
