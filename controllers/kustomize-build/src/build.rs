//! Walking a kustomization tree and running generators and transformers.

use std::path::{Path, PathBuf};

use crate::kustomization::{KKind, Kustomization, PatchSpec};
use crate::loader::Loader;
use crate::resource::{Behavior, Resource, legacy_sort, ns_eq};
use crate::selector::Selector;
use crate::yaml::{self, Kind, Map, Value};
use crate::{BuildOptions, Error, fieldspec, generators, nameref, patch, transformers};

mod patches;
mod plugins;
#[allow(clippy::wildcard_imports)]
use patches::*;
#[allow(clippy::wildcard_imports)]
use plugins::*;

struct Ctx {
    loader: Loader,
    stack: Vec<PathBuf>,
    config: TransformerConfig,
    vars: Vec<crate::vars::Var>,
    root: PathBuf,
    schema: Option<crate::openapi::Schema>,
}

/// Field specs added by `configurations` files.
#[derive(Debug, Default)]
struct TransformerConfig {
    common_labels: Vec<fieldspec::FieldSpec>,
    template_labels: Vec<fieldspec::FieldSpec>,
    common_annotations: Vec<fieldspec::FieldSpec>,
    images: Vec<fieldspec::FieldSpec>,
    name_refs: Vec<nameref::ExtraRef>,
}

impl TransformerConfig {
    fn load(&mut self, cx_loader: &Loader, dir: &Path, entry: &str) -> Result<(), Error> {
        let path = cx_loader.resolve_file(dir, entry)?;
        let text = cx_loader.read_text(&path)?;
        let docs = yaml::parse_documents(&text).map_err(|source| Error::Yaml { path: path.clone(), source })?;
        let bad = |m: String| Error::Kustomization { path: path.clone(), message: m };
        for d in docs {
            let Value::Map(m) = d else { continue };
            for (k, v) in m.iter() {
                match k.as_str() {
                    "commonLabels" => self.common_labels.extend(fieldspec::parse_list(v).map_err(bad)?),
                    "templateLabels" => self.template_labels.extend(fieldspec::parse_list(v).map_err(bad)?),
                    "commonAnnotations" => self.common_annotations.extend(fieldspec::parse_list(v).map_err(bad)?),
                    "images" => self.images.extend(fieldspec::parse_list(v).map_err(bad)?),
                    "nameReference" => {
                        for item in v.as_seq().map(Vec::as_slice).unwrap_or_default() {
                            let Some(im) = item.as_map() else { continue };
                            let referent = im.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
                            let specs = im.get("fieldSpecs").map(fieldspec::parse_list).transpose().map_err(bad)?;
                            for spec in specs.unwrap_or_default() {
                                self.name_refs.push(nameref::ExtraRef { referent: referent.clone(), spec });
                            }
                        }
                    }
                    "namePrefix" | "nameSuffix" | "namespace" | "varReference" | "replicas" => {}
                    other => return Err(bad(format!("unknown transformer configuration field {other:?}"))),
                }
            }
        }
        Ok(())
    }
}

/// Builds the tree rooted at `root`.
pub fn run(root: &Path, opts: &BuildOptions) -> Result<Vec<Resource>, Error> {
    let root = root.canonicalize().map_err(|source| Error::Io { path: root.to_path_buf(), source })?;
    // kustomize's root-only rule confines the *files* a kustomization names to its own
    // directory (`Loader::resolve_file`) but loads other kustomization directories (bases,
    // components) from anywhere, so without an explicit boundary nothing else is confined.
    // Flux's mode (files anywhere) is confined to the build root unless told otherwise.
    let boundary = match (&opts.boundary, opts.load_restrictions) {
        (Some(b), _) => b.clone(),
        (None, crate::LoadRestrictions::RootOnly) => PathBuf::from("/"),
        (None, crate::LoadRestrictions::BoundaryOnly) => root.clone(),
    };
    let loader = Loader::new(&boundary, opts.load_restrictions)?;
    if !root.starts_with(loader_boundary(&boundary)?) {
        return Err(Error::Restricted(format!("'{}' is not in or below '{}'", root.display(), boundary.display())));
    }
    let mut cx = Ctx {
        loader,
        stack: Vec::new(),
        config: TransformerConfig::default(),
        vars: Vec::new(),
        root: root.clone(),
        schema: None,
    };
    let mut ra = Vec::new();
    let top = accumulate(&mut cx, &root, false, &mut ra)?;
    // Hash suffixes are added once, at the very end, from the final content.
    for r in &mut ra {
        if r.needs_hash {
            let h = generators::name_hash(r);
            let n = format!("{}-{h}", r.name());
            r.set_name(&n);
        }
    }
    nameref::fix(&mut ra, &cx.config.name_refs)?;
    crate::vars::resolve(&mut ra, &cx.vars)?;
    build_metadata(&top, &mut ra, opts)?;
    match &top.sort_options {
        Some(so) if so.fifo => {}
        Some(so) => legacy_sort(&mut ra, so.order_first.as_deref(), so.order_last.as_deref()),
        None => legacy_sort(&mut ra, None, None),
    }
    Ok(ra)
}

