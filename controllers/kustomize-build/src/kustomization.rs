//! The kustomization file model.

use std::path::Path;

use crate::Error;
use crate::yaml::{Kind, Map, Value};

/// Whether the file is a kustomization or a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KKind {
    Kustomization,
    Component,
}

/// A selector of resources (patch and replacement targets).
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub annotation_selector: Option<String>,
}

/// One entry of `patches` or `patchesJson6902`.
#[derive(Debug, Clone, Default)]
pub struct PatchSpec {
    pub path: Option<String>,
    pub patch: Option<String>,
    pub target: Option<Target>,
    pub allow_name_change: bool,
    pub allow_kind_change: bool,
}

/// `labels` entry.
#[derive(Debug, Clone, Default)]
pub struct LabelSpec {
    pub pairs: Vec<(String, String)>,
    pub include_selectors: bool,
    pub include_templates: bool,
    pub fields: Vec<crate::fieldspec::FieldSpec>,
}

/// Generator options.
#[derive(Debug, Clone, Default)]
pub struct GenOptions {
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    pub disable_name_suffix_hash: Option<bool>,
    pub immutable: Option<bool>,
}

/// A configMapGenerator or secretGenerator entry.
#[derive(Debug, Clone, Default)]
pub struct GeneratorArgs {
    pub name: String,
    pub namespace: Option<String>,
    pub behavior: Option<String>,
    pub literals: Vec<String>,
    pub files: Vec<String>,
    pub envs: Vec<String>,
    pub options: Option<GenOptions>,
    pub secret_type: Option<String>,
}

/// An `images` entry.
#[derive(Debug, Clone, Default)]
pub struct ImageSpec {
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub digest: Option<String>,
}

/// `sortOptions`.
#[derive(Debug, Clone, Default)]
pub struct SortOptions {
    pub fifo: bool,
    pub order_first: Option<Vec<String>>,
    pub order_last: Option<Vec<String>>,
}

/// A parsed kustomization (or component) file.
#[derive(Debug, Clone)]
pub struct Kustomization {
    pub kind: KKind,
    pub namespace: Option<String>,
    pub name_prefix: String,
    pub name_suffix: String,
    pub common_labels: Vec<(String, String)>,
    pub labels: Vec<LabelSpec>,
    pub common_annotations: Vec<(String, String)>,
    pub resources: Vec<String>,
    pub components: Vec<String>,
    pub crds: Vec<String>,
    pub configurations: Vec<String>,
    pub generators: Vec<String>,
    pub transformers: Vec<String>,
    pub patches: Vec<PatchSpec>,
    pub patches_strategic_merge: Vec<String>,
    pub patches_json6902: Vec<PatchSpec>,
    pub config_map_generator: Vec<GeneratorArgs>,
    pub secret_generator: Vec<GeneratorArgs>,
    pub generator_options: Option<GenOptions>,
    pub images: Vec<ImageSpec>,
    pub replicas: Vec<(String, i64)>,
    pub replacements: Vec<Value>,
    pub vars: Vec<Value>,
    pub sort_options: Option<SortOptions>,
    pub build_metadata: Vec<String>,
    pub openapi: Option<Value>,
}

