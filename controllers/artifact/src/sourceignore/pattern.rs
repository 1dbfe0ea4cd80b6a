//! One gitignore pattern and the matcher over an ordered list of them, exactly as fluxcd/pkg
//! `sourceignore/gitignore` (a copy of go-git v5.16's `plumbing/format/gitignore`).
//!
//! A pattern belongs to a *domain*: the path components of the directory whose ignore file
//! declared it. It only ever matches paths strictly below its domain, and it sees them relative
//! to it. Without a `/` (other than a trailing one) a pattern is a *name* pattern: it matches
//! when any component of the relative path matches, so `vendor` also excludes everything under
//! a `vendor` directory. With a `/` it is a *glob*: its `/`-separated parts match the leading
//! components of the relative path (a leading `/` only anchors it), `**` spans any number of
//! components, and it also matches everything below what it matched. A trailing `/` restricts
//! the match to directories, but only when the matched component is the last one of the path.
//!
//! These rules are go-git's, not git's, and Flux users depend on them: for example `/*` with
//! `!/deploy` keeps `deploy/app.yaml`, because the later, negated, pattern matches that path
//! and the matcher stops at the last pattern that matches.

use super::glob;

/// The outcome of matching one pattern against a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchResult {
    /// The pattern says nothing about the path.
    NoMatch,
    /// The pattern excludes the path.
    Exclude,
    /// The pattern (negated with `!`) includes the path again.
    Include,
}

/// One parsed ignore pattern with the domain it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    domain: Vec<Vec<u8>>,
    parts: Vec<Vec<u8>>,
    inclusion: bool,
    dir_only: bool,
    is_glob: bool,
}

impl Pattern {
    /// Parses one pattern line (comments and blank lines must already be dropped) declared in
    /// the directory `domain` (path components relative to the archived root; empty for the
    /// root itself).
    pub fn parse<D: AsRef<[u8]>>(line: &[u8], domain: &[D]) -> Self {
        let mut p = line;
        let mut inclusion = false;
        if let [b'!', rest @ ..] = p {
            inclusion = true;
            p = rest;
        }
        // Trailing spaces are dropped unless the last one is escaped.
        if !p.ends_with(b"\\ ") {
            while let [rest @ .., b' '] = p {
                p = rest;
            }
        }
        let mut dir_only = false;
        if let [rest @ .., b'/'] = p {
            dir_only = true;
            p = rest;
        }
        Self {
            domain: domain.iter().map(|d| d.as_ref().to_vec()).collect(),
            parts: p.split(|&b| b == b'/').map(<[u8]>::to_vec).collect(),
            inclusion,
            dir_only,
            is_glob: p.contains(&b'/'),
        }
    }

    /// Whether this pattern is negated (`!pattern`).
    pub fn is_inclusion(&self) -> bool {
        self.inclusion
    }

    /// Matches `path` (components relative to the archived root) against this pattern.
    pub fn matches<P: AsRef<[u8]>>(&self, path: &[P], is_dir: bool) -> MatchResult {
        if path.len() <= self.domain.len() {
            return MatchResult::NoMatch;
        }
        if self.domain.iter().zip(path).any(|(d, p)| d.as_slice() != p.as_ref()) {
            return MatchResult::NoMatch;
        }
        let path = &path[self.domain.len()..];
        let matched = if self.is_glob { self.glob_match(path, is_dir) } else { self.simple_name_match(path, is_dir) };
        match (matched, self.inclusion) {
            (false, _) => MatchResult::NoMatch,
            (true, true) => MatchResult::Include,
            (true, false) => MatchResult::Exclude,
        }
    }

    fn simple_name_match<P: AsRef<[u8]>>(&self, path: &[P], is_dir: bool) -> bool {
        let pattern = self.parts.first().map_or(&[][..], Vec::as_slice);
        for (i, name) in path.iter().enumerate() {
            match glob::matches(pattern, name.as_ref()) {
                Err(_) => return false,
                Ok(false) => continue,
                Ok(true) => {}
            }
            if self.dir_only && !is_dir && i == path.len() - 1 {
                return false;
            }
            return true;
        }
        false
    }

