//! The registry data: what each kind is called, which versions are served, how `kubectl get`
//! prints it, and the schema of each version.

use crate::schema::Schema;

/// An extra column shown by `kubectl get` (`additionalPrinterColumns`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterColumn {
    /// Column header.
    pub name: &'static str,
    /// OpenAPI type of the cell (`string`, `date`, ...).
    pub type_: &'static str,
    /// JSONPath evaluated against the object.
    pub json_path: &'static str,
    /// 0 for the default view, higher for `-o wide`.
    pub priority: i32,
}

impl PrinterColumn {
    /// Evaluates the column's JSONPath against an object, as the server does to build a Table:
    /// the first match, or `null` when nothing matches. The subset Flux's columns use is
    /// supported: `.field` steps, `[n]` indexes, `[*]` and `[?(@.field=="value")]` filters.
    #[must_use]
    pub fn cell(&self, obj: &serde_json::Value) -> serde_json::Value {
        eval_json_path(self.json_path, obj).into_iter().next().cloned().unwrap_or(serde_json::Value::Null)
    }
}

/// Evaluates a simple JSONPath (see [`PrinterColumn::cell`]) and returns all matches.
#[must_use]
pub fn eval_json_path<'a>(path: &str, obj: &'a serde_json::Value) -> Vec<&'a serde_json::Value> {
    use serde_json::Value;
    let mut current = vec![obj];
    let mut rest = path.trim().trim_start_matches('{').trim_end_matches('}');
    rest = rest.strip_prefix('$').unwrap_or(rest);
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let (name, tail) = r.split_at(end);
            if !name.is_empty() {
                current = current.into_iter().filter_map(|v| v.get(name)).collect();
            }
            rest = tail;
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else { return Vec::new() };
            // A filter may contain ']' inside quotes; find the closing ")]" for filters.
            let (inner, tail) = if r.starts_with("?(") {
                match r.find(")]") {
                    Some(i) => (&r[..=i], &r[i + 2..]),
                    None => return Vec::new(),
                }
            } else {
                (&r[..end], &r[end + 1..])
            };
            let items = current.into_iter().filter_map(Value::as_array).flatten();
            current = if inner == "*" {
                items.collect()
            } else if let Some(filter) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
                let Some((lhs, rhs)) = filter.split_once("==") else { return Vec::new() };
                let field = lhs.trim().trim_start_matches('@').trim_start_matches('.');
                let wanted = rhs.trim().trim_matches(|c| c == '"' || c == '\'');
                items.filter(|item| item.get(field).and_then(Value::as_str) == Some(wanted)).collect()
            } else if let Ok(i) = inner.parse::<usize>() {
                items.skip(i).take(1).collect()
            } else {
                return Vec::new();
            };
            rest = tail;
        } else {
            return Vec::new();
        }
    }
    current
}

/// One served version of a kind.
#[derive(Debug, Clone)]
pub struct VersionInfo {
    /// Version name, e.g. `v1`.
    pub name: &'static str,
    /// Whether objects are persisted in this version.
    pub storage: bool,
    /// Whether clients get a deprecation warning for this version.
    pub deprecated: bool,
    /// The warning text sent to clients of a deprecated version.
    pub deprecation_warning: Option<&'static str>,
    /// Whether the `status` subresource is served.
    pub status_subresource: bool,
    /// `kubectl get` columns.
    pub printer_columns: Vec<PrinterColumn>,
    /// The structural schema of the whole object.
    pub schema: Schema,
}

/// Everything the API server needs to serve one kind.
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    /// API group, e.g. `source.toolkit.fluxcd.io`.
    pub group: &'static str,
    /// Kind, e.g. `GitRepository`.
    pub kind: &'static str,
    /// Kind of the list type, e.g. `GitRepositoryList`.
    pub list_kind: &'static str,
    /// Resource name in URLs, e.g. `gitrepositories`.
    pub plural: &'static str,
    /// Singular resource name, e.g. `gitrepository`.
    pub singular: &'static str,
    /// Abbreviations accepted by kubectl.
    pub short_names: &'static [&'static str],
    /// Groupings such as `all` that `kubectl get <category>` expands.
    pub categories: &'static [&'static str],
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Served versions, newest (storage) first.
    pub versions: Vec<VersionInfo>,
}

impl ResourceInfo {
    /// The version objects are stored in.
    ///
    /// # Panics
    /// Never for registry entries: each has exactly one storage version (checked by a test).
    #[must_use]
    pub fn storage_version(&self) -> &VersionInfo {
        self.versions.iter().find(|v| v.storage).unwrap_or(&self.versions[0])
    }

