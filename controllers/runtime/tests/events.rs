//! Events against a real kube-apiserver (hack/cluster): the `core/v1` Events Flux's
//! controllers write, as `kubectl events` and `flux events` show them, client-go's
//! correlation (count patches, aggregation, spam filter), and the notification pipeline.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::receiver::Receiver;
use common::{TestNamespace, client, eventually, flux, kubectl};
use eddy_controller_runtime::events::{
    EventType, FluxEvent, FluxEventSink, Forwarder, ForwarderOptions, KubeRecorder, ObjectRef, Recorder, Severity,
};
use k8s_openapi::api::core::v1::Event;
use kube::api::{DeleteParams, ListParams};
use kube::{Api, Client};

const FLUSH: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Collect(Mutex<Vec<FluxEvent>>);

impl FluxEventSink for Collect {
    fn publish(&self, event: &FluxEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

fn git_repository(namespace: &str, name: &str) -> ObjectRef {
    ObjectRef::new("source.toolkit.fluxcd.io/v1", "GitRepository", namespace, name)
        .with_uid("5b1f4d0e-8a59-4f6e-9a37-2d6f0c1e7a11")
        .with_resource_version("1234")
}

async fn events(client: &Client, namespace: &str) -> Vec<Event> {
    let mut items =
        Api::<Event>::namespaced(client.clone(), namespace).list(&ListParams::default()).await.unwrap().items;
    items.sort_by_key(|e| e.metadata.name.clone());
    items
}

fn by_reason<'a>(events: &'a [Event], reason: &str) -> Vec<&'a Event> {
    events.iter().filter(|e| e.reason.as_deref() == Some(reason)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_the_cluster_and_the_notification_pipeline_in_fluxs_shape() {
    let client = client().await;
    let ns = TestNamespace::new(&client, "rt-events").await;
    let receiver = Receiver::start(vec![]).await;
    let forwarder = Forwarder::with_options(&receiver.url(), ForwarderOptions::default()).unwrap();
    let sink = Arc::new(Collect::default());
    let recorder = Recorder::new(client.clone(), "source-controller", "eddy-host-0", Some(forwarder))
        .with_sink(Arc::clone(&sink) as Arc<dyn FluxEventSink>);
    let object = git_repository(&ns.name, "podinfo").with_annotations(BTreeMap::from([
        ("event.toolkit.fluxcd.io/deploy-id".to_owned(), "42".to_owned()),
        ("example.com/unrelated".to_owned(), "no".to_owned()),
    ]));
    let metadata = BTreeMap::from([
        (
            "source.toolkit.fluxcd.io/revision".to_owned(),
            "main@sha1:0123456789abcdef0123456789abcdef01234567".to_owned(),
        ),
        ("source.toolkit.fluxcd.io/digest".to_owned(), "sha256:feedface".to_owned()),
    ]);
    recorder.event(&object, EventType::Normal, "NewArtifact", "stored artifact for commit 'Add podinfo'", metadata);
    recorder.event(
        &object,
        EventType::Warning,
        "GitOperationFailed",
        "failed to checkout and determine revision: unable to clone",
        BTreeMap::new(),
    );
    recorder.event(
        &object,
        EventType::Trace,
        "ArtifactUpToDate",
        "artifact up-to-date with remote revision",
        BTreeMap::new(),
    );
    assert!(recorder.flush(FLUSH).await);

    // The Kubernetes Events.
    let all = events(&client, &ns.name).await;
    assert_eq!(all.len(), 3, "{all:#?}");
    let new_artifact = by_reason(&all, "NewArtifact")[0];
    let io = &new_artifact.involved_object;
    assert_eq!(io.api_version.as_deref(), Some("source.toolkit.fluxcd.io/v1"));
    assert_eq!(io.kind.as_deref(), Some("GitRepository"));
    assert_eq!(io.namespace.as_deref(), Some(ns.name.as_str()));
    assert_eq!(io.name.as_deref(), Some("podinfo"));
    assert_eq!(io.uid.as_deref(), Some("5b1f4d0e-8a59-4f6e-9a37-2d6f0c1e7a11"));
    assert_eq!(io.resource_version.as_deref(), Some("1234"));
    assert_eq!(new_artifact.type_.as_deref(), Some("Normal"));
    assert_eq!(new_artifact.message.as_deref(), Some("stored artifact for commit 'Add podinfo'"));
    assert_eq!(new_artifact.source.as_ref().and_then(|s| s.component.as_deref()), Some("source-controller"));
    assert_eq!(new_artifact.source.as_ref().and_then(|s| s.host.as_deref()), None);
    assert_eq!(new_artifact.reporting_component.as_deref(), Some("source-controller"));
    assert_eq!(new_artifact.reporting_instance.as_deref().unwrap_or_default(), "");
    assert_eq!(new_artifact.count, Some(1));
    assert!(new_artifact.first_timestamp.is_some());
    assert_eq!(new_artifact.first_timestamp, new_artifact.last_timestamp);
    assert_eq!(new_artifact.event_time, None);
    let name = new_artifact.metadata.name.as_deref().unwrap();
    let hex = name.strip_prefix("podinfo.").unwrap_or_else(|| panic!("event name {name}"));
    let nanos = i128::from_str_radix(hex, 16).unwrap();
    assert_eq!(nanos / 1_000_000_000, i128::from(new_artifact.first_timestamp.as_ref().unwrap().0.as_second()));
    let annotations = new_artifact.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations.keys().collect::<Vec<_>>(),
        ["event.toolkit.fluxcd.io/deploy-id", "source.toolkit.fluxcd.io/digest", "source.toolkit.fluxcd.io/revision"]
    );
    let failed = by_reason(&all, "GitOperationFailed")[0];
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    let trace = by_reason(&all, "ArtifactUpToDate")[0];
    assert_eq!(trace.type_.as_deref(), Some("Normal"), "a trace is a Normal Kubernetes Event");

    // The notification pipeline: everything but the trace, in-process and over HTTP alike.
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    // Delivery is concurrent (as Flux posts each event on its own): compare in a fixed order.
    let mut forwarded: Vec<FluxEvent> = requests.iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    let mut published = sink.0.lock().unwrap().clone();
    forwarded.sort_by(|a, b| b.reason.cmp(&a.reason));
    published.sort_by(|a, b| b.reason.cmp(&a.reason));
    assert_eq!(published.len(), 2);
    for (f, p) in forwarded.iter().zip(&published) {
        assert_eq!(f, p);
        assert_eq!(f.reporting_controller, "source-controller");
        assert_eq!(f.reporting_instance, "eddy-host-0");
        assert_eq!(f.involved_object, object.to_object_reference());
    }
    assert_eq!(forwarded[0].severity, Severity::Info);
    assert_eq!(forwarded[0].reason, "NewArtifact");
    assert_eq!(forwarded[0].metadata, annotations);
    assert_eq!(forwarded[1].severity, Severity::Error);
    assert_eq!(forwarded[1].metadata.get("event.toolkit.fluxcd.io/deploy-id").map(String::as_str), Some("42"));
    let info = requests.iter().find(|r| r.json()["reason"] == "NewArtifact").expect("NewArtifact was posted");
    assert_eq!(info.json()["severity"], "info");

    // As people see them.
    let kubectl_events = kubectl(&["events", "-n", &ns.name]);
    for needle in [
        "NewArtifact",
        "GitRepository/podinfo",
        "stored artifact for commit 'Add podinfo'",
        "Warning",
        "GitOperationFailed",
    ] {
        assert!(kubectl_events.contains(needle), "kubectl events lacks {needle:?}:\n{kubectl_events}");
    }
    let flux_events = flux(&["events", "-n", &ns.name]);
    for needle in ["NewArtifact", "GitRepository/podinfo", "ArtifactUpToDate", "unable to clone"] {
        assert!(flux_events.contains(needle), "flux events lacks {needle:?}:\n{flux_events}");
    }
    let only_git = flux(&["events", "-n", &ns.name, "--for", "GitRepository", "--types", "Warning"]);
    assert!(only_git.contains("GitOperationFailed") && !only_git.contains("NewArtifact"), "{only_git}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_events_patch_one_event_and_similar_ones_are_combined() {
    let client = client().await;
    let ns = TestNamespace::new(&client, "rt-dedup").await;
    let recorder = KubeRecorder::new(client.clone(), "kustomize-controller");
    let object = ObjectRef::new("kustomize.toolkit.fluxcd.io/v1", "Kustomization", &ns.name, "apps");
    for _ in 0..5 {
        recorder.event(&object, EventType::Normal, "Progressing", "Reconciliation in progress", BTreeMap::new());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(recorder.flush(FLUSH).await);
    let all = events(&client, &ns.name).await;
    let progressing = by_reason(&all, "Progressing");
    assert_eq!(progressing.len(), 1, "{all:#?}");
    assert_eq!(progressing[0].count, Some(5));
    assert!(progressing[0].last_timestamp.as_ref().unwrap().0 > progressing[0].first_timestamp.as_ref().unwrap().0);
    let stats = recorder.stats();
    assert_eq!((stats.created, stats.patched), (1, 4), "{stats:?}");
    let shown = kubectl(&["events", "-n", &ns.name]);
    assert!(shown.contains("(x5 over"), "{shown}");

    // Ten distinct messages of one reason: nine Events, then a combined one that counts on.
    for i in 0..12 {
        recorder.event(
            &object,
            EventType::Warning,
            "HealthCheckFailed",
            &format!("timeout waiting for deployment/app-{i}"),
            BTreeMap::new(),
        );
    }
    assert!(recorder.flush(FLUSH).await);
    let all = events(&client, &ns.name).await;
    let failed = by_reason(&all, "HealthCheckFailed");
    assert_eq!(failed.len(), 10, "{failed:#?}");
    let combined: Vec<_> = failed
        .iter()
        .filter(|e| e.message.as_deref().unwrap_or_default().starts_with("(combined from similar events): "))
        .collect();
    assert_eq!(combined.len(), 1);
    assert_eq!(combined[0].count, Some(3));
    assert_eq!(
        combined[0].message.as_deref(),
        Some("(combined from similar events): timeout waiting for deployment/app-11")
    );

    // An Event deleted meanwhile is created again by the next duplicate (a 404 patch).
    let first = &progressing[0];
    Api::<Event>::namespaced(client.clone(), &ns.name)
        .delete(first.metadata.name.as_deref().unwrap(), &DeleteParams::default())
        .await
        .unwrap();
    recorder.event(&object, EventType::Normal, "Progressing", "Reconciliation in progress", BTreeMap::new());
    assert!(recorder.flush(FLUSH).await);
    let again = events(&client, &ns.name).await;
    let again = by_reason(&again, "Progressing");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].metadata.name, first.metadata.name);
    assert_eq!(again[0].count, Some(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spam_filter_allows_25_events_per_object_and_refusals_are_not_retried() {
    let client = client().await;
    let ns = TestNamespace::new(&client, "rt-spam").await;
    let recorder = KubeRecorder::new(client.clone(), "helm-controller");
    let object = ObjectRef::new("helm.toolkit.fluxcd.io/v2", "HelmRelease", &ns.name, "podinfo");
    for i in 0..30 {
        recorder.event(&object, EventType::Normal, &format!("Reason{i}"), "m", BTreeMap::new());
    }
    assert!(recorder.flush(FLUSH).await);
    let all = events(&client, &ns.name).await;
    assert_eq!(all.len(), 25);
    assert_eq!(recorder.stats().filtered, 5);
    // Another object has a bucket of its own.
    let other = ObjectRef::new("helm.toolkit.fluxcd.io/v2", "HelmRelease", &ns.name, "other");
    recorder.event(&other, EventType::Normal, "Reason0", "m", BTreeMap::new());
    assert!(recorder.flush(FLUSH).await);
    eventually(Duration::from_secs(10), "the other object's event", || {
        let client = client.clone();
        let ns = ns.name.clone();
        async move { (events(&client, &ns).await.len() == 26).then_some(()) }
    })
    .await;

    // A namespace that does not exist: the API server refuses, the writer does not retry.
    let missing = ObjectRef::new("v1", "ConfigMap", "rt-no-such-namespace", "c");
    let before = recorder.stats();
    recorder.event(&missing, EventType::Normal, "R", "m", BTreeMap::new());
    assert!(recorder.flush(Duration::from_secs(20)).await, "a refusal is final, not retried for minutes");
    assert_eq!(recorder.stats().failed, before.failed + 1);
}
