//! The NATS provider (`internal/notifier/nats.go`): the event's JSON published on the subject
//! `spec.channel` of the server `address`, with user/password when the Secret has both.
//!
//! Eddy speaks the NATS client protocol itself over plain TCP: INFO, CONNECT, PUB, then PING
//! and waiting for PONG (nats.go's `Flush`), any `-ERR` failing the delivery. Credentials
//! files (`creds`), nkey seeds (`nkey`) and servers requiring TLS are refused with a clear
//! error (not supported yet).

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

use super::NotifierError;
use crate::config::ProviderConfig;

/// nats.go's default port.
const DEFAULT_PORT: u16 = 4222;

/// What to publish where.
#[derive(Debug, Clone)]
pub(crate) struct NatsPlan {
    /// `host:port`.
    pub(crate) server: String,
    /// The subject.
    pub(crate) subject: String,
    /// User and password.
    pub(crate) user: Option<(String, String)>,
    /// The payload.
    pub(crate) payload: Vec<u8>,
}

/// Validates the Provider and builds the publication (`NewNATS`).
pub(crate) fn plan(cfg: &ProviderConfig, payload: Vec<u8>) -> Result<NatsPlan, NotifierError> {
    if cfg.url.is_empty() {
        return Err(NotifierError::Config("NATS server (address) cannot be empty".into()));
    }
    if cfg.channel.is_empty() {
        return Err(NotifierError::Config("NATS subject (channel) cannot be empty".into()));
    }
    if cfg.secret_data.get("creds").is_some_and(|c| !c.is_empty())
        || cfg.secret_data.get("nkey").is_some_and(|c| !c.is_empty())
    {
        return Err(NotifierError::Config(
            "NATS credentials (creds) and nkey authentication are not supported by Eddy yet".into(),
        ));
    }
    // nats.go takes a comma-separated list of URLs; the first one is used here.
    let first = cfg.url.split(',').next().unwrap_or_default().trim();
    let with_scheme = if first.contains("://") { first.to_owned() } else { format!("nats://{first}") };
    let u = url::Url::parse(&with_scheme).map_err(|_| NotifierError::InvalidUrl("NATS server"))?;
    if u.scheme() == "tls" {
        return Err(NotifierError::Config("NATS over TLS is not supported by Eddy yet".into()));
    }
    let host = u.host_str().ok_or(NotifierError::InvalidUrl("NATS server"))?;
    let server = format!("{host}:{}", u.port().unwrap_or(DEFAULT_PORT));
    let user = if !cfg.username.is_empty() && !cfg.password.is_empty() {
        Some((cfg.username.clone(), cfg.password.clone()))
    } else if !u.username().is_empty() {
        Some((u.username().to_owned(), u.password().unwrap_or_default().to_owned()))
    } else {
        None
    };
    Ok(NatsPlan { server, subject: cfg.channel.clone(), user, payload })
}

fn protocol(e: impl std::fmt::Display) -> NotifierError {
    NotifierError::Event(format!("error publishing message to server: {e}"))
}

