//! Realistic request bodies, rendered from templates serialised once (generating load costs the
//! client almost nothing next to the server it measures).

use serde_json::{Value, json};

/// A JSON document with `\u{1}NAME\u{1}` markers, split once so rendering is string pushes.
pub struct Template {
    /// Literal text and marker names, alternating (even = literal, odd = marker).
    parts: Vec<String>,
}

impl Template {
    /// Serialises `doc` (markers sit inside JSON strings; serde_json writes `\u{1}` as `\u0001`).
    #[must_use]
    pub fn new(doc: &Value) -> Self {
        let text = serde_json::to_string(doc).unwrap_or_default();
        Self { parts: text.split(r"\u0001").map(str::to_owned).collect() }
    }

    /// The document with each marker replaced by `fill(marker)` (inserted verbatim; values are
    /// plain names and numbers that need no escaping).
    pub fn render<'a>(&self, fill: impl Fn(&str) -> &'a str) -> Vec<u8> {
        let mut out = String::with_capacity(self.parts.iter().map(String::len).sum::<usize>() + 64);
        for (i, part) in self.parts.iter().enumerate() {
            out.push_str(if i % 2 == 1 { fill(part) } else { part });
        }
        out.into_bytes()
    }
}

/// A marker for [`Template::new`].
fn m(name: &str) -> String {
    format!("\u{1}{name}\u{1}")
}

/// Namespace of object `i` among `namespaces`.
#[must_use]
pub fn namespace_of(i: usize, namespaces: usize) -> String {
    format!("team-{:04}", i % namespaces.max(1))
}

/// Name of object `i`.
#[must_use]
pub fn name_of(i: usize) -> String {
    format!("app-{i:06}")
}

/// Kustomizations as Flux users write them (the spec of the storage benchmark's object), in
/// `api_version`; [`Self::status`] is the status the controller then writes, so stored objects
/// are about 2 KiB like the storage benchmark's.
pub struct Kustomizations {
    create: Template,
    status: Template,
}

impl Kustomizations {
    #[must_use]
    pub fn new(api_version: &str) -> Self {
        let (ns, name) = (m("NS"), m("NAME"));
        let create = json!({
            "apiVersion": api_version,
            "kind": "Kustomization",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": {"app.kubernetes.io/part-of": "fleet", "team": ns, "tier": "apps"},
                "annotations": {"reconcile.fluxcd.io/requestedAt": "2026-11-28T10:00:00Z"},
            },
            "spec": {
                "interval": "10m0s",
                "retryInterval": "2m0s",
                "timeout": "5m0s",
                "path": format!("./clusters/production/{ns}/{name}"),
                "prune": true,
                "wait": true,
                "force": false,
                "targetNamespace": ns,
                "sourceRef": {"kind": "GitRepository", "name": "fleet-repo", "namespace": "flux-system"},
                "dependsOn": [{"name": "infrastructure", "namespace": "flux-system"}],
                "postBuild": {"substitute": {"cluster_env": "production", "region": "eu-west-1"},
                              "substituteFrom": [{"kind": "ConfigMap", "name": "cluster-vars"}]},
                "healthChecks": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "namespace": ns}],
            },
        });
        let status = json!({
            "status": {
                "observedGeneration": 1,
                "lastAppliedRevision": "main@sha1:4f0c2b5e9d3a1f7e6c8b0a9d2e4f6a8c1b3d5e7f",
                "lastAttemptedRevision": "main@sha1:4f0c2b5e9d3a1f7e6c8b0a9d2e4f6a8c1b3d5e7f",
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                     "message": "Applied revision: main@sha1:4f0c2b5e9d3a1f7e6c8b0a9d2e4f6a8c1b3d5e7f",
                     "lastTransitionTime": "2026-11-28T10:00:05Z", "observedGeneration": 1},
                    {"type": "Healthy", "status": "True", "reason": "Succeeded",
                     "message": "Health check passed in 2.1s",
                     "lastTransitionTime": "2026-11-28T10:00:05Z", "observedGeneration": 1},
                ],
                "inventory": {"entries": [
                    {"id": format!("{ns}_{name}__Service"), "v": "v1"},
                    {"id": format!("{ns}_{name}_apps_Deployment"), "v": "v1"},
                    {"id": format!("{ns}_{name}-config__ConfigMap"), "v": "v1"},
                    {"id": format!("{ns}_{name}_autoscaling_HorizontalPodAutoscaler"), "v": "v2"},
                    {"id": format!("{ns}_{name}_networking.k8s.io_Ingress"), "v": "v1"},
                ]},
            },
        });
        Self { create: Template::new(&create), status: Template::new(&status) }
    }

    /// The create body of object `name` in `namespace`.
    #[must_use]
    pub fn create(&self, namespace: &str, name: &str) -> Vec<u8> {
        self.create.render(|k| if k == "NS" { namespace } else { name })
    }

    /// A merge patch for the status subresource.
    #[must_use]
    pub fn status(&self, namespace: &str, name: &str) -> Vec<u8> {
        self.status.render(|k| if k == "NS" { namespace } else { name })
    }
}

