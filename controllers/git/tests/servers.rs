//! Against real servers from `eddy-test-git`: smart HTTP (anonymous, basic, bearer, TLS, mutual
//! TLS, hanging), OpenSSH (known_hosts enforced, keys with passphrases, PEM keys) and an HTTP
//! proxy; the request counters prove what was (not) fetched.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eddy_git::{
    AuthOptions, CheckoutStrategy, CloneOptions, CloneOutcome, ErrorKind, GitError, ProxyOptions, clone, ls_remote,
};
use eddy_test_git::ssh::SshKeyFormat;
use eddy_test_git::{HttpGitServer, HttpProxy, SshGitServer, SshKeyPair, SshKeyType, standard_repository};

fn secret(pairs: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.to_vec())).collect()
}

fn branch(url: &str, name: &str) -> CloneOptions {
    let mut o = CloneOptions::new(url, CheckoutStrategy::Branch(name.into()));
    o.timeout = Duration::from_secs(30);
    o
}

fn version_txt(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("version.txt")).unwrap().trim().to_owned()
}

#[test]
fn http_clone_and_the_no_fetch_path_counted_by_the_server() {
    let root = tempfile::tempdir().unwrap();
    let repo = standard_repository(root.path()).unwrap();
    let server = HttpGitServer::start(root.path()).unwrap();
    let url = server.repo_url("repo.git");
    let auth = AuthOptions::anonymous(&url).unwrap();
    let main = &repo.branch("main").unwrap().commit;

    let dest = tempfile::tempdir().unwrap();
    let out = clone(dest.path(), &branch(&url, "main"), &auth).unwrap();
    assert_eq!(out.revision(), format!("main@sha1:{main}"));
    assert_eq!(version_txt(dest.path()), "main");
    assert_eq!(server.counts().fetches, 1);
    // The executable bit and the symlink survive the checkout.
    let meta = std::fs::symlink_metadata(dest.path().join("link")).unwrap();
    assert!(meta.file_type().is_symlink());
    use std::os::unix::fs::PermissionsExt;
    assert_ne!(std::fs::metadata(dest.path().join("bin/run.sh")).unwrap().permissions().mode() & 0o111, 0);

    server.reset_counts();
    let mut opts = branch(&url, "main");
    opts.last_observed_revision = Some(out.revision().to_owned());
    let dest = tempfile::tempdir().unwrap();
    let again = clone(&dest.path().join("x"), &opts, &auth).unwrap();
    assert!(matches!(again, CloneOutcome::Unchanged { .. }));
    let counts = server.counts();
    assert_eq!(counts.fetches, 0, "{counts:?}");
    // One reference advertisement (protocol version 1, as go-git): a single GET, no ls-refs POST.
    assert_eq!((counts.requests, counts.upload_pack_info_refs, counts.protocol_v2), (1, 1, 0), "{counts:?}");

    // Tags and semver over HTTP.
    let v11 = repo.tag("v1.1.0").unwrap();
    let dest = tempfile::tempdir().unwrap();
    let mut opts = branch(&url, "main");
    opts.checkout = CheckoutStrategy::SemVer(">=1.0.0 <2.0.0".into());
    let out = clone(dest.path(), &opts, &auth).unwrap();
    assert_eq!(out.revision(), format!("v1.1.0@sha1:{}", v11.commit));
    let tag = out.commit().unwrap().referencing_tag.as_ref().unwrap();
    assert_eq!(tag.hash.as_deref(), Some(v11.object.as_str()));
    assert!(tag.signature.as_deref().unwrap().starts_with("-----BEGIN PGP SIGNATURE-----"));
    assert!(out.commit().unwrap().signature.as_deref().unwrap().starts_with("-----BEGIN PGP SIGNATURE-----"));

    // A repository the server does not have.
    let missing = server.repo_url("missing.git");
    let e = clone(tempfile::tempdir().unwrap().path(), &branch(&missing, "main"), &auth).unwrap_err();
    assert!(matches!(e, eddy_git::GitError::RepositoryNotFound { .. }), "{e:?}");
    assert_eq!(e.to_string(), format!("unable to clone: repository not found: git repository: '{missing}'"));

    // Submodules over HTTP (relative URL ../sub.git).
    let dest = tempfile::tempdir().unwrap();
    let mut opts = branch(&url, "main");
    opts.recurse_submodules = true;
    clone(dest.path(), &opts, &auth).unwrap();
    assert_eq!(std::fs::read_to_string(dest.path().join("sub/sub.txt")).unwrap(), "submodule\n");
}

