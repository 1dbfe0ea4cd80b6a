//! SOPS-encrypted manifests through the Kustomization controller: files encrypted by the real
//! `sops` CLI (v3.13.3, `hack/build-sops`) with age and OpenPGP keys land decrypted in the
//! cluster; a wrong key fails with a clear reason; no plaintext reaches status, events or logs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use eddy_e2e::{Cluster, cluster, eventually, json};
use eddy_test_git::{HttpGitServer, RepoBuilder};

const WAIT: Duration = Duration::from_secs(120);

fn sops_bin() -> PathBuf {
    let script = eddy_e2e::repo_root().join("hack/build-sops");
    let out = Command::new(&script).output().expect("running hack/build-sops");
    assert!(out.status.success(), "hack/build-sops failed: {}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A throwaway age identity (`AGE-SECRET-KEY-1…`) and its recipient.
fn age_key(seed: u8) -> (String, String) {
    let mut bytes = [0u8; 32];
    for (i, b) in (0u8..).zip(bytes.iter_mut()) {
        *b = seed.wrapping_mul(29).wrapping_add(i).wrapping_mul(13);
    }
    eddy_sops::age_key_from_secret(bytes)
}

/// An OpenPGP key made by gpg in `home`: (fingerprint, armored secret key).
fn gpg_key(home: &Path) -> (String, String) {
    std::fs::create_dir_all(home).expect("gnupg home");
    std::fs::set_permissions(home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod");
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .env("GNUPGHOME", home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .expect("gpg (hack/ensure-deps installs it)");
        assert!(out.status.success(), "gpg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let _ = gpg(&["--quick-gen-key", "eddy-e2e <e2e@example.invalid>", "future-default", "default", "never"]);
    let listing = gpg(&["--with-colons", "--list-secret-keys"]);
    let fp = listing.lines().find_map(|l| l.strip_prefix("fpr:").map(|r| r.trim_matches(':').to_owned())).expect("fpr");
    let armored = gpg(&["--armor", "--export-secret-keys", &fp]);
    (fp, armored)
}

/// `sops --encrypt` of `plain` written as `name` in `dir`.
fn encrypt(sops: &Path, dir: &Path, name: &str, plain: &str, args: &[&str]) -> String {
    let file = dir.join(name);
    std::fs::write(&file, plain).expect("write");
    let out = Command::new(sops)
        .current_dir(dir)
        .env("HOME", dir)
        .env("GNUPGHOME", dir.join("gnupg"))
        .arg("--encrypt")
        .args(args)
        .arg(&file)
        .output()
        .expect("sops");
    assert!(out.status.success(), "sops --encrypt {name}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn secret_value(c: &Cluster, ns: &str, name: &str, key: &str) -> Option<String> {
    let text = c.kubectl(&["get", "secret", name, "-n", ns, "-o", "json", "--ignore-not-found"]).ok("get secret");
    if text.trim().is_empty() {
        return None;
    }
    let v = json(&text);
    let b64 = v["data"][key].as_str()?.to_owned();
    let out = Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let mut child = out.ok()?;
    std::io::Write::write_all(child.stdin.as_mut()?, b64.as_bytes()).ok()?;
    drop(child.stdin.take());
    let output = child.wait_with_output().ok()?;
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn ready(c: &Cluster, ns: &str, name: &str) -> (String, String, String) {
    let o = json(&c.kubectl(&["get", "kustomization", name, "-n", ns, "-o", "json"]).ok("get ks"));
    o["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_owned(),
                c["reason"].as_str().unwrap_or_default().to_owned(),
                c["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .unwrap_or_default()
}

#[test]
fn sops_encrypted_secrets_land_decrypted_with_age_and_openpgp_keys() {
    let c = cluster();
    let ns = c.namespace("ks-sops");
    let sops = sops_bin();
    let work = tempfile::tempdir().expect("tempdir");
    let (age_identity, age_recipient) = age_key(7);
    let (_, other_recipient) = age_key(8);
    let (pgp_fp, pgp_armored) = gpg_key(&work.path().join("gnupg"));
    let secret = |name: &str, value: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\ntype: Opaque\nstringData:\n  password: {value}\n"
        )
    };
    let regex = ["--encrypted-regex", "^(data|stringData)$"];
    let by_age = encrypt(
        &sops,
        work.path(),
        "age.yaml",
        &secret("db-age", "age-plaintext-4711"),
        &[&["--age", &age_recipient][..], &regex[..]].concat(),
    );
    let by_pgp = encrypt(
        &sops,
        work.path(),
        "pgp.yaml",
        &secret("db-pgp", "pgp-plaintext-4712"),
        &[&["--pgp", &pgp_fp][..], &regex[..]].concat(),
    );
    let env = encrypt(&sops, work.path(), "creds.env", "API_TOKEN=env-plaintext-4713\n", &["--age", &age_recipient]);
    let foreign = encrypt(
        &sops,
        work.path(),
        "foreign.yaml",
        &secret("db-foreign", "foreign-plaintext-4714"),
        &[&["--age", &other_recipient][..], &regex[..]].concat(),
    );

    let root = tempfile::tempdir().expect("tempdir");
    let mut repo = RepoBuilder::init(root.path(), "repo.git").expect("repo");
    repo.write("secrets/age.yaml", &by_age).expect("write");
    repo.write("secrets/pgp.yaml", &by_pgp).expect("write");
    repo.write("secrets/creds.env", &env).expect("write");
    repo.write(
        "secrets/kustomization.yaml",
        "resources:\n- age.yaml\n- pgp.yaml\nsecretGenerator:\n- name: api\n  envs:\n  - creds.env\ngeneratorOptions:\n  disableNameSuffixHash: true\n",
    )
    .expect("write");
    repo.write("foreign/secret.yaml", &foreign).expect("write");
    repo.write("plain/secret.yaml", &by_age).expect("write");
    let _ = repo.commit("encrypted").expect("commit");
    let _ = repo.push().expect("push");
    let http = HttpGitServer::start(root.path()).expect("git server");

    let keys = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-keys\n  namespace: {ns}\nstringData:\n  identity.agekey: |\n    # test key\n    {age_identity}\n  key.asc: |\n{}\n",
        pgp_armored.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
    );
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &keys).ok("keys secret");
    let ks = |name: &str, path: &str, decryption: bool| {
        let dec =
            if decryption { "  decryption:\n    provider: sops\n    secretRef:\n      name: sops-keys\n" } else { "" };
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  interval: 10m\n  retryInterval: 10s\n  path: {path}\n  prune: true\n  targetNamespace: {ns}\n  sourceRef:\n    kind: GitRepository\n    name: repo\n{dec}"
        )
    };
    let manifests = [
        format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: repo\n  namespace: {ns}\nspec:\n  interval: 10m\n  url: {}\n  ref:\n    branch: main\n",
            http.repo_url("repo.git")
        ),
        ks("secrets", "./secrets", true),
        ks("foreign", "./foreign", true),
        ks("plain", "./plain", false),
    ]
    .join("---\n");
    let _ = c.kubectl_stdin(&["apply", "-f", "-"], &manifests).ok("apply");

    let decrypted = eventually(WAIT, || {
        (ready(c, &ns, "secrets").0 == "True").then_some(())?;
        Some(())
    });
    assert!(decrypted.is_some(), "secrets not Ready: {:?}", ready(c, &ns, "secrets"));
    assert_eq!(secret_value(c, &ns, "db-age", "password").as_deref(), Some("age-plaintext-4711"));
    assert_eq!(secret_value(c, &ns, "db-pgp", "password").as_deref(), Some("pgp-plaintext-4712"));
    assert_eq!(secret_value(c, &ns, "api", "API_TOKEN").as_deref(), Some("env-plaintext-4713"));

    // A document for another key fails the build; one without decryption configured is refused.
    let failed = |name: &str| {
        eventually(WAIT, || {
            let r = ready(c, &ns, name);
            (r.0 == "False" && !r.1.is_empty() && r.1 != "Progressing").then_some(r)
        })
        .unwrap_or_else(|| panic!("{name} did not fail: {:?}", ready(c, &ns, name)))
    };
    let (_, reason, message) = failed("foreign");
    assert_eq!(reason, "BuildFailed", "{message}");
    assert!(message.contains("db-foreign") || message.contains("Secret"), "{message}");
    let (_, reason, message) = failed("plain");
    assert_eq!(reason, "ReconciliationFailed", "{message}");
    assert!(message.contains("is SOPS encrypted, configuring decryption is required"), "{message}");
    assert!(secret_value(c, &ns, "db-foreign", "password").is_none());

    // No plaintext anywhere but in the Secrets themselves.
    let everything = format!(
        "{}{}{}",
        c.kubectl(&["get", "kustomizations", "-n", &ns, "-o", "yaml"]).ok("ks"),
        c.kubectl(&["get", "events", "-n", &ns, "-o", "yaml"]).ok("events"),
        std::fs::read_to_string(c.dir.join("logs/eddy.log")).unwrap_or_default()
    );
    for plaintext in
        ["age-plaintext-4711", "pgp-plaintext-4712", "env-plaintext-4713", "foreign-plaintext-4714", &age_identity]
    {
        assert!(!everything.contains(plaintext), "{plaintext} leaked");
    }
}
