//! Which Alerts an event goes to, and the metadata it carries to them
//! (`internal/server/event_handlers.go`: `filterAlertsForEvent`, `eventMatchesAlertSource`,
//! `messageIsIncluded`/`Excluded`, `combineEventMetadata`).

use std::collections::BTreeMap;

use eddy_api::notification::{Alert, CrossNamespaceObjectReference};
use eddy_controller_runtime::events::{FluxEvent, Severity};
use regex::Regex;

use crate::event::{EVENT_GROUP, object_group};

/// A warning notification-controller records on an Alert while matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertWarning {
    /// The event reason (`InvalidConfig`, `SourceFetchFailed`, `MetadataAppendFailed`).
    pub reason: &'static str,
    /// The message.
    pub message: String,
    /// Annotations of the event (the metadata conflicts).
    pub annotations: BTreeMap<String, String>,
}

impl AlertWarning {
    fn new(reason: &'static str, message: String) -> Self {
        Self { reason, message, annotations: BTreeMap::new() }
    }
}

/// How a source's `matchLabels` are checked: the involved object's labels, when it can be
/// read.
pub trait LabelSource {
    /// The labels of the event's involved object; `None` when it cannot be read.
    fn labels(&self, event: &FluxEvent) -> impl Future<Output = Option<BTreeMap<String, String>>> + Send;
}

/// Whether `event` matches `source` (its namespace already defaulted) and the alert's
/// severity, looking up labels only when the source has `matchLabels`.
async fn matches_source(
    event: &FluxEvent,
    alert: &Alert,
    source: &CrossNamespaceObjectReference,
    labels: &impl LabelSource,
    warnings: &mut Vec<AlertWarning>,
) -> bool {
    let o = &event.involved_object;
    if o.namespace.as_deref().unwrap_or_default() != source.namespace.as_deref().unwrap_or_default()
        || o.kind.as_deref().unwrap_or_default() != source.kind
    {
        return false;
    }
    let severity = alert.spec.event_severity.as_deref().unwrap_or("info");
    if event.severity.as_str() != severity && severity != Severity::Info.as_str() {
        return false;
    }
    if source.name != "*" && source.name != o.name.as_deref().unwrap_or_default() {
        return false;
    }
    let Some(want) = &source.match_labels else {
        return true;
    };
    let Some(have) = labels.labels(event).await else {
        warnings.push(AlertWarning::new(
            "SourceFetchFailed",
            format!("error getting source object {}", crate::event::involved_object_string(event)),
        ));
        return false;
    };
    want.iter().all(|(k, v)| have.get(k) == Some(v))
}

/// Whether the message passes the inclusion list (empty: everything).
fn included(message: &str, alert: &Alert, warnings: &mut Vec<AlertWarning>) -> bool {
    let list = alert.spec.inclusion_list.as_deref().unwrap_or_default();
    if list.is_empty() {
        return true;
    }
    list.iter().any(|exp| match Regex::new(exp) {
        Ok(r) => r.is_match(message),
        Err(_) => {
            warnings.push(AlertWarning::new("InvalidConfig", format!("failed to compile inclusion regex: {exp}")));
            false
        }
    })
}

/// Whether the message is dropped by the exclusion list.
fn excluded(message: &str, alert: &Alert, warnings: &mut Vec<AlertWarning>) -> bool {
    alert.spec.exclusion_list.as_deref().unwrap_or_default().iter().any(|exp| match Regex::new(exp) {
        Ok(r) => r.is_match(message),
        Err(_) => {
            warnings.push(AlertWarning::new("InvalidConfig", format!("failed to compile exclusion regex: {exp}")));
            false
        }
    })
}

/// Whether `alert` takes `event`: not suspended, one of its sources matches, the message is
/// included and not excluded. Warnings to record on the alert are appended to `warnings`.
pub async fn alert_matches(
    event: &FluxEvent,
    alert: &Alert,
    labels: &impl LabelSource,
    warnings: &mut Vec<AlertWarning>,
) -> bool {
    if alert.spec.suspend.unwrap_or(false) {
        return false;
    }
    let alert_ns = alert.metadata.namespace.as_deref().unwrap_or_default();
    let mut any = false;
    for source in &alert.spec.event_sources {
        let mut source = source.clone();
        if source.namespace.as_deref().unwrap_or_default().is_empty() {
            source.namespace = Some(alert_ns.to_owned());
        }
        if matches_source(event, alert, &source, labels, warnings).await {
            any = true;
            break;
        }
    }
    any && included(&event.message, alert, warnings) && !excluded(&event.message, alert, warnings)
}