    /// A served version by name.
    #[must_use]
    pub fn version(&self, name: &str) -> Option<&VersionInfo> {
        self.versions.iter().find(|v| v.name == name)
    }

    /// `group/version` for a version name.
    #[must_use]
    pub fn api_version(&self, version: &str) -> String {
        format!("{}/{}", self.group, version)
    }
}

/// Columns shared by most Flux kinds: readiness and its message.
pub(crate) const READY: PrinterColumn = PrinterColumn {
    name: "Ready",
    type_: "string",
    json_path: r#".status.conditions[?(@.type=="Ready")].status"#,
    priority: 0,
};
pub(crate) const STATUS: PrinterColumn = PrinterColumn {
    name: "Status",
    type_: "string",
    json_path: r#".status.conditions[?(@.type=="Ready")].message"#,
    priority: 0,
};
pub(crate) const AGE: PrinterColumn =
    PrinterColumn { name: "Age", type_: "date", json_path: ".metadata.creationTimestamp", priority: 0 };

/// A string column at priority 0.
pub(crate) const fn col(name: &'static str, json_path: &'static str) -> PrinterColumn {
    PrinterColumn { name, type_: "string", json_path, priority: 0 }
}

/// Builds the schema of a whole object from its spec and status schemas.
#[must_use]
pub fn object_schema(description: &str, spec: Schema, status: Option<Schema>) -> Schema {
    let mut s = Schema::object()
        .describe(description)
        .prop("apiVersion", Schema::string().describe("Versioned schema of this object, as group/version."))
        .prop("kind", Schema::string().describe("The REST resource type of this object, in CamelCase."))
        .prop("metadata", Schema::object())
        .prop("spec", spec);
    if let Some(status) = status {
        s = s.prop("status", status);
    }
    s
}

/// Declares a top-level kind: the typed object struct and its schema.
macro_rules! api_kind {
    (
        $(#[doc = $doc:literal])*
        $name:ident { group: $group:literal, version: $version:literal, spec: $spec:ty
            $(, status: $status:ty $(, status_default: $sd:expr)?)? $(,)? }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// `group/version` of the object.
            #[serde(default)]
            pub api_version: String,
            /// The kind name.
            #[serde(default)]
            pub kind: String,
            /// Standard object metadata.
            #[serde(default)]
            pub metadata: crate::meta::ObjectMeta,
            /// Desired state.
            #[serde(default)]
            pub spec: $spec,
            $(
            /// Observed state, written by the controller.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub status: Option<$status>,
            )?
        }

        impl $name {
            /// API group of this kind.
            pub const GROUP: &'static str = $group;
            /// Version this struct describes.
            pub const VERSION: &'static str = $version;
            /// Kind name.
            pub const KIND: &'static str = stringify!($name);

            /// The structural schema of the whole object.
            #[must_use]
            pub fn schema() -> crate::schema::Schema {
                #[allow(unused_mut, unused_assignments)]
                let mut status: Option<crate::schema::Schema> = None;
                $(
                    status = Some(<$status as crate::schema::ApiSchema>::schema()
                        $(.default_json($sd))?);
                )?
                crate::resource::object_schema(
                    &crate::schema::doc_text(&[$($doc),*]),
                    <$spec as crate::schema::ApiSchema>::schema(),
                    status,
                )
            }

            /// An empty object with `apiVersion` and `kind` set.
            #[must_use]
            pub fn new(name: &str, namespace: &str) -> Self {
                let mut o = Self {
                    api_version: format!("{}/{}", $group, $version),
                    kind: Self::KIND.to_owned(),
                    ..Self::default()
                };
                o.metadata.name = Some(name.to_owned());
                o.metadata.namespace = Some(namespace.to_owned());
                o
            }
        }
    };
}
pub(crate) use api_kind;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn printer_columns_evaluate_against_objects() {
        let obj = json!({
            "metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"url": "https://x"},
            "status": {"conditions": [
                {"type": "Reconciling", "status": "True", "message": "working"},
                {"type": "Ready", "status": "False", "message": "fetch failed"}
            ]}
        });
        assert_eq!(READY.cell(&obj), json!("False"));
        assert_eq!(STATUS.cell(&obj), json!("fetch failed"));
        assert_eq!(AGE.cell(&obj), json!("2026-01-01T00:00:00Z"));
        assert_eq!(col("URL", ".spec.url").cell(&obj), json!("https://x"));
        assert_eq!(col("Missing", ".status.artifact.revision").cell(&obj), json!(null));
        assert_eq!(eval_json_path(".status.conditions[1].type", &obj), [&json!("Ready")]);
        assert_eq!(eval_json_path(".status.conditions[*].status", &obj).len(), 2);
        assert!(eval_json_path(".status.conditions[", &obj).is_empty());
    }
}
