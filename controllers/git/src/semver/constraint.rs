//! Constraints as Masterminds/semver v3 (`NewConstraint`, `Check`) reads and applies them.
//!
//! The grammar is Masterminds' own, kept as its regular expressions so the corner cases agree:
//! `||` separates alternatives; inside one, constraints are separated by spaces or commas and all
//! must hold; each is an operator (`=`, none, `!=`, `>`, `<`, `>=`, `=>`, `<=`, `=<`, `~`, `~>`,
//! `^`) and a version that may be partial (`1.2`) or use `x`, `X`, `*` wildcards; `A - B` is
//! rewritten to `>= A, <= B` first. A pre-release version only satisfies an alternative that itself
//! names a pre-release somewhere (Masterminds' `containsPre`), never one without.

use std::sync::LazyLock;

use regex::Regex;

use super::version::{Version, compare_prerelease};

/// The longest constraint Masterminds accepts (`MaxConstraintLen`).
const MAX_CONSTRAINT_LEN: usize = 512;
/// The most `||` alternatives Masterminds accepts (`MaxConstraintGroups`).
const MAX_CONSTRAINT_GROUPS: usize = 32;

/// Masterminds' `cvRegex`: a possibly partial or wildcard version.
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
/// The operators, in Masterminds' order (the order decides which alternative matches first).
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";
/// Go's `\s` is ASCII whitespace; Rust's would be Unicode.
const S: &str = r"[\t\n\f\r ]";

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| unreachable!("static regex: {e}"))
}

static CONSTRAINT: LazyLock<Regex> = LazyLock::new(|| regex(&format!(r"^{S}*({OPS}){S}*({CV}){S}*$")));
static RANGE: LazyLock<Regex> = LazyLock::new(|| regex(&format!(r"{S}*({CV}){S}+-{S}+({CV}){S}*")));
static FIND: LazyLock<Regex> = LazyLock::new(|| regex(&format!(r"({OPS}){S}*({CV})")));
static VALID: LazyLock<Regex> =
    LazyLock::new(|| regex(&format!(r"^({S}*({OPS}){S}*({CV}){S}*)((?:{S}+|,{S}*)({OPS}){S}*({CV}){S}*)*$")));

/// Why a constraint string is not a constraint (Flux: `semver parse error: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    /// An alternative does not follow the grammar.
    #[error("improper constraint: {0:?}")]
    Improper(String),
    /// A version inside the constraint does not parse (e.g. a number too large).
    #[error("constraint parser error")]
    Parser,
    /// Longer than 512 bytes.
    #[error("constraint string is too long (max {MAX_CONSTRAINT_LEN} bytes)")]
    TooLong,
    /// More than 32 `||` alternatives.
    #[error("too many constraint groups (max {MAX_CONSTRAINT_GROUPS})")]
    TooManyGroups,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