#[test]
fn basic_auth_and_bearer_tokens() {
    let root = tempfile::tempdir().unwrap();
    standard_repository(root.path()).unwrap();
    let server = HttpGitServer::builder(root.path()).basic_auth("alice", "s3cr3t-pass").start().unwrap();
    let url = server.repo_url("repo.git");
    let good =
        AuthOptions::from_secret(&url, &secret(&[("username", b"alice"), ("password", b"s3cr3t-pass")])).unwrap();
    let dest = tempfile::tempdir().unwrap();
    clone(dest.path(), &branch(&url, "main"), &good).unwrap();
    assert_eq!(version_txt(dest.path()), "main");

    let bad =
        AuthOptions::from_secret(&url, &secret(&[("username", b"alice"), ("password", b"wrong-pass-77")])).unwrap();
    let e = clone(tempfile::tempdir().unwrap().path(), &branch(&url, "main"), &bad).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthenticationRefused, "{e:?}");
    assert!(!format!("{e} {e:?}").contains("wrong-pass-77"));
    let none = AuthOptions::anonymous(&url).unwrap();
    let e = clone(tempfile::tempdir().unwrap().path(), &branch(&url, "main"), &none).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthenticationRefused, "{e:?}");
    // ls-remote goes through the same authentication.
    assert!(ls_remote(&url, &good, Duration::from_secs(20)).unwrap().iter().any(|r| r.name == "refs/heads/main"));

    let server = HttpGitServer::builder(root.path()).bearer_token("tok-3n").start().unwrap();
    let url = server.repo_url("repo.git");
    let good = AuthOptions::from_secret(&url, &secret(&[("bearerToken", b"tok-3n")])).unwrap();
    let dest = tempfile::tempdir().unwrap();
    clone(dest.path(), &branch(&url, "dev"), &good).unwrap();
    assert_eq!(version_txt(dest.path()), "1.1.0");
    let bad = AuthOptions::from_secret(&url, &secret(&[("bearerToken", b"other-token-99")])).unwrap();
    let e = clone(tempfile::tempdir().unwrap().path(), &branch(&url, "dev"), &bad).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthenticationRefused, "{e:?}");
    assert!(!format!("{e} {e:?}").contains("other-token-99"));
}

#[test]
fn https_needs_the_secret_ca_and_accepts_client_certificates() {
    let root = tempfile::tempdir().unwrap();
    standard_repository(root.path()).unwrap();
    let server = HttpGitServer::builder(root.path()).tls().start().unwrap();
    let url = server.repo_url("repo.git");
    assert!(url.starts_with("https://"));
    let ca = server.ca_pem().unwrap().as_bytes().to_vec();
    let e = clone(tempfile::tempdir().unwrap().path(), &branch(&url, "main"), &AuthOptions::anonymous(&url).unwrap())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e:?}");
    for key in ["ca.crt", "caFile"] {
        let auth = AuthOptions::from_secret(&url, &secret(&[(key, &ca)])).unwrap();
        let dest = tempfile::tempdir().unwrap();
        clone(dest.path(), &branch(&url, "main"), &auth).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(version_txt(dest.path()), "main");
    }

    let server = HttpGitServer::builder(root.path()).mutual_tls().start().unwrap();
    let url = server.repo_url("repo.git");
    let ca = server.ca_pem().unwrap().as_bytes().to_vec();
    let client = server.client_cert().unwrap();
    let auth = AuthOptions::from_secret(
        &url,
        &secret(&[("ca.crt", &ca), ("tls.crt", client.cert_pem.as_bytes()), ("tls.key", client.key_pem.as_bytes())]),
    )
    .unwrap();
    let dest = tempfile::tempdir().unwrap();
    clone(dest.path(), &branch(&url, "main"), &auth).unwrap();
    assert!(!format!("{auth:?}").contains(&client.key_pem));
    let no_cert = AuthOptions::from_secret(&url, &secret(&[("ca.crt", &ca)])).unwrap();
    assert!(clone(tempfile::tempdir().unwrap().path(), &branch(&url, "main"), &no_cert).is_err());
}