/// The annotation an update stamps with its send time (nanoseconds since the Unix epoch).
pub const SENT_ANNOTATION: &str = "bench.eddy.dev/sent";

/// A merge patch setting [`SENT_ANNOTATION`].
#[must_use]
pub fn stamp_patch(sent_nanos: u128) -> Vec<u8> {
    format!(r#"{{"metadata":{{"annotations":{{"{SENT_ANNOTATION}":"{sent_nanos}"}}}}}}"#).into_bytes()
}

/// The send time in a watch event line, found by a scan for the annotation (no JSON parse).
#[must_use]
pub fn sent_nanos_in(line: &[u8]) -> Option<u128> {
    const KEY: &[u8] = br#""bench.eddy.dev/sent":""#;
    let at = line.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let digits = &line[at..];
    let end = digits.iter().position(|b| *b == b'"')?;
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

/// Nanoseconds since the Unix epoch.
#[must_use]
pub fn now_nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
}

/// HelmReleases as a platform team writes them: about 3 KiB of JSON with nested chart values.
/// Two field managers apply to each: the GitOps applier (the whole object, new image tag each
/// time) and an operator (a label and a few values the first never sets).
pub struct HelmReleases {
    full: Template,
    ops: Template,
}

impl HelmReleases {
    #[must_use]
    pub fn new(api_version: &str) -> Self {
        let (ns, name, tag) = (m("NS"), m("NAME"), m("TAG"));
        let values = json!({
            "replicaCount": 3,
            "image": {"repository": "ghcr.io/stefanprodan/podinfo", "tag": tag, "pullPolicy": "IfNotPresent"},
            "ui": {"color": "#34577c", "message": "production", "logo": ""},
            "service": {"enabled": true, "type": "ClusterIP", "metricsPort": 9797, "httpPort": 9898,
                        "externalPort": 9898, "grpcPort": 9999, "grpcService": "podinfo"},
            "ingress": {"enabled": true, "className": "nginx",
                        "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt",
                                        "nginx.ingress.kubernetes.io/ssl-redirect": "true"},
                        "hosts": [{"host": format!("{name}.{ns}.example.com"),
                                   "paths": [{"path": "/", "pathType": "ImplementationSpecific"}]}],
                        "tls": [{"secretName": format!("{name}-tls"), "hosts": [format!("{name}.{ns}.example.com")]}]},
            "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "64Mi"}},
            "autoscaling": {"enabled": true, "minReplicas": 3, "maxReplicas": 12, "targetCPUUtilizationPercentage": 75},
            "podDisruptionBudget": {"maxUnavailable": 1},
            "serviceMonitor": {"enabled": true, "interval": "15s", "additionalLabels": {"release": "prometheus"}},
            "redis": {"enabled": true, "repository": "docker.io/redis", "tag": "7.2.4"},
            "securityContext": {"runAsNonRoot": true, "runAsUser": 10001, "readOnlyRootFilesystem": true,
                                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "apps", "effect": "NoSchedule"}],
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                    "labelSelector": {"matchLabels": {"app.kubernetes.io/name": name}}}}]}},
            "env": [{"name": "PODINFO_UI_COLOR", "value": "#34577c"}, {"name": "LOG_LEVEL", "value": "info"}],
        });
        let full = json!({
            "apiVersion": api_version,
            "kind": "HelmRelease",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "platform",
                           "kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"},
            },
            "spec": {
                "interval": "15m",
                "timeout": "10m",
                "releaseName": name,
                "targetNamespace": ns,
                "chart": {"spec": {
                    "chart": "podinfo", "version": "6.7.x", "interval": "1h",
                    "sourceRef": {"kind": "HelmRepository", "name": "podinfo", "namespace": "flux-system"},
                    "reconcileStrategy": "ChartVersion",
                }},
                "dependsOn": [{"name": "cert-manager", "namespace": "cert-manager"}, {"name": "ingress-nginx", "namespace": "ingress"}],
                "install": {"crds": "CreateReplace", "remediation": {"retries": 3}, "createNamespace": false},
                "upgrade": {"crds": "CreateReplace", "cleanupOnFail": true,
                            "remediation": {"retries": 3, "remediateLastFailure": true, "strategy": "rollback"}},
                "rollback": {"cleanupOnFail": true, "recreate": false},
                "test": {"enable": false},
                "driftDetection": {"mode": "enabled", "ignore": [{"paths": ["/spec/replicas"], "target": {"kind": "Deployment"}}]},
                "valuesFrom": [{"kind": "ConfigMap", "name": "cluster-values", "valuesKey": "values.yaml"},
                               {"kind": "Secret", "name": "podinfo-secrets", "valuesKey": "values.yaml", "optional": true}],
                "values": values,
            },
        });
        let counter = m("N");
        let ops = json!({
            "apiVersion": api_version,
            "kind": "HelmRelease",
            "metadata": {"name": name, "namespace": ns, "labels": {"ops.example.com/rollout": counter}},
            "spec": {"values": {"podAnnotations": {"ops.example.com/restartedAt": counter},
                                "extraArgs": {"level": counter}}},
        });
        Self { full: Template::new(&full), ops: Template::new(&ops) }
    }

    /// The GitOps applier's whole object with image tag `tag`.
    #[must_use]
    pub fn full(&self, namespace: &str, name: &str, tag: &str) -> Vec<u8> {
        self.full.render(|k| match k {
            "NS" => namespace,
            "NAME" => name,
            _ => tag,
        })
    }

    /// The operator's apply configuration with counter `n`.
    #[must_use]
    pub fn ops(&self, namespace: &str, name: &str, n: &str) -> Vec<u8> {
        self.ops.render(|k| match k {
            "NS" => namespace,
            "NAME" => name,
            _ => n,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_valid_objects() {
        let k = Kustomizations::new("kustomize.toolkit.fluxcd.io/v1");
        let body = k.create("team-0003", "app-000003");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["metadata"]["namespace"], "team-0003");
        assert_eq!(v["metadata"]["name"], "app-000003");
        assert_eq!(v["spec"]["path"], "./clusters/production/team-0003/app-000003");
        assert_eq!(v["spec"]["healthChecks"][0]["name"], "app-000003");
        let status: Value = serde_json::from_slice(&k.status("team-0003", "app-000003")).unwrap();
        assert_eq!(status["status"]["inventory"]["entries"][1]["id"], "team-0003_app-000003_apps_Deployment");
        assert_eq!(status["status"]["conditions"][0]["observedGeneration"], 1);
        let size = body.len() + status.to_string().len();
        assert!((1500..2600).contains(&size), "about 2 KiB with status, got {size}");

        let h = HelmReleases::new("helm.toolkit.fluxcd.io/v2");
        let full: Value = serde_json::from_slice(&h.full("apps", "podinfo-7", "6.7.1")).unwrap();
        assert_eq!(full["spec"]["values"]["image"]["tag"], "6.7.1");
        assert_eq!(full["spec"]["values"]["ingress"]["hosts"][0]["host"], "podinfo-7.apps.example.com");
        let len = h.full("apps", "podinfo-7", "6.7.1").len();
        assert!((2600..3800).contains(&len), "about 3 KiB, got {len}");
        let ops: Value = serde_json::from_slice(&h.ops("apps", "podinfo-7", "12")).unwrap();
        assert_eq!(ops["metadata"]["labels"]["ops.example.com/rollout"], "12");
        assert_eq!(ops["spec"]["values"]["extraArgs"]["level"], "12");
    }

    #[test]
    fn markers_are_filled_in_place() {
        let t = Template::new(&json!({"a": m("N"), "b": format!("x-{}-y", m("S"))}));
        assert_eq!(
            String::from_utf8(t.render(|k| if k == "N" { "7" } else { "z" })).unwrap(),
            r#"{"a":"7","b":"x-z-y"}"#
        );
    }

    #[test]
    fn stamps_are_found_in_event_lines() {
        let patch = stamp_patch(1_234_567_890_123);
        let line: &[u8] =
            br#"{"type":"MODIFIED","object":{"metadata":{"annotations":{"a":"b","bench.eddy.dev/sent":"1234567890123"}}}}"#;
        assert_eq!(sent_nanos_in(line), Some(1_234_567_890_123));
        assert_eq!(sent_nanos_in(&patch), Some(1_234_567_890_123));
        assert_eq!(sent_nanos_in(br#"{"type":"BOOKMARK"}"#), None);
    }
}