impl Op {
    fn parse(op: &str) -> Option<Self> {
        Some(match op {
            "" | "=" => Self::TildeOrEqual,
            "!=" => Self::NotEqual,
            ">" => Self::Greater,
            "<" => Self::Less,
            ">=" | "=>" => Self::GreaterEqual,
            "<=" | "=<" => Self::LessEqual,
            "~" | "~>" => Self::Tilde,
            "^" => Self::Caret,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
struct Single {
    op: Op,
    con: Version,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

/// A parsed constraint: alternatives of conjunctions.
#[derive(Debug, Clone)]
pub struct Constraint {
    groups: Vec<Vec<Single>>,
    contains_pre: Vec<bool>,
    text: String,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "*" | "X")
}

fn rewrite_range(input: &str) -> String {
    let mut out = input.to_owned();
    for m in RANGE.captures_iter(input) {
        let (Some(whole), Some(from), Some(to)) = (m.get(0), m.get(1), m.get(11)) else { continue };
        let replacement = format!(">= {}, <= {} ", from.as_str(), to.as_str());
        out = out.replacen(whole.as_str(), &replacement, 1);
    }
    out
}

fn parse_single(text: &str) -> Result<Single, ConstraintError> {
    let m = CONSTRAINT.captures(text).ok_or_else(|| ConstraintError::Improper(text.to_owned()))?;
    let group = |i: usize| m.get(i).map_or("", |g| g.as_str());
    let op = Op::parse(group(1)).ok_or_else(|| ConstraintError::Improper(text.to_owned()))?;
    let (major, minor, patch, pre) = (group(3), group(4), group(5), group(6));
    let (mut dirty, mut minor_dirty, mut patch_dirty) = (false, false, false);
    let version = if is_x(major) || major.is_empty() {
        dirty = true;
        format!("0.0.0{pre}")
    } else if is_x(minor.trim_start_matches('.')) || minor.is_empty() {
        (dirty, minor_dirty) = (true, true);
        format!("{major}.0.0{pre}")
    } else if is_x(patch.trim_start_matches('.')) || patch.is_empty() {
        (dirty, patch_dirty) = (true, true);
        format!("{major}{minor}.0{pre}")
    } else {
        group(2).to_owned()
    };
    let con = Version::parse(&version).map_err(|_| ConstraintError::Parser)?;
    Ok(Single { op, con, minor_dirty, patch_dirty, dirty })
}

impl Constraint {
    /// Parses `c` as Masterminds' `NewConstraint`.
    ///
    /// # Errors
    ///
    /// [`ConstraintError`] when `c` is not a constraint.
    pub fn parse(c: &str) -> Result<Self, ConstraintError> {
        if c.len() > MAX_CONSTRAINT_LEN {
            return Err(ConstraintError::TooLong);
        }
        let rewritten = rewrite_range(c);
        let ors: Vec<&str> = rewritten.split("||").collect();
        if ors.len() > MAX_CONSTRAINT_GROUPS {
            return Err(ConstraintError::TooManyGroups);
        }
        let mut groups = Vec::with_capacity(ors.len());
        let mut contains_pre = Vec::with_capacity(ors.len());
        for alternative in ors {
            if !VALID.is_match(alternative) {
                return Err(ConstraintError::Improper(alternative.to_owned()));
            }
            let mut found: Vec<&str> = FIND.find_iter(alternative).map(|m| m.as_str()).collect();
            if found.is_empty() {
                found.push(alternative);
            }
            let singles = found.into_iter().map(parse_single).collect::<Result<Vec<_>, _>>()?;
            contains_pre.push(singles.iter().any(|s| !s.con.prerelease().is_empty()));
            groups.push(singles);
        }
        Ok(Self { groups, contains_pre, text: c.to_owned() })
    }

    /// The text this constraint was parsed from.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Masterminds' `Check`: does `v` satisfy any alternative?
    #[must_use]
    pub fn matches(&self, v: &Version) -> bool {
        self.groups
            .iter()
            .zip(&self.contains_pre)
            .any(|(group, &include_pre)| group.iter().all(|c| c.check(v, include_pre)))
    }
}

impl Single {
    fn check(&self, v: &Version, include_pre: bool) -> bool {
        if !v.prerelease().is_empty() && !include_pre {
            return false;
        }
        match self.op {
            Op::NotEqual => self.not_equal(v),
            Op::Greater => self.greater(v),
            Op::Less => v.compare(&self.con).is_lt(),
            Op::GreaterEqual => v.compare(&self.con).is_ge(),
            Op::LessEqual => self.less_equal(v),
            Op::Tilde => self.tilde(v),
            Op::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v.compare(&self.con).is_eq()
                }
            }
            Op::Caret => self.caret(v),
        }
    }

    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.con;
        if self.dirty {
            if c.major() != v.major() {
                return true;
            }
            if c.minor() != v.minor() && !self.minor_dirty {
                return true;
            } else if self.minor_dirty {
                return false;
            } else if c.patch() != v.patch() && !self.patch_dirty {
                return true;
            } else if self.patch_dirty {
                if !v.prerelease().is_empty() || !c.prerelease().is_empty() {
                    return compare_prerelease(v.prerelease(), c.prerelease()).is_ne();
                }
                return false;
            }
        }
        !v.compare(c).is_eq()
    }

    fn greater(&self, v: &Version) -> bool {
        let c = &self.con;
        if !self.dirty {
            return v.compare(c).is_gt();
        }
        if v.major() > c.major() {
            true
        } else if v.major() < c.major() || self.minor_dirty {
            false
        } else if self.patch_dirty {
            v.minor() > c.minor()
        } else {
            v.compare(c).is_gt()
        }
    }

    fn less_equal(&self, v: &Version) -> bool {
        let c = &self.con;
        if !self.dirty {
            return v.compare(c).is_le();
        }
        !(v.major() > c.major() || (v.major() == c.major() && v.minor() > c.minor() && !self.minor_dirty))
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c).is_lt() {
            return false;
        }
        if c.major() == 0 && c.minor() == 0 && c.patch() == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major() != c.major() {
            return false;
        }
        v.minor() == c.minor() || self.minor_dirty
    }

    fn caret(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c).is_lt() {
            return false;
        }
        if c.major() > 0 || self.minor_dirty {
            return v.major() == c.major();
        }
        if v.major() > 0 {
            return false;
        }
        if c.minor() > 0 || self.patch_dirty {
            return v.minor() == c.minor();
        }
        if v.minor() > 0 {
            return false;
        }
        c.patch() == v.patch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(c: &str, v: &str) -> bool {
        Constraint::parse(c).unwrap().matches(&Version::parse(v).unwrap())
    }

    #[test]
    fn basic_operators() {
        assert!(check(">=1.2.3 <2.0.0", "1.9.0"));
        assert!(!check(">=1.2.3, <2.0.0", "2.0.0"));
        assert!(check("~1.2", "1.2.9"));
        assert!(!check("~1.2", "1.3.0"));
        assert!(check("^0.2.3", "0.2.9"));
        assert!(!check("^0.2.3", "0.3.0"));
        assert!(check("1.2.3 - 2.3.4", "2.3.4"));
        assert!(check("<1.0.0 || >=2.0.0", "2.1.0"));
    }

    #[test]
    fn prereleases_need_a_prerelease_in_the_alternative() {
        assert!(!check(">=1.0.0", "1.2.3-rc.1"));
        assert!(check(">=1.0.0-0", "1.2.3-rc.1"));
        assert!(!check(">=2.0.0-rc.1 || <1.0.0", "0.9.0-rc.1"));
    }

    #[test]
    fn invalid_constraints_are_typed_errors() {
        assert!(matches!(Constraint::parse("foo"), Err(ConstraintError::Improper(_))));
        assert!(matches!(Constraint::parse("1.2.3 ||"), Err(ConstraintError::Improper(_))));
        assert!(Constraint::parse(&"1".repeat(600)).is_err());
    }
}
