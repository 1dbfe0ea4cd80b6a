//! Observing one side after a scenario ran (everything compared, normalised), and cleaning up.

use serde_json::{Map, Value, json};
use tracing::{debug, warn};

use crate::error::Result;
use crate::fixtures::{Context, Fixtures};
use crate::kubectl::Side;
use crate::normalise::Normaliser;
use crate::scenario::Scenario;
use crate::source::{self, GITREPO};

/// The Kustomization resource for kubectl.
pub const KS: &str = "kustomizations.kustomize.toolkit.fluxcd.io";

/// The kubectl resource name for an inventory entry's group, kind and version.
fn resource(group: &str, kind: &str, version: &str) -> String {
    if group.is_empty() { kind.to_owned() } else { format!("{kind}.{version}.{group}") }
}

/// The Events of one involved object, normalised.
fn events_of(all: &[Value], kind: &str, name: &str, n: &Normaliser) -> Value {
    let mine: Vec<Value> = all
        .iter()
        .filter(|e| e["involvedObject"]["kind"] == kind && e["involvedObject"]["name"] == name)
        .cloned()
        .collect();
    n.events(&mine)
}

/// Everything compared for one side, normalised.
///
/// # Errors
/// kubectl fails on a Kustomization, GitRepository or event list.
pub fn observe(side: &Side, s: &Scenario, cx: &Context, fx: &Fixtures, n: &Normaliser) -> Result<Value> {
    let ns = cx.ns.as_str();
    let mut kustomizations = Map::new();
    let mut events = Map::new();
    let mut ids: Vec<(String, String)> = s.observe.iter().map(|(id, v)| (fx.fill(id, cx), (*v).to_owned())).collect();
    let all_events = side.list("events", ns)?;
    for name in s.kustomization_names() {
        let o = side.get(KS, Some(ns), name)?;
        for e in o["status"]["inventory"]["entries"].as_array().into_iter().flatten() {
            if let (Some(id), Some(v)) = (e["id"].as_str(), e["v"].as_str()) {
                ids.push((id.to_owned(), v.to_owned()));
            }
        }
        kustomizations.insert(name.to_owned(), n.kustomization(&o));
        events.insert(name.to_owned(), events_of(&all_events, "Kustomization", name, n));
    }
    let mut sources = Map::new();
    if !s.sources.is_empty() {
        for (name, ns_template) in s.source_names() {
            let src_ns = fx.fill(ns_template, cx);
            let o = side.get(GITREPO, Some(&src_ns), name)?;
            sources.insert(name.to_owned(), source::observe(&o, n));
            let list = if src_ns == ns { all_events.clone() } else { side.list("events", &src_ns)? };
            events.insert(format!("source.{name}"), events_of(&list, "GitRepository", name, n));
        }
    }
    ids.sort();
    ids.dedup();
    let mut objects = Map::new();
    for (id, version) in ids {
        let parts: Vec<&str> = id.splitn(4, '_').collect();
        let [obj_ns, name, group, kind] = parts[..] else {
            warn!(side = side.name, %id, "not an inventory id");
            continue;
        };
        let namespace = (!obj_ns.is_empty()).then_some(obj_ns);
        let obj = side.get(&resource(group, kind, &version), namespace, name).unwrap_or_else(|e| {
            debug!(side = side.name, error = %e, "object not readable");
            Value::Null
        });
        objects.insert(n.text(&id), n.object(&obj));
    }
    Ok(json!({"kustomizations": kustomizations, "sources": sources, "events": events, "objects": objects}))
}

/// Deletes the scenario's Kustomizations (so their controller prunes what they applied outside
/// the namespace), then its namespaces.
pub fn cleanup(side: &Side, s: &Scenario, cx: &Context, fx: &Fixtures) {
    let _ = side.kubectl(&["delete", KS, "--all", "-n", &cx.ns, "--wait=true", "--timeout=60s"], None);
    let mut namespaces = vec![cx.ns.clone()];
    namespaces.extend(s.extra_namespaces.iter().map(|t| fx.fill(t, cx)));
    for n in namespaces {
        let _ = side.kubectl(&["delete", "namespace", &n, "--ignore-not-found", "--wait=false"], None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_for_core_and_grouped_kinds() {
        assert_eq!(resource("", "ConfigMap", "v1"), "ConfigMap");
        assert_eq!(resource("apps", "Deployment", "v1"), "Deployment.v1.apps");
    }

    #[test]
    fn events_are_those_of_the_object() {
        let e = |kind: &str, name: &str| json!({"involvedObject": {"kind": kind, "name": name}, "type": "Normal", "reason": "R", "message": name});
        let all = [e("Kustomization", "app"), e("GitRepository", "app"), e("Kustomization", "other")];
        let v = events_of(&all, "Kustomization", "app", &Normaliser::new("x"));
        assert_eq!(v, json!([{"type": "Normal", "reason": "R", "message": "app"}]));
    }
}
