//! A fuzz campaign against the standalone `eddy serve`: schemathesis (PyPI, pinned by
//! `hack/build-schemathesis`) reads the server's own OpenAPI v3 documents (`/openapi/v3`, one
//! per group-version) and sends hostile but typed requests to every operation of every Flux
//! group-version: create, get, list and watch (selectors, `continue`, `limit`,
//! `resourceVersion`, watches bounded by `timeoutSeconds`), replace, patch in every patch
//! content type the documents declare (JSON patch, merge patch, server-side apply as YAML),
//! delete, deletecollection and the status subresource. Valid (positive) and invalid
//! (negative) inputs, boundary values (the coverage phase), random ones (fuzzing) and chains
//! of calls linked by the documents' parameters (stateful).
//!
//! Passes when the server answered at least [`MIN_REQUESTS`] requests (counted by its own
//! `apiserver_request_total`) with:
//! - no 5xx (`not_a_server_error`, and no `code="5xx"` in `/metrics`) but kube-apiserver's
//!   504 "Too large resource version" for a read ahead of the store (which the hooks list);
//! - no panic: `apiserver_request_panics_total` stays 0 and the log has no `panicked`;
//! - the schemathesis checks that mean something for a Kubernetes API server:
//!   - `content_type_conformance`: an answer is in a content type its operation declares
//!     (JSON, YAML, or `application/json;stream=watch` for a watch);
//!   - `response_schema_conformance`: objects and lists answered 200/201 validate against the
//!     published schemas (what `kubectl explain` and generated clients trust);
//!   - `response_headers_conformance`, `missing_required_header`: trivially true here (no
//!     documented headers) and kept so that a future header stays honest;
//!   - `kubernetes_status_conformance` (`hack/schemathesis_hooks.py`) instead of
//!     `status_code_conformance`: kube-apiserver's documents, and so Eddy's, list only each
//!     operation's success codes and 401, while every failure is a `metav1.Status` with its
//!     own 4xx code (400, 404, 405, 409, 415, 422, ...); the check asserts that contract.
//!
//! Left out, because Kubernetes semantics contradict them: `negative_data_rejection` (the API
//! accepts unknown fields with a warning under the default `fieldValidation=Warn` and ignores
//! unknown query parameters, as kube-apiserver does), `positive_data_acceptance` (a body that
//! matches the schema is still refused when the object exists, is absent, or breaks rules the
//! schema cannot say, such as names that are not DNS subdomains), `unsupported_method` and
//! `allow_header_conformance` (a method a path does not serve is a 405 `Status`, which
//! `kubernetes_status_conformance` checks; an `Allow` header is not part of the API's
//! contract), `ignored_auth` (the documents declare no security scheme, as kube's, so
//! schemathesis would have nothing to strip; the bearer-token layer has its own tests),
//! `use_after_free` and `ensure_resource_availability` (a deleted Flux object with finalizers
//! stays readable until they are removed), and `object_level_authorization` (one admin).
//!
//! The campaign's size is fixed by `max-examples` per operation and phase (see
//! [`MAX_EXAMPLES`]); `EDDY_FUZZ_SEED` picks another seed than the fixed one, so that a finding
//! can be replayed.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The campaign fails below this many requests answered by the server.
const MIN_REQUESTS: u64 = 50_000;
/// Where the hooks of one run list the 504 "Too large resource version" answers they saw: reads
/// at a resourceVersion the store has not reached yet, answered as kube-apiserver does. The
/// only 5xx the campaign accepts (at most as many as listed).
const TOO_LARGE_LOG: &str = "too-large-resource-version.log";
/// Test cases per operation and phase.
const MAX_EXAMPLES: u32 = 40;
/// Concurrent schemathesis processes (one group-version each).
const PARALLEL_RUNS: usize = 2;
/// Threads of each schemathesis process (they mostly wait on the server's answers, watches
/// that last a second, reads from a future resourceVersion that wait for it).
const WORKERS: u32 = 4;
/// Seed of the campaign unless `EDDY_FUZZ_SEED` says otherwise.
const DEFAULT_SEED: &str = "20261207";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The schemathesis CLI, installed if missing (idempotent and cached).
fn schemathesis() -> PathBuf {
    let out = Command::new(repo_root().join("hack/build-schemathesis"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run hack/build-schemathesis");
    assert!(out.status.success(), "hack/build-schemathesis failed");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// What the campaign talks to: the server's address and the client's files.
struct Target {
    base: String,
    ca: PathBuf,
    /// `Authorization: Bearer …` in a file, for curl (`-H @file`), off the command line.
    header_file: PathBuf,
}

impl Target {
    /// GET `path` with curl; `None` while the server does not answer 200.
    fn get(&self, path: &str) -> Option<String> {
        let (code, body) = self.call("GET", path, None);
        (code == 200).then_some(body)
    }

    /// Sends a request with curl: the HTTP code (0 when none came) and the body.
    fn call(&self, method: &str, path: &str, json_body: Option<&Path>) -> (u16, String) {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "30", "-X", method, "-w", "\n%{http_code}", "--cacert"])
            .arg(&self.ca)
            .arg("-H")
            .arg(format!("@{}", self.header_file.display()));
        if let Some(file) = json_body {
            cmd.args(["-H", "Content-Type: application/json", "--data-binary"]).arg(format!("@{}", file.display()));
        }
        let out = cmd.arg(format!("{}{path}", self.base)).output().expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        (code.trim().parse().unwrap_or(0), body.to_owned())
    }
}

fn start(dir: &Path) -> (Server, Target) {
    let data = dir.join("data");
    let token = dir.join("token");
    std::fs::write(&token, format!("fuzz-{:x}\n", std::process::id() ^ 0x5eed_f00d)).unwrap();
    let header_file = dir.join("auth-header");
    let token_text = std::fs::read_to_string(&token).unwrap();
    std::fs::write(&header_file, format!("Authorization: Bearer {}\n", token_text.trim())).unwrap();
    let port = free_port();
    let log = dir.join("eddy.log");
    let file = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["serve", "--bind-address", "127.0.0.1", "--secure-port", &port.to_string(), "--data-dir"])
        .arg(&data)
        .arg("--token-file")
        .arg(&token)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("start eddy serve");
    let server = Server { child, log };
    let target = Target { base: format!("https://127.0.0.1:{port}"), ca: data.join("pki/ca.crt"), header_file };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(target.ca.exists() && target.get("/readyz").is_some()) {
        assert!(Instant::now() < deadline, "eddy serve did not get ready: {}", server.log_text());
        std::thread::sleep(Duration::from_millis(200));
    }
    (server, target)
}