fn loader_boundary(b: &Path) -> Result<PathBuf, Error> {
    b.canonicalize().map_err(|source| Error::Io { path: b.to_path_buf(), source })
}

fn build_metadata(k: &Kustomization, ra: &mut [Resource], opts: &BuildOptions) -> Result<(), Error> {
    let managed_by = opts.managed_by.as_deref().unwrap_or("kustomize-(devel)");
    for opt in &k.build_metadata {
        match opt.as_str() {
            "managedByLabel" => {
                for r in ra.iter_mut() {
                    let meta = r.obj.entry_map("metadata");
                    meta.entry_map("labels").insert("app.kubernetes.io/managed-by", Value::str(managed_by));
                }
            }
            "originAnnotations" => {
                for r in ra.iter_mut() {
                    if let Some(origin) = r.origin.clone() {
                        r.obj
                            .entry_map("metadata")
                            .entry_map("annotations")
                            .insert("config.kubernetes.io/origin", Value::str(origin));
                    }
                }
            }
            "transformerAnnotations" => {
                for r in ra.iter_mut() {
                    if r.transformations.is_empty() {
                        continue;
                    }
                    let text: String = r
                        .transformations
                        .iter()
                        .map(|(file, kind)| {
                            format!(
                                "- configuredIn: {file}\n  configuredBy:\n    apiVersion: builtin\n    kind: {kind}\n"
                            )
                        })
                        .collect();
                    r.obj
                        .entry_map("metadata")
                        .entry_map("annotations")
                        .insert("alpha.config.kubernetes.io/transformations", Value::str(text));
                }
            }
            other => {
                return Err(Error::transform(format!(
                    "buildMetadata option {other:?} is not supported (supported: managedByLabel, originAnnotations, transformerAnnotations)"
                )));
            }
        }
    }
    Ok(())
}

fn kerr(path: &Path, msg: impl Into<String>) -> Error {
    Error::Kustomization { path: path.to_path_buf(), message: msg.into() }
}

/// Loads resources from a YAML file.
fn load_resource_file(cx: &Ctx, path: &Path) -> Result<Vec<Resource>, Error> {
    let text = cx.loader.read_text(path)?;
    let mut rs = resources_from_text(&text, path)?;
    let origin = format!("path: {}\n", relative(&cx.root, path));
    for r in &mut rs {
        r.origin = Some(origin.clone());
    }
    Ok(rs)
}

/// `path` relative to `base`, with `..` where needed.
fn relative(base: &Path, path: &Path) -> String {
    let b: Vec<_> = base.components().collect();
    let p: Vec<_> = path.components().collect();
    let common = b.iter().zip(&p).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); b.len() - common];
    parts.extend(p[common..].iter().map(|c| c.as_os_str().to_string_lossy().to_string()));
    parts.join("/")
}

fn generated_origin(cx: &Ctx, dir: &Path, kind: &str) -> Result<String, Error> {
    let kfile = cx.loader.kustomization_file(dir)?;
    let kfile = kfile.canonicalize().unwrap_or(kfile);
    Ok(format!("configuredIn: {}\nconfiguredBy:\n  apiVersion: builtin\n  kind: {kind}\n", relative(&cx.root, &kfile)))
}