struct Ctx<'a> {
    path: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, msg: impl Into<String>) -> Error {
        Error::Kustomization { path: self.path.to_path_buf(), message: msg.into() }
    }

    fn string(&self, v: &Value, field: &str) -> Result<String, Error> {
        match v {
            Value::Scalar(s) if s.kind == Kind::Str => Ok(s.text.clone()),
            Value::Scalar(s) if s.kind == Kind::Null => Ok(String::new()),
            Value::Scalar(s) => {
                Err(self.err(format!("field {field}: expected a string, got {:?} (quote the value)", s.text)))
            }
            other => Err(self.err(format!("field {field}: expected a string, got a {}", other.type_name()))),
        }
    }

    fn opt_string(&self, m: &Map, key: &str) -> Result<Option<String>, Error> {
        match m.get(key) {
            None => Ok(None),
            Some(v) if v.is_null() => Ok(None),
            Some(v) => self.string(v, key).map(Some),
        }
    }

    fn bool(&self, v: &Value, field: &str) -> Result<bool, Error> {
        match v {
            Value::Scalar(s) if s.kind == Kind::Bool => Ok(crate::yaml::is_true(&s.text)),
            Value::Scalar(s) if s.kind == Kind::Null => Ok(false),
            _ => Err(self.err(format!("field {field}: expected a boolean"))),
        }
    }

    fn opt_bool(&self, m: &Map, key: &str) -> Result<Option<bool>, Error> {
        match m.get(key) {
            None => Ok(None),
            Some(v) if v.is_null() => Ok(None),
            Some(v) => self.bool(v, key).map(Some),
        }
    }

    fn seq<'v>(&self, v: &'v Value, field: &str) -> Result<&'v [Value], Error> {
        match v {
            Value::Seq(s) => Ok(s),
            Value::Scalar(s) if s.kind == Kind::Null => Ok(&[]),
            other => Err(self.err(format!("field {field}: expected a list, got a {}", other.type_name()))),
        }
    }

    fn strings(&self, v: &Value, field: &str) -> Result<Vec<String>, Error> {
        self.seq(v, field)?.iter().map(|x| self.string(x, field)).collect()
    }

    fn map<'v>(&self, v: &'v Value, field: &str) -> Result<Option<&'v Map>, Error> {
        match v {
            Value::Map(m) => Ok(Some(m)),
            Value::Scalar(s) if s.kind == Kind::Null => Ok(None),
            other => Err(self.err(format!("field {field}: expected a mapping, got a {}", other.type_name()))),
        }
    }

    fn string_map(&self, v: &Value, field: &str) -> Result<Vec<(String, String)>, Error> {
        let Some(m) = self.map(v, field)? else {
            return Ok(Vec::new());
        };
        m.iter().map(|(k, v)| Ok((k.clone(), self.string(v, &format!("{field}.{k}"))?))).collect()
    }

    fn check_fields(&self, m: &Map, allowed: &[&str], what: &str) -> Result<(), Error> {
        for k in m.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(self.err(format!("{what}: unknown field {k:?}")));
            }
        }
        Ok(())
    }

    fn target(&self, v: &Value) -> Result<Target, Error> {
        let Some(m) = self.map(v, "target")? else {
            return Ok(Target::default());
        };
        self.check_fields(
            m,
            &["group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"],
            "target",
        )?;
        Ok(Target {
            group: self.opt_string(m, "group")?,
            version: self.opt_string(m, "version")?,
            kind: self.opt_string(m, "kind")?,
            name: self.opt_string(m, "name")?,
            namespace: self.opt_string(m, "namespace")?,
            label_selector: self.opt_string(m, "labelSelector")?,
            annotation_selector: self.opt_string(m, "annotationSelector")?,
        })
    }

    fn patch(&self, v: &Value, field: &str) -> Result<PatchSpec, Error> {
        let m = self.map(v, field)?.ok_or_else(|| self.err(format!("{field}: empty entry")))?;
        self.check_fields(m, &["path", "patch", "target", "options"], field)?;
        let mut spec = PatchSpec {
            path: self.opt_string(m, "path")?,
            patch: self.opt_string(m, "patch")?,
            target: match m.get("target") {
                Some(t) if !t.is_null() => Some(self.target(t)?),
                _ => None,
            },
            ..PatchSpec::default()
        };
        if let Some(o) = m.get("options").map(|o| self.map(o, "options")).transpose()?.flatten() {
            spec.allow_name_change = self.opt_bool(o, "allowNameChange")?.unwrap_or(false);
            spec.allow_kind_change = self.opt_bool(o, "allowKindChange")?.unwrap_or(false);
        }
        Ok(spec)
    }

    fn gen_options(&self, v: &Value) -> Result<Option<GenOptions>, Error> {
        let Some(m) = self.map(v, "options")? else {
            return Ok(None);
        };
        self.check_fields(m, &["labels", "annotations", "disableNameSuffixHash", "immutable"], "generator options")?;
        Ok(Some(GenOptions {
            labels: m.get("labels").map(|x| self.string_map(x, "labels")).transpose()?.unwrap_or_default(),
            annotations: m
                .get("annotations")
                .map(|x| self.string_map(x, "annotations"))
                .transpose()?
                .unwrap_or_default(),
            disable_name_suffix_hash: self.opt_bool(m, "disableNameSuffixHash")?,
            immutable: self.opt_bool(m, "immutable")?,
        }))
    }

    fn generator(&self, v: &Value, secret: bool) -> Result<GeneratorArgs, Error> {
        let what = if secret { "secretGenerator" } else { "configMapGenerator" };
        let m = self.map(v, what)?.ok_or_else(|| self.err(format!("{what}: empty entry")))?;
        let mut allowed = vec!["name", "namespace", "behavior", "literals", "files", "envs", "env", "options"];
        if secret {
            allowed.push("type");
        }
        self.check_fields(m, &allowed, what)?;
        let mut envs = match m.get("envs") {
            Some(e) => self.strings(e, "envs")?,
            None => Vec::new(),
        };
        if let Some(e) = self.opt_string(m, "env")?
            && !e.is_empty()
        {
            envs.push(e);
        }
        Ok(GeneratorArgs {
            name: self.opt_string(m, "name")?.unwrap_or_default(),
            namespace: self.opt_string(m, "namespace")?.filter(|s| !s.is_empty()),
            behavior: self.opt_string(m, "behavior")?.filter(|s| !s.is_empty()),
            literals: m.get("literals").map(|x| self.strings(x, "literals")).transpose()?.unwrap_or_default(),
            files: m.get("files").map(|x| self.strings(x, "files")).transpose()?.unwrap_or_default(),
            envs,
            options: m.get("options").map(|o| self.gen_options(o)).transpose()?.flatten(),
            secret_type: if secret { self.opt_string(m, "type")? } else { None },
        })
    }
}

