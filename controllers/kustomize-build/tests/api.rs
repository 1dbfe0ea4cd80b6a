//! Behaviour of the public API that the corpus cannot express: the build
//! boundary, remote references and the resource-returning variant.

use std::fs;
use std::path::Path;

use eddy_kustomize::{BuildOptions, Error, LoadRestrictions, build, build_resources, render};

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, text).expect("write");
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\n";

#[test]
fn bases_outside_the_boundary_are_refused() {
    let repo = tempfile::tempdir().expect("tempdir");
    write(repo.path(), "base/kustomization.yaml", "resources:\n- cm.yaml\n");
    write(repo.path(), "base/cm.yaml", CM);
    write(repo.path(), "app/kustomization.yaml", "resources:\n- ../base\n");
    let app = repo.path().join("app");
    // By default, as `kustomize build app/`, a base may live outside the build root.
    let out = build(&app, &BuildOptions::default()).expect("the base/overlay layout builds");
    assert!(out.contains("name: c\n"), "{out}");
    // An explicit boundary keeps it out of reach, in either load restriction.
    for load_restrictions in [LoadRestrictions::RootOnly, LoadRestrictions::BoundaryOnly] {
        let opts = BuildOptions { boundary: Some(app.clone()), load_restrictions, ..BuildOptions::default() };
        let err = build(&app, &opts).expect_err("must be refused");
        assert!(matches!(err, Error::Restricted(_)), "{err}");
    }
    // Flux's mode without a boundary is confined to the build root.
    let opts = BuildOptions { load_restrictions: LoadRestrictions::BoundaryOnly, ..BuildOptions::default() };
    assert!(matches!(build(&app, &opts), Err(Error::Restricted(_))));
    // With the repository as the boundary the overlay builds.
    let opts = BuildOptions { boundary: Some(repo.path().to_path_buf()), ..BuildOptions::default() };
    let out = build(&app, &opts).expect("builds inside the boundary");
    assert!(out.contains("name: c\n"), "{out}");
}

#[test]
fn files_stay_in_their_kustomization_directory_by_default() {
    let repo = tempfile::tempdir().expect("tempdir");
    write(repo.path(), "shared/cm.yaml", CM);
    write(repo.path(), "app/kustomization.yaml", "resources:\n- ../shared/cm.yaml\n");
    let app = repo.path().join("app");
    let err = build(&app, &BuildOptions::default()).expect_err("a file outside the kustomization directory");
    assert!(matches!(err, Error::Restricted(_)), "{err}");
    let opts = BuildOptions {
        boundary: Some(repo.path().to_path_buf()),
        load_restrictions: LoadRestrictions::BoundaryOnly,
        ..BuildOptions::default()
    };
    assert!(build(&app, &opts).expect("Flux's mode reads it").contains("name: c\n"));
}

#[cfg(unix)]
#[test]
fn symlinked_directories_cannot_escape_the_boundary() {
    let outside = tempfile::tempdir().expect("tempdir");
    write(outside.path(), "kustomization.yaml", "resources:\n- cm.yaml\n");
    write(outside.path(), "cm.yaml", CM);
    let root = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(outside.path(), root.path().join("linked")).expect("symlink");
    write(root.path(), "kustomization.yaml", "resources:\n- linked\n");
    let opts = BuildOptions { boundary: Some(root.path().to_path_buf()), ..BuildOptions::default() };
    let err = build(root.path(), &opts).expect_err("must be refused");
    assert!(matches!(err, Error::Restricted(_)), "{err}");
}

#[test]
fn remote_resources_are_refused_with_a_clear_error() {
    let root = tempfile::tempdir().expect("tempdir");
    for remote in [
        "github.com/example/repo/deploy?ref=v1.0.0",
        "https://example.com/manifest.yaml",
        "git@github.com:example/repo.git",
    ] {
        write(root.path(), "kustomization.yaml", &format!("resources:\n- {remote}\n"));
        let err = build(root.path(), &BuildOptions::default()).expect_err("must be refused");
        assert!(matches!(err, Error::Remote(_)), "{remote}: {err}");
        assert!(err.to_string().contains("remote"), "{err}");
    }
}

#[test]
fn build_resources_returns_ordered_resources_that_render_like_build() {
    let root = tempfile::tempdir().expect("tempdir");
    write(
        root.path(),
        "kustomization.yaml",
        "namespace: ns\nresources:\n- r.yaml\nconfigMapGenerator:\n- name: g\n  literals: [a=b]\n",
    );
    write(
        root.path(),
        "r.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n",
    );
    let res = build_resources(root.path(), &BuildOptions::default()).expect("build");
    let kinds: Vec<&str> = res.iter().map(eddy_kustomize::Resource::kind).collect();
    assert_eq!(kinds, ["Namespace", "ConfigMap", "Deployment"]);
    assert!(res[1].name().starts_with("g-"), "generated name gets a hash");
    assert_eq!(res[2].namespace(), "ns");
    let text = render(&res).expect("render");
    assert_eq!(text, build(root.path(), &BuildOptions::default()).expect("build"));
}

#[test]
fn invalid_yaml_reports_the_file_and_line() {
    let root = tempfile::tempdir().expect("tempdir");
    write(root.path(), "kustomization.yaml", "resources:\n- bad.yaml\n");
    write(root.path(), "bad.yaml", "a: b\nc: [d\ne: f\n");
    let err = build(root.path(), &BuildOptions::default()).expect_err("invalid");
    let msg = err.to_string();
    assert!(msg.contains("bad.yaml") && msg.contains("line"), "{msg}");
}

#[test]
fn flux_mode_reads_files_anywhere_inside_the_boundary() {
    let repo = tempfile::tempdir().expect("tempdir");
    write(repo.path(), "shared/cm.yaml", CM);
    write(repo.path(), "apps/app/kustomization.yaml", "resources:\n- ../../shared/cm.yaml\n");
    let app = repo.path().join("apps/app");
    let root_only = BuildOptions { boundary: Some(repo.path().to_path_buf()), ..BuildOptions::default() };
    let err = build(&app, &root_only).expect_err("kustomize's default restriction refuses the file");
    assert!(matches!(err, Error::Restricted(_)), "{err}");
    let flux = BuildOptions {
        boundary: Some(repo.path().to_path_buf()),
        load_restrictions: eddy_kustomize::LoadRestrictions::BoundaryOnly,
        ..BuildOptions::default()
    };
    let out = build(&app, &flux).expect("Flux mode reads inside the boundary");
    assert!(out.contains("name: c\n"), "{out}");
    // Still nothing outside the boundary.
    write(repo.path(), "apps/app/kustomization.yaml", "resources:\n- ../../../outside.yaml\n");
    let err = build(&app, &flux).expect_err("outside the boundary");
    assert!(matches!(err, Error::Restricted(_)), "{err}");
}
