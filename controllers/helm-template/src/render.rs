//! `helm template` as a library call: values from files and `--set` flags, dependency
//! processing, the render values (`.Release`, `.Capabilities`, `.Chart`, `.Values`), the
//! engine, then NOTES, hooks and manifests sorted in Helm's install order.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::chart::{Chart, ChartError, deps, strvals, values};
use crate::engine;
use crate::objects::{ApiVersions, Capabilities, KubeVersion};
use crate::sort::{self, Hook, Manifest};
use crate::value::Value;

/// The API versions Helm v4.3.2 (client-go v0.37) reports when it has no cluster.
const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "lifecycle.k8s.io/v1alpha1",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// Stack for a render: nested `include`s recurse deeply (Helm allows 1,000 per template).
const RENDER_STACK: usize = 256 << 20;

/// What `helm template` is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The release name (`helm template NAME`; Helm's default is `release-name`).
    pub release_name: String,
    /// The release namespace.
    pub namespace: String,
    /// Values files' contents, in order (`-f`).
    pub values_files: Vec<String>,
    /// `--set` expressions.
    pub set: Vec<String>,
    /// `--set-string` expressions.
    pub set_string: Vec<String>,
    /// `--set-json` expressions (`path=JSON`).
    pub set_json: Vec<String>,
    /// `--set-file` values: the key path and the file's content (read by the caller).
    pub set_file: Vec<(String, String)>,
    /// `--kube-version`.
    pub kube_version: Option<String>,
    /// `--api-versions` (added to the defaults).
    pub api_versions: Vec<String>,
    /// `--include-crds`.
    pub include_crds: bool,
    /// `--skip-tests`.
    pub skip_tests: bool,
    /// `--no-hooks`.
    pub no_hooks: bool,
    /// `--strict` rendering (missing keys fail).
    pub strict: bool,
    /// `.Release.IsUpgrade` (and not `IsInstall`).
    pub is_upgrade: bool,
    /// `--skip-schema-validation`: do not check values against `values.schema.json`.
    pub skip_schema_validation: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            release_name: "release-name".into(),
            namespace: "default".into(),
            values_files: Vec::new(),
            set: Vec::new(),
            set_string: Vec::new(),
            set_json: Vec::new(),
            set_file: Vec::new(),
            kube_version: None,
            api_versions: Vec::new(),
            include_crds: false,
            skip_tests: false,
            no_hooks: false,
            strict: false,
            is_upgrade: false,
            skip_schema_validation: false,
        }
    }
}

/// The result of a render.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// CRDs from `crds/` (when asked for), as `(path, content)`.
    pub crds: Vec<(String, String)>,
    /// Manifests in install order.
    pub manifests: Vec<Manifest>,
    /// Hooks in install order.
    pub hooks: Vec<Hook>,
    /// The rendered NOTES.txt of the top chart.
    pub notes: String,
    skip_tests: bool,
    no_hooks: bool,
}

impl Rendered {
    /// The text `helm template` prints.
    pub fn to_helm_output(&self) -> String {
        let mut b = String::new();
        for (path, data) in &self.crds {
            b.push_str(&format!("---\n# Source: {path}\n{data}\n"));
        }
        for m in &self.manifests {
            b.push_str(&format!("---\n# Source: {}\n{}\n", m.name, m.content));
        }
        let mut out = format!("{}\n", b.trim());
        if !self.no_hooks {
            for h in &self.hooks {
                if self.skip_tests && h.events.iter().any(|e| e == "test") {
                    continue;
                }
                out.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.manifest));
            }
        }
        out
    }
}

