//! Discovery documents: the legacy `/apis`, `/apis/{group}`, `/apis/{group}/{version}`
//! answers and the aggregated `APIGroupDiscoveryList` (v2 and v2beta1) that kube-aggregator and
//! client-go ask for first. All are computed once from [`eddy_api::registry()`].

use std::cmp::Ordering;

use eddy_api::ResourceInfo;
use serde_json::{Value, json};

/// Verbs served on every Flux resource.
pub const VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
/// Verbs served on the status subresource.
pub const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

/// Orders versions as Kubernetes does: GA before beta before alpha, higher numbers first,
/// then anything else alphabetically.
#[must_use]
/// The categories of a resource: upstream's (`all`, `fluxcd`, `fluxcd-<family>`) plus `flux`,
/// so that `kubectl get flux -A` lists every Flux object as the `flux` CLI's users expect.
fn categories(info: &ResourceInfo) -> Vec<&'static str> {
    let mut c: Vec<&'static str> = info.categories.to_vec();
    if !c.contains(&"flux") {
        c.push("flux");
    }
    c
}

pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn rank(v: &str) -> (u8, u64, u64, String) {
        let parsed = v.strip_prefix('v').and_then(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let major: u64 = digits.parse().ok()?;
            let tail = &rest[digits.len()..];
            if tail.is_empty() {
                return Some((0, major, 0));
            }
            for (tier, word) in [(1u8, "beta"), (2, "alpha")] {
                if let Some(n) = tail.strip_prefix(word) {
                    let minor: u64 = if n.is_empty() { 0 } else { n.parse().ok()? };
                    return Some((tier, major, minor));
                }
            }
            None
        });
        match parsed {
            // Higher numbers sort first: invert them.
            Some((tier, major, minor)) => (tier, u64::MAX - major, u64::MAX - minor, String::new()),
            None => (3, 0, 0, v.to_owned()),
        }
    }
    rank(a).cmp(&rank(b))
}

/// The groups served, each with its versions in preference order.
#[must_use]
pub fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for info in eddy_api::registry() {
        let idx = match out.iter().position(|(g, _)| *g == info.group) {
            Some(i) => i,
            None => {
                out.push((info.group, Vec::new()));
                out.len() - 1
            }
        };
        for v in &info.versions {
            if !out[idx].1.contains(&v.name) {
                out[idx].1.push(v.name);
            }
        }
    }
    for (_, versions) in &mut out {
        versions.sort_by(|a, b| compare_versions(a, b));
    }
    out.sort_by(|a, b| a.0.cmp(b.0));
    out
}

/// Kinds served in a group-version.
fn kinds_in(group: &str, version: &str) -> impl Iterator<Item = &'static ResourceInfo> {
    eddy_api::registry().iter().filter(move |i| i.group == group && i.version(version).is_some())
}

fn group_json(group: &str, versions: &[&str]) -> Value {
    let vs: Vec<Value> =
        versions.iter().map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v})).collect();
    json!({
        "name": group,
        "versions": vs,
        "preferredVersion": {"groupVersion": format!("{group}/{}", versions[0]), "version": versions[0]},
    })
}