    fn glob_match<P: AsRef<[u8]>>(&self, mut path: &[P], is_dir: bool) -> bool {
        let mut matched = false;
        let mut can_traverse = false;
        for (i, part) in self.parts.iter().enumerate() {
            if part.is_empty() {
                can_traverse = false;
                continue;
            }
            if part.as_slice() == b"**" {
                if i == self.parts.len() - 1 {
                    break;
                }
                can_traverse = true;
                continue;
            }
            if part.windows(2).any(|w| w == b"**") {
                return false;
            }
            let Some((first, _)) = path.split_first() else {
                return false;
            };
            if can_traverse {
                can_traverse = false;
                while let Some((component, rest)) = path.split_first() {
                    path = rest;
                    match glob::matches(part, component.as_ref()) {
                        Err(_) => return false,
                        Ok(true) => {
                            matched = true;
                            break;
                        }
                        Ok(false) if path.is_empty() => matched = false,
                        Ok(false) => {}
                    }
                }
            } else {
                match glob::matches(part, first.as_ref()) {
                    Ok(true) => {}
                    _ => return false,
                }
                matched = true;
                path = &path[1..];
            }
        }
        if matched && self.dir_only && !is_dir && path.is_empty() {
            matched = false;
        }
        matched
    }
}

/// An ordered list of patterns, lowest priority first (go-git's `Matcher`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matcher {
    patterns: Vec<Pattern>,
}

impl Matcher {
    /// A matcher over `patterns`, given in increasing priority: defaults first, then the
    /// root's ignore file, then deeper ones, then those from the object's spec.
    pub fn new(patterns: Vec<Pattern>) -> Self {
        Self { patterns }
    }

    /// Whether `path` is excluded: the last pattern that matches decides.
    pub fn is_excluded<P: AsRef<[u8]>>(&self, path: &[P], is_dir: bool) -> bool {
        self.patterns.iter().rev().map(|p| p.matches(path, is_dir)).find(|r| *r != MatchResult::NoMatch)
            == Some(MatchResult::Exclude)
    }

    /// Whether any pattern is negated. Without one, everything below an excluded directory is
    /// excluded too (a pattern that matches a directory matches every path below it), so a
    /// walk may skip such a directory without looking inside.
    pub fn has_inclusions(&self) -> bool {
        self.patterns.iter().any(Pattern::is_inclusion)
    }

    /// The patterns, lowest priority first.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &[&str] = &[];

    fn p(line: &str) -> Pattern {
        Pattern::parse(line.as_bytes(), ROOT)
    }

    fn split(path: &str) -> Vec<&str> {
        path.split('/').collect()
    }

    fn check(pattern: &Pattern, path: &str, is_dir: bool) -> MatchResult {
        pattern.matches(&split(path), is_dir)
    }

    use MatchResult::{Exclude, Include, NoMatch};

    #[test]
    fn parse_flags() {
        let x = p("!foo/ ");
        assert!(x.inclusion && x.dir_only && !x.is_glob);
        assert_eq!(x.parts, vec![b"foo".to_vec()]);
        let y = p("a/b\\ ");
        assert!(y.is_glob && !y.dir_only);
        assert_eq!(y.parts, vec![b"a".to_vec(), b"b\\ ".to_vec()]);
        let z = p("/abs");
        assert_eq!(z.parts, vec![b"".to_vec(), b"abs".to_vec()]);
        assert!(z.is_glob);
    }

