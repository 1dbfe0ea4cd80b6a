//! Selecting resources by target (patches, replacements).

use regex::Regex;

use crate::Error;
use crate::kustomization::Target;
use crate::resource::Resource;

fn anchored(pat: &str) -> Result<Regex, Error> {
    Regex::new(&format!("^(?:{pat})$"))
        .map_err(|e| Error::transform(format!("invalid regular expression {pat:?} in target: {e}")))
}

/// A compiled target.
pub struct Selector {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Option<Vec<Req>>,
    annotations: Option<Vec<Req>>,
}

impl Selector {
    /// Compiles a target.
    pub fn new(t: &Target) -> Result<Self, Error> {
        Ok(Selector {
            group: t.group.as_deref().filter(|s| !s.is_empty()).map(anchored).transpose()?,
            version: t.version.as_deref().filter(|s| !s.is_empty()).map(anchored).transpose()?,
            kind: t.kind.as_deref().filter(|s| !s.is_empty()).map(anchored).transpose()?,
            name: t.name.as_deref().filter(|s| !s.is_empty()).map(anchored).transpose()?,
            namespace: t.namespace.as_deref().filter(|s| !s.is_empty()).map(anchored).transpose()?,
            labels: t.label_selector.as_deref().filter(|s| !s.is_empty()).map(parse_selector).transpose()?,
            annotations: t.annotation_selector.as_deref().filter(|s| !s.is_empty()).map(parse_selector).transpose()?,
        })
    }

    /// Compiles a target whose names, namespaces and kinds are matched
    /// literally (replacements do not take regular expressions).
    pub fn exact(t: &Target) -> Result<Self, Error> {
        let esc = |o: &Option<String>| o.as_deref().map(regex::escape);
        Self::new(&Target {
            group: esc(&t.group),
            version: esc(&t.version),
            kind: esc(&t.kind),
            name: esc(&t.name),
            namespace: esc(&t.namespace),
            label_selector: t.label_selector.clone(),
            annotation_selector: t.annotation_selector.clone(),
        })
    }

    /// Whether the resource is selected.
    #[must_use]
    pub fn matches(&self, r: &Resource) -> bool {
        if self.group.as_ref().is_some_and(|re| !re.is_match(r.group())) {
            return false;
        }
        if self.version.as_ref().is_some_and(|re| !re.is_match(r.version())) {
            return false;
        }
        if self.kind.as_ref().is_some_and(|re| !re.is_match(r.kind())) {
            return false;
        }
        if let Some(re) = &self.name
            && !re.is_match(&r.orig.name)
            && !re.is_match(r.name())
        {
            return false;
        }
        if let Some(re) = &self.namespace {
            let eff = |s: &str| {
                if s.is_empty() { "default".to_string() } else { s.to_string() }
            };
            if !re.is_match(&eff(&r.orig.namespace)) && !re.is_match(&eff(r.namespace())) {
                return false;
            }
        }
        if let Some(reqs) = &self.labels {
            let labels = r.labels();
            if !reqs.iter().all(|q| q.matches(&labels)) {
                return false;
            }
        }
        if let Some(reqs) = &self.annotations {
            let ann = r.annotations();
            if !reqs.iter().all(|q| q.matches(&ann)) {
                return false;
            }
        }
        true
    }
}

enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl Req {
    fn matches(&self, labels: &[(String, String)]) -> bool {
        let get = |k: &str| labels.iter().find(|(lk, _)| lk == k).map(|(_, v)| v.as_str());
        match self {
            Req::Eq(k, v) => get(k) == Some(v.as_str()),
            Req::Ne(k, v) => get(k) != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
        }
    }
}

/// Parses a Kubernetes label selector string.
fn parse_selector(s: &str) -> Result<Vec<Req>, Error> {
    let bad = || Error::transform(format!("unable to parse label selector {s:?}"));
    // Split on commas that are not inside parentheses.
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c);
            }
            ')' => {
                depth -= 1;
                cur.push(c);
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    let mut reqs = Vec::new();
    for p in parts {
        let p = p.trim();
        if p.is_empty() {
            return Err(bad());
        }
        if let Some(k) = p.strip_prefix('!') {
            reqs.push(Req::NotExists(k.trim().to_string()));
        } else if let Some((k, v)) = p.split_once("!=") {
            reqs.push(Req::Ne(k.trim().to_string(), v.trim().to_string()));
        } else if let Some((k, v)) = p.split_once("==") {
            reqs.push(Req::Eq(k.trim().to_string(), v.trim().to_string()));
        } else if let Some((k, v)) = p.split_once('=') {
            reqs.push(Req::Eq(k.trim().to_string(), v.trim().to_string()));
        } else if let Some(idx) = p.find(" notin ") {
            let (k, rest) = p.split_at(idx);
            reqs.push(Req::NotIn(k.trim().to_string(), set_values(&rest[7..]).ok_or_else(bad)?));
        } else if let Some(idx) = p.find(" in ") {
            let (k, rest) = p.split_at(idx);
            reqs.push(Req::In(k.trim().to_string(), set_values(&rest[4..]).ok_or_else(bad)?));
        } else if p.chars().all(|c| c.is_alphanumeric() || "-_./".contains(c)) {
            reqs.push(Req::Exists(p.to_string()));
        } else {
            return Err(bad());
        }
    }
    Ok(reqs)
}

fn set_values(s: &str) -> Option<Vec<String>> {
    let s = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(s.split(',').map(|x| x.trim().to_string()).collect())
}