/// `combineEventMetadata`, RFC 0008's precedence from lowest to highest: the
/// `event.toolkit.fluxcd.io/` keys (prefix stripped), the Alert's `eventMetadata`, its
/// `summary` (key `summary`), the involved object's group keys (prefix stripped). Returns the
/// `MetadataAppendFailed` warning when keys came from more than one source.
pub fn combine_metadata(event: &mut FluxEvent, alert: &Alert) -> Option<AlertWarning> {
    const EVENT_SOURCE: &str = "involved object annotations";
    const ALERT_META: &str = "Alert object .spec.eventMetadata";
    const ALERT_SUMMARY: &str = "Alert object .spec.summary";
    const OBJECT_SOURCE: &str = "involved object controller metadata";

    let mut metadata = BTreeMap::new();
    let mut sources: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut put = |k: String, v: String, src: &'static str| {
        sources.entry(k.clone()).or_default().push(src);
        metadata.insert(k, v);
    };
    let event_prefix = format!("{EVENT_GROUP}/");
    for (k, v) in &event.metadata {
        if let Some(key) = k.strip_prefix(&event_prefix) {
            put(key.to_owned(), v.clone(), EVENT_SOURCE);
        }
    }
    for (k, v) in alert.spec.event_metadata.iter().flatten() {
        put(k.clone(), v.clone(), ALERT_META);
    }
    if let Some(summary) = alert.spec.summary.as_deref().filter(|s| !s.is_empty()) {
        tracing::info!(
            alert = %alert.metadata.name.as_deref().unwrap_or_default(),
            "warning: specifying an alert summary with '.spec.summary' is deprecated, use '.spec.eventMetadata.summary' instead"
        );
        put("summary".to_owned(), summary.to_owned(), ALERT_SUMMARY);
    }
    let object_prefix = format!("{}/", object_group(event));
    for (k, v) in &event.metadata {
        if let Some(key) = k.strip_prefix(&object_prefix) {
            put(key.to_owned(), v.clone(), OBJECT_SOURCE);
        }
    }
    let conflicts: BTreeMap<String, String> =
        sources.into_iter().filter(|(_, s)| s.len() > 1).map(|(k, s)| (k, s.join(", "))).collect();
    if !metadata.is_empty() {
        event.metadata = metadata;
    }
    (!conflicts.is_empty()).then(|| {
        let msg = "metadata key conflicts detected (please refer to the Alert API docs and Flux RFC 0008 for more information)";
        tracing::info!(conflicting_keys = ?conflicts.keys().collect::<Vec<_>>(), "warning: {msg}");
        AlertWarning { reason: "MetadataAppendFailed", message: msg.to_owned(), annotations: conflicts }
    })
}

#[cfg(test)]
mod tests {
    use eddy_api::meta::LocalObjectReference;

    use super::*;

    struct Labels(Option<BTreeMap<String, String>>);
    impl LabelSource for Labels {
        async fn labels(&self, _event: &FluxEvent) -> Option<BTreeMap<String, String>> {
            self.0.clone()
        }
    }