    /// Cases from go-git's pattern_test.go, which fluxcd/pkg keeps.
    #[test]
    fn go_git_simple_and_glob_cases() {
        assert_eq!(check(&p("vul?ano"), "value/vulkano/tail", false), Exclude);
        assert_eq!(check(&p("!vul?ano"), "value/vulkano/tail", false), Include);
        assert_eq!(check(&p("vul?ano/"), "value/vulkano", true), Exclude);
        assert_eq!(check(&p("vul?ano/"), "value/vulkano", false), NoMatch);
        assert_eq!(check(&p("vul?ano/"), "value/vulkano/tail", false), Exclude);
        assert_eq!(check(&p("vulkano"), "value/volcano/tail", false), NoMatch);
        assert_eq!(check(&p("/value/vul?ano"), "value/vulkano", false), Exclude);
        assert_eq!(check(&p("/value/vul?ano"), "value/vulkano/tail", false), Exclude);
        assert_eq!(check(&p("/vul?ano"), "value/vulkano", false), NoMatch);
        assert_eq!(check(&p("value/vul?ano"), "value/vulkano", false), Exclude);
        assert_eq!(check(&p("/value/vul?ano/"), "value/vulkano", false), NoMatch);
        assert_eq!(check(&p("/value/vul?ano/"), "value/vulkano", true), Exclude);
        assert_eq!(check(&p("/value/vul?ano/"), "value/vulkano/tail", false), Exclude);
        assert_eq!(check(&p("**/*lue/vol?ano"), "head/value/volcano", false), Exclude);
        assert_eq!(check(&p("**/*lue/vol?ano"), "head/value/Volcano/tail", false), NoMatch);
        assert_eq!(check(&p("**/*lue/vol?ano"), "value/volcano/tail", false), Exclude);
        assert_eq!(check(&p("/*lue/**/vol?ano"), "value/volcano", false), Exclude);
        assert_eq!(check(&p("/*lue/**/vol?ano"), "value/middle/volcano", false), Exclude);
        assert_eq!(check(&p("/*lue/**/vol?ano"), "value/middle1/middle2/volcano", false), Exclude);
        assert_eq!(check(&p("/*lue/**/vol?ano"), "value/middle/mid/Volcano", false), NoMatch);
        assert_eq!(check(&p("/*lue/**/vol?ano"), "value/volcano/tail", false), Exclude);
        assert_eq!(check(&p("/*lue/**/vol?ano/"), "value/volcano", false), NoMatch);
        assert_eq!(check(&p("/*lue/**/vol?ano/"), "value/volcano", true), Exclude);
        assert_eq!(check(&p("/*lue/**"), "value/volcano", false), Exclude);
        assert_eq!(check(&p("/*lue/**"), "value", true), Exclude);
        assert_eq!(check(&p("/*lue/vol?ano/**"), "value/volcano/tail", false), Exclude);
        assert_eq!(check(&p("/*lue/vol?ano/**"), "value/volcano", true), Exclude);
        assert_eq!(check(&p("**/head/v[ou]l[kc]ano"), "head/volcano", false), Exclude);
        assert_eq!(check(&p("**/head/v[ou]l[kc]ano"), "value/head/Volcano", false), NoMatch);
        assert_eq!(check(&p("**/head/v[ou]l[kc]ano"), "value/head/volcano", false), Exclude);
        assert_eq!(check(&p("**/head/v[ou]l[kc]ano/"), "value/head/volcano", false), NoMatch);
        assert_eq!(check(&p("/**/v[ou]l[kc]ano"), "value/volcano", false), Exclude);
        assert_eq!(check(&p("/**/v[ou]l[kc]ano"), "value/Volcano", false), NoMatch);
        assert_eq!(check(&p("/a/**/v[ou]l[kc]ano"), "b/volcano", false), NoMatch);
        // `**` inside a part is not special: the pattern never matches.
        assert_eq!(check(&p("/a**b/c"), "axxb/c", false), NoMatch);
        // A bad glob never matches.
        assert_eq!(check(&p("[a"), "[a", false), NoMatch);
        assert_eq!(check(&p("x/[a"), "x/[a", false), NoMatch);
    }

    #[test]
    fn domain_scopes_patterns() {
        let pat = Pattern::parse(b"*.yaml", &["apps"]);
        assert_eq!(pat.matches(&["apps", "a.yaml"], false), Exclude);
        assert_eq!(pat.matches(&["apps", "x", "a.yaml"], false), Exclude);
        assert_eq!(pat.matches(&["infra", "a.yaml"], false), NoMatch);
        assert_eq!(pat.matches(&["a.yaml"], false), NoMatch);
        // The domain directory itself is never matched by its own patterns.
        assert_eq!(Pattern::parse(b"apps", &["apps"]).matches(&["apps"], true), NoMatch);
        let anchored = Pattern::parse(b"/a.yaml", &["apps"]);
        assert_eq!(anchored.matches(&["apps", "a.yaml"], false), Exclude);
        assert_eq!(anchored.matches(&["apps", "x", "a.yaml"], false), NoMatch);
        // A root pattern never matches the root (an empty path).
        assert_eq!(p("*").matches::<&str>(&[], true), NoMatch);
    }

    #[test]
    fn matcher_last_match_wins_and_negation_reaches_into_excluded_dirs() {
        let m = Matcher::new(vec![p("/*"), p("!/deploy")]);
        assert!(m.is_excluded(&["README.md"], false));
        assert!(!m.is_excluded(&["deploy"], true));
        assert!(!m.is_excluded(&["deploy", "app.yaml"], false));
        // go-git semantics: a file can be re-included below an excluded directory.
        let m = Matcher::new(vec![p("config/"), p("!config/keep.yaml")]);
        assert!(m.is_excluded(&["config"], true));
        assert!(!m.is_excluded(&["config", "keep.yaml"], false));
        assert!(m.is_excluded(&["config", "other.yaml"], false));
        assert!(m.has_inclusions());
        assert!(!Matcher::new(vec![p("x")]).has_inclusions());
        // A later exclusion overrides an earlier negation.
        let m = Matcher::new(vec![p("!*.md"), p("*.md")]);
        assert!(m.is_excluded(&["a.md"], false));
        assert!(!Matcher::default().is_excluded(&["a"], false));
    }
}
