//! Compares this engine with the reference `helm template` (Helm v4.3.2 from `hack/build-helm`)
//! in one run:
//!
//! - whole process, on the largest real chart of the real-chart test (kyverno v1.19.1's
//!   `charts/kyverno`, fetched from the Go module proxy, its two repository-only subcharts
//!   stubbed): N runs of `helm template` and of this crate's `render` example (the same engine
//!   as `eddy helm template`, in a small binary), CPU seconds (user + system) and peak RSS
//!   from `/usr/bin/time`;
//! - in process: renders per second of a small chart (`helm create`'s scaffold) and of the
//!   large chart, chart loaded once.
//!
//! Run with `cargo build --release -p eddy-helm-template --example render && cargo run
//! --release -p eddy-helm-template --example helm-bench [-- N]` (N defaults to 10).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use eddy_helm_template::chart::load::load_dir;
use eddy_helm_template::{Options, render};

// The reference helm, Go modules and chart copies, as the differential tests find them.
#[path = "../tests/support/mod.rs"]
mod support;
use support::{copy_dir, helm, module_dir};

/// `/usr/bin/time` over N runs of a command: total CPU seconds, wall seconds, peak RSS (KiB).
fn measure(n: u32, program: &str, args: &[&str], home: &Path) -> (f64, f64, u64) {
    let (mut cpu, mut wall, mut rss) = (0.0, 0.0, 0u64);
    for _ in 0..n {
        let out = Command::new("/usr/bin/time")
            .args(["-f", "%e %U %S %M", program])
            .args(args)
            .env_clear()
            .env("HOME", home)
            .env("PATH", "/usr/bin:/bin")
            .env("KUBECONFIG", home.join("none"))
            .output()
            .expect("/usr/bin/time");
        assert!(out.status.success(), "{program} failed: {}", String::from_utf8_lossy(&out.stderr));
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or_default().to_string();
        let f: Vec<f64> = last.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        if let [e, u, s, m] = f.as_slice() {
            wall += e;
            cpu += u + s;
            rss = rss.max(*m as u64);
        }
    }
    (cpu, wall, rss)
}

fn per_second(chart: &Path, seconds: f64) -> (f64, usize) {
    let c = load_dir(chart).expect("chart loads");
    let o = Options::default();
    let start = Instant::now();
    let (mut n, mut bytes) = (0u32, 0);
    while start.elapsed().as_secs_f64() < seconds {
        bytes = render(&c, &o).expect("renders").to_helm_output().len();
        n += 1;
    }
    (f64::from(n) / start.elapsed().as_secs_f64(), bytes)
}

fn main() {
    let n: u32 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let helm = helm();
    // The render example is built next to this one.
    let render_bin = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("render")))
        .unwrap_or_else(|| PathBuf::from("render"));
    assert!(render_bin.exists(), "build the render example first (cargo build --release --example render)");
    let work = tempfile::tempdir().expect("temp dir");
    let large = work.path().join("kyverno");
    copy_dir(&module_dir("github.com/kyverno/kyverno@v1.19.1").join("charts/kyverno"), &large);
    for (name, version) in [("kyverno-api", "0.0.1-alpha.4"), ("openreports", "0.1.0"), ("reports-server", "0.1.6")] {
        let dir = large.join("charts").join(name);
        if !dir.exists() {
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(dir.join("Chart.yaml"), format!("apiVersion: v2\nname: {name}\nversion: {version}\n"))
                .expect("stub");
        }
    }
    let small = work.path().join("small");
    let out = Command::new(&helm).args(["create", &small.to_string_lossy()]).env("HOME", work.path()).output();
    assert!(out.is_ok_and(|o| o.status.success()), "helm create");

    let large_s = large.to_string_lossy().to_string();
    let ours = render_bin.to_string_lossy().to_string();
    let h = measure(n, &helm, &["template", &large_s], work.path());
    let e = measure(n, &ours, &[&large_s], work.path());
    let hs = measure(n, &helm, &["template", &small.to_string_lossy()], work.path());
    let es = measure(n, &ours, &[&small.to_string_lossy()], work.path());
    let (large_rate, large_bytes) = per_second(&large, 5.0);
    let (small_rate, small_bytes) = per_second(&small, 3.0);
    println!("whole process, {n} runs each (CPU = user + system, summed; peak RSS of one run):");
    println!(
        "  kyverno ({large_bytes} bytes): helm {:.2} s CPU, {:.2} s wall, {} MiB | eddy {:.2} s CPU, {:.2} s wall, {} MiB | {:.0}x less CPU",
        h.0,
        h.1,
        h.2 / 1024,
        e.0,
        e.1,
        e.2 / 1024,
        h.0 / e.0.max(0.001)
    );
    println!(
        "  helm create scaffold ({small_bytes} bytes): helm {:.2} s CPU, {} MiB | eddy {:.2} s CPU, {} MiB",
        hs.0,
        hs.2 / 1024,
        es.0,
        es.2 / 1024
    );
    println!("in process: kyverno {large_rate:.1} renders/s, scaffold {small_rate:.0} renders/s");
}
