//! The Git side of the benchmark: N small repositories (an app's manifests, a few KiB) served by
//! `git http-backend` on 127.0.0.1 through [`HttpGitServer`], which counts what the clients ask
//! for; and pushes of a new commit to every one of them (straight to the bare repositories, so
//! the counters only see the controllers).

use anyhow::Context as _;
use eddy_test_git::{HttpGitServer, RepoBuilder, RequestCounts};

/// What a repository holds: `fill(builder, repository, release)` writes release `release` of
/// repository `repository` into the work tree.
pub type Fill = fn(&mut RepoBuilder, usize, usize) -> anyhow::Result<()>;

/// The repositories and their server.
pub struct Repos {
    fill: Fill,
    builders: Vec<RepoBuilder>,
    heads: Vec<String>,
    pushes: usize,
    server: HttpGitServer,
    _root: tempfile::TempDir,
}

impl Repos {
    /// Creates `count` repositories (`app-00.git`, ...) with one commit each on `main`, and
    /// serves them.
    ///
    /// # Errors
    /// git or the server fail.
    pub fn create(count: usize) -> anyhow::Result<Self> {
        Self::create_with(count, fill)
    }

    /// Creates `count` repositories whose content `fill` writes, and serves them.
    ///
    /// # Errors
    /// git or the server fail.
    pub fn create_with(count: usize, fill: Fill) -> anyhow::Result<Self> {
        let root = tempfile::Builder::new().prefix("eddy-bench-git").tempdir()?;
        let mut builders = Vec::with_capacity(count);
        let mut heads = Vec::with_capacity(count);
        for r in 0..count {
            let mut b = RepoBuilder::init(root.path(), &repo_name(r)).context("creating a repository")?;
            fill(&mut b, r, 0)?;
            heads.push(b.commit("initial manifests")?);
            b.push()?;
            builders.push(b);
        }
        let server = HttpGitServer::start(root.path()).context("starting the git server")?;
        Ok(Self { fill, builders, heads, pushes: 0, server, _root: root })
    }

    /// How many repositories there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.builders.len()
    }

    /// The URL of repository `r`.
    #[must_use]
    pub fn url(&self, r: usize) -> String {
        self.server.repo_url(&repo_name(r))
    }

    /// The revision Flux reports for `main` of repository `r` (`main@sha1:<head>`).
    #[must_use]
    pub fn revision(&self, r: usize) -> String {
        format!("main@sha1:{}", self.heads[r])
    }

    /// Commits a change to every repository and pushes it; returns the new revisions.
    ///
    /// # Errors
    /// git fails.
    pub fn push_all(&mut self) -> anyhow::Result<()> {
        self.pushes += 1;
        for (r, b) in self.builders.iter_mut().enumerate() {
            (self.fill)(b, r, self.pushes)?;
            self.heads[r] = b.commit(&format!("release {}", self.pushes))?;
            b.push()?;
        }
        Ok(())
    }

    /// The server's request counters.
    #[must_use]
    pub fn counts(&self) -> RequestCounts {
        self.server.counts()
    }
}

fn repo_name(r: usize) -> String {
    format!("app-{r:02}.git")
}

/// The manifests of app `r` at release `release`: a Deployment, a Service, a ConfigMap, a
/// kustomization, a README and an ignored file, a few KiB like a typical app directory.
fn fill(b: &mut RepoBuilder, r: usize, release: usize) -> anyhow::Result<()> {
    let app = format!("app-{r:02}");
    b.write("README.md", format!("# {app}\n\nDeployed by Flux from this repository.\n"))?;
    b.write(
        "deploy/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deployment.yaml\n- service.yaml\n- configmap.yaml\n",
    )?;
    b.write(
        "deploy/deployment.yaml",
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\nspec:\n  replicas: 0\n  selector:\n    matchLabels: {{app: {app}}}\n  template:\n    metadata:\n      labels: {{app: {app}}}\n    spec:\n      containers:\n      - name: app\n        image: ghcr.io/stefanprodan/podinfo:6.{release}.0\n        ports:\n        - containerPort: 9898\n        resources:\n          requests: {{cpu: 10m, memory: 32Mi}}\n"
        ),
    )?;
    b.write(
        "deploy/service.yaml",
        format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: {app}\nspec:\n  selector: {{app: {app}}}\n  ports:\n  - port: 80\n    targetPort: 9898\n"),
    )?;
    b.write(
        "deploy/configmap.yaml",
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {app}\ndata:\n  release: \"{release}\"\n  notes: |\n{}", "    padding line for a realistic size\n".repeat(40)),
    )?;
    b.write("docs/ignored.md", "kept out of the artifact by .sourceignore\n")?;
    b.sourceignore("", "docs/\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_served_and_pushes_move_main() {
        let mut repos = Repos::create(2).unwrap();
        assert_eq!(repos.len(), 2);
        let before = (repos.revision(0), repos.revision(1));
        assert_ne!(before.0, before.1, "each repository has its own content");
        let out = std::process::Command::new("git").args(["ls-remote", &repos.url(1), "main"]).output().unwrap();
        assert!(out.status.success());
        let listed = String::from_utf8_lossy(&out.stdout);
        assert!(listed.starts_with(before.1.trim_start_matches("main@sha1:")), "{listed}");
        assert!(repos.counts().upload_pack_info_refs >= 1);
        repos.push_all().unwrap();
        assert_ne!(repos.revision(0), before.0);
        let out = std::process::Command::new("git").args(["ls-remote", &repos.url(0), "main"]).output().unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).starts_with(repos.revision(0).trim_start_matches("main@sha1:")));
    }
}
