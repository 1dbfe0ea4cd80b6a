//! Provider transport options end to end (`event_handlers.go` createNotifier →
//! `client.go` postMessage): `certSecretRef` with a test CA (`ca.crt`) and mutual TLS
//! (`tls.crt`/`tls.key`), and `proxySecretRef` through a local CONNECT proxy that requires the
//! secret's credentials.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use eddy_api::meta::LocalObjectReference;
use eddy_api::notification::Provider;
use eddy_controller_runtime::events::Severity;
use eddy_test_git::{HttpProxy, TestCa};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::tests::{event, fast};
use super::*;
use crate::config::{ProviderSecrets, SecretData, resolve};

/// An HTTPS server on 127.0.0.1 answering 200 to every request; counts requests served
/// (a TLS handshake that fails serves none).
struct Https {
    url: String,
    served: Arc<AtomicUsize>,
}

async fn https(ca: &TestCa, require_client_cert: bool) -> Https {
    let server = ca.issue_server().unwrap();
    let config = ca.server_config(&server, require_client_cert).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://127.0.0.1:{}/hook", listener.local_addr().unwrap().port());
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then the Content-Length body.
                loop {
                    let Ok(n) = tls.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                            })
                            .and_then(|v| v.parse::<usize>().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Https { url, served }
}

fn data(pairs: &[(&str, &str)]) -> SecretData {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec())).collect()
}

fn provider(url: &str) -> Provider {
    let mut p = Provider::new("p", "flux-system");
    p.spec.r#type = "generic".into();
    p.spec.address = Some(url.into());
    p.spec.cert_secret_ref = Some(LocalObjectReference { name: "tls".into() });
    p
}

async fn send(p: &Provider, secrets: &ProviderSecrets) -> Result<(), NotifierError> {
    let cfg = resolve(p, secrets).unwrap();
    Notifier::new(cfg, fast()).unwrap().post(&event(Severity::Info)).await
}

#[tokio::test]
async fn cert_secret_ref_ca_and_mtls() {
    let ca = TestCa::generate().unwrap();
    let server = https(&ca, false).await;
    let p = provider(&server.url);
    // Without the CA the server is not trusted.
    let err = send(&p, &ProviderSecrets::default()).await.unwrap_err();
    assert!(err.to_string().starts_with("postMessage failed"), "{err}");
    assert_eq!(server.served.load(Ordering::SeqCst), 0);
    let with_ca = ProviderSecrets { cert: Some(data(&[("ca.crt", &ca.ca_pem())])), ..Default::default() };
    send(&p, &with_ca).await.unwrap();
    assert_eq!(server.served.load(Ordering::SeqCst), 1);

    // Mutual TLS: refused without a client certificate, served with one from the secret.
    let mtls = https(&ca, true).await;
    let p = provider(&mtls.url);
    assert!(send(&p, &with_ca).await.is_err());
    assert_eq!(mtls.served.load(Ordering::SeqCst), 0);
    let client = ca.issue_client("flux").unwrap();
    let with_client = ProviderSecrets {
        cert: Some(data(&[("ca.crt", &ca.ca_pem()), ("tls.crt", &client.cert_pem), ("tls.key", &client.key_pem)])),
        ..Default::default()
    };
    send(&p, &with_client).await.unwrap();
    assert_eq!(mtls.served.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn proxy_secret_ref_tunnels_with_credentials() {
    let ca = TestCa::generate().unwrap();
    let server = https(&ca, false).await;
    let proxy = HttpProxy::with_basic_auth("proxy-user", "proxy-pass").unwrap();
    let mut p = provider(&server.url);
    p.spec.proxy_secret_ref = Some(LocalObjectReference { name: "proxy".into() });
    let cert = Some(data(&[("ca.crt", &ca.ca_pem())]));
    let wrong = ProviderSecrets {
        cert: cert.clone(),
        proxy: Some(data(&[("address", &proxy.url()), ("username", "proxy-user"), ("password", "nope")])),
        ..Default::default()
    };
    let err = send(&p, &wrong).await.unwrap_err().to_string();
    assert!(!err.contains("nope"), "no proxy password in errors: {err}");
    assert_eq!(server.served.load(Ordering::SeqCst), 0);
    assert!(proxy.counts().rejected_auth >= 1);
    let right = ProviderSecrets {
        cert,
        proxy: Some(data(&[("address", &proxy.url()), ("username", "proxy-user"), ("password", "proxy-pass")])),
        ..Default::default()
    };
    send(&p, &right).await.unwrap();
    assert_eq!(server.served.load(Ordering::SeqCst), 1);
    assert_eq!(proxy.counts().tunnels, 1);
    let port = server.url.trim_start_matches("https://127.0.0.1:").trim_end_matches("/hook");
    assert_eq!(proxy.targets(), [format!("127.0.0.1:{port}")]);
}

// The deprecated `spec.proxy` and the secret's `proxy` key: plain HTTP through the proxy as an
// absolute-form request, HTTPS as a tunnel.
#[tokio::test]
async fn spec_proxy_and_secret_proxy_key() {
    let ca = TestCa::generate().unwrap();
    let server = https(&ca, false).await;
    let proxy = HttpProxy::start().unwrap();
    let mut p = provider(&server.url);
    p.spec.proxy = Some(proxy.url());
    let cert = ProviderSecrets { cert: Some(data(&[("ca.crt", &ca.ca_pem())])), ..Default::default() };
    send(&p, &cert).await.unwrap();
    assert_eq!(proxy.counts().tunnels, 1);

    let plain = crate::testserver::Capture::start().await;
    let mut p = provider(&format!("{}/hook", plain.url));
    p.spec.cert_secret_ref = None;
    p.spec.secret_ref = Some(LocalObjectReference { name: "s".into() });
    let with_key = ProviderSecrets { secret: Some(data(&[("proxy", &proxy.url())])), ..Default::default() };
    send(&p, &with_key).await.unwrap();
    assert_eq!(plain.requests().len(), 1);
    assert_eq!(proxy.counts().forwarded, 1, "the plain request went through the proxy");
}