/// Connects, publishes and flushes.
pub(crate) async fn publish(p: &NatsPlan, timeout: Duration) -> Result<(), NotifierError> {
    let work = async {
        let stream = TcpStream::connect(&p.server)
            .await
            .map_err(|e| NotifierError::Event(format!("error connecting to server: {e}")))?;
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let info = lines.next_line().await.map_err(protocol)?.unwrap_or_default();
        let info_json: serde_json::Value =
            serde_json::from_str(info.strip_prefix("INFO ").unwrap_or("{}")).unwrap_or_default();
        if info_json["tls_required"] == true {
            return Err(NotifierError::Config("NATS over TLS is not supported by Eddy yet".into()));
        }
        let mut connect = json!({
            "verbose": false, "pedantic": false, "tls_required": false,
            "name": "NATS Provider Publisher", "lang": "rust", "version": env!("CARGO_PKG_VERSION"),
            "protocol": 1, "echo": true, "headers": false, "no_responders": false,
        });
        if let Some((user, pass)) = &p.user {
            connect["user"] = user.clone().into();
            connect["pass"] = pass.clone().into();
        }
        let mut out = format!("CONNECT {connect}\r\nPUB {} {}\r\n", p.subject, p.payload.len()).into_bytes();
        out.extend_from_slice(&p.payload);
        out.extend_from_slice(b"\r\nPING\r\n");
        write.write_all(&out).await.map_err(protocol)?;
        while let Some(line) = lines.next_line().await.map_err(protocol)? {
            if line.starts_with("PONG") {
                return Ok(());
            }
            if let Some(err) = line.strip_prefix("-ERR") {
                return Err(protocol(err.trim().trim_matches('\'')));
            }
            if line.starts_with("PING") {
                write.write_all(b"PONG\r\n").await.map_err(protocol)?;
            }
        }
        Err(protocol("connection closed"))
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r.map_err(|e| NotifierError::Event(format!("error publishing event to subject {}: {e}", p.subject))),
        Err(_) => Err(NotifierError::Timeout(timeout)),
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};

    use eddy_controller_runtime::events::{FluxEvent, Severity};
    use k8s_openapi::api::core::v1::ObjectReference;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use tokio::io::AsyncReadExt as _;

    use super::*;
    use crate::http::RetryPolicy;
    use crate::notifier::Notifier;

    /// The real nats-server (built by `hack/build-nats`); the test fails, never skips, when it
    /// cannot be built.
    fn nats_server() -> PathBuf {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/build-nats");
        let out = Command::new(&script).output().unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(out.status.success(), "hack/build-nats failed:\n{}", String::from_utf8_lossy(&out.stderr));
        PathBuf::from(String::from_utf8(out.stdout).expect("UTF-8 path").trim())
    }

    struct Server(Child);
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    // nats.go: the event's JSON published on the subject, user/password from the Secret;
    // checked by a subscriber on a real nats-server.
    #[tokio::test]
    async fn publishes_to_a_real_nats_server() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let _server = Server(
            Command::new(nats_server())
                .args(["-a", "127.0.0.1", "-p", &port.to_string(), "--user", "flux", "--pass", "s3cret"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nats-server starts"),
        );
        // Subscribe (raw protocol) once the server answers.
        let mut sub = None;
        for _ in 0..200 {
            if let Ok(s) = TcpStream::connect(("127.0.0.1", port)).await {
                sub = Some(s);
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let sub = sub.expect("nats-server listens");
        let (read, mut write) = sub.into_split();
        let mut reader = BufReader::new(read);
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("INFO "), "{line}");
        write
            .write_all(
                b"CONNECT {\"verbose\":false,\"user\":\"flux\",\"pass\":\"s3cret\"}\r\nSUB flux.events 1\r\nPING\r\n",
            )
            .await
            .unwrap();
        line.clear();
        reader.read_line(&mut line).await.unwrap();
        assert_eq!(line, "PONG\r\n");

        let event = FluxEvent {
            involved_object: ObjectReference {
                kind: Some("GitRepository".into()),
                name: Some("app".into()),
                namespace: Some("ns".into()),
                api_version: Some("source.toolkit.fluxcd.io/v1".into()),
                ..ObjectReference::default()
            },
            severity: Severity::Info,
            timestamp: Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).unwrap()),
            message: "stored artifact".into(),
            reason: "NewArtifact".into(),
            action: String::new(),
            metadata: [("revision".to_owned(), "main@sha1:1".to_owned())].into(),
            reporting_controller: "source-controller".into(),
            reporting_instance: String::new(),
        };
        let mut cfg = ProviderConfig {
            provider_type: "nats".into(),
            url: format!("nats://127.0.0.1:{port}"),
            channel: "flux.events".into(),
            username: "flux".into(),
            password: "wrong".into(),
            timeout: Duration::from_secs(10),
            ..ProviderConfig::default()
        };
        let policy = RetryPolicy::default();
        let err = Notifier::new(cfg.clone(), policy).unwrap().post(&event).await.unwrap_err().to_string();
        assert!(err.contains("Authorization Violation"), "{err}");
        assert!(!err.contains("wrong"), "{err}");
        cfg.password = "s3cret".into();
        Notifier::new(cfg, policy).unwrap().post(&event).await.unwrap();

        line.clear();
        reader.read_line(&mut line).await.unwrap();
        let parts: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(parts[..3], ["MSG", "flux.events", "1"], "{line}");
        let len: usize = parts[3].parse().unwrap();
        let mut payload = vec![0; len + 2];
        reader.read_exact(&mut payload).await.unwrap();
        payload.truncate(len);
        assert_eq!(payload, crate::event::go_json_bytes(&crate::event::to_go_json(&event)));
    }

    #[test]
    fn plans_follow_new_nats() {
        let mut cfg = ProviderConfig { url: "nats://127.0.0.1".into(), channel: "flux".into(), ..Default::default() };
        let p = plan(&cfg, b"{}".to_vec()).unwrap();
        assert_eq!(p.server, "127.0.0.1:4222");
        assert!(p.user.is_none());
        cfg.username = "u".into();
        cfg.password = "p".into();
        assert_eq!(plan(&cfg, Vec::new()).unwrap().user, Some(("u".into(), "p".into())));
        cfg.channel.clear();
        assert_eq!(plan(&cfg, Vec::new()).unwrap_err().to_string(), "NATS subject (channel) cannot be empty");
        cfg.channel = "flux".into();
        cfg.secret_data.insert("nkey".into(), b"SU...".to_vec());
        assert!(plan(&cfg, Vec::new()).is_err());
    }
}
