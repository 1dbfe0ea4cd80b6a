//! SOCKS5 proxies: the only kind Flux (go-git) supports for ssh URLs; also usable for HTTP.
//! `eddy-test-git` has no SOCKS5 server, so this file carries a minimal one (RFC 1928 CONNECT
//! with optional RFC 1929 username/password, loopback targets only).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use eddy_git::{AuthOptions, CheckoutStrategy, CloneOptions, ProxyOptions, clone};
use eddy_test_git::{HttpGitServer, SshGitServer, SshKeyPair, SshKeyType, standard_repository};

struct Socks5 {
    port: u16,
    tunnels: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Drop for Socks5 {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(mut c: TcpStream, creds: Option<(&str, &str)>, tunnels: &AtomicUsize) -> std::io::Result<()> {
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = [0u8; 2];
    c.read_exact(&mut head)?;
    let mut methods = vec![0u8; usize::from(head[1])];
    c.read_exact(&mut methods)?;
    if let Some((user, pass)) = creds {
        if !methods.contains(&2) {
            return c.write_all(&[5, 0xff]);
        }
        c.write_all(&[5, 2])?;
        let mut v = [0u8; 2];
        c.read_exact(&mut v)?;
        let mut u = vec![0u8; usize::from(v[1])];
        c.read_exact(&mut u)?;
        let mut plen = [0u8; 1];
        c.read_exact(&mut plen)?;
        let mut p = vec![0u8; usize::from(plen[0])];
        c.read_exact(&mut p)?;
        let ok = u == user.as_bytes() && p == pass.as_bytes();
        c.write_all(&[1, u8::from(!ok)])?;
        if !ok {
            return Ok(());
        }
    } else {
        c.write_all(&[5, 0])?;
    }
    let mut req = [0u8; 4];
    c.read_exact(&mut req)?;
    let host = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            c.read_exact(&mut a)?;
            std::net::Ipv4Addr::from(a).to_string()
        }
        3 => {
            let mut l = [0u8; 1];
            c.read_exact(&mut l)?;
            let mut h = vec![0u8; usize::from(l[0])];
            c.read_exact(&mut h)?;
            String::from_utf8_lossy(&h).into_owned()
        }
        _ => return c.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0]),
    };
    let mut port = [0u8; 2];
    c.read_exact(&mut port)?;
    let port = u16::from_be_bytes(port);
    if host != "127.0.0.1" && host != "localhost" {
        return c.write_all(&[5, 2, 0, 1, 0, 0, 0, 0, 0, 0]);
    }
    let up = TcpStream::connect(("127.0.0.1", port))?;
    c.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])?;
    c.set_read_timeout(None)?;
    tunnels.fetch_add(1, Ordering::SeqCst);
    let (mut cr, mut cw) = (c.try_clone()?, c);
    let (mut ur, mut uw) = (up.try_clone()?, up);
    let t = std::thread::spawn(move || {
        let _ = std::io::copy(&mut cr, &mut uw);
        let _ = uw.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut ur, &mut cw);
    let _ = cw.shutdown(Shutdown::Both);
    let _ = t.join();
    Ok(())
}

fn socks5(creds: Option<(&'static str, &'static str)>) -> Socks5 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    let tunnels = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (t, s) = (tunnels.clone(), stop.clone());
    std::thread::spawn(move || {
        let end = std::time::Instant::now() + Duration::from_secs(60);
        while !s.load(Ordering::SeqCst) && std::time::Instant::now() < end {
            match l.accept() {
                Ok((c, _)) => {
                    let t = t.clone();
                    c.set_nonblocking(false).unwrap();
                    std::thread::spawn(move || serve(c, creds, &t));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    Socks5 { port, tunnels, stop }
}

fn data(pairs: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.to_vec())).collect()
}

#[test]
fn ssh_through_socks5_keeps_checking_the_real_host_key() {
    let root = tempfile::tempdir().unwrap();
    let repo = standard_repository(root.path()).unwrap();
    let key = SshKeyPair::generate(SshKeyType::Ed25519).unwrap();
    let server = SshGitServer::start(root.path(), [key.public_key()]).unwrap();
    let url = server.repo_url("repo.git");
    let auth = AuthOptions::from_secret(
        &url,
        &data(&[("identity", key.private_key().as_bytes()), ("known_hosts", server.known_hosts_line().as_bytes())]),
    )
    .unwrap();
    let proxy = socks5(Some(("sock-user", "sock-pass-1")));
    let mut opts = CloneOptions::new(&url, CheckoutStrategy::Branch("main".into()));
    opts.timeout = Duration::from_secs(30);
    opts.proxy = Some(
        ProxyOptions::from_secret(&data(&[
            ("address", format!("socks5://127.0.0.1:{}", proxy.port).as_bytes()),
            ("username", b"sock-user"),
            ("password", b"sock-pass-1"),
        ]))
        .unwrap(),
    );
    let dest = tempfile::tempdir().unwrap();
    let out = clone(dest.path(), &opts, &auth).unwrap();
    assert_eq!(out.revision(), format!("main@sha1:{}", repo.branch("main").unwrap().commit));
    assert!(proxy.tunnels.load(Ordering::SeqCst) >= 1);

    // The host key is still checked against the real host's entry.
    let stranger = SshKeyPair::generate(SshKeyType::Ed25519).unwrap();
    let wrong = format!("[127.0.0.1]:{} {}", server.addr().port(), stranger.public_key());
    let auth = AuthOptions::from_secret(
        &url,
        &data(&[("identity", key.private_key().as_bytes()), ("known_hosts", wrong.as_bytes())]),
    )
    .unwrap();
    let e = clone(tempfile::tempdir().unwrap().path(), &opts, &auth).unwrap_err();
    assert_eq!(e.kind(), eddy_git::ErrorKind::HostKeyRejected, "{e:?}");

    // An HTTP proxy cannot carry ssh (as in Flux).
    opts.proxy = Some(ProxyOptions::parse("http://127.0.0.1:3128").unwrap());
    let e = clone(tempfile::tempdir().unwrap().path(), &opts, &auth).unwrap_err();
    assert_eq!(e.kind(), eddy_git::ErrorKind::InvalidProxy, "{e:?}");
}

#[test]
fn http_through_socks5() {
    let root = tempfile::tempdir().unwrap();
    standard_repository(root.path()).unwrap();
    let server = HttpGitServer::start(root.path()).unwrap();
    let url = server.repo_url("repo.git");
    let proxy = socks5(None);
    let mut opts = CloneOptions::new(&url, CheckoutStrategy::Branch("main".into()));
    opts.timeout = Duration::from_secs(30);
    opts.proxy = Some(ProxyOptions::parse(&format!("socks5://127.0.0.1:{}", proxy.port)).unwrap());
    clone(tempfile::tempdir().unwrap().path(), &opts, &AuthOptions::anonymous(&url).unwrap()).unwrap();
    assert!(proxy.tunnels.load(Ordering::SeqCst) >= 1);
}