/// Namespace and name of the objects created before the campaign (one per kind), which the
/// hooks point half of the object requests at.
const SEEDED_NAMESPACE: &str = "fuzz";
const SEEDED_NAME: &str = "fuzz";

/// A valid spec for each Flux kind, so that the campaign's replace, patch and status requests
/// find an object to work on.
fn seed_spec(kind: &str) -> Option<serde_json::Value> {
    use serde_json::json;
    let interval = "5m";
    Some(match kind {
        "GitRepository" => json!({"url": "https://example.com/app.git", "interval": interval}),
        "HelmRepository" => json!({"url": "https://charts.example.com", "interval": interval}),
        "HelmChart" => json!({"chart": "app", "interval": interval,
            "sourceRef": {"kind": "HelmRepository", "name": SEEDED_NAME}}),
        "OCIRepository" => json!({"url": "oci://registry.example.com/app", "interval": interval}),
        "Bucket" => json!({"bucketName": "app", "endpoint": "s3.example.com", "interval": interval}),
        "ExternalArtifact" => json!({}),
        "ImageRepository" => json!({"image": "registry.example.com/app", "interval": interval}),
        "ImagePolicy" => {
            json!({"imageRepositoryRef": {"name": SEEDED_NAME}, "policy": {"semver": {"range": ">=1.0.0"}}})
        }
        "ImageUpdateAutomation" => json!({"interval": interval,
            "sourceRef": {"kind": "GitRepository", "name": SEEDED_NAME}}),
        "Provider" => json!({"type": "generic", "address": "https://hooks.example.com/flux"}),
        "Alert" => json!({"eventSources": [{"kind": "GitRepository", "name": "*"}],
            "providerRef": {"name": SEEDED_NAME}}),
        "Receiver" => json!({"type": "generic", "resources": [{"kind": "GitRepository", "name": SEEDED_NAME}],
            "secretRef": {"name": "webhook-token"}}),
        "HelmRelease" => json!({"interval": interval, "chart": {"spec": {"chart": "app",
            "sourceRef": {"kind": "HelmRepository", "name": SEEDED_NAME}}}}),
        "Kustomization" => json!({"interval": interval, "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": SEEDED_NAME}}),
        _ => return None,
    })
}