#[test]
fn a_hanging_http_server_times_out() {
    let root = tempfile::tempdir().unwrap();
    standard_repository(root.path()).unwrap();
    let server = HttpGitServer::builder(root.path()).hang().start().unwrap();
    let url = server.repo_url("repo.git");
    let mut opts = branch(&url, "main");
    opts.timeout = Duration::from_secs(2);
    let start = Instant::now();
    let e = clone(tempfile::tempdir().unwrap().path(), &opts, &AuthOptions::anonymous(&url).unwrap()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
    assert!(start.elapsed() < Duration::from_secs(8), "{:?}", start.elapsed());
}

#[test]
fn http_and_https_through_a_proxy() {
    let root = tempfile::tempdir().unwrap();
    standard_repository(root.path()).unwrap();
    let server = HttpGitServer::start(root.path()).unwrap();
    let url = server.repo_url("repo.git");
    let proxy = HttpProxy::start().unwrap();
    let mut opts = branch(&url, "main");
    opts.proxy = Some(ProxyOptions::parse(&proxy.url()).unwrap());
    let dest = tempfile::tempdir().unwrap();
    clone(dest.path(), &opts, &AuthOptions::anonymous(&url).unwrap()).unwrap();
    assert!(proxy.counts().proxied() > 0, "{:?}", proxy.counts());

    let tls = HttpGitServer::builder(root.path()).tls().start().unwrap();
    let tls_url = tls.repo_url("repo.git");
    let auth = AuthOptions::from_secret(&tls_url, &secret(&[("ca.crt", tls.ca_pem().unwrap().as_bytes())])).unwrap();
    let guarded = HttpProxy::with_basic_auth("proxy-user", "proxy-pw-5").unwrap();
    let data =
        secret(&[("address", guarded.url().as_bytes()), ("username", b"proxy-user"), ("password", b"proxy-pw-5")]);
    let mut opts = branch(&tls_url, "main");
    opts.proxy = Some(ProxyOptions::from_secret(&data).unwrap());
    clone(tempfile::tempdir().unwrap().path(), &opts, &auth).unwrap();
    assert!(guarded.counts().tunnels > 0, "{:?}", guarded.counts());

    let wrong =
        secret(&[("address", guarded.url().as_bytes()), ("username", b"proxy-user"), ("password", b"nope-nope")]);
    opts.proxy = Some(ProxyOptions::from_secret(&wrong).unwrap());
    let e = clone(tempfile::tempdir().unwrap().path(), &opts, &auth).unwrap_err();
    assert!(!format!("{e} {e:?}").contains("nope-nope"), "{e:?}");
    assert!(guarded.counts().rejected_auth > 0);
}

fn ssh_auth(url: &str, key: &SshKeyPair, known_hosts: &str) -> AuthOptions {
    let mut data = secret(&[("identity", key.private_key().as_bytes()), ("known_hosts", known_hosts.as_bytes())]);
    if let Some(p) = key.passphrase() {
        data.insert("password".into(), p.as_bytes().to_vec());
    }
    AuthOptions::from_secret(url, &data).unwrap()
}

#[test]
fn ssh_with_known_hosts_enforced() {
    let root = tempfile::tempdir().unwrap();
    let repo = standard_repository(root.path()).unwrap();
    let key = SshKeyPair::generate(SshKeyType::Ed25519).unwrap();
    let enc = SshKeyPair::generate_with(SshKeyType::Ed25519, Some("key-pass-phrase"), SshKeyFormat::OpenSsh).unwrap();
    let pem = SshKeyPair::generate_with(SshKeyType::Rsa, None, SshKeyFormat::Pem).unwrap();
    let pem_enc = SshKeyPair::generate_with(SshKeyType::Rsa, Some("pem-pass-phrase"), SshKeyFormat::Pem).unwrap();
    let ecdsa = SshKeyPair::generate(SshKeyType::Ecdsa).unwrap();
    let stranger = SshKeyPair::generate(SshKeyType::Ed25519).unwrap();
    let server = SshGitServer::start(
        root.path(),
        [key.public_key(), enc.public_key(), pem.public_key(), pem_enc.public_key(), ecdsa.public_key()],
    )
    .unwrap();
    let url = server.repo_url("repo.git");
    let known = server.known_hosts_line();

    for k in [&key, &enc, &pem, &pem_enc, &ecdsa] {
        let dest = tempfile::tempdir().unwrap();
        let out = clone(dest.path(), &branch(&url, "main"), &ssh_auth(&url, k, &known))
            .unwrap_or_else(|e| panic!("{:?}: {e}", k.key_type()));
        assert_eq!(out.revision(), format!("main@sha1:{}", repo.branch("main").unwrap().commit));
        assert_eq!(version_txt(dest.path()), "main");
    }
    // The unchanged check over ssh.
    let mut opts = branch(&url, "main");
    opts.last_observed_revision = Some(format!("main@sha1:{}", repo.branch("main").unwrap().commit));
    let out = clone(&tempfile::tempdir().unwrap().path().join("x"), &opts, &ssh_auth(&url, &key, &known)).unwrap();
    assert!(matches!(out, CloneOutcome::Unchanged { .. }), "{out:?}");
    // Submodules over ssh use the same key.
    let mut opts = branch(&url, "main");
    opts.recurse_submodules = true;
    let dest = tempfile::tempdir().unwrap();
    clone(dest.path(), &opts, &ssh_auth(&url, &key, &known)).unwrap();
    assert_eq!(std::fs::read_to_string(dest.path().join("sub/sub.txt")).unwrap(), "submodule\n");

    // An unknown host key (known_hosts names another key) is refused.
    let other_host = format!("[127.0.0.1]:{} {}", server.addr().port(), stranger.public_key());
    let e = clone(tempfile::tempdir().unwrap().path(), &branch(&url, "main"), &ssh_auth(&url, &key, &other_host))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::HostKeyRejected, "{e:?}");
    // A known_hosts for another host only: unknown host, refused.
    let elsewhere = format!("example.com {}", server.host_public_key());
    let e = clone(tempfile::tempdir().unwrap().path(), &branch(&url, "main"), &ssh_auth(&url, &key, &elsewhere))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::HostKeyRejected, "{e:?}");
    // A key the server does not know.
    let e = clone(tempfile::tempdir().unwrap().path(), &branch(&url, "main"), &ssh_auth(&url, &stranger, &known))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AuthenticationRefused, "{e:?}");
    // Errors never quote the key or passphrase.
    let mut data = secret(&[("identity", enc.private_key().as_bytes()), ("known_hosts", known.as_bytes())]);
    data.insert("password".into(), b"not-the-pass-phrase".to_vec());
    let auth = AuthOptions::from_secret(&url, &data).unwrap();
    let e = clone(tempfile::tempdir().unwrap().path(), &branch(&url, "main"), &auth).unwrap_err();
    let shown = format!("{e} {e:?} {auth:?}");
    assert!(!shown.contains("not-the-pass-phrase") && !shown.contains("PRIVATE KEY"), "{shown}");
    assert!(matches!(e, GitError::Auth(eddy_git::AuthError::PassphraseIncorrect)), "{e:?}");
    // An encrypted key without a passphrase is refused before connecting, as source-controller does.
    let data = secret(&[("identity", enc.private_key().as_bytes()), ("known_hosts", known.as_bytes())]);
    assert_eq!(AuthOptions::from_secret(&url, &data).unwrap_err(), eddy_git::AuthError::PassphraseMissing);
}

