//! Object identities as cli-utils' `ObjMetadata`: the inventory id format and Flux's
//! `Kind/namespace/name` subjects.

use std::fmt;

use serde_json::Value;

use crate::error::ApplyError;

/// The separator between an id's fields.
const FIELD_SEPARATOR: char = '_';
/// How a `:` in an RBAC object's name is written in an id.
const COLON_TRANSCODED: &str = "__";
/// The RBAC API group, whose kinds may carry `:` in their names.
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// An object's identity in an inventory: group, kind, namespace and name (cli-utils'
/// `ObjMetadata`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjMetadata {
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// API group; empty for the core group.
    pub group: String,
    /// Kind.
    pub kind: String,
}

impl ObjMetadata {
    /// The identity of an object (apiVersion, kind and metadata are read).
    ///
    /// # Errors
    /// A missing kind or name.
    pub fn of(obj: &Value) -> Result<Self, ApplyError> {
        let id = Self::of_lenient(obj);
        if id.kind.is_empty() {
            return Err(ApplyError::Invalid(format!("object '{}' has no kind", id.name)));
        }
        if id.name.is_empty() {
            return Err(ApplyError::Invalid(format!("{} object has no name", id.kind)));
        }
        Ok(id)
    }

    /// The identity of an object, with empty fields where the object has none (as cli-utils'
    /// `UnstructuredToObjMetadata`).
    #[must_use]
    pub fn of_lenient(obj: &Value) -> Self {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
        let api_version = text(obj.get("apiVersion"));
        Self {
            namespace: text(obj.pointer("/metadata/namespace")),
            name: text(obj.pointer("/metadata/name")),
            group: group_of(&api_version).to_string(),
            kind: text(obj.get("kind")),
        }
    }

    /// The inventory id: `<namespace>_<name>_<group>_<kind>`, `:` in names written `__`.
    ///
    /// As cli-utils, the `:` is transcoded only in the names of RBAC kinds (`Role`,
    /// `ClusterRole`, `RoleBinding`, `ClusterRoleBinding`), the only kinds whose names may
    /// contain one.
    #[must_use]
    pub fn id(&self) -> String {
        let name = if self.is_rbac() { self.name.replace(':', COLON_TRANSCODED) } else { self.name.clone() };
        format!(
            "{}{FIELD_SEPARATOR}{name}{FIELD_SEPARATOR}{}{FIELD_SEPARATOR}{}",
            self.namespace, self.group, self.kind
        )
    }

    /// Parses an inventory id.
    ///
    /// The namespace ends at the first `_`, the kind starts after the last and the group
    /// after the one before it; what remains is the name, with `__` read back as `:`.
    ///
    /// # Errors
    /// A malformed id (fewer than three separators).
    pub fn parse(id: &str) -> Result<Self, ApplyError> {
        let malformed = || ApplyError::Invalid(format!("unable to parse stored object metadata: {id}"));
        let (namespace, rest) = id.split_once(FIELD_SEPARATOR).ok_or_else(malformed)?;
        let (rest, kind) = rest.rsplit_once(FIELD_SEPARATOR).ok_or_else(malformed)?;
        let (name, group) = rest.rsplit_once(FIELD_SEPARATOR).ok_or_else(malformed)?;
        Ok(Self {
            namespace: namespace.to_string(),
            name: name.replace(COLON_TRANSCODED, ":"),
            group: group.to_string(),
            kind: kind.to_string(),
        })
    }

    /// Whether this is a `ClusterRole`, `Role`, `RoleBinding` or `ClusterRoleBinding`.
    fn is_rbac(&self) -> bool {
        self.group == RBAC_GROUP
            && matches!(self.kind.as_str(), "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding")
    }
}

impl fmt::Display for ObjMetadata {
    /// Flux's `FmtObjMetadata`: `Kind/namespace/name`, or `Kind/name` when cluster-scoped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// The group of an `apiVersion` (`apps/v1` → `apps`, `v1` → ``).
#[must_use]
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// The version of an `apiVersion` (`apps/v1` → `v1`, `v1` → `v1`).
#[must_use]
pub fn version_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or(api_version, |(_, v)| v)
}

/// Flux's `FmtUnstructured`: the subject of an object, `Kind/namespace/name`.
#[must_use]
pub fn subject_of(obj: &Value) -> String {
    ObjMetadata::of_lenient(obj).to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn meta(namespace: &str, name: &str, group: &str, kind: &str) -> ObjMetadata {
        ObjMetadata { namespace: namespace.into(), name: name.into(), group: group.into(), kind: kind.into() }
    }

    #[test]
    fn ids_are_formatted_as_cli_utils() {
        assert_eq!(meta("default", "web", "apps", "Deployment").id(), "default_web_apps_Deployment");
        assert_eq!(meta("", "ns1", "", "Namespace").id(), "_ns1__Namespace");
        assert_eq!(meta("ns", "cm", "", "ConfigMap").id(), "ns_cm__ConfigMap");
        assert_eq!(
            meta("", "system:auth-delegator", RBAC_GROUP, "ClusterRole").id(),
            "_system__auth-delegator_rbac.authorization.k8s.io_ClusterRole"
        );
    }

    #[test]
    fn ids_round_trip() {
        for m in [
            meta("default", "web", "apps", "Deployment"),
            meta("", "ns1", "", "Namespace"),
            meta("ns", "my_config", "", "ConfigMap"),
            meta("ns", "a:b:c", RBAC_GROUP, "RoleBinding"),
            meta("", "foos.example.com", "apiextensions.k8s.io", "CustomResourceDefinition"),
            meta("flux-system", "x", "kustomize.toolkit.fluxcd.io", "Kustomization"),
        ] {
            assert_eq!(ObjMetadata::parse(&m.id()).unwrap(), m, "{}", m.id());
        }
    }

    #[test]
    fn parse_reads_names_with_underscores_and_colons() {
        let m = ObjMetadata::parse("ns_a_b_apps_Deployment").unwrap();
        assert_eq!(m, meta("ns", "a_b", "apps", "Deployment"));
        let m = ObjMetadata::parse("_system__controller__x_rbac.authorization.k8s.io_ClusterRole").unwrap();
        assert_eq!(m.name, "system:controller:x");
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for id in ["", "abc", "ns_name", "ns_name_group"] {
            let err = ObjMetadata::parse(id).unwrap_err();
            assert!(matches!(err, ApplyError::Invalid(_)), "{id}");
            assert!(err.to_string().contains("unable to parse stored object metadata"), "{err}");
        }
        // Three separators are enough, even with every field empty.
        assert_eq!(ObjMetadata::parse("___").unwrap(), meta("", "", "", ""));
    }

    #[test]
    fn identity_of_objects() {
        let obj =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "prod"}});
        let m = ObjMetadata::of(&obj).unwrap();
        assert_eq!(m, meta("prod", "web", "apps", "Deployment"));
        assert_eq!(m.to_string(), "Deployment/prod/web");
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}});
        assert_eq!(ObjMetadata::of(&ns).unwrap().to_string(), "Namespace/prod");
        assert!(ObjMetadata::of(&json!({"apiVersion": "v1", "metadata": {"name": "x"}})).is_err());
        assert!(ObjMetadata::of(&json!({"apiVersion": "v1", "kind": "ConfigMap"})).is_err());
        assert!(ObjMetadata::of(&json!("not an object")).is_err());
    }

    #[test]
    fn api_version_parts() {
        assert_eq!(group_of("apps/v1"), "apps");
        assert_eq!(group_of("v1"), "");
        assert_eq!(version_of("apps/v1"), "v1");
        assert_eq!(version_of("v1"), "v1");
    }
}