/// Parses the body of a builtin `ConfigMapGenerator` / `SecretGenerator`
/// plugin configuration (its `metadata` supplies a default name and namespace).
pub fn parse_generator_config(path: &Path, m: &Map, secret: bool) -> Result<GeneratorArgs, Error> {
    let cx = Ctx { path };
    let mut body = Map::new();
    for (k, v) in m.iter() {
        if k != "apiVersion" && k != "kind" && k != "metadata" {
            body.insert(k.clone(), v.clone());
        }
    }
    let mut args = cx.generator(&Value::Map(body), secret)?;
    if let Some(Value::Map(meta)) = m.get("metadata") {
        if args.name.is_empty() {
            args.name = cx.opt_string(meta, "name")?.unwrap_or_default();
        }
        if args.namespace.is_none() {
            args.namespace = cx.opt_string(meta, "namespace")?.filter(|s| !s.is_empty());
        }
    }
    Ok(args)
}

/// Parses a patch entry (`path`/`patch`/`target`/`options`) of a plugin
/// configuration.
pub fn parse_patch_config(path: &Path, v: &Value) -> Result<PatchSpec, Error> {
    Ctx { path }.patch(v, "patch")
}

const TOP_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "resources",
    "components",
    "bases",
    "crds",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "images",
    "imageTags",
    "replicas",
    "replacements",
    "vars",
    "openapi",
    "sortOptions",
    "buildMetadata",
    "helmCharts",
    "helmGlobals",
    "helmChartInflationGenerator",
];