/// `GET /apis`: the `APIGroupList`.
#[must_use]
pub fn api_group_list() -> Value {
    let groups: Vec<Value> = groups().iter().map(|(g, vs)| group_json(g, vs)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/{group}`: the `APIGroup`, or `None` if the group is not served.
#[must_use]
pub fn api_group(group: &str) -> Option<Value> {
    let all = groups();
    let (g, vs) = all.iter().find(|(g, _)| *g == group)?;
    let mut doc = json!({"kind": "APIGroup", "apiVersion": "v1"});
    if let (Value::Object(d), Value::Object(body)) = (&mut doc, group_json(g, vs)) {
        d.extend(body);
    }
    Some(doc)
}

/// `GET /api`: Eddy serves no core group; the list of legacy versions is empty.
#[must_use]
pub fn api_versions() -> Value {
    json!({"kind": "APIVersions", "versions": [], "serverAddressByClientCIDRs": []})
}

/// `GET /apis/{group}/{version}`: the `APIResourceList`, or `None` if not served.
#[must_use]
pub fn api_resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for info in kinds_in(group, version) {
        let mut r = json!({
            "name": info.plural,
            "singularName": info.singular,
            "namespaced": info.namespaced,
            "kind": info.kind,
            "verbs": VERBS,
        });
        if !info.short_names.is_empty() {
            r["shortNames"] = json!(info.short_names);
        }
        if !info.categories.is_empty() {
            r["categories"] = json!(categories(info));
        }
        resources.push(r);
        if info.version(version).is_some_and(|v| v.status_subresource) {
            resources.push(json!({
                "name": format!("{}/status", info.plural),
                "singularName": "",
                "namespaced": info.namespaced,
                "kind": info.kind,
                "verbs": STATUS_VERBS,
            }));
        }
    }
    if resources.is_empty() {
        return None;
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": format!("{group}/{version}"),
        "resources": resources,
    }))
}

/// The aggregated discovery document (`APIGroupDiscoveryList`) in `apidiscovery.k8s.io/{api_version}`.
#[must_use]
pub fn aggregated(api_version: &str) -> Value {
    let items: Vec<Value> = groups()
        .iter()
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|version| {
                    let resources: Vec<Value> = kinds_in(group, version)
                        .map(|info| {
                            let kind = json!({"group": group, "version": version, "kind": info.kind});
                            let mut r = json!({
                                "resource": info.plural,
                                "responseKind": kind,
                                "scope": if info.namespaced { "Namespaced" } else { "Cluster" },
                                "singularResource": info.singular,
                                "verbs": VERBS,
                            });
                            if !info.short_names.is_empty() {
                                r["shortNames"] = json!(info.short_names);
                            }
                            if !info.categories.is_empty() {
                                r["categories"] = json!(categories(info));
                            }
                            if info.version(version).is_some_and(|v| v.status_subresource) {
                                r["subresources"] = json!([{
                                    "subresource": "status",
                                    "responseKind": kind,
                                    "verbs": STATUS_VERBS,
                                }]);
                            }
                            r
                        })
                        .collect();
                    json!({"version": version, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{api_version}"),
        "metadata": {},
        "items": items,
    })
}

/// The aggregated document for `/api`: no legacy core group is served.
#[must_use]
pub fn aggregated_legacy(api_version: &str) -> Value {
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{api_version}"),
        "metadata": {},
        "items": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_version_order() {
        let mut vs = vec!["v1beta1", "v1alpha1", "v2", "v1", "v1beta2", "foo", "v10alpha3", "v11alpha2"];
        vs.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(vs, ["v2", "v1", "v1beta2", "v1beta1", "v11alpha2", "v10alpha3", "v1alpha1", "foo"]);
    }

    #[test]
    fn every_flux_group_is_listed_with_its_preferred_version() {
        let list = api_group_list();
        let names: Vec<&str> =
            list["groups"].as_array().into_iter().flatten().filter_map(|g| g["name"].as_str()).collect();
        for g in [
            "helm.toolkit.fluxcd.io",
            "image.toolkit.fluxcd.io",
            "kustomize.toolkit.fluxcd.io",
            "notification.toolkit.fluxcd.io",
            "source.toolkit.fluxcd.io",
        ] {
            assert!(names.contains(&g), "{g} missing from {names:?}");
        }
        let source = api_group("source.toolkit.fluxcd.io").unwrap_or_default();
        assert_eq!(source["preferredVersion"]["version"], "v1");
        assert_eq!(source["kind"], "APIGroup");
        assert!(api_group("apps").is_none());
    }

    #[test]
    fn resource_list_has_names_short_names_and_status() {
        let list = api_resource_list("source.toolkit.fluxcd.io", "v1").unwrap_or_default();
        let resources = list["resources"].as_array().cloned().unwrap_or_default();
        let git = resources.iter().find(|r| r["name"] == "gitrepositories").cloned().unwrap_or_default();
        assert_eq!(git["kind"], "GitRepository");
        assert_eq!(git["singularName"], "gitrepository");
        assert_eq!(git["shortNames"], json!(["gitrepo"]));
        assert!(git["categories"].as_array().is_some_and(|c| c.contains(&json!("fluxcd"))));
        assert!(git["categories"].as_array().is_some_and(|c| c.contains(&json!("flux"))));
        assert!(resources.iter().any(|r| r["name"] == "gitrepositories/status"));
        assert!(api_resource_list("source.toolkit.fluxcd.io", "v9").is_none());
    }

    #[test]
    fn aggregated_document_lists_every_kind_once_per_version() {
        let doc = aggregated("v2");
        let mut count = 0;
        for item in doc["items"].as_array().into_iter().flatten() {
            for v in item["versions"].as_array().into_iter().flatten() {
                count += v["resources"].as_array().map_or(0, Vec::len);
            }
        }
        let expected: usize = eddy_api::registry().iter().map(|i| i.versions.len()).sum();
        assert_eq!(count, expected);
        assert_eq!(doc["apiVersion"], "apidiscovery.k8s.io/v2");
    }
}