/// Creates one object of every kind a group-version's document has create operations for.
fn seed_objects(target: &Target, dir: &Path, gv: &str) {
    let doc: serde_json::Value =
        serde_json::from_str(&target.get(&format!("/openapi/v3/{gv}")).expect("GET the document")).unwrap();
    let api_version = gv.trim_start_matches("apis/");
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let Some(kind) = item["post"]["x-kubernetes-group-version-kind"]["kind"].as_str() else { continue };
        let spec = seed_spec(kind).unwrap_or_else(|| panic!("no seed spec for {kind}: add one"));
        let object = serde_json::json!({
            "apiVersion": api_version, "kind": kind,
            "metadata": {"name": SEEDED_NAME, "namespace": SEEDED_NAMESPACE}, "spec": spec,
        });
        let file = dir.join(format!("seed-{kind}.json"));
        std::fs::write(&file, object.to_string()).unwrap();
        let collection = path.replace("{namespace}", SEEDED_NAMESPACE);
        let (code, body) = target.call("POST", &collection, Some(&file));
        assert!(code == 201 || code == 409, "seeding {api_version} {kind}: {code} {body}");
    }
}

/// The `apis/<group>/<version>` entries of the `/openapi/v3` index.
fn group_versions(target: &Target) -> Vec<String> {
    let index: serde_json::Value = serde_json::from_str(&target.get("/openapi/v3").expect("GET /openapi/v3")).unwrap();
    let mut gvs: Vec<String> =
        index["paths"].as_object().expect("index paths").keys().filter(|k| k.starts_with("apis/")).cloned().collect();
    gvs.sort();
    gvs
}

/// The outcome of one schemathesis run (one group-version).
struct Run {
    group_version: String,
    ok: bool,
    output: String,
}

fn run_schemathesis(cli: &Path, dir: &Path, target: &Target, gv: &str, seed: &str) -> Run {
    let token = std::fs::read_to_string(dir.join("token")).unwrap();
    let work = dir.join(gv.replace('/', "_"));
    std::fs::create_dir_all(&work).unwrap();
    let config = work.join("schemathesis.toml");
    std::fs::write(&config, "headers = { Authorization = \"Bearer ${EDDY_FUZZ_TOKEN}\" }\n").unwrap();
    let mut child = Command::new(cli)
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("{}/openapi/v3/{gv}", target.base))
        .args(["--url", &target.base, "--tls-verify"])
        .arg(&target.ca)
        .args([
            "--checks",
            "not_a_server_error,content_type_conformance,response_schema_conformance,\
             response_headers_conformance,missing_required_header,kubernetes_status_conformance",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            &MAX_EXAMPLES.to_string(),
            "--workers",
            &WORKERS.to_string(),
            "--seed",
            seed,
            "--request-timeout",
            "30",
            "--generation-database",
            "none",
            "--suppress-health-check",
            "all",
            "--continue-on-failure",
            "--no-shrink",
            "--no-color",
        ])
        .current_dir(&work)
        .env("EDDY_FUZZ_TOKEN", token.trim())
        .env("EDDY_FUZZ_SEEDED", format!("{SEEDED_NAMESPACE}/{SEEDED_NAME}"))
        .env("EDDY_FUZZ_TOO_LARGE_LOG", work.join(TOO_LARGE_LOG))
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", repo_root().join("hack"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run schemathesis");
    let mut output = String::new();
    let mut stderr = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut output).unwrap();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).unwrap();
    output.push_str(&stderr);
    let ok = child.wait().unwrap().success();
    Run { group_version: gv.to_owned(), ok, output }
}

