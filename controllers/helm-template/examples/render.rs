//! Renders a chart directory as `helm template` would and prints the output, or with
//! `--bench N` renders it N times in process and reports renders per second (loading once).
//!
//! Usage: `cargo run --release -p eddy-helm-template --example render -- CHART_DIR [--bench N]`

use std::time::Instant;

use eddy_helm_template::chart::load::load_dir;
use eddy_helm_template::{Options, render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).ok_or("usage: render CHART_DIR [--bench N]")?;
    let chart = load_dir(std::path::Path::new(dir))?;
    let options = Options::default();
    match args.get(2).map(String::as_str) {
        Some("--bench") => {
            let n: u32 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1000);
            let start = Instant::now();
            let mut bytes = 0;
            for _ in 0..n {
                bytes += render(&chart, &options)?.to_helm_output().len();
            }
            let secs = start.elapsed().as_secs_f64();
            println!("{n} renders in {secs:.3}s: {:.0} renders/s ({bytes} bytes)", f64::from(n) / secs);
        }
        _ => print!("{}", render(&chart, &options)?.to_helm_output()),
    }
    Ok(())
}
