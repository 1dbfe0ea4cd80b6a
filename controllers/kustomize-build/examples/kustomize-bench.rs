//! Compares this engine with the reference `kubectl kustomize` on a
//! generated 2,000-resource overlay tree and a 10-resource tree.
//!
//! Run with `cargo run --release -p eddy-kustomize --example kustomize-bench`.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use eddy_kustomize::{BuildOptions, build};

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, text).expect("write");
}

/// Four bases of 125 services (Deployment, Service, ConfigMap, ServiceAccount
/// each), and an overlay with namespace, prefix, labels, images, a JSON patch
/// on every Deployment, a strategic merge patch by label selector and a
/// generator.
fn large_tree(root: &Path) {
    let mut top = String::from(
        "namespace: bench\nnamePrefix: prod-\nlabels:\n- pairs:\n    env: prod\n  includeSelectors: true\n\
         images:\n- name: nginx\n  newTag: 1.27.0\nconfigMapGenerator:\n- name: global\n  literals: [A=1, B=2]\n\
         patches:\n- target:\n    kind: Deployment\n  patch: |-\n    - op: add\n      path: /spec/template/spec/containers/0/args\n      value: [--prod]\n\
         - target:\n    labelSelector: tier=backend\n    kind: Deployment\n  patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: any\n    spec:\n      template:\n        spec:\n          nodeSelector:\n            pool: backend\nresources:\n",
    );
    for b in 0..4 {
        let _ = writeln!(top, "- base{b}");
        let mut k = String::from("resources:\n");
        for s in 0..125 {
            let name = format!("svc{b}-{s}");
            let tier = if s % 2 == 0 { "backend" } else { "frontend" };
            let file = format!("base{b}/{name}.yaml");
            let _ = writeln!(k, "- {name}.yaml");
            write(
                root,
                &file,
                &format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\n    tier: {tier}\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      serviceAccountName: {name}\n      containers:\n      - name: app\n        image: nginx:1.25\n        envFrom:\n        - configMapRef:\n            name: {name}\n        ports:\n        - containerPort: 8080\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector:\n    app: {name}\n  ports:\n  - port: 80\n    targetPort: 8080\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  SERVICE: {name}\n  LEVEL: info\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n"
                ),
            );
        }
        write(root, &format!("base{b}/kustomization.yaml"), &k);
    }
    write(root, "kustomization.yaml", &top);
}

fn small_tree(root: &Path) {
    write(
        root,
        "kustomization.yaml",
        "namespace: small\nnamePrefix: s-\ncommonLabels:\n  app: small\nresources:\n- r.yaml\nconfigMapGenerator:\n- name: cfg\n  literals: [A=1]\n",
    );
    let mut r = String::new();
    for i in 0..9 {
        let _ = write!(r, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{i}\ndata:\n  k: v{i}\n");
    }
    write(root, "r.yaml", &r);
}

fn time_kubectl(dir: &Path, runs: u32) -> Option<(Duration, String)> {
    if std::env::var_os("EDDY_BENCH_SKIP_REFERENCE").is_some() {
        return None;
    }
    let mut best = Duration::MAX;
    let mut out = String::new();
    for _ in 0..runs {
        let t = Instant::now();
        let o = Command::new("kubectl").arg("kustomize").arg(dir).output().ok()?;
        best = best.min(t.elapsed());
        if !o.status.success() {
            return None;
        }
        out = String::from_utf8_lossy(&o.stdout).to_string();
    }
    Some((best, out))
}

fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // EDDY_BENCH_DIR keeps the generated trees for other measurements.
    let base = std::env::var_os("EDDY_BENCH_DIR").map_or_else(|| tmp.path().to_path_buf(), std::path::PathBuf::from);
    let large = base.join("large");
    let small = base.join("small");
    large_tree(&large);
    small_tree(&small);
    let opts = BuildOptions::default();

    let t = Instant::now();
    let ours = build(&large, &opts).expect("large build");
    let first = t.elapsed();
    let mut best = first;
    for _ in 0..4 {
        let t = Instant::now();
        let _ = build(&large, &opts).expect("large build");
        best = best.min(t.elapsed());
    }
    let docs = ours.matches("\n---\n").count() + 1;
    println!("large tree: {docs} resources, eddy in-process best {best:?} (first {first:?})");
    match time_kubectl(&large, 1) {
        Some((k, reference)) => {
            println!(
                "large tree: kubectl kustomize {k:?}; ratio {:.1}x; identical output: {}",
                k.as_secs_f64() / best.as_secs_f64(),
                reference == ours
            );
        }
        None => println!("large tree: kubectl kustomize unavailable"),
    }

    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        let _ = build(&small, &opts).expect("small build");
    }
    let el = t.elapsed();
    println!("small tree: {:.0} builds/s in-process ({:?} each)", f64::from(n) / el.as_secs_f64(), el / n);
    if let Some((k, reference)) = time_kubectl(&small, 5) {
        let ours = build(&small, &opts).expect("small build");
        println!("small tree: kubectl kustomize best {k:?}; identical output: {}", reference == ours);
    }
}
