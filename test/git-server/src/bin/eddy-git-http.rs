//! `eddy-git-http ROOT [URL_FILE]`: serves the bare repositories under ROOT over smart HTTP on
//! 127.0.0.1 (a port picked at start) until killed, and writes the base URL to URL_FILE (and
//! standard output). Used by `hack/up` to give the demo a Git server; tests use the library.

use std::path::PathBuf;

fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(root) = args.next().map(PathBuf::from) else {
        eprintln!("usage: eddy-git-http ROOT [URL_FILE]");
        return std::process::ExitCode::from(2);
    };
    let url_file = args.next().map(PathBuf::from);
    let server = match eddy_test_git::HttpGitServer::start(&root) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("eddy-git-http: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("{}", server.url());
    if let Some(f) = url_file
        && let Err(e) = std::fs::write(&f, format!("{}\n", server.url()))
    {
        eprintln!("eddy-git-http: writing {}: {e}", f.display());
        return std::process::ExitCode::FAILURE;
    }
    loop {
        std::thread::park();
    }
}
