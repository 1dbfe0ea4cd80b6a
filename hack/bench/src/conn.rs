//! Raw HTTP against an API server through `kube::Client`: prebuilt bodies out, whole bodies in,
//! lists counted by a streaming parse that never builds a `serde_json::Value` per item.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use kube::client::Body;
use serde::Deserialize;
use serde::de::{SeqAccess, Visitor};

/// A client for one kubeconfig, with no read timeout (a full list through the aggregator or a
/// watch may take long) and without client-side rate limits.
pub async fn connect(kubeconfig: &Path) -> anyhow::Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading kubeconfig {}", kubeconfig.display()))?;
    let mut config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .with_context(|| format!("loading kubeconfig {}", kubeconfig.display()))?;
    config.read_timeout = None;
    config.write_timeout = Some(Duration::from_secs(600));
    config.connect_timeout = Some(Duration::from_secs(30));
    kube::Client::try_from(config).context("building the client")
}

/// One request; returns the status and the whole body.
pub async fn send(
    client: &kube::Client,
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let mut req = Request::builder().method(method).uri(uri).header(http::header::ACCEPT, "application/json");
    if let Some(ct) = content_type {
        req = req.header(http::header::CONTENT_TYPE, ct);
    }
    let req = req.body(Body::from(body)).context("building a request")?;
    let resp = client.send(req).await.with_context(|| format!("sending {uri}"))?;
    let status = resp.status();
    let bytes = resp.into_body().collect_bytes().await.with_context(|| format!("reading the body of {uri}"))?;
    Ok((status, bytes))
}

/// A request that must answer `want`.
pub async fn expect(
    client: &kube::Client,
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    want: &[StatusCode],
) -> anyhow::Result<Bytes> {
    let m = method.clone();
    let (status, bytes) = send(client, method, uri, content_type, body).await?;
    if !want.contains(&status) {
        bail!("{m} {uri}: {status}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(2000)]));
    }
    Ok(bytes)
}

/// A list response: its metadata and the identity of every item, read by a streaming parse.
#[derive(Debug, Default)]
pub struct ListSummary {
    pub resource_version: String,
    pub continue_token: Option<String>,
    /// `(namespace, name)` of each item, in order.
    pub items: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct ListShape {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default, deserialize_with = "item_identities")]
    items: Vec<(String, String)>,
}

#[derive(Deserialize, Default)]
struct ListMeta {
    #[serde(default, rename = "resourceVersion")]
    resource_version: String,
    #[serde(default, rename = "continue")]
    continue_token: Option<String>,
}

/// Unknown fields (spec, status, ...) are skipped by serde without being built.
#[derive(Deserialize)]
struct ItemShape {
    metadata: ItemMeta,
}

#[derive(Deserialize)]
struct ItemMeta {
    #[serde(default)]
    namespace: String,
    name: String,
}

fn item_identities<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of objects")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(item) = seq.next_element::<ItemShape>()? {
                out.push((item.metadata.namespace, item.metadata.name));
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// Reads a list body without building the items.
pub fn summarize_list(body: &[u8]) -> anyhow::Result<ListSummary> {
    let shape: ListShape = serde_json::from_slice(body).with_context(|| {
        format!("parsing a list response: {}", String::from_utf8_lossy(&body[..body.len().min(500)]))
    })?;
    Ok(ListSummary {
        resource_version: shape.metadata.resource_version,
        continue_token: shape.metadata.continue_token.filter(|c| !c.is_empty()),
        items: shape.items,
    })
}

/// Checks that a list holds exactly `want` distinct objects.
pub fn check_distinct(items: &[(String, String)], want: usize, what: &str) -> anyhow::Result<()> {
    ensure!(items.len() == want, "{what}: {} items, expected {want}", items.len());
    let distinct: HashSet<&(String, String)> = items.iter().collect();
    ensure!(distinct.len() == want, "{what}: {} distinct items among {}", distinct.len(), items.len());
    Ok(())
}

