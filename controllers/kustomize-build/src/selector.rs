//! Selecting resources by target (patches, replacements).

use eddy_api::labels::Selector as LabelSelector;
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
    labels: Option<LabelSelector>,
    annotations: Option<LabelSelector>,
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
        if self.labels.as_ref().is_some_and(|sel| !sel.matches_pairs(&r.labels())) {
            return false;
        }
        if self.annotations.as_ref().is_some_and(|sel| !sel.matches_pairs(&r.annotations())) {
            return false;
        }
        true
    }
}

/// Parses a `labelSelector`/`annotationSelector` with the workspace's one selector parser, as
/// kustomize parses them with apimachinery's `labels.Parse`.
fn parse_selector(s: &str) -> Result<LabelSelector, Error> {
    LabelSelector::parse(s).map_err(|e| Error::transform(format!("unable to parse label selector {s:?}: {e}")))
}
