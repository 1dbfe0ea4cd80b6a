//! `semver` and `semverCompare` with Masterminds/semver v3's parsing and constraint rules
//! (`~`, `^`, wildcards, hyphen ranges, `||`, and prereleases matched only by constraints that
//! name one).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::rc::Rc;

use crate::funcs::{FResult, Func, FuncError, arg_str, want};
use crate::value::{Object, Value};

/// A parsed version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    meta: String,
    original: String,
}

impl Version {
    /// Parses a version leniently (`v` prefix, missing minor/patch), as `semver.NewVersion`.
    pub fn parse(s: &str) -> Option<Version> {
        let body = s.strip_prefix('v').unwrap_or(s);
        let (body, meta) = body.split_once('+').map_or((body, ""), |(a, b)| (a, b));
        let (core, pre) = body.split_once('-').map_or((body, ""), |(a, b)| (a, b));
        let valid_ids =
            |x: &str| x.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if (!pre.is_empty() && !valid_ids(pre)) || (!meta.is_empty() && !valid_ids(meta)) {
            return None;
        }
        if s.contains('-') && pre.is_empty() || s.contains('+') && meta.is_empty() {
            return None;
        }
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty()
            || parts.len() > 3
            || parts.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
        {
            return None;
        }
        let num = |i: usize| parts.get(i).map_or(Some(0), |p| p.parse::<u64>().ok());
        Some(Version {
            major: num(0)?,
            minor: num(1)?,
            patch: num(2)?,
            pre: pre.into(),
            meta: meta.into(),
            original: s.into(),
        })
    }

    fn cmp_pre(a: &str, b: &str) -> Ordering {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            _ => {}
        }
        let (pa, pb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
        for (x, y) in pa.iter().zip(pb.iter()) {
            let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                (Ok(m), Ok(n)) => m.cmp(&n),
                (Ok(_), Err(_)) => Ordering::Less,
                (Err(_), Ok(_)) => Ordering::Greater,
                _ => x.cmp(y),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        pa.len().cmp(&pb.len())
    }

    /// Semver precedence (metadata ignored).
    pub fn compare(&self, o: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| Version::cmp_pre(&self.pre, &o.pre))
    }

    fn display(&self) -> String {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.pre.is_empty() {
            s.push('-');
            s.push_str(&self.pre);
        }
        if !self.meta.is_empty() {
            s.push('+');
            s.push_str(&self.meta);
        }
        s
    }
}

impl Object for Version {
    fn type_name(&self) -> &str {
        "*semver.Version"
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Major" => Value::Int(self.major as i64),
            "Minor" => Value::Int(self.minor as i64),
            "Patch" => Value::Int(self.patch as i64),
            "Prerelease" => Value::str(self.pre.as_str()),
            "Metadata" => Value::str(self.meta.as_str()),
            "Original" => Value::str(self.original.as_str()),
            "String" => Value::str(self.display()),
            _ => return None,
        })
    }
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let other = || match args.first() {
            Some(Value::Object(o)) => Version::parse(&o.display()).ok_or_else(|| "not a version".to_string()),
            _ => Err(format!("wrong number of args for {name}: want 1 got {}", args.len())),
        };
        Some(match name {
            "Compare" => other().map(|o| Value::Int(self.compare(&o) as i64)),
            "LessThan" => other().map(|o| Value::Bool(self.compare(&o) == Ordering::Less)),
            "GreaterThan" => other().map(|o| Value::Bool(self.compare(&o) == Ordering::Greater)),
            "Equal" => other().map(|o| Value::Bool(self.compare(&o) == Ordering::Equal)),
            _ => return None,
        })
    }
    fn display(&self) -> String {
        self.display()
    }
}

/// One parsed `op version` term; `parts` counts the version parts given (wildcards stop it).
struct Term {
    op: String,
    v: Version,
    parts: usize,
}

fn parse_term(t: &str) -> Option<Term> {
    let t = t.trim();
    let ops = ["!=", ">=", "=>", "<=", "=<", "~>", ">", "<", "=", "~", "^"];
    let op = ops.iter().find(|o| t.starts_with(**o)).copied().unwrap_or("");
    let ver = t[op.len()..].trim();
    let ver = ver.strip_prefix('v').unwrap_or(ver);
    let (core, tail) = match ver.find(['-', '+']) {
        Some(i) => (&ver[..i], &ver[i..]),
        None => (ver, ""),
    };
    let mut nums = Vec::new();
    for p in core.split('.') {
        if matches!(p, "x" | "X" | "*") {
            break;
        }
        nums.push(p);
    }
    if core.split('.').count() > 3 {
        return None;
    }
    let parts = nums.len();
    let filled: Vec<&str> = (0..3).map(|i| nums.get(i).copied().unwrap_or("0")).collect();
    let v = Version::parse(&format!("{}{tail}", filled.join(".")))?;
    let op = match op {
        "=>" => ">=",
        "=<" => "<=",
        "~>" => "~",
        o => o,
    };
    Some(Term { op: op.into(), v, parts })
}

fn bump(v: &Version, part: usize) -> Version {
    let mut n = Version { pre: String::new(), meta: String::new(), ..v.clone() };
    match part {
        0 => {
            n.major += 1;
            n.minor = 0;
            n.patch = 0;
        }
        1 => {
            n.minor += 1;
            n.patch = 0;
        }
        _ => n.patch += 1,
    }
    n
}

