//! `eddy helm template`: renders a chart as `helm template` does, with Eddy's engine
//! (`eddy-helm-template`), no Helm and no cluster. Flags are `helm template`'s.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// `eddy helm ...` verbs.
#[derive(clap::Subcommand)]
pub enum Helm {
    /// Render a chart locally and print the manifests, as `helm template [NAME] CHART` does.
    Template(TemplateArgs),
}

/// `helm template`'s arguments.
#[derive(clap::Args)]
pub struct TemplateArgs {
    /// `[NAME] CHART`: the release name (Helm's `release-name` when omitted) and the chart, a
    /// directory or a `.tgz` archive.
    #[arg(num_args = 1..=2, required = true, value_name = "[NAME] CHART")]
    names: Vec<String>,
    /// Values files, in order (later wins).
    #[arg(short = 'f', long = "values")]
    values: Vec<PathBuf>,
    /// Values on the command line (`a.b=c,d=e`).
    #[arg(long)]
    set: Vec<String>,
    /// Values on the command line, always strings.
    #[arg(long)]
    set_string: Vec<String>,
    /// Values on the command line as JSON (`a.b={"c":1}`).
    #[arg(long)]
    set_json: Vec<String>,
    /// Values read from files (`key=path`).
    #[arg(long)]
    set_file: Vec<String>,
    /// The release namespace.
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// The Kubernetes version `.Capabilities.KubeVersion` reports.
    #[arg(long)]
    kube_version: Option<String>,
    /// API versions `.Capabilities.APIVersions` has, besides the defaults.
    #[arg(short = 'a', long = "api-versions")]
    api_versions: Vec<String>,
    /// Include the chart's `crds/` in the output.
    #[arg(long)]
    include_crds: bool,
    /// Leave out test hooks.
    #[arg(long)]
    skip_tests: bool,
    /// Leave out hooks.
    #[arg(long)]
    no_hooks: bool,
    /// Only the manifests rendered from these templates (`templates/service.yaml`).
    #[arg(short = 's', long)]
    show_only: Vec<String>,
    /// Render as an upgrade (`.Release.IsUpgrade`).
    #[arg(long)]
    is_upgrade: bool,
    /// Do not validate the values against the charts' `values.schema.json`.
    #[arg(long)]
    skip_schema_validation: bool,
    /// Write each template's output to a file under this directory instead of stdout.
    #[arg(long)]
    output_dir: Option<String>,
    /// With `--output-dir`, write under a directory named after the release.
    #[arg(long)]
    release_name: bool,
    /// Validate the manifests against a cluster: refused, `eddy helm template` works offline.
    #[arg(long)]
    validate: bool,
}

/// Runs an `eddy helm` verb, printing to stdout.
///
/// # Errors
/// An unreadable chart or values file, or a chart that does not render (Helm's message).
pub fn run(verb: Helm) -> anyhow::Result<()> {
    match verb {
        Helm::Template(args) => {
            print!("{}", template(args)?);
            Ok(())
        }
    }
}

fn template(args: TemplateArgs) -> anyhow::Result<String> {
    if args.validate {
        anyhow::bail!(
            "--validate checks the manifests against a Kubernetes cluster, and eddy helm template never contacts one: \
             render without it and apply with --dry-run=server"
        );
    }
    let (name, chart_path) = match args.names.as_slice() {
        [chart] => ("release-name".to_owned(), chart.clone()),
        [name, chart] => (name.clone(), chart.clone()),
        _ => anyhow::bail!("expected [NAME] CHART"),
    };
    let chart = load(Path::new(&chart_path))?;
    let read = |p: &Path| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
    let values_files = args.values.iter().map(|p| read(p)).collect::<anyhow::Result<Vec<_>>>()?;
    let set_file = args
        .set_file
        .iter()
        .map(|kv| {
            let (key, path) = kv.split_once('=').with_context(|| format!("--set-file {kv:?}: expected key=path"))?;
            Ok((key.to_owned(), read(Path::new(path))?))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let options = eddy_helm_template::Options {
        release_name: name.clone(),
        namespace: args.namespace,
        values_files,
        set: args.set,
        set_string: args.set_string,
        set_json: args.set_json,
        set_file,
        kube_version: args.kube_version,
        api_versions: args.api_versions,
        include_crds: args.include_crds,
        skip_tests: args.skip_tests,
        no_hooks: args.no_hooks,
        is_upgrade: args.is_upgrade,
        skip_schema_validation: args.skip_schema_validation,
        ..eddy_helm_template::Options::default()
    };
    let rendered = eddy_helm_template::render(&chart, &options)?;
    if let Some(dir) = &args.output_dir {
        let release_dir = args.release_name.then_some(name.as_str());
        return output_dir(&rendered, dir, release_dir, args.skip_tests, args.no_hooks);
    }
    if args.show_only.is_empty() {
        Ok(rendered.to_helm_output())
    } else {
        Ok(rendered.to_helm_output_show_only(&args.show_only)?)
    }
}

/// Writes one `---\n# Source: NAME\nDATA\n` document to `DIR/NAME` (appending when `append`),
/// returning Helm's `wrote PATH` line.
fn write_doc(dir: &str, name: &str, data: &str, append: bool) -> anyhow::Result<String> {
    use std::io::Write as _;
    let path = format!("{dir}{}{name}", std::path::MAIN_SEPARATOR);
    if let Some(parent) = Path::new(&path).parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .append(append)
        .truncate(!append)
        .open(&path)
        .with_context(|| format!("writing {path}"))?;
    write!(f, "---\n# Source: {name}\n{data}\n").with_context(|| format!("writing {path}"))?;
    Ok(format!("wrote {path}\n"))
}

/// `helm template --output-dir DIR [--release-name]`: CRDs under DIR, manifests and hooks under
/// DIR (or DIR/RELEASE), documents of one template appended to its file; what is printed.
fn output_dir(
    rendered: &eddy_helm_template::Rendered,
    dir: &str,
    release: Option<&str>,
    skip_tests: bool,
    no_hooks: bool,
) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut written = std::collections::HashSet::new();
    for (path, data) in &rendered.crds {
        out.push_str(&write_doc(dir, path, data, written.contains(path))?);
        written.insert(path.clone());
    }
    let new_dir = match release {
        Some(r) => Path::new(dir).join(r).to_string_lossy().into_owned(),
        None => dir.to_owned(),
    };
    for m in &rendered.manifests {
        out.push_str(&write_doc(&new_dir, &m.name, &m.content, written.contains(&m.name))?);
        written.insert(m.name.clone());
    }
    if !no_hooks {
        for h in &rendered.hooks {
            if skip_tests && h.events.iter().any(|e| e == "test") {
                continue;
            }
            let exists = Path::new(&new_dir).join(&h.path).exists();
            out.push_str(&write_doc(&new_dir, &h.path, &h.manifest, exists)?);
        }
    }
    out.push('\n');
    Ok(out)
}

/// A chart directory or `.tgz` archive.
fn load(path: &Path) -> anyhow::Result<eddy_helm_template::chart::Chart> {
    if path.is_dir() {
        Ok(eddy_helm_template::chart::load::load_dir(path)?)
    } else {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(eddy_helm_template::chart::load::load_archive(&bytes)?)
    }
}
