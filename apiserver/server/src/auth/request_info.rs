//! Request attributes for authorization, derived from method, path and query exactly as
//! k8s.io/apiserver's `RequestInfoFactory` derives them, so that a `SubjectAccessReview` for a
//! request to Eddy asks kube-apiserver's RBAC the same question a request to a CRD would.

use serde_json::{Value, json};

/// What a request does, in authorization terms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Attributes {
    /// A request on an API resource (`/apis/{group}/{version}/...` with a resource).
    Resource {
        /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
        verb: String,
        /// API group.
        group: String,
        /// API version.
        version: String,
        /// Resource (plural).
        resource: String,
        /// Subresource, e.g. `status`; empty for the main resource.
        subresource: String,
        /// Namespace; empty for cluster-wide requests.
        namespace: String,
        /// Object name; empty for collections (a `metadata.name` field selector on a list or
        /// watch names the object, as kube-apiserver does).
        name: String,
    },
    /// Any other path (discovery, OpenAPI, metrics, version).
    NonResource {
        /// The lower-cased HTTP method.
        verb: String,
        /// The request path.
        path: String,
    },
}

fn query_value(query: Option<&str>, key: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    pairs.into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// The `metadata.name=<n>` term of a field selector, if it has exactly that equality term.
fn name_from_field_selector(selector: &str) -> Option<String> {
    let mut found = None;
    for term in selector.split(',') {
        let term = term.trim();
        let value = term.strip_prefix("metadata.name==").or_else(|| term.strip_prefix("metadata.name="));
        if let Some(v) = value {
            if found.is_some() {
                return None;
            }
            found = Some(v.to_owned());
        }
    }
    found
}

impl Attributes {
    /// The attributes of a request.
    #[must_use]
    pub fn from_request(method: &str, path: &str, query: Option<&str>) -> Self {
        let method = method.to_ascii_uppercase();
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let non_resource = || Attributes::NonResource { verb: method.to_ascii_lowercase(), path: path.to_owned() };
        // Only /apis/{group}/{version}/{resource...} is a resource request here: Eddy serves
        // no legacy core group.
        let ["apis", group, version, rest @ ..] = parts.as_slice() else { return non_resource() };
        if rest.is_empty() {
            return non_resource();
        }
        let (namespace, rest) = match rest {
            ["namespaces", ns, rest @ ..] if !rest.is_empty() => ((*ns).to_owned(), rest),
            ["namespaces", ns] => (String::new(), &["namespaces", *ns][..]),
            _ => (String::new(), rest),
        };
        let resource = rest[0].to_owned();
        let mut name = rest.get(1).map(|s| (*s).to_owned()).unwrap_or_default();
        let subresource = rest.get(2).map(|s| (*s).to_owned()).unwrap_or_default();
        let is_watch = query_value(query, "watch").is_some_and(|v| v == "true" || v == "1");
        let verb = match method.as_str() {
            "GET" | "HEAD" if name.is_empty() => {
                if is_watch {
                    "watch"
                } else {
                    "list"
                }
            }
            "GET" | "HEAD" => {
                if is_watch {
                    "watch"
                } else {
                    "get"
                }
            }
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" if name.is_empty() => "deletecollection",
            "DELETE" => "delete",
            other => return Attributes::NonResource { verb: other.to_ascii_lowercase(), path: path.to_owned() },
        };
        if matches!(verb, "list" | "watch" | "deletecollection")
            && name.is_empty()
            && let Some(sel) = query_value(query, "fieldSelector")
            && let Some(n) = name_from_field_selector(&sel)
        {
            name = n;
        }
        Attributes::Resource {
            verb: verb.to_owned(),
            group: (*group).to_owned(),
            version: (*version).to_owned(),
            resource,
            subresource,
            namespace,
            name,
        }
    }

    /// The verb.
    #[must_use]
    pub fn verb(&self) -> &str {
        match self {
            Attributes::Resource { verb, .. } | Attributes::NonResource { verb, .. } => verb,
        }
    }

    /// The `resourceAttributes` / `nonResourceAttributes` part of a SubjectAccessReview spec.
    #[must_use]
    pub fn review_attributes(&self) -> (&'static str, Value) {
        match self {
            Attributes::Resource { verb, group, version, resource, subresource, namespace, name } => (
                "resourceAttributes",
                json!({
                    "verb": verb, "group": group, "version": version, "resource": resource,
                    "subresource": subresource, "namespace": namespace, "name": name,
                }),
            ),
            Attributes::NonResource { verb, path } => ("nonResourceAttributes", json!({"verb": verb, "path": path})),
        }
    }

    /// The message of a 403 answer, worded as kube-apiserver words it.
    #[must_use]
    pub fn forbidden_message(&self, user: &str, reason: &str) -> String {
        let msg = match self {
            Attributes::NonResource { verb, path } => format!("User {user:?} cannot {verb} path {path:?}"),
            Attributes::Resource { verb, group, resource, subresource, namespace, .. } => {
                let resource =
                    if subresource.is_empty() { resource.clone() } else { format!("{resource}/{subresource}") };
                if namespace.is_empty() {
                    format!(
                        "User {user:?} cannot {verb} resource {resource:?} in API group {group:?} at the cluster scope"
                    )
                } else {
                    format!(
                        "User {user:?} cannot {verb} resource {resource:?} in API group {group:?} in the namespace {namespace:?}"
                    )
                }
            }
        };
        if reason.is_empty() { msg } else { format!("{msg}: {reason}") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(verb: &str, ns: &str, name: &str, sub: &str) -> Attributes {
        Attributes::Resource {
            verb: verb.into(),
            group: "source.toolkit.fluxcd.io".into(),
            version: "v1".into(),
            resource: "gitrepositories".into(),
            subresource: sub.into(),
            namespace: ns.into(),
            name: name.into(),
        }
    }

    #[test]
    fn verbs_follow_kube_request_info() {
        let base = "/apis/source.toolkit.fluxcd.io/v1";
        let cases = [
            ("GET", format!("{base}/gitrepositories"), None, res("list", "", "", "")),
            ("GET", format!("{base}/gitrepositories"), Some("watch=true"), res("watch", "", "", "")),
            ("GET", format!("{base}/namespaces/a/gitrepositories"), None, res("list", "a", "", "")),
            ("GET", format!("{base}/namespaces/a/gitrepositories/x"), None, res("get", "a", "x", "")),
            ("GET", format!("{base}/namespaces/a/gitrepositories/x"), Some("watch=1"), res("watch", "a", "x", "")),
            ("POST", format!("{base}/namespaces/a/gitrepositories"), None, res("create", "a", "", "")),
            ("PUT", format!("{base}/namespaces/a/gitrepositories/x"), None, res("update", "a", "x", "")),
            ("PUT", format!("{base}/namespaces/a/gitrepositories/x/status"), None, res("update", "a", "x", "status")),
            ("PATCH", format!("{base}/namespaces/a/gitrepositories/x"), None, res("patch", "a", "x", "")),
            ("DELETE", format!("{base}/namespaces/a/gitrepositories/x"), None, res("delete", "a", "x", "")),
            ("DELETE", format!("{base}/namespaces/a/gitrepositories"), None, res("deletecollection", "a", "", "")),
            (
                "GET",
                format!("{base}/namespaces/a/gitrepositories"),
                Some("fieldSelector=metadata.name%3Dx&watch=true"),
                res("watch", "a", "x", ""),
            ),
        ];
        for (method, path, query, want) in cases {
            assert_eq!(Attributes::from_request(method, &path, query), want, "{method} {path} {query:?}");
        }
    }

    #[test]
    fn discovery_is_non_resource() {
        for path in ["/apis", "/apis/source.toolkit.fluxcd.io", "/apis/source.toolkit.fluxcd.io/v1", "/openapi/v3"] {
            assert_eq!(
                Attributes::from_request("GET", path, None),
                Attributes::NonResource { verb: "get".into(), path: path.into() }
            );
        }
    }

    #[test]
    fn forbidden_messages_match_kube() {
        assert_eq!(
            res("list", "team-b", "", "").forbidden_message("system:serviceaccount:team-a:dev", ""),
            "User \"system:serviceaccount:team-a:dev\" cannot list resource \"gitrepositories\" in API group \
             \"source.toolkit.fluxcd.io\" in the namespace \"team-b\""
        );
        assert_eq!(
            res("list", "", "", "").forbidden_message("u", ""),
            "User \"u\" cannot list resource \"gitrepositories\" in API group \"source.toolkit.fluxcd.io\" at the cluster scope"
        );
        assert_eq!(
            res("update", "a", "x", "status").forbidden_message("u", "no RBAC policy matched"),
            "User \"u\" cannot update resource \"gitrepositories/status\" in API group \"source.toolkit.fluxcd.io\" \
             in the namespace \"a\": no RBAC policy matched"
        );
        assert_eq!(
            Attributes::NonResource { verb: "get".into(), path: "/metrics".into() }.forbidden_message("u", ""),
            "User \"u\" cannot get path \"/metrics\""
        );
    }
}
