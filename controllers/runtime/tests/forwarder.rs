//! The `--events-addr` forwarder against a scripted HTTP receiver on 127.0.0.1: the JSON
//! body, and go-retryablehttp's retry policy as Flux configures it.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::receiver::{Receiver, Reply};
use eddy_controller_runtime::events::{FluxEvent, Forwarder, ForwarderOptions, ForwarderStats, ObjectRef, Severity};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

fn event(message: &str) -> FluxEvent {
    FluxEvent {
        involved_object: ObjectRef::new("source.toolkit.fluxcd.io/v1", "GitRepository", "flux-system", "podinfo")
            .with_uid("6d1a4b4c-0000-4000-8000-000000000001")
            .with_resource_version("42")
            .to_object_reference(),
        severity: Severity::Info,
        timestamp: Time(Timestamp::from_second(1_760_000_000).unwrap()),
        message: message.to_owned(),
        reason: "NewArtifact".to_owned(),
        metadata: BTreeMap::from([("source.toolkit.fluxcd.io/revision".to_owned(), "main@sha1:abc".to_owned())]),
        action: String::new(),
        reporting_controller: "source-controller".to_owned(),
        reporting_instance: "host-1".to_owned(),
    }
}

/// Fast retries so the tests stay short; the policy is the same.
fn fast() -> ForwarderOptions {
    ForwarderOptions {
        timeout: Duration::from_millis(500),
        retry_wait_min: Duration::from_millis(10),
        retry_wait_max: Duration::from_millis(40),
        ..ForwarderOptions::default()
    }
}

async fn deliver(script: Vec<Reply>, options: ForwarderOptions) -> (Receiver, ForwarderStats) {
    let receiver = Receiver::start(script).await;
    let forwarder = Forwarder::with_options(&receiver.url(), options).unwrap();
    forwarder.send(event("stored artifact for commit 'x'"));
    assert!(forwarder.flush(Duration::from_secs(30)).await, "the forwarder did not finish");
    let stats = forwarder.stats();
    (receiver, stats)
}

#[tokio::test]
async fn posts_the_flux_event_as_json() {
    let (receiver, stats) = deliver(vec![Reply::Status(202, vec![])], fast()).await;
    assert_eq!(stats, ForwarderStats { delivered: 1, ..ForwarderStats::default() });
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        serde_json::json!({
            "involvedObject": {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "name": "podinfo",
                "namespace": "flux-system",
                "resourceVersion": "42",
                "uid": "6d1a4b4c-0000-4000-8000-000000000001"
            },
            "severity": "info",
            "timestamp": "2025-10-09T08:53:20Z",
            "message": "stored artifact for commit 'x'",
            "reason": "NewArtifact",
            "action": "",
            "metadata": {"source.toolkit.fluxcd.io/revision": "main@sha1:abc"},
            "reportingController": "source-controller",
            "reportingInstance": "host-1"
        })
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_delivered() {
    let script = vec![Reply::Status(500, vec![]), Reply::Status(502, vec![]), Reply::Status(504, vec![])];
    let (receiver, stats) = deliver(script, fast()).await;
    assert_eq!(stats.delivered, 1, "{stats:?}");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 4);
    assert!(requests.windows(2).all(|w| w[0].body == w[1].body), "every attempt sends the same body");
}

#[tokio::test]
async fn gives_up_after_one_attempt_and_four_retries() {
    let script = (0..10).map(|_| Reply::Status(503, vec![])).collect();
    let (receiver, stats) = deliver(script, fast()).await;
    assert_eq!(stats, ForwarderStats { failed: 1, ..ForwarderStats::default() });
    assert_eq!(receiver.requests().len(), 5);
}

#[tokio::test]
async fn client_errors_duplicates_and_not_implemented_are_not_retried() {
    for status in [400, 404, 429, 501] {
        let (receiver, stats) = deliver(vec![Reply::Status(status, vec![])], fast()).await;
        assert_eq!(stats, ForwarderStats { refused: 1, ..ForwarderStats::default() }, "status {status}");
        assert_eq!(receiver.requests().len(), 1, "status {status}");
    }
}

#[tokio::test]
async fn transport_errors_and_timeouts_are_retried() {
    let script = vec![Reply::Close, Reply::Hang, Reply::Close];
    let (receiver, stats) = deliver(script, fast()).await;
    assert_eq!(stats.delivered, 1, "{stats:?}");
    assert_eq!(receiver.requests().len(), 4);
}

#[tokio::test]
async fn retry_after_of_a_503_is_honoured() {
    let script = vec![Reply::Status(503, vec![("Retry-After", "1".to_owned())])];
    let (receiver, stats) = deliver(script, fast()).await;
    assert_eq!(stats.delivered, 1);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    // The configured backoff is 10 ms; only the header explains a wait of a second.
    assert!(requests[1].at - requests[0].at >= Duration::from_millis(950));
}

#[tokio::test]
async fn a_full_queue_drops_instead_of_blocking() {
    let receiver = Receiver::start((0..8).map(|_| Reply::Hang).collect()).await;
    let options = ForwarderOptions { queue_capacity: 2, concurrency: 1, retry_max: 0, ..fast() };
    let forwarder = Forwarder::with_options(&receiver.url(), options).unwrap();
    for i in 0..20 {
        forwarder.send(event(&format!("m{i}")));
    }
    let stats = forwarder.stats();
    assert!(stats.dropped >= 17, "{stats:?}");
    assert!(forwarder.flush(Duration::from_secs(30)).await);
    let stats = forwarder.stats();
    assert_eq!(stats.dropped + stats.failed + stats.delivered, 20, "{stats:?}");
}
