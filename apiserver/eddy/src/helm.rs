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
        release_name: name,
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
    if args.show_only.is_empty() {
        Ok(rendered.to_helm_output())
    } else {
        Ok(rendered.to_helm_output_show_only(&args.show_only)?)
    }
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
