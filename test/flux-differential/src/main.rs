//! `eddy-flux-differential`: runs the GitRepository and Kustomization scenarios on Flux's cluster and on Eddy's
//! and judges the differences against the known-differences list. Exit code 0: they agree up
//! to the list; 1: an unlisted difference, a stale entry or a scenario that could not run;
//! 2: bad arguments or no clusters. `hack/flux-diff` starts both clusters and runs this.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

use clap::Parser;
use eddy_flux_differential::diff::Difference;
use eddy_flux_differential::fixtures::Fixtures;
use eddy_flux_differential::kubectl::Side;
use eddy_flux_differential::run::Harness;
use eddy_flux_differential::{known, report, scenarios};
use eddy_test_git::HttpGitServer;
use tracing::{error, info};

/// GitRepository and Kustomization scenarios on Flux's controllers and on Eddy, compared.
#[derive(Debug, Parser)]
struct Args {
    /// Admin kubeconfig of the Flux reference cluster (`hack/cluster up --flux`).
    #[arg(long)]
    flux_kubeconfig: PathBuf,
    /// Admin kubeconfig of Eddy's cluster (`hack/cluster up --eddy`).
    #[arg(long)]
    eddy_kubeconfig: PathBuf,
    /// The known-differences file.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/known-differences.txt"))]
    known: PathBuf,
    /// Run only these scenarios (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Scenarios run at once.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// Keep the scenarios' namespaces.
    #[arg(long)]
    keep: bool,
    /// Also write the Markdown report here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Also write each side's normalised observation here (one JSON file per scenario and side).
    #[arg(long)]
    observations: Option<PathBuf>,
    /// The sops binary that encrypts the SOPS scenarios' files (`hack/build-sops` prints it).
    #[arg(long, default_value = "sops")]
    sops: PathBuf,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            error!(error = %e, "the differential could not run");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> eddy_flux_differential::Result<bool> {
    let io = |path: &PathBuf| {
        let path = path.display().to_string();
        move |source| eddy_flux_differential::Error::Io { path, source }
    };
    let known_text = std::fs::read_to_string(&args.known).map_err(io(&args.known))?;
    let known = known::parse(&known_text)?;
    let mut selected = scenarios::all();
    if args.list {
        for s in &selected {
            println!("{}", s.name);
        }
        return Ok(true);
    }
    if !args.only.is_empty() {
        selected.retain(|s| args.only.iter().any(|o| o == s.name));
    }
    if selected.is_empty() {
        error!("no scenario selected");
        return Ok(false);
    }

    let root =
        tempfile::tempdir().map_err(|source| eddy_flux_differential::Error::Io { path: "tempdir".into(), source })?;
    let git = HttpGitServer::start(root.path())?;
    let fixtures = Fixtures::new(root.path(), git.url(), args.sops.clone())?;
    let run_token = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let harness = Harness {
        flux: Side::new("flux", args.flux_kubeconfig.clone()),
        eddy: Side::new("eddy", args.eddy_kubeconfig.clone()),
        fixtures: &fixtures,
        git_root: root.path(),
        run: run_token.clone(),
        keep: args.keep,
    };
    info!(run = %run_token, scenarios = selected.len(), "starting");

    let queue = Mutex::new(selected);
    let results: Mutex<BTreeMap<String, Vec<Difference>>> = Mutex::new(BTreeMap::new());
    let errors: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..args.parallel.max(1) {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
                    let Some(s) = next else { break };
                    match harness.run(&s) {
                        Ok(outcome) => {
                            info!(scenario = s.name, differences = outcome.differences.len(), "done");
                            if let Some(dir) = &args.observations {
                                let _ = std::fs::create_dir_all(dir);
                                for (side, v) in [("flux", &outcome.flux), ("eddy", &outcome.eddy)] {
                                    let text = serde_json::to_string_pretty(v).unwrap_or_default();
                                    let _ = std::fs::write(dir.join(format!("{}.{side}.json", s.name)), text);
                                }
                            }
                            results
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .insert(s.name.to_owned(), outcome.differences);
                        }
                        Err(e) => {
                            error!(scenario = s.name, error = %e, "scenario could not run");
                            errors
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .insert(s.name.to_owned(), e.to_string());
                        }
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let errors = errors.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let verdict = known::judge(&results, &known);
    print!("{}", report::text(&results, &errors, &verdict));
    if let Some(path) = &args.markdown {
        std::fs::write(path, report::markdown(&results, &errors, &verdict)).map_err(io(path))?;
    }
    Ok(verdict.passed() && errors.is_empty())
}