impl Rendered {
    /// The text `helm template --show-only PATTERN...` prints: the documents whose template path
    /// (without the chart name) matches a pattern (Go's `filepath.Match`), pattern by pattern.
    pub fn to_helm_output_show_only(&self, patterns: &[String]) -> Result<String, Error> {
        let all = self.to_helm_output();
        let docs = crate::sort::split_manifests(&all);
        let mut out = String::new();
        for p in patterns {
            let re = match_regex(p);
            let mut found = false;
            for d in &docs {
                let Some(path) = d
                    .strip_prefix("# Source: ")
                    .and_then(|rest| rest.lines().next())
                    .and_then(|src| src.split_once('/').map(|(_, p)| p.to_string()))
                else {
                    continue;
                };
                if re.as_ref().is_some_and(|r| r.is_match(&path)) {
                    out.push_str(&format!("---\n{d}\n"));
                    found = true;
                }
            }
            if !found {
                return Err(Error::Template(format!("could not find template {p} in chart")));
            }
        }
        Ok(out)
    }
}

/// Go's `filepath.Match` pattern as an anchored regex (`*` and `?` stop at `/`).
fn match_regex(p: &str) -> Option<regex::Regex> {
    let mut re = String::from("^");
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                re.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    re.push('^');
                }
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    if c == '\\' || c == '[' {
                        re.push('\\');
                    }
                    re.push(c);
                }
                re.push(']');
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    re.push_str(&regex::escape(&n.to_string()));
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).ok()
}

/// Why a render failed; the message is Helm's.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The chart is unusable.
    #[error("{0}")]
    Chart(#[from] ChartError),
    /// A values file or `--set` expression is malformed.
    #[error("{0}")]
    Values(String),
    /// The values do not meet the chart's `values.schema.json` (Helm's whole message).
    #[error("{0}")]
    Schema(String),
    /// A template failed to parse or execute.
    #[error("{0}")]
    Template(String),
    /// A rendered manifest is not valid YAML.
    #[error("{0}")]
    Manifest(String),
    /// The render thread could not run.
    #[error("render failed: {0}")]
    Internal(String),
}

/// Renders `chart` as `helm template` does.
pub fn render(chart: &Chart, options: &Options) -> Result<Rendered, Error> {
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("helm-render".into())
            .stack_size(RENDER_STACK)
            .spawn_scoped(s, || render_here(chart, options))
            .map_err(|e| Error::Internal(e.to_string()))?;
        handle.join().map_err(|_| Error::Internal("the render thread panicked".into()))?
    })
}

fn user_values(options: &Options) -> Result<Value, Error> {
    let base = Value::empty_map_rc();
    for (i, text) in options.values_files.iter().enumerate() {
        let v = values::load_values(text)
            .map_err(|e| Error::Values(format!("failed to parse values file {i}: {e}")))?
            .ok_or_else(|| Error::Values(format!("failed to parse values file {i}: not a map")))?;
        values::merge_maps(&base, &v);
    }
    for s in &options.set {
        strvals::parse_into(s, &base, false).map_err(|e| Error::Values(e.to_string()))?;
    }
    for s in &options.set_string {
        strvals::parse_into(s, &base, true).map_err(|e| Error::Values(e.to_string()))?;
    }
    for s in &options.set_json {
        strvals::parse_json_into(s, &base).map_err(|e| Error::Values(e.to_string()))?;
    }
    for (key, content) in &options.set_file {
        strvals::set_value(&base, key, Value::str(content.as_str())).map_err(|e| Error::Values(e.to_string()))?;
    }
    Ok(Value::Map(base))
}

fn capabilities(options: &Options) -> Result<Value, Error> {
    let (version, major, minor) = match &options.kube_version {
        None => ("v1.37.0".to_string(), "1".to_string(), "37".to_string()),
        Some(v) => {
            let t = v.trim_start_matches('v');
            let mut parts = t.split(['.', '-', '+']);
            let major = parts.next().unwrap_or_default().to_string();
            let minor = parts.next().unwrap_or_default().to_string();
            if major.parse::<u64>().is_err() || minor.parse::<u64>().is_err() {
                return Err(Error::Values(format!("invalid kube version '{v}'")));
            }
            (format!("v{t}"), major, minor)
        }
    };
    let mut apis: Vec<String> = DEFAULT_API_VERSIONS.iter().map(|s| (*s).to_string()).collect();
    apis.extend(options.api_versions.iter().cloned());
    Ok(Value::Object(Rc::new(Capabilities {
        kube: Rc::new(KubeVersion { version, major, minor }),
        apis: Rc::new(ApiVersions(apis)),
    })))
}