impl Kustomization {
    /// Parses a kustomization file's text.
    pub fn parse(path: &Path, text: &str) -> Result<Self, Error> {
        let cx = Ctx { path };
        let docs =
            crate::yaml::parse_documents_v2(text).map_err(|source| Error::Yaml { path: path.to_path_buf(), source })?;
        let docs: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
        if docs.len() > 1 {
            return Err(cx.err("a kustomization file must hold a single document"));
        }
        let root = docs.into_iter().next().unwrap_or(Value::Map(Map::new()));
        let m = match root {
            Value::Map(m) => m,
            other => return Err(cx.err(format!("expected a mapping, got a {}", other.type_name()))),
        };
        for k in m.keys() {
            if !TOP_FIELDS.contains(&k.as_str()) {
                return Err(cx.err(format!("invalid Kustomization: json: unknown field {k:?}")));
            }
        }
        for unsupported in ["helmCharts", "helmGlobals", "helmChartInflationGenerator", "validators"] {
            if m.get(unsupported).is_some_and(|v| !v.is_null()) {
                return Err(cx.err(format!("{unsupported} is not supported by this build engine")));
            }
        }
        let kind = match cx.opt_string(&m, "kind")?.as_deref() {
            None | Some("" | "Kustomization") => KKind::Kustomization,
            Some("Component") => KKind::Component,
            Some(other) => {
                return Err(cx.err(format!("unknown kind {other:?}; expected Kustomization or Component")));
            }
        };
        let strings = |key: &str| -> Result<Vec<String>, Error> {
            m.get(key).map(|v| cx.strings(v, key)).transpose().map(Option::unwrap_or_default)
        };
        let mut resources = strings("resources")?;
        resources.extend(strings("bases")?);
        let mut labels = Vec::new();
        if let Some(v) = m.get("labels") {
            for item in cx.seq(v, "labels")? {
                let Some(lm) = cx.map(item, "labels")? else {
                    continue;
                };
                cx.check_fields(lm, &["pairs", "includeSelectors", "includeTemplates", "fields"], "labels")?;
                let fields = match lm.get("fields") {
                    Some(f) => crate::fieldspec::parse_list(f).map_err(|e| cx.err(e))?,
                    None => Vec::new(),
                };
                labels.push(LabelSpec {
                    pairs: lm.get("pairs").map(|p| cx.string_map(p, "pairs")).transpose()?.unwrap_or_default(),
                    include_selectors: cx.opt_bool(lm, "includeSelectors")?.unwrap_or(false),
                    include_templates: cx.opt_bool(lm, "includeTemplates")?.unwrap_or(false),
                    fields,
                });
            }
        }
        let mut patches = Vec::new();
        if let Some(v) = m.get("patches") {
            for p in cx.seq(v, "patches")? {
                patches.push(cx.patch(p, "patches")?);
            }
        }
        let mut patches_json6902 = Vec::new();
        if let Some(v) = m.get("patchesJson6902") {
            for p in cx.seq(v, "patchesJson6902")? {
                patches_json6902.push(cx.patch(p, "patchesJson6902")?);
            }
        }
        let mut patches_strategic_merge = Vec::new();
        if let Some(v) = m.get("patchesStrategicMerge") {
            for p in cx.seq(v, "patchesStrategicMerge")? {
                patches_strategic_merge.push(cx.string(p, "patchesStrategicMerge")?);
            }
        }
        let mut config_map_generator = Vec::new();
        if let Some(v) = m.get("configMapGenerator") {
            for g in cx.seq(v, "configMapGenerator")? {
                config_map_generator.push(cx.generator(g, false)?);
            }
        }
        let mut secret_generator = Vec::new();
        if let Some(v) = m.get("secretGenerator") {
            for g in cx.seq(v, "secretGenerator")? {
                secret_generator.push(cx.generator(g, true)?);
            }
        }
        let generator_options = match m.get("generatorOptions") {
            Some(v) => cx.gen_options(v)?,
            None => None,
        };
        let mut images = Vec::new();
        for key in ["images", "imageTags"] {
            if let Some(v) = m.get(key) {
                for i in cx.seq(v, key)? {
                    let Some(im) = cx.map(i, key)? else { continue };
                    cx.check_fields(im, &["name", "newName", "newTag", "digest", "tagSuffix"], key)?;
                    images.push(ImageSpec {
                        name: cx.opt_string(im, "name")?.unwrap_or_default(),
                        new_name: cx.opt_string(im, "newName")?.filter(|s| !s.is_empty()),
                        new_tag: cx.opt_string(im, "newTag")?.filter(|s| !s.is_empty()),
                        digest: cx.opt_string(im, "digest")?.filter(|s| !s.is_empty()),
                    });
                }
            }
        }
        let mut replicas = Vec::new();
        if let Some(v) = m.get("replicas") {
            for r in cx.seq(v, "replicas")? {
                let Some(rm) = cx.map(r, "replicas")? else {
                    continue;
                };
                cx.check_fields(rm, &["name", "count"], "replicas")?;
                let name = cx.opt_string(rm, "name")?.unwrap_or_default();
                let count = match rm.get("count") {
                    Some(Value::Scalar(s)) if s.kind == Kind::Int => {
                        s.text.parse::<i64>().map_err(|_| cx.err(format!("replicas: bad count {:?}", s.text)))?
                    }
                    None => 0,
                    Some(_) => return Err(cx.err("replicas: count must be an integer")),
                };
                replicas.push((name, count));
            }
        }
        let raw_list = |key: &str| -> Result<Vec<Value>, Error> {
            match m.get(key) {
                Some(v) => Ok(cx.seq(v, key)?.to_vec()),
                None => Ok(Vec::new()),
            }
        };
        let sort_options = match m.get("sortOptions") {
            Some(v) => match cx.map(v, "sortOptions")? {
                Some(so) => {
                    cx.check_fields(so, &["order", "legacySortOptions"], "sortOptions")?;
                    let order = cx.opt_string(so, "order")?.unwrap_or_default();
                    let mut opts = SortOptions::default();
                    match order.as_str() {
                        "fifo" => {
                            opts.fifo = true;
                            if so.get("legacySortOptions").is_some() {
                                return Err(cx.err("sortOptions: legacySortOptions cannot be set when order is fifo"));
                            }
                        }
                        "legacy" => {
                            if let Some(l) = so
                                .get("legacySortOptions")
                                .map(|l| cx.map(l, "legacySortOptions"))
                                .transpose()?
                                .flatten()
                            {
                                opts.order_first =
                                    l.get("orderFirst").map(|x| cx.strings(x, "orderFirst")).transpose()?;
                                opts.order_last = l.get("orderLast").map(|x| cx.strings(x, "orderLast")).transpose()?;
                            }
                        }
                        "" => {
                            return Err(cx.err("sortOptions: the field order must be set to legacy or fifo"));
                        }
                        other => {
                            return Err(cx.err(format!("sortOptions: unknown order {other:?}")));
                        }
                    }
                    Some(opts)
                }
                None => None,
            },
            None => None,
        };
        Ok(Kustomization {
            kind,
            namespace: cx.opt_string(&m, "namespace")?.filter(|s| !s.is_empty()),
            name_prefix: cx.opt_string(&m, "namePrefix")?.unwrap_or_default(),
            name_suffix: cx.opt_string(&m, "nameSuffix")?.unwrap_or_default(),
            common_labels: m
                .get("commonLabels")
                .map(|v| cx.string_map(v, "commonLabels"))
                .transpose()?
                .unwrap_or_default(),
            labels,
            common_annotations: m
                .get("commonAnnotations")
                .map(|v| cx.string_map(v, "commonAnnotations"))
                .transpose()?
                .unwrap_or_default(),
            resources,
            components: strings("components")?,
            crds: strings("crds")?,
            configurations: strings("configurations")?,
            generators: strings("generators")?,
            transformers: strings("transformers")?,
            patches,
            patches_strategic_merge,
            patches_json6902,
            config_map_generator,
            secret_generator,
            generator_options,
            images,
            replicas,
            replacements: raw_list("replacements")?,
            vars: raw_list("vars")?,
            sort_options,
            build_metadata: strings("buildMetadata")?,
            openapi: m.get("openapi").cloned(),
        })
    }
}
