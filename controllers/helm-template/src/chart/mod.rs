//! Charts: their files, metadata (`Chart.yaml` v1 and v2), values and dependencies.

pub mod deps;
pub mod load;
pub mod strvals;
pub mod values;

use std::collections::{BTreeMap, HashMap};

use crate::value::Value;

/// A file of a chart.
#[derive(Debug, Clone)]
pub struct File {
    /// Path relative to the chart root, `/`-separated.
    pub name: String,
    /// Content.
    pub data: Vec<u8>,
}

/// A chart dependency as `Chart.yaml` (or v1's `requirements.yaml`) declares it.
#[derive(Debug, Clone, Default)]
pub struct Dependency {
    /// The chart's name.
    pub name: String,
    /// Version constraint.
    pub version: String,
    /// Repository URL.
    pub repository: String,
    /// Comma-separated value paths that enable or disable it.
    pub condition: String,
    /// Tags that enable or disable it.
    pub tags: Vec<String>,
    /// Whether it ended up enabled.
    pub enabled: bool,
    /// `import-values`.
    pub import_values: Vec<ImportValue>,
    /// The name it is known by in the parent.
    pub alias: String,
}

impl Dependency {
    /// Reads a dependency entry.
    pub fn from_value(v: &Value) -> Dependency {
        let s = |k: &str| get_str(v, k);
        let tags = match get(v, "tags") {
            Value::List(l) => l.iter().filter_map(|t| t.as_str().map(String::from)).collect(),
            _ => Vec::new(),
        };
        let import_values = match get(v, "import-values") {
            Value::List(l) => l
                .iter()
                .filter_map(|x| match x {
                    Value::Str(s) => Some(ImportValue::Export(s.to_string())),
                    Value::Map(_) => {
                        Some(ImportValue::Path { child: get_str(x, "child"), parent: get_str(x, "parent") })
                    }
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Dependency {
            name: s("name"),
            version: s("version"),
            repository: s("repository"),
            condition: s("condition"),
            tags,
            enabled: matches!(get(v, "enabled"), Value::Bool(true)),
            import_values,
            alias: s("alias"),
        }
    }

    fn to_map(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("Name".into(), Value::str(self.name.as_str()));
        m.insert("Version".into(), Value::str(self.version.as_str()));
        m.insert("Repository".into(), Value::str(self.repository.as_str()));
        m.insert("Condition".into(), Value::str(self.condition.as_str()));
        m.insert("Tags".into(), Value::list(self.tags.iter().map(|t| Value::str(t.as_str())).collect()));
        m.insert("Enabled".into(), Value::Bool(self.enabled));
        m.insert(
            "ImportValues".into(),
            Value::list(
                self.import_values
                    .iter()
                    .map(|i| match i {
                        ImportValue::Export(s) => Value::str(s.as_str()),
                        ImportValue::Path { child, parent } => {
                            let mut mm = BTreeMap::new();
                            mm.insert("child".into(), Value::str(child.as_str()));
                            mm.insert("parent".into(), Value::str(parent.as_str()));
                            Value::map(mm)
                        }
                    })
                    .collect(),
            ),
        );
        m.insert("Alias".into(), Value::str(self.alias.as_str()));
        Value::map(m)
    }
}

/// An `import-values` entry.
#[derive(Debug, Clone)]
pub enum ImportValue {
    /// `- data`: the child's `exports.data` into the parent's root.
    Export(String),
    /// `- child: a.b` / `parent: c`.
    Path {
        /// Path in the child's values.
        child: String,
        /// Path in the parent's values.
        parent: String,
    },
}

/// `Chart.yaml`.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// `name`.
    pub name: String,
    /// `version`.
    pub version: String,
    /// `apiVersion`.
    pub api_version: String,
    /// `type` (`application` or `library`).
    pub chart_type: String,
    /// `kubeVersion`.
    pub kube_version: String,
    /// `dependencies`.
    pub dependencies: Vec<Dependency>,
    /// The whole document's text.
    pub raw: String,
}

fn get(v: &Value, k: &str) -> Value {
    match v {
        Value::Map(m) => m.borrow().get(k).cloned().unwrap_or_default(),
        _ => Value::Nil,
    }
}

fn get_str(v: &Value, k: &str) -> String {
    match get(v, k) {
        Value::Str(s) => s.to_string(),
        Value::Nil => String::new(),
        other => crate::funcs::strval(&other),
    }
}

impl Metadata {
    /// Reads `Chart.yaml`'s text.
    pub fn from_yaml(text: &str) -> Result<Metadata, ChartError> {
        let v = crate::yaml::parse(text).map_err(|e| ChartError::Yaml("Chart.yaml".into(), e.to_string()))?;
        Ok(Metadata::from_value(&v, text))
    }

    fn from_value(v: &Value, text: &str) -> Metadata {
        let deps = match get(v, "dependencies") {
            Value::List(l) => l.iter().map(Dependency::from_value).collect(),
            _ => Vec::new(),
        };
        Metadata {
            name: get_str(v, "name"),
            version: get_str(v, "version"),
            api_version: get_str(v, "apiVersion"),
            chart_type: get_str(v, "type"),
            kube_version: get_str(v, "kubeVersion"),
            dependencies: deps,
            raw: text.to_string(),
        }
    }

    /// Helm's `MetadataAsMap`: the Go struct's fields by Go name.
    pub fn as_map(&self) -> BTreeMap<String, Value> {
        let v = &crate::yaml::parse(&self.raw).unwrap_or_default();
        let mut m = BTreeMap::new();
        for (go, yaml) in [
            ("Name", "name"),
            ("Home", "home"),
            ("Version", "version"),
            ("Description", "description"),
            ("Icon", "icon"),
            ("APIVersion", "apiVersion"),
            ("Condition", "condition"),
            ("Tags", "tags"),
            ("AppVersion", "appVersion"),
            ("KubeVersion", "kubeVersion"),
            ("Type", "type"),
        ] {
            m.insert(go.to_string(), Value::str(get_str(v, yaml)));
        }
        m.insert("Name".into(), Value::str(self.name.as_str()));
        let strs = |k: &str| match get(v, k) {
            Value::List(l) => Value::list(l.iter().map(|x| Value::str(crate::funcs::strval(x))).collect()),
            _ => Value::list(Vec::new()),
        };
        m.insert("Sources".into(), strs("sources"));
        m.insert("Keywords".into(), strs("keywords"));
        m.insert("Deprecated".into(), Value::Bool(matches!(get(v, "deprecated"), Value::Bool(true))));
        let maintainers = match get(v, "maintainers") {
            Value::List(l) => l
                .iter()
                .map(|x| {
                    let mut mm = BTreeMap::new();
                    mm.insert("Name".into(), Value::str(get_str(x, "name")));
                    mm.insert("Email".into(), Value::str(get_str(x, "email")));
                    mm.insert("URL".into(), Value::str(get_str(x, "url")));
                    Value::map(mm)
                })
                .collect(),
            _ => Vec::new(),
        };
        m.insert("Maintainers".into(), Value::list(maintainers));
        let annotations = match get(v, "annotations") {
            Value::Map(a) => {
                Value::map(a.borrow().iter().map(|(k, x)| (k.clone(), Value::str(crate::funcs::strval(x)))).collect())
            }
            _ => Value::empty_map(),
        };
        m.insert("Annotations".into(), annotations);
        m.insert("Dependencies".into(), Value::list(self.dependencies.iter().map(Dependency::to_map).collect()));
        m
    }
}

/// A loaded chart.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// `Chart.yaml`.
    pub metadata: Metadata,
    /// `templates/…`.
    pub templates: Vec<File>,
    /// Every other file (`.Files`).
    pub files: Vec<File>,
    /// `values.yaml`'s text (empty when absent).
    pub values_yaml: String,
    /// `values.schema.json`.
    pub schema: Option<Vec<u8>>,
    /// Subcharts (from `charts/`).
    pub dependencies: Vec<Chart>,
    requirements: Option<String>,
    /// Templates parsed by earlier renders of this chart (shared by its clones).
    pub parse_cache: ParseCache,
}

/// Parsed templates by template path, with the text they were parsed from: a chart rendered
/// again (by a controller, or in a benchmark) does not parse its templates again.
#[derive(Debug, Clone, Default)]
pub struct ParseCache(std::sync::Arc<std::sync::Mutex<HashMap<String, CacheEntry>>>);

/// A cached parse and the text it was made from.
type CacheEntry = (std::sync::Arc<str>, std::sync::Arc<CachedParse>);

/// One file's parse: its tree and the templates it defines.
#[derive(Debug)]
pub struct CachedParse {
    /// The file's tree.
    pub main: std::sync::Arc<crate::template::parse::Tree>,
    /// Its `define`d templates.
    pub defined: Vec<std::sync::Arc<crate::template::parse::Tree>>,
}

impl ParseCache {
    /// The parse of `name` if it was parsed from `text` before.
    pub fn get(&self, name: &str, text: &str) -> Option<std::sync::Arc<CachedParse>> {
        let map = self.0.lock().ok()?;
        map.get(name).filter(|(t, _)| &**t == text).map(|(_, p)| p.clone())
    }
    /// Remembers the parse of `name` from `text`.
    pub fn put(&self, name: &str, text: &str, parsed: std::sync::Arc<CachedParse>) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(name.to_string(), (text.into(), parsed));
        }
    }
}

impl Chart {
    /// The chart's name.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// The chart's default values (`values.yaml`), as a map.
    pub fn values(&self) -> Value {
        match values::load_values(&self.values_yaml) {
            Ok(Some(m)) => Value::Map(m),
            _ => Value::empty_map(),
        }
    }

    /// Whether this is a library chart.
    pub fn is_library(&self) -> bool {
        self.metadata.chart_type == "library"
    }
}

/// Why a chart could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChartError {
    /// A file could not be read.
    #[error("{0}")]
    Io(String),
    /// An archive is malformed.
    #[error("{0}")]
    Archive(String),
    /// A required file is missing.
    #[error("{0}")]
    Missing(String),
    /// `Chart.yaml` fails validation.
    #[error("{0}")]
    Invalid(String),
    /// A YAML file does not parse.
    #[error("cannot load {0}: {1}")]
    Yaml(String, String),
}
