//! Builds a kustomization directory and prints the result (for manual checks).

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: kbuild DIR");
        std::process::exit(2);
    };
    match eddy_kustomize::build(std::path::Path::new(&dir), &eddy_kustomize::BuildOptions::default()) {
        Ok(out) => print!("{out}"),
        Err(e) => {
            eprintln!("Error: {e}");
            std::process::exit(1);
        }
    }
}