/// Sums the samples of `name` in a Prometheus text exposition whose labels satisfy `keep`.
fn metric_sum(text: &str, name: &str, keep: impl Fn(&str) -> bool) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter(|l| keep(l))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let n = v as u64;
            n
        })
        .sum()
}

#[test]
fn schemathesis_campaign_finds_no_5xx_and_no_panic() {
    let cli = schemathesis();
    let dir = tempfile::tempdir().unwrap();
    let (server, target) = start(dir.path());
    let gvs = group_versions(&target);
    assert!(gvs.len() >= 5, "too few group-versions in /openapi/v3: {gvs:?}");
    for gv in &gvs {
        seed_objects(&target, dir.path(), gv);
    }
    let seed = std::env::var("EDDY_FUZZ_SEED").unwrap_or_else(|_| DEFAULT_SEED.to_owned());
    let started = Instant::now();
    let queue = std::sync::Mutex::new(gvs.clone());
    let runs = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..PARALLEL_RUNS {
            s.spawn(|| {
                loop {
                    let Some(gv) = queue.lock().unwrap().pop() else { break };
                    let run = run_schemathesis(&cli, dir.path(), &target, &gv, &seed);
                    eprintln!("schemathesis {gv}: {}", if run.ok { "passed" } else { "FAILED" });
                    runs.lock().unwrap().push(run);
                }
            });
        }
    });
    let took = started.elapsed();
    let metrics = target.get("/metrics").expect("GET /metrics");
    let requests = metric_sum(&metrics, "apiserver_request_total", |_| true);
    let server_errors = metric_sum(&metrics, "apiserver_request_total", |l| l.contains("code=\"5"));
    let timeouts = metric_sum(&metrics, "apiserver_request_total", |l| l.contains("code=\"504\""));
    let too_large: Vec<String> = gvs
        .iter()
        .filter_map(|gv| std::fs::read_to_string(dir.path().join(gv.replace('/', "_")).join(TOO_LARGE_LOG)).ok())
        .flat_map(|text| text.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    let panics = metric_sum(&metrics, "apiserver_request_panics_total", |_| true);
    let mut codes = std::collections::BTreeMap::<String, u64>::new();
    for line in metrics.lines().filter(|l| l.starts_with("apiserver_request_total{")) {
        if let (Some(code), Some(n)) = (
            line.split("code=\"").nth(1).and_then(|r| r.split('"').next()),
            line.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()),
        ) {
            *codes.entry(code.to_owned()).or_default() += n;
        }
    }
    eprintln!(
        "schemathesis campaign: {requests} requests answered in {:.0} s over {} group-versions \
         (seed {seed}, {MAX_EXAMPLES} examples per operation and phase); by code: {codes:?}",
        took.as_secs_f64(),
        gvs.len()
    );
    let runs = runs.into_inner().unwrap();
    let failed: Vec<&Run> = runs.iter().filter(|r| !r.ok).collect();
    for r in &failed {
        eprintln!("==== schemathesis {} failed:\n{}", r.group_version, r.output);
    }
    let log = server.log_text();
    let panicked: Vec<&str> = log.lines().filter(|l| l.contains("panicked")).take(20).collect();
    assert!(panicked.is_empty(), "the server panicked:\n{}", panicked.join("\n"));
    assert_eq!(panics, 0, "apiserver_request_panics_total");
    assert_eq!(server_errors - timeouts, 0, "5xx answers: {codes:?}");
    assert!(
        timeouts <= too_large.len() as u64,
        "{timeouts} answers 504, {} of them 'Too large resource version' ({too_large:?}): {codes:?}",
        too_large.len()
    );
    assert!(
        failed.is_empty(),
        "schemathesis failed for {:?}",
        failed.iter().map(|r| r.group_version.as_str()).collect::<Vec<_>>()
    );
    assert!(requests >= MIN_REQUESTS, "only {requests} requests answered, fewer than {MIN_REQUESTS}");
}