#[test]
fn a_hanging_ssh_server_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let mut held = Vec::new();
        let end = Instant::now() + Duration::from_secs(15);
        while Instant::now() < end {
            if let Ok((c, _)) = listener.accept() {
                held.push(c);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let key = SshKeyPair::generate(SshKeyType::Ed25519).unwrap();
    let url = format!("ssh://git@127.0.0.1:{port}/repo.git");
    let known = format!("[127.0.0.1]:{port} {}", key.public_key());
    let mut opts = branch(&url, "main");
    opts.timeout = Duration::from_secs(3);
    let start = Instant::now();
    let e = clone(tempfile::tempdir().unwrap().path(), &opts, &ssh_auth(&url, &key, &known)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
    drop(holder);
}

#[test]
fn cancelling_ends_a_hung_ssh_at_once() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let mut held = Vec::new();
        let end = Instant::now() + Duration::from_secs(15);
        while Instant::now() < end {
            if let Ok((c, _)) = listener.accept() {
                held.push(c);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let key = SshKeyPair::generate(SshKeyType::Ed25519).unwrap();
    let url = format!("ssh://git@127.0.0.1:{port}/repo.git");
    let known = format!("[127.0.0.1]:{port} {}", key.public_key());
    let mut opts = branch(&url, "main");
    opts.timeout = Duration::from_secs(60);
    let token = eddy_git::CancelToken::new();
    opts.cancel = Some(token.clone());
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        token.cancel();
    });
    let start = Instant::now();
    let e = clone(tempfile::tempdir().unwrap().path(), &opts, &ssh_auth(&url, &key, &known)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e:?}");
    assert!(start.elapsed() < Duration::from_secs(8), "{:?}", start.elapsed());
    canceller.join().unwrap();
    drop(holder);
}
