//! The known-differences list and the verdict.
//!
//! The file has one entry per line, `scenario | field | why`, where `field` is a path prefix
//! of the differences [`crate::diff::compare`] reports (`kustomizations.app.conditions[Ready]`
//! covers every field of that condition). `#` starts a comment; blank lines are ignored.
//!
//! The verdict fails when a difference is not covered by an entry of its scenario, and when an
//! entry of a scenario that ran covers no difference any more (it must then be removed).

use std::collections::BTreeMap;

use thiserror::Error;

use crate::diff::Difference;

/// A malformed known-differences file.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("known differences, line {line}: {problem}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// One listed difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDifference {
    /// The scenario's name.
    pub scenario: String,
    /// A path prefix of the differing fields.
    pub field: String,
    /// Why the difference exists (or is accepted).
    pub why: String,
}

impl KnownDifference {
    /// Whether this entry covers `d` of `scenario`.
    #[must_use]
    pub fn covers(&self, scenario: &str, d: &Difference) -> bool {
        self.scenario == scenario
            && (d.path == self.field
                || d.path.strip_prefix(&self.field).is_some_and(|rest| rest.starts_with(['.', '['])))
    }
}

/// Parses the file's text.
///
/// # Errors
/// A line that is not `scenario | field | why` with three non-empty parts.
pub fn parse(text: &str) -> Result<Vec<KnownDifference>, ParseError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, '|').map(str::trim);
        let (Some(scenario), Some(field), Some(why)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(ParseError { line: i + 1, problem: "expected `scenario | field | why`" });
        };
        if scenario.is_empty() || field.is_empty() || why.is_empty() {
            return Err(ParseError { line: i + 1, problem: "scenario, field and why must all be given" });
        }
        out.push(KnownDifference { scenario: scenario.to_owned(), field: field.to_owned(), why: why.to_owned() });
    }
    Ok(out)
}

/// What one run found, scenario by scenario.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Differences no entry covers, by scenario.
    pub unexpected: BTreeMap<String, Vec<Difference>>,
    /// Entries (of scenarios that ran) that cover no difference.
    pub stale: Vec<KnownDifference>,
    /// Differences covered by an entry, with the entry's reason, by scenario.
    pub known: BTreeMap<String, Vec<(Difference, String)>>,
}

impl Verdict {
    /// Whether Flux and Eddy agree up to the listed differences.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.unexpected.is_empty() && self.stale.is_empty()
    }
}

/// Judges each scenario's differences against the list; `results` holds every scenario that
/// ran (also those without differences).
#[must_use]
pub fn judge(results: &BTreeMap<String, Vec<Difference>>, known: &[KnownDifference]) -> Verdict {
    let mut v = Verdict::default();
    for (scenario, diffs) in results {
        for d in diffs {
            match known.iter().find(|k| k.covers(scenario, d)) {
                Some(k) => v.known.entry(scenario.clone()).or_default().push((d.clone(), k.why.clone())),
                None => v.unexpected.entry(scenario.clone()).or_default().push(d.clone()),
            }
        }
    }
    for k in known {
        if let Some(diffs) = results.get(&k.scenario)
            && !diffs.iter().any(|d| k.covers(&k.scenario, d))
        {
            v.stale.push(k.clone());
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(path: &str) -> Difference {
        Difference { path: path.into(), flux: "1".into(), eddy: "2".into() }
    }

    #[test]
    fn parses_entries_and_skips_comments() {
        let k = parse("# header\n\nprune | kustomizations.app.events | Eddy reports x | with a pipe\n").expect("parse");
        assert_eq!(k.len(), 1);
        assert_eq!(k[0].scenario, "prune");
        assert_eq!(k[0].field, "kustomizations.app.events");
        assert_eq!(k[0].why, "Eddy reports x | with a pipe");
    }

    #[test]
    fn rejects_incomplete_lines() {
        assert_eq!(parse("a | b\n").unwrap_err().line, 1);
        assert_eq!(parse("# c\na |  | why\n").unwrap_err().line, 2);
    }

    #[test]
    fn field_is_a_path_prefix_on_segment_boundaries() {
        let k = KnownDifference { scenario: "s".into(), field: "a.conditions[Ready]".into(), why: "w".into() };
        assert!(k.covers("s", &d("a.conditions[Ready].message")));
        assert!(k.covers("s", &d("a.conditions[Ready]")));
        assert!(!k.covers("s", &d("a.conditions[ReadyX].message")));
        assert!(!k.covers("t", &d("a.conditions[Ready].message")));
    }

    #[test]
    fn unlisted_difference_fails() {
        let results = BTreeMap::from([("s".to_owned(), vec![d("x.y")])]);
        let v = judge(&results, &[]);
        assert!(!v.passed());
        assert_eq!(v.unexpected["s"].len(), 1);
    }

    #[test]
    fn listed_difference_passes() {
        let results = BTreeMap::from([("s".to_owned(), vec![d("x.y")])]);
        let k = parse("s | x | because\n").expect("parse");
        let v = judge(&results, &k);
        assert!(v.passed(), "{v:?}");
        assert_eq!(v.known["s"][0].1, "because");
    }

    #[test]
    fn entry_that_stopped_differing_fails() {
        let results = BTreeMap::from([("s".to_owned(), vec![])]);
        let k = parse("s | x | fixed since\n").expect("parse");
        let v = judge(&results, &k);
        assert!(!v.passed());
        assert_eq!(v.stale.len(), 1);
    }

    #[test]
    fn entries_of_scenarios_not_run_are_not_judged() {
        let results = BTreeMap::from([("s".to_owned(), vec![])]);
        let k = parse("other | x | not selected\n").expect("parse");
        assert!(judge(&results, &k).passed());
    }
}