/// Resident memory of a process from `/proc/PID/status`: `(VmRSS, VmHWM)` in KiB.
#[must_use]
pub fn proc_memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU time (user + system) a process has used, in clock ticks (`USER_HZ`, 100 per second on
/// Linux), from `/proc/PID/stat`.
pub fn proc_cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from its end.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// A pid from a pid file.
pub fn read_pid(path: &Path) -> anyhow::Result<u32> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.trim().parse().with_context(|| format!("parsing the pid in {}", path.display()))
}

/// `eddy serve` started by the benchmark on a fresh data directory and a free port.
pub struct SpawnedEddy {
    child: Child,
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub pid: u32,
}

impl SpawnedEddy {
    /// Starts `eddy serve` and waits until it answers through its kubeconfig.
    pub async fn start(eddy: &Path) -> anyhow::Result<(Self, kube::Client)> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let dir = std::env::temp_dir().join(format!("eddy-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let log = std::fs::File::create(dir.join("eddy.log"))?;
        let child = Command::new(eddy)
            .args(["serve", "--data-dir"])
            .arg(dir.join("data"))
            .args(["--secure-port", &port.to_string()])
            .env("RUST_LOG", std::env::var("EDDY_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {} serve", eddy.display()))?;
        let pid = child.id();
        let mut spawned = SpawnedEddy { child, kubeconfig: dir.join("data").join("kubeconfig"), dir, pid };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = spawned.child.try_wait()? {
                let log = std::fs::read_to_string(spawned.dir.join("eddy.log")).unwrap_or_default();
                bail!("eddy serve exited with {status}: {log}");
            }
            if spawned.kubeconfig.exists()
                && let Ok(client) = connect(&spawned.kubeconfig).await
                && let Ok((StatusCode::OK, _)) = send(&client, Method::GET, "/healthz", None, Vec::new()).await
            {
                return Ok((spawned, client));
            }
            ensure!(
                Instant::now() < deadline,
                "eddy serve did not become ready in 120 s (log in {})",
                spawned.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for SpawnedEddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_summary_reads_identities_and_metadata_only() {
        let body = br#"{"kind":"KustomizationList","apiVersion":"x/v1","metadata":{"resourceVersion":"42","continue":"abc"},
            "items":[{"apiVersion":"x/v1","metadata":{"name":"a","namespace":"n1","labels":{"x":"y"}},"spec":{"deep":[1,{"z":null}]}},
                     {"metadata":{"namespace":"n2","name":"b"},"status":{}}]}"#;
        let s = summarize_list(body).unwrap();
        assert_eq!(s.resource_version, "42");
        assert_eq!(s.continue_token.as_deref(), Some("abc"));
        assert_eq!(s.items, vec![("n1".into(), "a".into()), ("n2".into(), "b".into())]);
        check_distinct(&s.items, 2, "t").unwrap();
        assert!(check_distinct(&s.items, 3, "t").is_err());
        let dup = vec![("n".to_owned(), "a".to_owned()), ("n".to_owned(), "a".to_owned())];
        assert!(check_distinct(&dup, 2, "t").is_err());
        let empty = summarize_list(br#"{"metadata":{"continue":""},"items":null}"#).unwrap();
        assert!(empty.items.is_empty() && empty.continue_token.is_none());
    }

    #[test]
    fn own_memory_is_readable() {
        let (rss, hwm) = proc_memory_kib(std::process::id()).unwrap();
        assert!(rss > 0 && hwm >= rss);
    }

    #[test]
    fn own_cpu_time_grows_with_work() {
        let before = proc_cpu_ticks(std::process::id()).unwrap();
        let started = std::time::Instant::now();
        let mut x = 0u64;
        // Spin until the kernel has charged at least two ticks (20 ms) of CPU.
        while proc_cpu_ticks(std::process::id()).unwrap() < before + 2 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            assert!(started.elapsed().as_secs() < 30, "no CPU time charged after 30 s of spinning");
        }
        std::hint::black_box(x);
        assert_eq!(proc_cpu_ticks(u32::MAX), None);
    }
}