/// Parses a YAML stream of resources.
pub fn resources_from_text(text: &str, path: &Path) -> Result<Vec<Resource>, Error> {
    let docs = yaml::parse_documents(text).map_err(|source| Error::Yaml { path: path.to_path_buf(), source })?;
    let mut out = Vec::new();
    for d in docs {
        if d.is_null() {
            continue;
        }
        let Value::Map(m) = d else {
            return Err(Error::Resource(format!(
                "{}: expected a resource (a mapping), got a {}",
                path.display(),
                d.type_name()
            )));
        };
        if m.is_empty() {
            continue;
        }
        let is_list =
            m.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List")) && m.get("items").is_some();
        if is_list {
            if let Some(Value::Seq(items)) = m.get("items") {
                for it in items {
                    if let Value::Map(im) = it {
                        out.push(make_resource(im.clone(), path)?);
                    }
                }
            }
            continue;
        }
        out.push(make_resource(m, path)?);
    }
    Ok(out)
}

fn make_resource(mut m: Map, path: &Path) -> Result<Resource, Error> {
    if m.get("kind").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(Error::Resource(format!("{}: a resource is missing its kind", path.display())));
    }
    if let Some(Value::Map(meta)) = m.get_mut("metadata")
        && let Some(Value::Map(ann)) = meta.get_mut("annotations")
    {
        for (_, v) in ann.iter_mut() {
            if let Value::Scalar(s) = v {
                s.kind = Kind::Str;
                if s.text == "null" && s.kind == Kind::Null {
                    s.text.clear();
                }
            }
        }
    }
    let r = Resource::new(m);
    if r.name().is_empty() {
        return Err(Error::Resource(format!("{}: a {} resource is missing metadata.name", path.display(), r.kind())));
    }
    Ok(r)
}

fn append_all(ra: &mut Vec<Resource>, new: Vec<Resource>) {
    ra.extend(new);
}

/// Fails when two resources share an identity (kustomize refuses to add a
/// resource whose id is already registered).
fn check_unique(ra: &[Resource]) -> Result<(), Error> {
    let mut seen = std::collections::HashSet::with_capacity(ra.len());
    for r in ra {
        let id = r.id();
        let ns = if id.namespace.is_empty() { "default".to_string() } else { id.namespace.clone() };
        if !seen.insert((id.group.clone(), id.version.clone(), id.kind.clone(), id.name.clone(), ns)) {
            return Err(Error::Resource(format!("may not add resource with an already registered id: {id}")));
        }
    }
    Ok(())
}

fn absorb_generated(ra: &mut Vec<Resource>, mut r: Resource) -> Result<(), Error> {
    let id = r.id();
    let matches: Vec<usize> = ra
        .iter()
        .enumerate()
        .filter(|(_, x)| {
            x.kind() == id.kind && x.names.contains(&id.name) && x.namespaces.iter().any(|n| ns_eq(n, &id.namespace))
        })
        .map(|(i, _)| i)
        .collect();
    match (matches.len(), r.behavior) {
        (0, Behavior::Create) => {
            ra.push(r);
            Ok(())
        }
        (0, _) => Err(Error::transform(format!("id {id} does not exist; cannot merge or replace"))),
        (1, Behavior::Create) => Err(Error::transform(format!("id {id} exists; behavior must be merge or replace"))),
        (1, behavior) => {
            let old = &ra[matches[0]];
            // Metadata: labels and annotations merge, name and namespace stay.
            for field in ["labels", "annotations"] {
                let mut merged = old
                    .obj
                    .get("metadata")
                    .and_then(|m| m.as_map())
                    .and_then(|m| m.get(field))
                    .and_then(Value::as_map)
                    .cloned()
                    .unwrap_or_default();
                if let Some(Value::Map(newer)) =
                    r.obj.get("metadata").and_then(|m| m.as_map()).and_then(|m| m.get(field))
                {
                    for (k, v) in newer.iter() {
                        merged.insert(k.clone(), v.clone());
                    }
                }
                if !merged.is_empty() {
                    r.obj.entry_map("metadata").insert(field, Value::Map(merged));
                }
            }
            if behavior == Behavior::Merge {
                for field in ["data", "binaryData"] {
                    let mut merged = old.obj.get(field).and_then(Value::as_map).cloned().unwrap_or_default();
                    if let Some(Value::Map(newer)) = r.obj.get(field) {
                        for (k, v) in newer.iter() {
                            merged.insert(k.clone(), v.clone());
                        }
                    }
                    if !merged.is_empty() {
                        r.obj.insert(field, Value::Map(merged));
                    }
                }
            }
            let meta = r.obj.entry_map("metadata");
            meta.insert("name", Value::str(old.name()));
            if old.namespace().is_empty() {
                meta.remove("namespace");
            } else {
                meta.insert("namespace", Value::str(old.namespace()));
            }
            r.orig = old.orig.clone();
            r.names.clone_from(&old.names);
            r.namespaces.clone_from(&old.namespaces);
            r.prefixes.clone_from(&old.prefixes);
            r.suffixes.clone_from(&old.suffixes);
            r.origin.clone_from(&old.origin);
            r.transformations.clone_from(&old.transformations);
            // A generator that disables the hash suffix wins over one that keeps it.
            r.needs_hash = old.needs_hash && r.needs_hash;
            r.behavior = Behavior::Create;
            ra[matches[0]] = r;
            Ok(())
        }
        _ => Err(Error::transform(format!("found multiple resources matching generated {id}"))),
    }
}