fn render_here(chart: &Chart, options: &Options) -> Result<Rendered, Error> {
    if chart.is_library() {
        return Err(Error::Chart(ChartError::Invalid("library charts are not installable".into())));
    }
    let vals = user_values(options)?;
    deps::check_dependencies(chart).map_err(|e| {
        Error::Chart(ChartError::Missing(format!(
            "an error occurred while checking for chart dependencies. You may need to run 'helm dependency build' to fetch missing dependencies: {e}"
        )))
    })?;
    let mut chart = chart.clone();
    deps::process(&mut chart, &vals)
        .map_err(|e| Error::Chart(ChartError::Invalid(format!("chart dependencies processing failed: {e}"))))?;
    let caps = capabilities(options)?;
    let values = values::coalesce_values_checked(&chart, &vals).map_err(Error::Values)?;
    if !options.skip_schema_validation {
        crate::schema::validate_chart(&chart, &values).map_err(Error::Schema)?;
    }
    if !chart.metadata.kube_version.is_empty() {
        let version = match &caps {
            Value::Object(o) => {
                o.field("KubeVersion").map(|k| crate::template::format::sprint_v(&k)).unwrap_or_default()
            }
            _ => String::new(),
        };
        if !crate::funcs::semver_satisfies(&chart.metadata.kube_version, &version) {
            return Err(Error::Chart(ChartError::Invalid(format!(
                "chart requires kubeVersion: {} which is incompatible with Kubernetes {version}",
                chart.metadata.kube_version
            ))));
        }
    }
    let mut release = BTreeMap::new();
    release.insert("Name".to_string(), Value::str(options.release_name.as_str()));
    release.insert("Namespace".to_string(), Value::str(options.namespace.as_str()));
    release.insert("IsUpgrade".to_string(), Value::Bool(options.is_upgrade));
    release.insert("IsInstall".to_string(), Value::Bool(!options.is_upgrade));
    release.insert("Revision".to_string(), Value::Int(1));
    release.insert("Service".to_string(), Value::str("Helm"));
    let mut top = BTreeMap::new();
    top.insert("Capabilities".to_string(), caps);
    top.insert("Release".to_string(), Value::map(release));
    top.insert("Values".to_string(), values);
    let top = Value::map(top);
    let mut files = engine::render_chart(&chart, &top, options.strict).map_err(Error::Template)?;
    let notes_key = format!("{}/templates/NOTES.txt", chart.name());
    let notes = files.get(&notes_key).cloned().unwrap_or_default();
    files.retain(|k, _| !k.ends_with("NOTES.txt"));
    let (hooks, manifests) = sort::sort_manifests(&files).map_err(Error::Manifest)?;
    let mut crds = Vec::new();
    if options.include_crds {
        collect_crds(&chart, chart.name(), &mut crds);
    }
    Ok(Rendered { crds, manifests, hooks, notes, skip_tests: options.skip_tests, no_hooks: options.no_hooks })
}

fn collect_crds(c: &Chart, full_path: &str, out: &mut Vec<(String, String)>) {
    for f in &c.files {
        if f.name.starts_with("crds/") && [".yaml", ".yml", ".json"].iter().any(|e| f.name.ends_with(e)) {
            out.push((format!("{full_path}/{}", f.name), String::from_utf8_lossy(&f.data).into_owned()));
        }
    }
    for d in &c.dependencies {
        collect_crds(d, &format!("{full_path}/charts/{}", d.name()), out);
    }
}
