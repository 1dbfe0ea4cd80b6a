//! Shared by the differential tests (and the `helm-bench` example): the reference Helm, Go
//! modules holding real charts, the known-differences files, and the seeded generator of the
//! fuzz tests.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The reference helm v4.3.2 (`$EDDY_HELM`, else what `hack/build-helm --check` prints); the
/// test fails, never skips, when it is not built.
pub fn helm() -> String {
    if let Some(bin) = std::env::var_os("EDDY_HELM") {
        return bin.to_string_lossy().to_string();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/build-helm");
    let out = Command::new(&script).arg("--check").output().expect("running hack/build-helm --check");
    assert!(
        out.status.success(),
        "the reference helm v4.3.2 is not built: run hack/build-helm (CI builds it through hack/ensure-deps)\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Copies a directory tree (a chart out of the read-only Go module cache), the copies
/// writable.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read chart dir").filter_map(Result::ok) {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
            let mut perms = std::fs::metadata(&target).expect("stat").permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).expect("chmod");
        }
    }
}

/// A module's directory in the Go module cache (`module@version`), downloading it through the
/// Go module proxy if needed (caches as `hack/env.sh` sets them).
pub fn module_dir(module: &str) -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_default();
    let modcache = std::env::var("GOMODCACHE").unwrap_or_else(|_| format!("{home}/.cache/eddy/go-mod"));
    let gocache = std::env::var("GOCACHE").unwrap_or_else(|_| format!("{home}/.cache/eddy/go-build"));
    let go = if Path::new("/usr/local/go/bin/go").exists() { "/usr/local/go/bin/go" } else { "go" };
    let out = Command::new(go)
        .args(["mod", "download", "-json", module])
        .current_dir(std::env::temp_dir())
        .env("GOMODCACHE", modcache)
        .env("GOCACHE", gocache)
        .env("GOFLAGS", "-mod=mod")
        .output()
        .expect("go is required to fetch modules from the Go module proxy");
    assert!(
        out.status.success(),
        "go mod download {module} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("go mod download -json output");
    PathBuf::from(info["Dir"].as_str().expect("Dir in go mod download output"))
}

/// A known-differences file (`ID reason` per line, `#` comments): ID → reason.
pub fn known_differences(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(' ') {
            Some((id, why)) => (id.to_string(), why.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

/// The fuzz tests' deterministic generator (xorshift64): the same seed gives the same cases.
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }

    /// True once in `n` draws, on average.
    pub fn chance(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }
}