    fn event(kind: &str, ns: &str, name: &str, severity: &str, message: &str) -> FluxEvent {
        crate::event::decode(
            serde_json::to_vec(&serde_json::json!({
                "involvedObject": {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": kind, "name": name, "namespace": ns},
                "severity": severity, "message": message, "reason": "r", "reportingController": "source-controller",
            }))
            .unwrap()
            .as_slice(),
        )
        .unwrap()
    }

    fn alert(sources: &[(&str, &str, Option<&str>)]) -> Alert {
        let mut a = Alert::new("alert", "flux-system");
        a.spec.provider_ref = LocalObjectReference { name: "p".into() };
        a.spec.event_sources = sources
            .iter()
            .map(|(kind, name, ns)| CrossNamespaceObjectReference {
                kind: (*kind).into(),
                name: (*name).into(),
                namespace: ns.map(str::to_owned),
                ..Default::default()
            })
            .collect();
        a
    }

    async fn matches(e: &FluxEvent, a: &Alert) -> bool {
        alert_matches(e, a, &Labels(None), &mut Vec::new()).await
    }

    // Follows event_handlers.go eventMatchesAlertSource: namespace defaults to the Alert's,
    // kind must be equal, `*` matches any name.
    #[tokio::test]
    async fn sources_by_kind_name_and_namespace() {
        let e = event("GitRepository", "flux-system", "app", "info", "m");
        assert!(matches(&e, &alert(&[("GitRepository", "app", None)])).await);
        assert!(matches(&e, &alert(&[("GitRepository", "*", None)])).await);
        assert!(!matches(&e, &alert(&[("GitRepository", "other", None)])).await);
        assert!(!matches(&e, &alert(&[("Kustomization", "*", None)])).await);
        assert!(!matches(&e, &alert(&[("GitRepository", "*", Some("other"))])).await);
        assert!(
            matches(&e, &alert(&[("Kustomization", "*", None), ("GitRepository", "*", Some("flux-system"))])).await
        );
        let mut suspended = alert(&[("GitRepository", "*", None)]);
        suspended.spec.suspend = Some(true);
        assert!(!matches(&e, &suspended).await);
    }

    // An `error` Alert takes only error events; an `info` Alert takes both.
    #[tokio::test]
    async fn severity() {
        let info = event("GitRepository", "flux-system", "app", "info", "m");
        let error = event("GitRepository", "flux-system", "app", "error", "m");
        let mut a = alert(&[("GitRepository", "*", None)]);
        a.spec.event_severity = Some("error".into());
        assert!(!matches(&info, &a).await);
        assert!(matches(&error, &a).await);
        a.spec.event_severity = Some("info".into());
        assert!(matches(&info, &a).await && matches(&error, &a).await);
    }

    #[tokio::test]
    async fn match_labels_need_the_objects_labels() {
        let e = event("GitRepository", "flux-system", "app", "info", "m");
        let mut a = alert(&[("GitRepository", "*", None)]);
        a.spec.event_sources[0].match_labels = Some(BTreeMap::from([("team".into(), "a".into())]));
        let mut w = Vec::new();
        let yes = Labels(Some(BTreeMap::from([("team".into(), "a".into()), ("x".into(), "y".into())])));
        assert!(alert_matches(&e, &a, &yes, &mut w).await);
        let no = Labels(Some(BTreeMap::from([("team".into(), "b".into())])));
        assert!(!alert_matches(&e, &a, &no, &mut w).await);
        assert!(w.is_empty());
        assert!(!alert_matches(&e, &a, &Labels(None), &mut w).await);
        assert_eq!(w[0].reason, "SourceFetchFailed");
        assert_eq!(w[0].message, "error getting source object GitRepository/flux-system/app");
    }

    // messageIsIncluded / messageIsExcluded with RE2 syntax; a bad expression warns.
    #[tokio::test]
    async fn inclusion_and_exclusion_lists() {
        let e = event("GitRepository", "flux-system", "app", "info", "stored artifact for commit 'abc'");
        let mut a = alert(&[("GitRepository", "*", None)]);
        a.spec.inclusion_list = Some(vec![r"^stored.*commit".into()]);
        assert!(matches(&e, &a).await);
        a.spec.exclusion_list = Some(vec![r"commit '\w+'$".into()]);
        assert!(!matches(&e, &a).await);
        a.spec.exclusion_list = Some(vec!["(".into()]);
        let mut w = Vec::new();
        assert!(alert_matches(&e, &a, &Labels(None), &mut w).await);
        assert_eq!(w, [AlertWarning::new("InvalidConfig", "failed to compile exclusion regex: (".into())]);
        a.spec.inclusion_list = Some(vec!["^nothing$".into()]);
        assert!(!matches(&e, &a).await);
    }

    // combineEventMetadata: precedence and conflict reporting as RFC 0008.
    #[test]
    fn metadata_precedence_and_conflicts() {
        let mut e = event("GitRepository", "flux-system", "app", "info", "m");
        e.metadata = BTreeMap::from([
            ("event.toolkit.fluxcd.io/env".into(), "annotation".into()),
            ("event.toolkit.fluxcd.io/cluster".into(), "c1".into()),
            ("source.toolkit.fluxcd.io/revision".into(), "main@sha1:abc".into()),
        ]);
        let mut a = alert(&[("GitRepository", "*", None)]);
        a.spec.event_metadata = Some(BTreeMap::from([("env".into(), "alert".into()), ("revision".into(), "x".into())]));
        a.spec.summary = Some("sum".into());
        let w = combine_metadata(&mut e, &a).unwrap();
        assert_eq!(
            e.metadata,
            BTreeMap::from([
                ("cluster".into(), "c1".into()),
                ("env".into(), "alert".into()),
                ("revision".into(), "main@sha1:abc".into()),
                ("summary".into(), "sum".into()),
            ])
        );
        assert_eq!(w.reason, "MetadataAppendFailed");
        assert_eq!(
            w.annotations,
            BTreeMap::from([
                ("env".into(), "involved object annotations, Alert object .spec.eventMetadata".into()),
                ("revision".into(), "Alert object .spec.eventMetadata, involved object controller metadata".into()),
            ])
        );
        let mut plain = event("GitRepository", "flux-system", "app", "info", "m");
        assert!(combine_metadata(&mut plain, &alert(&[])).is_none());
        assert!(plain.metadata.is_empty());
    }
}