fn accumulate(cx: &mut Ctx, dir: &Path, component: bool, ra: &mut Vec<Resource>) -> Result<Kustomization, Error> {
    if cx.stack.iter().any(|d| d == dir) {
        return Err(kerr(dir, "cycle detected: this kustomization includes itself"));
    }
    let kfile = cx.loader.kustomization_file(dir)?;
    let text = cx.loader.read_text(&kfile)?;
    let k = Kustomization::parse(&kfile, &text)?;
    match (component, k.kind) {
        (true, KKind::Kustomization) => {
            return Err(kerr(&kfile, "expected kind 'Component' for a path listed in components"));
        }
        (false, KKind::Component) => {
            return Err(kerr(
                &kfile,
                "expected kind 'Kustomization' but found 'Component'; list components under components:",
            ));
        }
        _ => {}
    }
    cx.stack.push(dir.to_path_buf());
    let result = accumulate_inner(cx, dir, &k, ra);
    cx.stack.pop();
    result?;
    Ok(k)
}

fn accumulate_inner(cx: &mut Ctx, dir: &Path, k: &Kustomization, ra: &mut Vec<Resource>) -> Result<(), Error> {
    for entry in &k.resources {
        let path = cx.loader.resolve(dir, entry)?;
        if path.is_dir() {
            let mut sub = Vec::new();
            accumulate(cx, &path, false, &mut sub)?;
            append_all(ra, sub);
        } else {
            let path = cx.loader.resolve_file(dir, entry)?;
            let rs = load_resource_file(cx, &path)?;
            append_all(ra, rs);
        }
    }
    check_unique(ra)?;
    if let Some(o) = k.openapi.as_ref().and_then(Value::as_map) {
        if let Some(p) = o.get("path").and_then(Value::as_str) {
            let file = cx.loader.resolve_file(dir, p)?;
            let text = cx.loader.read_text(&file)?;
            let docs = yaml::parse_documents(&text).map_err(|source| Error::Yaml { path: file.clone(), source })?;
            let doc = docs.into_iter().next().unwrap_or_else(Value::null);
            cx.schema = Some(crate::openapi::Schema::from_value(&doc));
        } else if o.get("version").is_none() {
            return Err(kerr(dir, "openapi: expected a path or a version"));
        }
    }
    for c in &k.crds {
        let file = cx.loader.resolve_file(dir, c)?;
        let text = cx.loader.read_text(&file)?;
        let docs = yaml::parse_documents(&text).map_err(|source| Error::Yaml { path: file.clone(), source })?;
        for d in &docs {
            cx.config.name_refs.extend(crate::openapi::crd_name_refs(d));
        }
    }
    for c in &k.configurations {
        let loader = cx.loader.clone();
        cx.config.load(&loader, dir, c)?;
    }
    for g in &k.config_map_generator {
        let mut r = generators::generate(g, false, k.generator_options.as_ref(), dir, &cx.loader)?;
        r.origin = Some(generated_origin(cx, dir, "ConfigMapGenerator")?);
        absorb_generated(ra, r)?;
    }
    for g in &k.secret_generator {
        let mut r = generators::generate(g, true, k.generator_options.as_ref(), dir, &cx.loader)?;
        r.origin = Some(generated_origin(cx, dir, "SecretGenerator")?);
        absorb_generated(ra, r)?;
    }
    for entry in &k.components {
        let path = cx.loader.resolve(dir, entry)?;
        if !path.is_dir() {
            return Err(kerr(dir, format!("component {entry:?} must be a directory")));
        }
        accumulate(cx, &path, true, ra)?;
    }
    for (path, cfg) in plugin_configs(cx, dir, &k.generators)? {
        run_generator(cx, dir, ra, &path, &cfg)?;
    }
    // Transformers, in kustomize's built-in order.
    for p in &k.patches_strategic_merge {
        let text = load_patch_text(cx, dir, p)?;
        apply_smp_docs(ra, &text, None, &PatchSpec::default(), dir, cx.schema.as_ref())?;
    }
    for p in &k.patches {
        apply_patch(cx, dir, ra, p, false)?;
    }
    if let Some(ns) = &k.namespace {
        transformers::namespace(ra, ns);
    }
    transformers::prefix_suffix(ra, &k.name_prefix, &k.name_suffix);
    let mut label_specs = fieldspec::common_label_specs();
    label_specs.extend(cx.config.common_labels.iter().cloned());
    let mut template_specs = fieldspec::template_label_specs();
    template_specs.extend(cx.config.template_labels.iter().cloned());
    transformers::labels(ra, &k.labels, &k.common_labels, &label_specs, &template_specs)?;
    let mut annotation_specs = fieldspec::annotation_specs();
    annotation_specs.extend(cx.config.common_annotations.iter().cloned());
    transformers::annotations(ra, &k.common_annotations, &annotation_specs)?;
    for p in &k.patches_json6902 {
        apply_patch(cx, dir, ra, p, true)?;
    }
    transformers::replicas(ra, &k.replicas)?;
    transformers::images(ra, &k.images, &cx.config.images)?;
    if !k.replacements.is_empty() {
        crate::replacements::apply(cx_loader(cx), dir, ra, &k.replacements)?;
    }
    record_transformations(cx, dir, k, ra)?;
    for (path, cfg) in plugin_configs(cx, dir, &k.transformers)? {
        run_transformer(cx, dir, ra, &path, &cfg)?;
    }
    for v in &k.vars {
        cx.vars.push(crate::vars::parse(v)?);
    }
    Ok(())
}

