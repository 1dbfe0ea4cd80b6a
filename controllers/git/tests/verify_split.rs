//! `split_commit` / `split_tag` against git itself: fake `gpg` and `ssh-keygen` programs
//! record the signature file and the payload that `git verify-commit` / `git verify-tag`
//! hand them, and the split of the raw object must equal both, byte for byte.

mod verify_support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use eddy_git::verify::{split_commit, split_tag};
use verify_support::{GpgHome, Repo, SshKey, run, run_ok};

const FAKE_GPG: &str = r#"#!/bin/sh
while [ $# -gt 0 ]; do
  case "$1" in
    --verify) cp "$2" "$EDDY_CAPTURE/signature"; shift ;;
  esac
  shift
done
cat > "$EDDY_CAPTURE/payload"
exit 1
"#;

const FAKE_SSH_KEYGEN: &str = r#"#!/bin/sh
mode=""
while [ $# -gt 0 ]; do
  case "$1" in
    -Y) mode="$2"; shift ;;
    -s) cp "$2" "$EDDY_CAPTURE/signature"; shift ;;
  esac
  shift
done
case "$mode" in
  verify|check-novalidate) cat > "$EDDY_CAPTURE/payload" ;;
esac
exit 1
"#;

/// Records what git hands to the signature programs.
struct Capture {
    dir: tempfile::TempDir,
}

impl Capture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, script) in [("gpg", FAKE_GPG), ("ssh-keygen", FAKE_SSH_KEYGEN)] {
            let path = dir.path().join(name);
            std::fs::write(&path, script).expect("write script");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        std::fs::write(dir.path().join("allowed_signers"), "").expect("allowed signers");
        Self { dir }
    }

    fn program(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `git verify-<kind> <id>` with the fake programs; returns (signature, payload).
    fn git_view(&self, repo: &Repo, kind: &str, id: &str) -> (String, Vec<u8>) {
        let out = self.dir.path().join("out");
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir(&out).expect("out dir");
        let gpg = format!("gpg.program={}", self.program("gpg").display());
        let ssh = format!("gpg.ssh.program={}", self.program("ssh-keygen").display());
        let allowed = format!("gpg.ssh.allowedSignersFile={}", self.dir.path().join("allowed_signers").display());
        let verb = format!("verify-{kind}");
        let mut command = repo.git(&["-c", &gpg, "-c", &ssh, "-c", &allowed, &verb, id]);
        command.env("EDDY_CAPTURE", &out);
        // The fake programs fail on purpose: only what they recorded matters.
        let _ = run(&mut command, b"");
        (read(&out.join("signature")), std::fs::read(out.join("payload")).unwrap_or_default())
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn assert_split_matches_git(repo: &Repo, capture: &Capture, kind: &str, id: &str) {
    let raw = repo.cat_file(kind, id);
    let split = if kind == "commit" { split_commit(&raw) } else { split_tag(&raw) };
    let (signature, payload) = capture.git_view(repo, kind, id);
    assert!(!signature.is_empty(), "git found no signature in {kind} {id}");
    assert_eq!(split.signature, signature, "signature of {kind} {id}");
    assert_eq!(String::from_utf8_lossy(&split.payload), String::from_utf8_lossy(&payload), "payload of {kind} {id}");
}

#[test]
fn splits_openpgp_and_ssh_signed_objects_as_git_does() {
    let gpg = GpgHome::new();
    let fpr = gpg.generate("Splitter <split@example.com>", "ed25519", "0", &[]);
    let mut repo = Repo::new();
    repo.gnupg_home = Some(gpg.path().to_path_buf());
    let ssh = SshKey::generate(gpg.path(), "ssh-signer", "ed25519");
    let ssh_config = ssh.git_config();
    let ssh_config: Vec<&str> = ssh_config.iter().map(String::as_str).collect();
    let capture = Capture::new();

    // A plain signed commit, and one whose message has indented lines and a fake armour.
    let first = repo.commit("first\n\n  indented\n", &[], &[&format!("-S{fpr}")]);
    assert_split_matches_git(&repo, &capture, "commit", &first);
    let tricky =
        repo.commit("tricky\n\n-----BEGIN PGP SIGNATURE-----\n not a signature\n", &[], &[&format!("-S{fpr}")]);
    assert_split_matches_git(&repo, &capture, "commit", &tricky);

    // Signed tags: OpenPGP, SSH, and one whose message contains an armour line too.
    let pgp_tag = repo.tag("v1.0.0", &[], &["-u", &fpr]);
    assert_split_matches_git(&repo, &capture, "tag", &pgp_tag);
    let ssh_tag = repo.tag("v1.0.1", &ssh_config, &["-s"]);
    assert_split_matches_git(&repo, &capture, "tag", &ssh_tag);
    run_ok(&mut repo.git(&["tag", "-u", &fpr, "-m", "notes\n-----BEGIN SSH SIGNATURE-----\nquoted", "v1.0.2"]), b"");
    let quoted = repo.rev_parse("refs/tags/v1.0.2");
    assert_split_matches_git(&repo, &capture, "tag", &quoted);

    // An SSH-signed commit.
    let ssh_commit = repo.commit("ssh signed", &ssh_config, &["-S"]);
    assert_split_matches_git(&repo, &capture, "commit", &ssh_commit);

    // A signed merge of a signed tag: the `mergetag` header embeds the tag, signature and
    // all, as continuation lines that must stay in the payload.
    run_ok(&mut repo.git(&["checkout", "-q", "-b", "side", &first]), b"");
    repo.commit("side", &[], &[]);
    let merged_tag = repo.tag("side-1", &[], &["-u", &fpr]);
    run_ok(&mut repo.git(&["checkout", "-q", "main"]), b"");
    run_ok(&mut repo.git(&["merge", "-q", "--no-ff", "-m", "merge signed tag", &format!("-S{fpr}"), "side-1"]), b"");
    let merge = repo.rev_parse("HEAD");
    let raw = repo.cat_file("commit", &merge);
    assert!(String::from_utf8_lossy(&raw).contains("\nmergetag object "), "the merge records the tag");
    assert_split_matches_git(&repo, &capture, "commit", &merge);
    assert!(!merged_tag.is_empty());

    // Unsigned objects: nothing to split, and git finds nothing either.
    let unsigned = repo.commit("unsigned", &[], &[]);
    let raw = repo.cat_file("commit", &unsigned);
    let split = split_commit(&raw);
    assert!(!split.is_signed());
    assert_eq!(split.payload, raw);
    let (signature, _) = capture.git_view(&repo, "commit", &unsigned);
    assert!(signature.is_empty());
    let plain_tag = repo.tag("plain", &[], &[]);
    assert!(!split_tag(&repo.cat_file("tag", &plain_tag)).is_signed());
}
