//! `eddy helm template` prints what `helm template` prints (the reference helm v4.3.2 from
//! `hack/build-helm`) for the same chart and flags, from a directory and from a packaged
//! archive, and fails clearly on bad input.

use std::path::Path;
use std::process::Command;

/// The reference helm: `EDDY_HELM`, or the one `hack/build-helm` built.
fn helm() -> String {
    if let Some(bin) = std::env::var_os("EDDY_HELM") {
        return bin.to_string_lossy().into_owned();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/build-helm");
    let out = Command::new(&script).arg("--check").output().expect("running hack/build-helm --check");
    assert!(
        out.status.success(),
        "the reference helm v4.3.2 is not built: run hack/build-helm (CI builds it through hack/ensure-deps)\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

/// A chart touching the flags: release name and namespace, values files and --set*, a hook,
/// a test hook, CRDs and a NOTES.txt.
fn chart(root: &Path) -> std::path::PathBuf {
    let dir = root.join("demo");
    write(&dir, "Chart.yaml", "apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: \"1.2\"\n");
    write(&dir, "values.yaml", "replicas: 1\nimage: {repository: nginx, tag: \"\"}\nlabels: {}\n");
    write(
        &dir,
        "templates/_helpers.tpl",
        "{{- define \"demo.fullname\" -}}{{ printf \"%s-%s\" .Release.Name .Chart.Name | trunc 63 | trimSuffix \"-\" }}{{- end -}}\n",
    );
    write(
        &dir,
        "templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"demo.fullname\" . }}\n  namespace: {{ .Release.Namespace }}\n  labels:\n    {{- toYaml .Values.labels | nindent 4 }}\nspec:\n  replicas: {{ .Values.replicas }}\n  template:\n    spec:\n      containers:\n      - name: app\n        image: \"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}\"\n",
    );
    write(
        &dir,
        "templates/config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"demo.fullname\" . }}\ndata:\n  upgrade: {{ .Release.IsUpgrade | quote }}\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n  {{- with .Values.extra }}\n  extra: {{ . | quote }}\n  {{- end }}\n",
    );
    write(
        &dir,
        "templates/hook.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ .Release.Name }}-migrate\n  annotations:\n    \"helm.sh/hook\": pre-install\nspec: {}\n",
    );
    write(
        &dir,
        "templates/tests/test.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-test\n  annotations:\n    \"helm.sh/hook\": test\nspec: {}\n",
    );
    write(&dir, "templates/NOTES.txt", "Installed {{ .Release.Name }}.\n");
    write(
        &dir,
        "crds/crd.yaml",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n",
    );
    dir
}

fn run(program: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("running {program}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn renders_as_helm_template_does() {
    let helm = helm();
    let eddy = env!("CARGO_BIN_EXE_eddy");
    let root = tempfile::tempdir().expect("tempdir");
    let dir = chart(root.path());
    write(root.path(), "values-a.yaml", "replicas: 3\nlabels: {team: web}\n");
    write(root.path(), "values-b.yaml", "image: {tag: \"1.27\"}\n");
    write(root.path(), "extra.txt", "from a file");
    let (dir, a, b) = (
        dir.to_string_lossy().into_owned(),
        root.path().join("values-a.yaml").to_string_lossy().into_owned(),
        root.path().join("values-b.yaml").to_string_lossy().into_owned(),
    );
    let extra = format!("extra={}", root.path().join("extra.txt").display());
    let cases: Vec<Vec<&str>> = vec![
        vec![&dir],
        vec!["web", &dir, "-n", "prod", "-f", &a, "-f", &b, "--set", "replicas=5", "--set-string", "labels.tier=1"],
        vec!["web", &dir, "--set-json", "labels={\"a\":\"b\"}", "--set-file", &extra, "--is-upgrade"],
        vec!["web", &dir, "--include-crds", "--skip-tests", "--kube-version", "v1.30.2"],
        vec!["web", &dir, "--no-hooks", "-a", "example.com/v1/Widget"],
        vec!["web", &dir, "--show-only", "templates/config.yaml", "-s", "templates/deployment.yaml"],
    ];
    for args in cases {
        let mut full = vec!["template"];
        full.extend(&args);
        let (helm_ok, helm_out, helm_err) = run(&helm, &full);
        let mut ours = vec!["helm", "template"];
        ours.extend(&args);
        let (ok, out, err) = run(eddy, &ours);
        assert!(helm_ok, "helm {full:?} failed: {helm_err}");
        assert!(ok, "eddy {ours:?} failed: {err}");
        assert_eq!(out, helm_out, "eddy {ours:?} differs from helm");
    }

    // A packaged chart (helm package) renders the same as its directory.
    let (ok, _, err) = run(&helm, &["package", &dir, "-d", &root.path().to_string_lossy()]);
    assert!(ok, "helm package: {err}");
    let tgz = root.path().join("demo-0.1.0.tgz").to_string_lossy().into_owned();
    let (_, from_helm, _) = run(&helm, &["template", "web", &tgz]);
    let (ok, from_eddy, err) = run(eddy, &["helm", "template", "web", &tgz]);
    assert!(ok, "eddy helm template of the archive: {err}");
    assert_eq!(from_eddy, from_helm);
}

#[test]
fn bad_input_fails_with_a_message() {
    let eddy = env!("CARGO_BIN_EXE_eddy");
    let (ok, out, err) = run(eddy, &["helm", "template", "web", "/nonexistent/eddy-chart"]);
    assert!(!ok && out.is_empty(), "a missing chart must fail: {out}");
    assert!(err.contains("/nonexistent/eddy-chart"), "the message names the chart: {err}");

    let root = tempfile::tempdir().expect("tempdir");
    let dir = chart(root.path());
    write(&dir, "templates/bad.yaml", "{{ required \"image.digest is required\" .Values.image.digest }}\n");
    let (ok, _, err) = run(eddy, &["helm", "template", "web", &dir.to_string_lossy()]);
    assert!(!ok, "a failing required must fail");
    assert!(err.contains("image.digest is required"), "{err}");
}

/// Every file under `dir`, by path relative to it.
fn tree(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("under dir").to_string_lossy().into_owned();
                out.insert(rel, std::fs::read_to_string(&p).expect("read"));
            }
        }
    }
    out
}

#[test]
fn output_dir_writes_what_helm_writes() {
    let helm = helm();
    let eddy = env!("CARGO_BIN_EXE_eddy");
    let root = tempfile::tempdir().expect("tempdir");
    let dir = chart(root.path());
    // Two documents from one template, and a hook sharing a manifest's file.
    write(
        &dir,
        "templates/two.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",
    );
    let dir = dir.to_string_lossy().into_owned();
    let flag_sets: Vec<Vec<&str>> = vec![
        vec![],
        vec!["--include-crds", "--release-name"],
        vec!["--skip-tests"],
        vec!["--no-hooks", "--include-crds"],
    ];
    for (i, flags) in flag_sets.iter().enumerate() {
        let (h_out, e_out) = (root.path().join(format!("helm{i}")), root.path().join(format!("eddy{i}")));
        let (h_s, e_s) = (h_out.to_string_lossy().into_owned(), e_out.to_string_lossy().into_owned());
        let mut h_args = vec!["template", "web", &dir, "--output-dir", &h_s];
        h_args.extend(flags);
        let mut e_args = vec!["helm", "template", "web", &dir, "--output-dir", &e_s];
        e_args.extend(flags);
        let (ok, h_stdout, err) = run(&helm, &h_args);
        assert!(ok, "helm {h_args:?}: {err}");
        let (ok, e_stdout, err) = run(eddy, &e_args);
        assert!(ok, "eddy {e_args:?}: {err}");
        assert_eq!(e_stdout.replace(&e_s, "OUT"), h_stdout.replace(&h_s, "OUT"), "printed lines for {flags:?}");
        assert_eq!(tree(&e_out), tree(&h_out), "files written for {flags:?}");
    }
}

#[test]
fn validate_is_refused_clearly() {
    let eddy = env!("CARGO_BIN_EXE_eddy");
    let root = tempfile::tempdir().expect("tempdir");
    let dir = chart(root.path());
    let (ok, out, err) = run(eddy, &["helm", "template", "web", &dir.to_string_lossy(), "--validate"]);
    assert!(!ok && out.is_empty(), "--validate must be refused: {out}");
    assert!(err.contains("--validate") && err.contains("cluster"), "{err}");
}
