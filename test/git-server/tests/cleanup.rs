//! No process outlives its owner, also when the owning test panics. (One test binary of its
//! own: it inspects this process's children, which other tests would add to.)

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use eddy_test_git::process::descendants;
use eddy_test_git::{HttpGitServer, SigningKeys, SshGitServer, SshKeyPair, SshKeyType};

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_owned()
}

/// Descendants of this process whose command name starts with `prefix`, zombies included
/// (a zombie is a child that was killed but not reaped).
fn children_named(prefix: &str) -> Vec<u32> {
    descendants(std::process::id()).into_iter().filter(|&p| comm(p).starts_with(prefix)).collect()
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn gpg_agents_for(home: &Path) -> usize {
    let home = home.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline.contains("gpg-agent") && cmdline.contains(&home)
        })
        .count()
}

#[test]
fn servers_and_agents_are_gone_after_a_panicking_owner() {
    // An HTTP request whose body never completes keeps http-backend waiting on its input.
    let root = tempfile::tempdir().unwrap();
    common::simple_repo(root.path(), "repo.git");
    let server = HttpGitServer::start(root.path()).unwrap();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .write_all(
            b"POST /repo.git/git-upload-pack HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/x-git-upload-pack-request\r\nContent-Length: 1000\r\n\r\n0032want ",
        )
        .unwrap();
    wait_until("http-backend runs", || !children_named("git-http-backe").is_empty());

    let key = SshKeyPair::generate(SshKeyType::Ed25519).unwrap();
    let sshd = SshGitServer::start(root.path(), [key.public_key()]).unwrap();
    let sshd_pid = sshd.pid();
    assert!(Path::new(&format!("/proc/{sshd_pid}")).exists());

    let keys = SigningKeys::generate().unwrap();
    let mut builder = eddy_test_git::RepoBuilder::init(root.path(), "signed.git").unwrap();
    builder.commit_signed("signed", &keys, eddy_test_git::SignatureFormat::OpenPgp).unwrap();
    let home = keys.gnupghome().to_owned();
    wait_until("gpg-agent runs", || gpg_agents_for(&home) > 0);

    let owner = std::thread::spawn(move || {
        let _owned = (server, sshd, keys);
        panic!("a failing test");
    });
    assert!(owner.join().is_err());

    assert!(children_named("git-http-backe").is_empty(), "http-backend killed and reaped");
    assert!(children_named("git").is_empty(), "no git process left");
    assert!(!Path::new(&format!("/proc/{sshd_pid}")).exists(), "sshd killed and reaped");
    wait_until("gpg-agent stopped", || gpg_agents_for(&home) == 0);
    drop(stream);
}
