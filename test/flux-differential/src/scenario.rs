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
    /// Edits an applied object behind the controller's back (a JSON merge patch by another
    /// field manager), then asks every Kustomization to reconcile and waits until each has
    /// handled the request and meets `expect`.
    Drift {
        /// kubectl resource (`configmap`, `deployment.apps`, …).
        resource: &'static str,
        /// The object's name (in the scenario's namespace).
        name: &'static str,
        /// The merge patch (JSON; may hold placeholders).
        patch: &'static str,
        /// Expected state afterwards.
        expect: Expect,
    },
    /// Creates another Kustomization, then every Kustomization must meet `expect`.
    Create {
        /// The new Kustomization (settled as its own `expect` says first).
        ks: Ks,
        /// What every Kustomization must then meet.
        expect: Expect,
    },
}

/// A Git operation on a scenario's main repository after its first commit.
#[derive(Debug, Clone)]
pub enum GitOp {
    /// Writes a regular file.
    Write(&'static str, String),
    /// Writes an executable file.
    Executable(&'static str, String),
    /// Creates a symbolic link (path, target).
    Symlink(&'static str, &'static str),
    /// Removes a path.
    Remove(&'static str),
    /// Commits everything; the commit is known to the normaliser by this label.
    Commit(&'static str),
    /// Commits everything signed with the run's OpenPGP key (labelled).
    CommitSigned(&'static str),
    /// A lightweight tag at the current commit.
    Tag(&'static str),
    /// An annotated tag at the current commit.
    AnnotatedTag(&'static str),
    /// An annotated tag signed with the run's OpenPGP key.
    SignedTag(&'static str),
    /// Creates a branch at the current commit and switches to it.
    Branch(&'static str),
    /// Switches to a branch.
    Checkout(&'static str),
    /// Adds a submodule at the path, pointing at another repository of the scenario (its first
    /// commit), by absolute URL.
    Submodule(&'static str, &'static str),
}

/// How a file of the repository is encrypted with the real `sops` before it is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encrypt {
    /// For the run's age recipient.
    Age,
    /// For the run's OpenPGP key.
    Pgp,
}

/// When a GitRepository counts as settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceExpect {
    /// `Ready=True` at the current generation.
    Ready,
    /// `Ready=False` with a reason other than `Progressing`, or `Stalled=True`.
    Failed,
    /// Suspended from the start: carries its finalizer (and nothing else is awaited).
    Suspended,
}

/// A GitRepository of a scenario (besides the default `repo` of the Kustomization scenarios).
#[derive(Debug, Clone)]
pub struct Source {
    /// `metadata.name`.
    pub name: &'static str,
    /// Namespace template (`None`: the scenario's).
    pub namespace: Option<&'static str>,
    /// `spec.url` template (`{git}`: the server, `{auth_git}`: the one with basic auth,
    /// `{repo}`: the scenario's repository name without `.git`).
    pub url: &'static str,
    /// Further `spec` lines, indented by two spaces (placeholders allowed).
    pub extra: &'static str,
    /// When it counts as settled.
    pub expect: SourceExpect,
}

impl Source {
    /// GitRepository `name` of the scenario's repository, with `extra` spec lines.
    #[must_use]
    pub fn new(name: &'static str, extra: &'static str, expect: SourceExpect) -> Self {
        Self { name, namespace: None, url: "{git}/{repo}.git", extra, expect }
    }

    /// The same with another URL template.
    #[must_use]
    pub fn url(mut self, url: &'static str) -> Self {
        self.url = url;
        self
    }

    /// The manifest (placeholders left for the caller to fill).
    #[must_use]
    pub fn manifest(&self) -> String {
        let ns = self.namespace.unwrap_or("{ns}");
        format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: {}\n  namespace: {ns}\n\
             spec:\n  interval: 10m\n  timeout: 20s\n  url: {}\n{}",
            self.name, self.url, self.extra
        )
    }
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
    /// Git operations after the first commit (before the first push).
    pub history: Vec<GitOp>,
    /// Further repositories (`<scenario>-<name>.git`), each one commit labelled `<name>`.
    pub repos: Vec<(&'static str, Vec<(&'static str, String)>)>,
    /// Files of the first commit to encrypt with sops.
    pub encrypt: Vec<(&'static str, Encrypt)>,
    /// GitRepositories, created in order, each settled before the next. Empty: the default
    /// `repo` (branch `main`, waited for at the first commit).
    pub sources: Vec<Source>,
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
            history: Vec::new(),
            repos: Vec::new(),
            encrypt: Vec::new(),
            sources: Vec::new(),
        }
    }

    /// A GitRepository scenario: the repository's first commit, then `source`.
    #[must_use]
    pub fn git(name: &'static str, files: Vec<(&'static str, String)>, source: Source) -> Self {
        let mut s = Self::new(name, files, Ks::app(""));
        s.kustomizations.clear();
        s.sources.push(source);
        s
    }

    /// Adds Git operations after the first commit.
    #[must_use]
    pub fn history(mut self, ops: Vec<GitOp>) -> Self {
        self.history.extend(ops);
        self
    }

    /// Adds another repository of one commit.
    #[must_use]
    pub fn repo(mut self, name: &'static str, files: Vec<(&'static str, String)>) -> Self {
        self.repos.push((name, files));
        self
    }

    /// Encrypts a file of the first commit with sops.
    #[must_use]
    pub fn encrypt(mut self, path: &'static str, how: Encrypt) -> Self {
        self.encrypt.push((path, how));
        self
    }

    /// Adds a GitRepository (created before the Kustomizations).
    #[must_use]
    pub fn source(mut self, source: Source) -> Self {
        self.sources.push(source);
        self
    }

    /// Every Kustomization name: the initial ones and those created by steps.
    #[must_use]
    pub fn kustomization_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.kustomizations.iter().map(|k| k.name).collect();
        for step in &self.steps {
            if let Step::Create { ks, .. } = step {
                names.push(ks.name);
            }
        }
        names
    }

    /// Every GitRepository name (the default `repo` when none is given), with its namespace
    /// template.
    #[must_use]
    pub fn source_names(&self) -> Vec<(&'static str, &'static str)> {
        if self.sources.is_empty() {
            vec![("repo", "{ns}")]
        } else {
            self.sources.iter().map(|s| (s.name, s.namespace.unwrap_or("{ns}"))).collect()
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
