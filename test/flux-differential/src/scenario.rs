//! What a scenario is: a Git repository's files, objects created first, the Kustomizations, the
//! steps after they settle, and extra objects to look at. Text may hold `{ns}` (the scenario's
//! namespace) and `{run}` (the run token); both are filled in per run.

/// When a Kustomization counts as settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// `Ready=True` at the current generation (and the step's revision applied).
    Ready,
    /// `Ready` has this reason (and the step's revision attempted).
    Reason(&'static str),
    /// `Ready=False` with a reason other than `Progressing` (and the step's revision attempted).
    Failed,
    /// Suspended from the start: the object carries its finalizer; nothing else is expected.
    Suspended,
}

/// One Kustomization of a scenario.
#[derive(Debug, Clone)]
pub struct Ks {
    /// `metadata.name`.
    pub name: &'static str,
    /// `spec.path`.
    pub path: &'static str,
    /// Further `spec` fields, as YAML lines indented by two spaces.
    pub extra: String,
    /// When it counts as settled after creation.
    pub expect: Expect,
}

impl Ks {
    /// A Kustomization `app` of `./deploy` expected Ready, with `extra` spec lines.
    #[must_use]
    pub fn app(extra: &str) -> Self {
        Self { name: "app", path: "./deploy", extra: extra.to_owned(), expect: Expect::Ready }
    }

    /// The same with another expectation.
    #[must_use]
    pub fn expect(mut self, expect: Expect) -> Self {
        self.expect = expect;
        self
    }

    /// The manifest, for namespace `ns`, from GitRepository `repo` unless `extra` names a source.
    #[must_use]
    pub fn manifest(&self, ns: &str) -> String {
        let source = if self.extra.contains("sourceRef:") {
            String::new()
        } else {
            "  sourceRef:\n    kind: GitRepository\n    name: repo\n".into()
        };
        let prune = if self.extra.contains("prune:") { "" } else { "  prune: true\n" };
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {}\n  namespace: {ns}\n\
             spec:\n  interval: 10m\n  path: {}\n{prune}{source}{}",
            self.name, self.path, self.extra
        )
    }
}

/// A change made after the Kustomizations settled; then they settle again.
#[derive(Debug, Clone)]
pub enum Step {
    /// A commit that writes and removes files; the GitRepository is asked to reconcile and every
    /// Kustomization must then reach `expect` at the new revision.
    Commit {
        /// Files to write (path, contents).
        write: Vec<(&'static str, String)>,
        /// Files to remove.
        remove: Vec<&'static str>,
        /// Expected state afterwards.
        expect: Expect,
    },
    /// Deletes a Kustomization and waits until it is gone.
    Delete(&'static str),
}

/// One differential scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Unique, short, DNS-label friendly.
    pub name: &'static str,
    /// The repository's files at the first commit (path, contents).
    pub files: Vec<(&'static str, String)>,
    /// Objects applied before the GitRepository (YAML stream; may be empty).
    pub pre: String,
    /// Kustomizations, created in this order.
    pub kustomizations: Vec<Ks>,
    /// Steps after the first settle.
    pub steps: Vec<Step>,
    /// Further objects to compare, as inventory ids (`<ns>_<name>_<group>_<kind>`) with version.
    pub observe: Vec<(&'static str, &'static str)>,
    /// Extra namespaces the scenario creates (deleted afterwards), as templates.
    pub extra_namespaces: Vec<&'static str>,
}

impl Scenario {
    /// A scenario with one Kustomization and nothing else.
    #[must_use]
    pub fn new(name: &'static str, files: Vec<(&'static str, String)>, ks: Ks) -> Self {
        Self {
            name,
            files,
            pre: String::new(),
            kustomizations: vec![ks],
            steps: Vec::new(),
            observe: Vec::new(),
            extra_namespaces: Vec::new(),
        }
    }

    /// Adds objects created before the Kustomizations.
    #[must_use]
    pub fn pre(mut self, yaml: &str) -> Self {
        self.pre = yaml.to_owned();
        self
    }

    /// Adds a step.
    #[must_use]
    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// Adds an object to compare (inventory id template and version).
    #[must_use]
    pub fn observe(mut self, id: &'static str, version: &'static str) -> Self {
        self.observe.push((id, version));
        self
    }

    /// Adds a Kustomization.
    #[must_use]
    pub fn and(mut self, ks: Ks) -> Self {
        self.kustomizations.push(ks);
        self
    }

    /// Records a namespace the scenario creates besides its own.
    #[must_use]
    pub fn namespace(mut self, template: &'static str) -> Self {
        self.extra_namespaces.push(template);
        self
    }
}

/// Fills in `{ns}` and `{run}`.
#[must_use]
pub fn fill(template: &str, ns: &str, run: &str) -> String {
    template.replace("{ns}", ns).replace("{run}", run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_defaults_source_and_prune() {
        let m = Ks::app("  wait: true\n").manifest("ns1");
        assert!(m.contains("  namespace: ns1\n"));
        assert!(m.contains("  prune: true\n"));
        assert!(m.contains("    name: repo\n"));
        assert!(m.ends_with("  wait: true\n"));
    }

    #[test]
    fn manifest_keeps_an_explicit_source_and_prune() {
        let m = Ks::app("  prune: false\n  sourceRef:\n    kind: GitRepository\n    name: absent\n").manifest("n");
        assert!(!m.contains("prune: true"));
        assert!(!m.contains("name: repo"));
    }

    #[test]
    fn fill_replaces_both_placeholders() {
        assert_eq!(fill("{ns}/{run}/{x}", "a", "b"), "a/b/{x}");
    }
}