fn term_matches(t: &Term, v: &Version) -> bool {
    if !v.pre.is_empty() && t.v.pre.is_empty() {
        return false;
    }
    let c = &t.v;
    let ge = |x: &Version| v.compare(x) != Ordering::Less;
    let lt = |x: &Version| v.compare(x) == Ordering::Less;
    match t.op.as_str() {
        "" | "=" => match t.parts {
            0 => true,
            1 => v.major == c.major,
            2 => v.major == c.major && v.minor == c.minor,
            _ => v.compare(c) == Ordering::Equal,
        },
        "!=" => match t.parts {
            0 => false,
            1 => v.major != c.major,
            2 => !(v.major == c.major && v.minor == c.minor),
            _ => v.compare(c) != Ordering::Equal,
        },
        ">" => match t.parts {
            0 => false,
            1 => v.major > c.major,
            2 => (v.major, v.minor) > (c.major, c.minor),
            _ => v.compare(c) == Ordering::Greater,
        },
        ">=" => ge(c),
        "<" => lt(c),
        "<=" => match t.parts {
            0 => true,
            1 => v.major <= c.major,
            2 => (v.major, v.minor) <= (c.major, c.minor),
            _ => v.compare(c) != Ordering::Greater,
        },
        "~" => {
            let upper = if t.parts <= 1 { bump(c, 0) } else { bump(c, 1) };
            ge(c) && lt(&upper)
        }
        "^" => {
            let upper = if c.major > 0 || t.parts <= 1 {
                bump(c, 0)
            } else if c.minor > 0 || t.parts == 2 {
                bump(c, 1)
            } else {
                bump(c, 2)
            };
            ge(c) && lt(&upper)
        }
        _ => false,
    }
}

/// Whether `version` satisfies `constraint`; `Err` carries Masterminds' message.
pub fn matches(constraint: &str, version: &str) -> Result<bool, String> {
    let improper = || format!("improper constraint: {}", crate::template::format::go_quote(constraint));
    // The constraint is parsed first.
    for group in constraint.split("||") {
        if group.trim().is_empty() {
            return Err(improper());
        }
        for t in group.split([',', ' ']).filter(|s| !s.is_empty() && *s != "-") {
            let ops = ["=", "!=", ">", "<", ">=", "<=", "~", "^", "=>", "=<", "~>"];
            if !ops.contains(&t) && parse_term(t).is_none() {
                return Err(improper());
            }
        }
    }
    let v = Version::parse(version).ok_or_else(|| "invalid semantic version".to_string())?;
    let mut any = false;
    for group in constraint.split("||") {
        let mut terms = Vec::new();
        let g = group.trim();
        // Hyphen ranges: "1.2 - 1.4".
        let tokens: Vec<&str> = g.split([',', ' ']).filter(|s| !s.is_empty()).collect();
        let mut i = 0;
        while i < tokens.len() {
            if i + 2 < tokens.len() && tokens[i + 1] == "-" {
                terms.push(format!(">={}", tokens[i]));
                terms.push(format!("<={}", tokens[i + 2]));
                i += 3;
                continue;
            }
            // An operator separated from its version by a space.
            if ["=", "!=", ">", "<", ">=", "<=", "~", "^", "=>", "=<", "~>"].contains(&tokens[i])
                && i + 1 < tokens.len()
            {
                terms.push(format!("{}{}", tokens[i], tokens[i + 1]));
                i += 2;
                continue;
            }
            terms.push(tokens[i].to_string());
            i += 1;
        }
        let mut ok = true;
        for t in &terms {
            let term = parse_term(t).ok_or_else(improper)?;
            if !term_matches(&term, &v) {
                ok = false;
            }
        }
        if !terms.is_empty() && ok {
            any = true;
        }
    }
    Ok(any)
}

fn semver_compare(a: &[Value]) -> FResult {
    want(a, 2, "semverCompare")?;
    matches(&arg_str(a, 0)?, &arg_str(a, 1)?).map(Value::Bool).map_err(FuncError::Plain)
}

pub(super) fn register(m: &mut HashMap<&'static str, Func>) {
    m.insert("semverCompare", |_, a| semver_compare(a));
    m.insert("semver", |_, a| {
        want(a, 1, "semver")?;
        let s = arg_str(a, 0)?;
        Version::parse(&s)
            .map(|v| Value::Object(Rc::new(v)))
            .ok_or_else(|| FuncError::Plain("invalid semantic version".into()))
    });
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn constraints() {
        let m = |c: &str, v: &str| matches(c, v).unwrap_or(false);
        assert!(m(">=1.19-0", "v1.37.0"));
        assert!(m(">=1.19-0", "1.20.0-gke.1"));
        assert!(!m(">=1.19", "1.20.0-gke.1"));
        assert!(m("~1.2", "1.2.9"));
        assert!(!m("~1.2", "1.3.0"));
        assert!(m("^0.2.3", "0.2.9"));
        assert!(!m("^0.2.3", "0.3.0"));
        assert!(m("1.2.x", "1.2.7"));
        assert!(m("<1.0 || >=2.1", "2.1.0"));
        assert!(m("1.1 - 1.3", "1.2.0"));
        assert!(matches("bad!", "1.0.0").is_err());
    }
}