/// Notes the builtin transformers this kustomization configured on every
/// resource it transformed (for `buildMetadata: [transformerAnnotations]`).
fn record_transformations(cx: &Ctx, dir: &Path, k: &Kustomization, ra: &mut [Resource]) -> Result<(), Error> {
    let mut kinds: Vec<&str> = Vec::new();
    if !k.patches_strategic_merge.is_empty() {
        kinds.push("PatchStrategicMergeTransformer");
    }
    kinds.extend(k.patches.iter().map(|_| "PatchTransformer"));
    if k.namespace.is_some() {
        kinds.push("NamespaceTransformer");
    }
    if !k.name_prefix.is_empty() {
        kinds.push("PrefixTransformer");
    }
    if !k.name_suffix.is_empty() {
        kinds.push("SuffixTransformer");
    }
    kinds.extend(k.labels.iter().filter(|l| !l.pairs.is_empty()).map(|_| "LabelTransformer"));
    if !k.common_labels.is_empty() {
        kinds.push("LabelTransformer");
    }
    if !k.common_annotations.is_empty() {
        kinds.push("AnnotationsTransformer");
    }
    kinds.extend(k.patches_json6902.iter().map(|_| "PatchJson6902Transformer"));
    kinds.extend(k.replicas.iter().map(|_| "ReplicaCountTransformer"));
    kinds.extend(k.images.iter().map(|_| "ImageTagTransformer"));
    if !k.replacements.is_empty() {
        kinds.push("ReplacementTransformer");
    }
    if kinds.is_empty() {
        return Ok(());
    }
    let kfile = cx.loader.kustomization_file(dir)?;
    let kfile = kfile.canonicalize().unwrap_or(kfile);
    let configured_in = relative(&cx.root, &kfile);
    for r in ra.iter_mut() {
        for kind in &kinds {
            r.transformations.push((configured_in.clone(), (*kind).to_string()));
        }
    }
    Ok(())
}

fn cx_loader(cx: &Ctx) -> &Loader {
    &cx.loader
}
