//! The SSH Git server, exercised with the real git and ssh CLIs.

mod common;

use std::path::Path;

use common::{bare_rev, failed, git_cmd, ok, run, simple_repo};
use eddy_test_git::ssh::SshKeyFormat;
use eddy_test_git::{SshGitServer, SshKeyPair, SshKeyType};

fn git_ssh(dir: &Path, ssh_command: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = git_cmd(dir);
    cmd.env("GIT_SSH_COMMAND", ssh_command);
    run(cmd, args)
}

#[test]
fn clone_fetch_and_push_with_ed25519_and_rsa_keys() {
    let root = tempfile::tempdir().unwrap();
    let (mut repo, first) = simple_repo(root.path(), "repo.git");
    let ed = SshKeyPair::generate(SshKeyType::Ed25519).unwrap();
    let rsa = SshKeyPair::generate_with(SshKeyType::Rsa, None, SshKeyFormat::Pem).unwrap();
    assert!(rsa.private_key().starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert!(ed.private_key().starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    let server = SshGitServer::start(root.path(), [ed.public_key()]).unwrap();
    server.authorize(rsa.public_key()).unwrap();
    let known_hosts = server.known_hosts_file().unwrap();
    assert!(server.known_hosts_line().starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", server.addr().port())));
    let url = server.repo_url("repo.git");
    assert!(url.starts_with(&format!("ssh://{}@127.0.0.1:", server.user())), "{url}");
    let work = tempfile::tempdir().unwrap();

    for (key, dest) in [(&ed, "ed"), (&rsa, "rsa")] {
        let ssh = SshGitServer::ssh_command(key.private_key_path(), &known_hosts);
        ok(&git_ssh(work.path(), &ssh, &["clone", "--quiet", &url, dest]), &["clone", dest]);
        let clone = work.path().join(dest);
        assert_eq!(common::git_ok(&clone, &["rev-parse", "HEAD"]), first);
    }

    let ssh = SshGitServer::ssh_command(ed.private_key_path(), &known_hosts);
    let clone = work.path().join("ed");
    repo.write("more.txt", "more\n").unwrap();
    let second = repo.commit("second").unwrap();
    repo.push().unwrap();
    let mut cmd = git_cmd(&clone);
    cmd.env("GIT_SSH_COMMAND", &ssh).env("GIT_TRACE_PACKET", "1");
    let out = run(cmd, &["-c", "protocol.version=2", "fetch", "--quiet", "origin"]);
    let trace = ok(&out, &["fetch"]) + &String::from_utf8_lossy(&out.stderr);
    assert!(trace.contains("< version 2"), "GIT_PROTOCOL reaches upload-pack (AcceptEnv): {trace}");
    assert_eq!(common::git_ok(&clone, &["rev-parse", "origin/main"]), second);

    common::git_ok(&clone, &["commit", "--quiet", "--allow-empty", "-m", "over ssh"]);
    let pushed = common::git_ok(&clone, &["rev-parse", "HEAD"]);
    ok(&git_ssh(&clone, &ssh, &["push", "--quiet", "origin", "HEAD:refs/heads/from-ssh"]), &["push"]);
    assert_eq!(bare_rev(repo.bare_path(), "from-ssh"), pushed);
    assert!(server.log().contains("Accepted publickey"), "{}", server.log());
}

#[test]
fn a_key_with_a_passphrase() {
    let root = tempfile::tempdir().unwrap();
    let (_repo, first) = simple_repo(root.path(), "repo.git");
    let key = SshKeyPair::generate_with(SshKeyType::Ed25519, Some("pa55phrase"), SshKeyFormat::OpenSsh).unwrap();
    assert!(!format!("{key:?}").contains("pa55phrase"));
    let server = SshGitServer::start(root.path(), [key.public_key()]).unwrap();
    let known_hosts = server.known_hosts_file().unwrap();
    let work = tempfile::tempdir().unwrap();
    let askpass = work.path().join("askpass.sh");
    std::fs::write(&askpass, "#!/bin/sh\necho pa55phrase\n").unwrap();
    std::fs::set_permissions(&askpass, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    // BatchMode refuses to ask for the passphrase.
    let batch = SshGitServer::ssh_command(key.private_key_path(), &known_hosts);
    failed(&git_ssh(work.path(), &batch, &["ls-remote", &server.repo_url("repo.git")]), "ls-remote with a locked key");

    let interactive = batch.replace("-o BatchMode=yes", "-o BatchMode=no");
    let mut cmd = git_cmd(work.path());
    cmd.env("GIT_SSH_COMMAND", &interactive)
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0");
    let listing = ok(&run(cmd, &["ls-remote", &server.repo_url("repo.git")]), &["ls-remote with askpass"]);
    assert!(listing.contains(&first), "{listing}");
}

#[test]
fn wrong_host_key_and_unknown_client_key_are_refused() {
    let root = tempfile::tempdir().unwrap();
    simple_repo(root.path(), "repo.git");
    let key = SshKeyPair::generate(SshKeyType::Ed25519).unwrap();
    let stranger = SshKeyPair::generate(SshKeyType::Ed25519).unwrap();
    let server = SshGitServer::start(root.path(), [key.public_key()]).unwrap();
    let url = server.repo_url("repo.git");
    let work = tempfile::tempdir().unwrap();

    // known_hosts naming another key for [127.0.0.1]:PORT.
    let other_host = SshKeyPair::generate(SshKeyType::Ed25519).unwrap();
    let wrong_hosts = work.path().join("wrong_known_hosts");
    std::fs::write(&wrong_hosts, format!("[127.0.0.1]:{} {}\n", server.addr().port(), other_host.public_key()))
        .unwrap();
    let ssh = SshGitServer::ssh_command(key.private_key_path(), &wrong_hosts);
    let stderr = failed(&git_ssh(work.path(), &ssh, &["ls-remote", &url]), "ls-remote with a wrong known_hosts");
    assert!(
        stderr.contains("HOST IDENTIFICATION HAS CHANGED") || stderr.contains("Host key verification failed"),
        "{stderr}"
    );

    // Empty known_hosts: unknown host, refused with StrictHostKeyChecking=yes.
    let empty = work.path().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let ssh = SshGitServer::ssh_command(key.private_key_path(), &empty);
    let stderr = failed(&git_ssh(work.path(), &ssh, &["ls-remote", &url]), "ls-remote with an empty known_hosts");
    assert!(stderr.contains("Host key verification failed"), "{stderr}");

    let known_hosts = server.known_hosts_file().unwrap();
    let ssh = SshGitServer::ssh_command(stranger.private_key_path(), &known_hosts);
    let stderr = failed(&git_ssh(work.path(), &ssh, &["ls-remote", &url]), "ls-remote with an unknown key");
    assert!(stderr.contains("Permission denied"), "{stderr}");
}

#[test]
fn only_git_commands_are_allowed() {
    let root = tempfile::tempdir().unwrap();
    simple_repo(root.path(), "repo.git");
    let key = SshKeyPair::generate(SshKeyType::Ed25519).unwrap();
    let server = SshGitServer::start(root.path(), [key.public_key()]).unwrap();
    let known_hosts = server.known_hosts_file().unwrap();
    let mut cmd = std::process::Command::new("ssh");
    cmd.args(["-F", "/dev/null", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
        .arg("-i")
        .arg(key.private_key_path())
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .arg("-p")
        .arg(server.addr().port().to_string())
        .arg(format!("{}@127.0.0.1", server.user()))
        .arg("touch /tmp/eddy-test-git-should-not-exist");
    let out = eddy_test_git::process::output_with_timeout(&mut cmd, None, common::TIMEOUT).unwrap();
    let stderr = failed(&out, "a shell command over the git-shell key");
    assert!(stderr.contains("unrecognized command"), "git-shell refused it: {stderr}");
    assert!(!Path::new("/tmp/eddy-test-git-should-not-exist").exists());
}

#[test]
fn stop_kills_sshd() {
    let root = tempfile::tempdir().unwrap();
    let key = SshKeyPair::generate(SshKeyType::Ed25519).unwrap();
    let server = SshGitServer::start(root.path(), [key.public_key()]).unwrap();
    let addr = server.addr();
    server.stop();
    assert!(
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).is_err(),
        "sshd still listening after stop"
    );
}
