//! A local relay that carries OpenSSH's connection through a SOCKS5 proxy.
//!
//! OpenSSH has no SOCKS client of its own (only `ProxyCommand`, which would need a helper
//! program). The relay listens on `127.0.0.1` on a port picked at run time; each connection it
//! accepts is tunnelled with a SOCKS5 `CONNECT` (RFC 1928, with RFC 1929 username/password
//! authentication when the proxy Secret has credentials) to the Git server, and bytes are copied
//! both ways. `ssh` connects to the relay and checks the host key under the real host's name
//! (`HostKeyAlias`), so `known_hosts` is used exactly as without a proxy. The relay stops when the
//! operation ends.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::cancel::Watchdog;
use crate::error::GitError;
use crate::proxy::ProxyOptions;

/// A running relay; stops on drop.
#[derive(Debug)]
pub(crate) struct SocksRelay {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Clone)]
struct Plan {
    proxy: String,
    username: Option<String>,
    password: Option<String>,
    host: String,
    port: u16,
    timeout: Duration,
}

impl SocksRelay {
    /// Starts relaying to `host:port` through `proxy`.
    pub(crate) fn start(proxy: &ProxyOptions, host: &str, port: u16, watchdog: &Watchdog) -> Result<Self, GitError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| GitError::local("unable to start the SOCKS5 relay", e))?;
        let local = listener.local_addr().map_err(|e| GitError::local("unable to start the SOCKS5 relay", e))?;
        let plan = Plan {
            proxy: proxy.host_port.clone(),
            username: proxy.username.clone(),
            password: proxy.password.clone(),
            host: host.trim_start_matches('[').trim_end_matches(']').to_owned(),
            port,
            timeout: watchdog.remaining().max(Duration::from_secs(1)),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("eddy-git-socks-relay".into())
                .spawn(move || accept_loop(&listener, &plan, &stop))
                .map_err(|e| GitError::local("unable to start the SOCKS5 relay", e))?
        };
        Ok(Self { port: local.port(), stop, thread: Some(thread) })
    }

    /// The local port `ssh` connects to.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for SocksRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, plan: &Plan, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                let plan = plan.clone();
                let _ = std::thread::Builder::new().name("eddy-git-socks-conn".into()).spawn(move || {
                    if let Err(e) = relay(client, &plan) {
                        tracing::debug!(error = %e, "SOCKS5 relay connection failed");
                    }
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                tracing::debug!(error = %e, "SOCKS5 relay stopped accepting");
                return;
            }
        }
    }
}

fn io_err(msg: &str) -> std::io::Error {
    std::io::Error::other(msg.to_owned())
}

/// Opens a tunnel through the proxy (RFC 1928 / 1929).
fn handshake(plan: &Plan) -> std::io::Result<TcpStream> {
    let addr = plan.proxy.to_socket_addrs()?.next().ok_or_else(|| io_err("proxy address does not resolve"))?;
    let mut s = TcpStream::connect_timeout(&addr, plan.timeout)?;
    s.set_read_timeout(Some(plan.timeout))?;
    s.set_write_timeout(Some(plan.timeout))?;
    let with_auth = plan.username.is_some();
    if with_auth {
        s.write_all(&[5, 2, 0, 2])?;
    } else {
        s.write_all(&[5, 1, 0])?;
    }
    let mut choice = [0u8; 2];
    s.read_exact(&mut choice)?;
    match choice {
        [5, 0] => {}
        [5, 2] if with_auth => {
            let user = plan.username.as_deref().unwrap_or_default().as_bytes();
            let pass = plan.password.as_deref().unwrap_or_default().as_bytes();
            let (Ok(ulen), Ok(plen)) = (u8::try_from(user.len()), u8::try_from(pass.len())) else {
                return Err(io_err("proxy credentials are too long for SOCKS5"));
            };
            let mut msg = vec![1, ulen];
            msg.extend_from_slice(user);
            msg.push(plen);
            msg.extend_from_slice(pass);
            s.write_all(&msg)?;
            let mut status = [0u8; 2];
            s.read_exact(&mut status)?;
            if status[1] != 0 {
                return Err(io_err("the SOCKS5 proxy refused the credentials"));
            }
        }
        _ => return Err(io_err("the SOCKS5 proxy offers no acceptable authentication method")),
    }
    let host = plan.host.as_bytes();
    let hlen = u8::try_from(host.len()).map_err(|_| io_err("host name too long for SOCKS5"))?;
    let mut req = vec![5, 1, 0, 3, hlen];
    req.extend_from_slice(host);
    req.extend_from_slice(&plan.port.to_be_bytes());
    s.write_all(&req)?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head)?;
    if head[1] != 0 {
        return Err(io_err(&format!("the SOCKS5 proxy could not connect (reply {})", head[1])));
    }
    let skip = match head[3] {
        1 => 4,
        4 => 16,
        3 => {
            let mut len = [0u8; 1];
            s.read_exact(&mut len)?;
            usize::from(len[0])
        }
        _ => return Err(io_err("malformed SOCKS5 reply")),
    };
    let mut rest = vec![0u8; skip + 2];
    s.read_exact(&mut rest)?;
    s.set_read_timeout(None)?;
    s.set_write_timeout(None)?;
    Ok(s)
}

fn relay(client: TcpStream, plan: &Plan) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    let upstream = match handshake(plan) {
        Ok(s) => s,
        Err(e) => {
            let _ = client.shutdown(Shutdown::Both);
            return Err(e);
        }
    };
    let (mut c_read, mut c_write) = (client.try_clone()?, client);
    let (mut u_read, mut u_write) = (upstream.try_clone()?, upstream);
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_read, &mut u_write);
        let _ = u_write.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut u_read, &mut c_write);
    let _ = c_write.shutdown(Shutdown::Both);
    let _ = up.join();
    Ok(())
}
