//! End to end: the machine's real `kubectl` against a standalone server (RocksDB in a data
//! directory, self-signed TLS, admin token, written kubeconfig).
//!
//! kubectl is looked up on PATH (or `$KUBECTL`); without it the test fails, saying so.

#![cfg(feature = "rocksdb")]

use std::path::{Path, PathBuf};
use std::process::Command;

use eddy_apiserver::ServeConfig;
use eddy_storage::StoreOptions;

fn kubectl_binary() -> PathBuf {
    if let Some(k) = std::env::var_os("KUBECTL") {
        return PathBuf::from(k);
    }
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| panic!("kubectl is not on PATH; install it or set KUBECTL to run this end-to-end test"))
}

struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Kubectl {
    async fn run(&self, args: &[&str]) -> Out {
        self.run_env(args, &[]).await
    }

    async fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        cmd.env("KUBECACHEDIR", self.kubeconfig.with_file_name("cache"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap_or_else(|e| panic!("joining kubectl: {e}"))
            .unwrap_or_else(|e| panic!("running kubectl: {e}"));
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    #[track_caller]
    fn check(out: &Out, args: &[&str]) {
        assert!(out.ok, "kubectl {args:?} failed:\nstdout: {}\nstderr: {}", out.stdout, out.stderr);
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        Self::check(&out, args);
        out.stdout
    }
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seed/examples")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_against_standalone_server() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut config = ServeConfig::new(dir.path().join("data"));
    config.secure_port = 0;
    config.store = StoreOptions { sync: false, ..StoreOptions::default() };
    let running = eddy_apiserver::start(config.clone()).await.unwrap_or_else(|e| panic!("starting: {e}"));
    let k = Kubectl {
        binary: kubectl_binary(),
        kubeconfig: running.kubeconfig.clone().expect("standalone mode writes a kubeconfig"),
    };

    // Discovery through kubectl.
    let resources = k.ok(&["api-resources", "--api-group=source.toolkit.fluxcd.io", "-o", "name"]).await;
    assert!(resources.lines().any(|l| l == "gitrepositories.source.toolkit.fluxcd.io"), "{resources}");

    // Create, read in several shapes, explain.
    let manifest = dir.path().join("app.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: app\n  namespace: default\n\
         spec:\n  url: https://github.com/org/app\n  interval: 5m\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let m = manifest.to_string_lossy().into_owned();
    let created = k.ok(&["apply", "-f", &m]).await;
    assert!(created.contains("gitrepository.source.toolkit.fluxcd.io/app created"), "{created}");
    let again = k.ok(&["apply", "-f", &m]).await;
    assert!(again.contains("unchanged"), "{again}");
    let table = k.ok(&["get", "gitrepo"]).await;
    assert!(table.starts_with("NAME") && table.contains("URL") && table.contains("app"), "{table}");
    let names = k.ok(&["get", "gitrepositories", "-A", "-o", "name"]).await;
    assert_eq!(names.trim(), "gitrepository.source.toolkit.fluxcd.io/app");
    let json = k.ok(&["get", "gitrepository", "app", "-o", "jsonpath={.spec.timeout}"]).await;
    assert_eq!(json, "60s");

    // Other output shapes, describe and explain (OpenAPI v3).
    let yaml = k.ok(&["get", "gitrepository", "app", "-o", "yaml"]).await;
    assert!(yaml.contains("kind: GitRepository") && yaml.contains("url: https://github.com/org/app"), "{yaml}");
    let wide = k.ok(&["get", "gitrepositories", "-o", "wide"]).await;
    assert!(wide.contains("app"), "{wide}");
    let cols =
        k.ok(&["get", "gitrepositories", "-o", "custom-columns=N:.metadata.name,U:.spec.url", "--no-headers"]).await;
    assert_eq!(cols.split_whitespace().collect::<Vec<_>>(), ["app", "https://github.com/org/app"]);
    let described = k.ok(&["describe", "gitrepository", "app"]).await;
    assert!(described.contains("Name:") && described.contains("app"), "{described}");
    let explained = k.ok(&["explain", "gitrepositories.spec.ref"]).await;
    assert!(explained.contains("branch"), "{explained}");
    let explained = k.ok(&["explain", "kustomizations.spec.sourceRef.kind"]).await;
    assert!(explained.contains("FIELD: kind"), "{explained}");

    // Patches, labels, status, wait.
    k.ok(&["label", "gitrepository", "app", "team=web"]).await;
    k.ok(&["annotate", "gitrepository", "app", "note=x"]).await;
    k.ok(&["patch", "gitrepository", "app", "--type", "merge", "-p", r#"{"spec":{"interval":"10m"}}"#]).await;
    k.ok(&[
        "patch",
        "gitrepository",
        "app",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/interval","value":"15m"}]"#,
    ])
    .await;
    let got = k
        .ok(&[
            "get",
            "gitrepositories",
            "-l",
            "team=web",
            "-o",
            "jsonpath={.items[0].spec.interval} {.items[0].metadata.generation}",
        ])
        .await;
    assert_eq!(got, "15m 3");
    let status = r#"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Succeeded","message":"ok","lastTransitionTime":"2026-01-01T00:00:00Z","observedGeneration":3}]}}"#;
    k.ok(&["patch", "gitrepository", "app", "--subresource=status", "--type", "merge", "-p", status]).await;
    k.ok(&["wait", "--for=condition=Ready", "gitrepository/app", "--timeout=20s"]).await;

    // edit through an EDITOR script.
    let editor = dir.path().join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nsed -i 's/interval: 15m/interval: 20m/' \"$1\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
    }
    let editor_path = editor.to_string_lossy().into_owned();
    let edited = k.run_env(&["edit", "gitrepository", "app"], &[("KUBE_EDITOR", &editor_path)]).await;
    Kubectl::check(&edited, &["edit"]);
    assert_eq!(k.ok(&["get", "gitrepository", "app", "-o", "jsonpath={.spec.interval}"]).await, "20m");

    // A finalizer holds deletion until it is removed.
    k.ok(&[
        "patch",
        "gitrepository",
        "app",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
    ])
    .await;
    k.ok(&["delete", "gitrepository", "app", "--wait=false"]).await;
    let held = k.ok(&["get", "gitrepository", "app", "-o", "jsonpath={.metadata.deletionTimestamp}"]).await;
    assert!(!held.is_empty(), "deletionTimestamp is set");
    k.ok(&[
        "patch",
        "gitrepository",
        "app",
        "--type",
        "json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ])
    .await;
    let gone = k.run(&["get", "gitrepository", "app"]).await;
    assert!(!gone.ok && gone.stderr.contains("NotFound"), "{}", gone.stderr);
    k.ok(&["apply", "-f", &m]).await;

    // Dry run leaves nothing; delete removes.
    let dry = dir.path().join("dry.yaml");
    std::fs::write(&dry, std::fs::read_to_string(&manifest).unwrap_or_default().replace("name: app", "name: dry"))
        .unwrap_or_else(|e| panic!("{e}"));
    k.ok(&["apply", "--dry-run=server", "-f", &dry.to_string_lossy()]).await;
    let missing = k.run(&["get", "gitrepository", "dry"]).await;
    assert!(!missing.ok && missing.stderr.contains("NotFound"), "{}", missing.stderr);
    k.ok(&["delete", "gitrepository", "app"]).await;
    assert_eq!(k.ok(&["get", "gitrepositories", "-A", "-o", "name"]).await.trim(), "");

    // Paginated reads return everything.
    for i in 0..20 {
        let name = format!("page-{i:02}");
        std::fs::write(
            &dry,
            std::fs::read_to_string(&manifest).unwrap_or_default().replace("name: app", &format!("name: {name}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        k.ok(&["create", "-f", &dry.to_string_lossy()]).await;
    }
    let paged = k.ok(&["get", "gitrepositories", "--chunk-size=7", "-o", "name"]).await;
    assert_eq!(paged.lines().count(), 20, "{paged}");
    k.ok(&["delete", "gitrepositories", "--all"]).await;

    // A restart keeps data and credentials.
    k.ok(&["apply", "-f", &m]).await;
    running.shutdown().await;
    let mut config2 = config.clone();
    config2.secure_port = 0;
    let running = eddy_apiserver::start(config2).await.unwrap_or_else(|e| panic!("restarting: {e}"));
    assert_eq!(
        k.ok(&["get", "gitrepositories", "-o", "name"]).await.trim(),
        "gitrepository.source.toolkit.fluxcd.io/app"
    );

    // The seed examples: the ones the upstream schemas accept are created, the others refused.
    let examples = examples_dir();
    assert!(examples.is_dir(), "{} is missing", examples.display());
    let mut refused = Vec::new();
    let mut accepted = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    for f in &files {
        // Unknown fields are dropped with a warning (the server's default), so only schema
        // violations refuse a file. Some files describe the same object; later ones update it.
        let out = k.run(&["apply", "--validate=false", "-f", &f.to_string_lossy()]).await;
        if out.ok {
            accepted += 1;
        } else {
            assert!(
                out.stderr.contains("is invalid") && out.stderr.contains("Required value"),
                "{}: {}",
                f.display(),
                out.stderr
            );
            refused.push(f.file_name().map(|n| n.to_string_lossy()[..8].to_owned()).unwrap_or_default());
        }
    }
    assert_eq!(refused, ["line0343", "line1826", "line1855", "line1869", "line2420"]);
    assert_eq!(accepted, 51);
    running.shutdown().await;
}

/// `kubectl apply --server-side`: create, a no-op second apply, conflicts between two field
/// managers, `--force-conflicts`, `--show-managed-fields`, and client-side apply before and after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut config = ServeConfig::new(dir.path().join("data"));
    config.secure_port = 0;
    config.store = StoreOptions { sync: false, ..StoreOptions::default() };
    let running = eddy_apiserver::start(config).await.unwrap_or_else(|e| panic!("starting: {e}"));
    let k = Kubectl {
        binary: kubectl_binary(),
        kubeconfig: running.kubeconfig.clone().expect("standalone mode writes a kubeconfig"),
    };
    let manifest = |file: &str, spec: &str| -> String {
        let path = dir.path().join(file);
        std::fs::write(
            &path,
            format!(
                "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: app\n  namespace: default\n\
                 spec:\n  url: https://github.com/org/app\n{spec}"
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        path.to_string_lossy().into_owned()
    };
    let rv = "jsonpath={.metadata.resourceVersion}";

    let app = manifest("app.yaml", "  interval: 5m\n");
    let out = k.ok(&["apply", "--server-side", "-f", &app]).await;
    assert_eq!(out.trim(), "gitrepository.source.toolkit.fluxcd.io/app serverside-applied");
    let first = k.ok(&["get", "gitrepository", "app", "-o", rv]).await;
    let out = k.ok(&["apply", "--server-side", "-f", &app]).await;
    assert_eq!(out.trim(), "gitrepository.source.toolkit.fluxcd.io/app serverside-applied");
    assert_eq!(k.ok(&["get", "gitrepository", "app", "-o", rv]).await, first, "a second apply writes nothing");

    // A second manager that disagrees conflicts, naming the field and the owner.
    let other = manifest("other.yaml", "  interval: 10m\n");
    let refused = k.run(&["apply", "--server-side", "--field-manager=other", "-f", &other]).await;
    assert!(!refused.ok, "{}", refused.stdout);
    assert!(
        refused.stderr.contains(r#"Apply failed with 1 conflict: conflict with "kubectl": .spec.interval"#),
        "{}",
        refused.stderr
    );
    assert_eq!(k.ok(&["get", "gitrepository", "app", "-o", "jsonpath={.spec.interval}"]).await, "5m");
    k.ok(&["apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", &other]).await;
    assert_eq!(k.ok(&["get", "gitrepository", "app", "-o", "jsonpath={.spec.interval}"]).await, "10m");

    let shown = k.ok(&["get", "gitrepository", "app", "--show-managed-fields", "-o", "yaml"]).await;
    assert!(shown.contains("managedFields:"), "{shown}");
    assert!(shown.contains("manager: kubectl\n") && shown.contains("manager: other\n"), "{shown}");
    assert!(shown.contains("operation: Apply"), "{shown}");
    let hidden = k.ok(&["get", "gitrepository", "app", "-o", "yaml"]).await;
    assert!(!hidden.contains("managedFields"), "{hidden}");

    // Client-side apply after server-side apply works, and records its Update manager.
    let client = manifest("client.yaml", "  interval: 15m\n");
    let out = k.ok(&["apply", "-f", &client]).await;
    assert!(out.contains("gitrepository.source.toolkit.fluxcd.io/app configured"), "{out}");
    assert_eq!(k.ok(&["get", "gitrepository", "app", "-o", "jsonpath={.spec.interval}"]).await, "15m");
    let managers = k.ok(&["get", "gitrepository", "app", "-o", "jsonpath={.metadata.managedFields[*].manager}"]).await;
    assert!(managers.split(' ').any(|m| m == "kubectl-client-side-apply"), "{managers}");

    // ... and upgrading back to server-side apply takes over the client-side fields without
    // conflicts (kubectl migrates the client-side manager, the server honours last-applied).
    let server = manifest("server.yaml", "  interval: 20m\n");
    let out = k.ok(&["apply", "--server-side", "-f", &server]).await;
    assert!(out.contains("serverside-applied"), "{out}");
    assert_eq!(k.ok(&["get", "gitrepository", "app", "-o", "jsonpath={.spec.interval}"]).await, "20m");
    running.shutdown().await;
}
