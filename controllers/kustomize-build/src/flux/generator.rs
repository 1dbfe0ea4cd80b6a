//! fluxcd/pkg/kustomize `Generator.WriteFile`: find or generate the kustomization file of a
//! directory and merge the Flux Kustomization's fields into it.

use std::path::{Path, PathBuf};

use super::{Image, Overlay, Patch, Selector};
use crate::Error;
use crate::loader::KUSTOMIZATION_NAMES;
use crate::yaml::{self, Map, Value};

/// What [`generate_within`] did to the directory (fluxcd/pkg/kustomize `Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// There was no kustomization file; `kustomization.yaml` was written.
    Created,
    /// The existing kustomization file was rewritten in place with the overlay merged in.
    Unchanged,
}

/// The fields of kustomize's `Kustomization` type; Flux reads an existing file into that type,
/// so anything else is dropped when it writes the file back.
const KNOWN_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "openapi",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patchesStrategicMerge",
    "patchesJson6902",
    "patches",
    "images",
    "imageTags",
    "replacements",
    "replicas",
    "vars",
    "sortOptions",
    "resources",
    "components",
    "crds",
    "bases",
    "configMapGenerator",
    "secretGenerator",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "generatorOptions",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "buildMetadata",
];

/// Flux's generator: when `dir` has no kustomization file, writes one listing every YAML file
/// that parses as a Kubernetes object (a subdirectory with its own kustomization file becomes a
/// resource and is not entered); then merges `overlay` into the kustomization file, as
/// kustomize-controller does before it builds. Nothing outside `dir` is read; use
/// [`generate_within`] to confine it to a larger root (the artifact) instead.
///
/// # Errors
/// Unreadable files or an invalid existing kustomization file.
pub fn generate(dir: &Path, overlay: &Overlay) -> Result<(), Error> {
    generate_within(dir, dir, overlay).map(|_| ())
}

/// [`generate`] confined to `root` (kustomize-controller passes the extracted artifact): no
/// file outside `root` is read or written, symlinks included.
///
/// # Errors
/// `dir` outside `root`; a YAML file that does not decode as Kubernetes objects (Flux's
/// `failed to decode Kubernetes YAML from …`); an invalid existing kustomization file; a
/// component that is not a local relative path; I/O errors.
pub fn generate_within(root: &Path, dir: &Path, overlay: &Overlay) -> Result<Action, Error> {
    let root = root.canonicalize().map_err(|source| Error::Io { path: root.to_path_buf(), source })?;
    let dir = dir.canonicalize().map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
    if !dir.starts_with(&root) {
        return Err(Error::Restricted(format!("path '{}' is not in or below '{}'", dir.display(), root.display())));
    }
    let (mut kus, kfile, action) = find_or_generate(&root, &dir)?;
    if action == Action::Unchanged && seq_is_empty(kus.get("resources")) {
        // Flux's guard against kustomize's "kustomization.yaml is empty" error.
        kus.insert("buildMetadata", strings(["originAnnotations"]));
    }
    merge(&mut kus, &root, &dir, overlay)?;
    let text = yaml::emit_document(&Value::Map(kus))
        .map_err(|e| Error::Flux(format!("writing the kustomization: {}", e.message)))?;
    std::fs::write(&kfile, text).map_err(|source| Error::Io { path: kfile.clone(), source })?;
    tracing::debug!(path = %kfile.display(), ?action, "wrote the kustomization file");
    Ok(action)
}

fn seq_is_empty(v: Option<&Value>) -> bool {
    v.and_then(Value::as_seq).is_none_or(Vec::is_empty)
}

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Value {
    Value::Seq(items.into_iter().map(Value::str).collect())
}

/// The existing kustomization (its known fields) and its path, or a generated one.
fn find_or_generate(root: &Path, dir: &Path) -> Result<(Map, PathBuf, Action), Error> {
    for name in KUSTOMIZATION_NAMES {
        let path = dir.join(name);
        if !path.is_file() {
            continue;
        }
        let real = path.canonicalize().map_err(|source| Error::Io { path: path.clone(), source })?;
        if !real.starts_with(root) {
            return Err(Error::Restricted(format!(
                "path '{}' is not in or below '{}'",
                real.display(),
                root.display()
            )));
        }
        let text = std::fs::read_to_string(&real).map_err(|source| Error::Io { path: path.clone(), source })?;
        let docs = yaml::parse_documents_v2(&text).map_err(|source| Error::Yaml { path: path.clone(), source })?;
        let mut kus = match docs.into_iter().next() {
            Some(Value::Map(m)) => m,
            None => Map::new(),
            Some(v) if v.is_null() => Map::new(),
            Some(other) => {
                return Err(Error::Kustomization {
                    path,
                    message: format!("expected a mapping, got a {}", other.type_name()),
                });
            }
        };
        kus.retain(|k, _| KNOWN_FIELDS.contains(&k));
        with_type_meta(&mut kus);
        return Ok((kus, path, Action::Unchanged));
    }
    let files = super::scan::manifests(root, dir)?;
    let mut kus = Map::new();
    with_type_meta(&mut kus);
    if files.is_empty() {
        // Flux's placeholder against kustomize's "kustomization.yaml is empty" error.
        kus.insert("namespace", Value::str("_placeholder"));
    } else {
        kus.insert("resources", Value::Seq(files.into_iter().map(Value::str).collect()));
    }
    Ok((kus, dir.join(KUSTOMIZATION_NAMES[0]), Action::Created))
}

/// Flux unmarshals into a value whose type meta defaults to a v1beta1 Kustomization.
fn with_type_meta(kus: &mut Map) {
    if kus.get("apiVersion").and_then(Value::as_str).is_none_or(str::is_empty) {
        kus.insert("apiVersion", Value::str("kustomize.config.k8s.io/v1beta1"));
    }
    if kus.get("kind").and_then(Value::as_str).is_none_or(str::is_empty) {
        kus.insert("kind", Value::str("Kustomization"));
    }
}

fn merge(kus: &mut Map, root: &Path, dir: &Path, overlay: &Overlay) -> Result<(), Error> {
    for (field, value) in [
        ("namespace", &overlay.target_namespace),
        ("namePrefix", &overlay.name_prefix),
        ("nameSuffix", &overlay.name_suffix),
    ] {
        if let Some(v) = value {
            kus.insert(field, Value::str(v.clone()));
        }
    }
    if !overlay.patches.is_empty() {
        let list = seq_field(kus, "patches");
        list.extend(overlay.patches.iter().map(patch_value));
    }
    let mut components = Vec::new();
    for c in &overlay.components {
        if !is_local_relative(c) {
            return Err(Error::Flux(format!("component path '{c}' must be local and relative")));
        }
        if overlay.ignore_missing_components && !exists_within(root, &dir.join(c)) {
            tracing::debug!(component = %c, "skipping a missing component");
            continue;
        }
        components.push(Value::str(c.clone()));
    }
    if !components.is_empty() {
        seq_field(kus, "components").extend(components);
    }
    if !overlay.images.is_empty() {
        let list = seq_field(kus, "images");
        for image in &overlay.images {
            merge_image(list, image);
        }
    }
    if !overlay.build_metadata.is_empty() {
        kus.insert("buildMetadata", strings(overlay.build_metadata.iter().map(String::as_str)));
    }
    Ok(())
}

/// The sequence at `field`, created (or replacing a null) when missing.
fn seq_field<'a>(kus: &'a mut Map, field: &str) -> &'a mut Vec<Value> {
    if !matches!(kus.get(field), Some(Value::Seq(_))) {
        kus.insert(field, Value::Seq(Vec::new()));
    }
    match kus.get_mut(field) {
        Some(Value::Seq(s)) => s,
        _ => unreachable!("the field was just set to a sequence"),
    }
}

fn patch_value(p: &Patch) -> Value {
    let mut m = Map::new();
    if !p.patch.is_empty() {
        m.insert("patch", Value::str(p.patch.clone()));
    }
    if let Some(t) = &p.target {
        m.insert("target", Value::Map(selector_value(t)));
    }
    Value::Map(m)
}

fn selector_value(s: &Selector) -> Map {
    let mut m = Map::new();
    for (k, v) in [
        ("group", &s.group),
        ("version", &s.version),
        ("kind", &s.kind),
        ("name", &s.name),
        ("namespace", &s.namespace),
        ("labelSelector", &s.label_selector),
        ("annotationSelector", &s.annotation_selector),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            m.insert(k, Value::str(v));
        }
    }
    m
}

/// Flux merges `spec.images` into an entry of the same name: a new name replaces the old one,
/// and a tag or digest replaces both the tag and the digest (they select the version together).
fn merge_image(list: &mut Vec<Value>, image: &Image) {
    let non_empty = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
    let existing = list.iter_mut().find_map(|v| match v {
        Value::Map(m) if m.get("name").and_then(Value::as_str) == Some(image.name.as_str()) => Some(m),
        _ => None,
    });
    let set = |m: &mut Map, key: &str, v: Option<String>| match v {
        Some(v) => m.insert(key, Value::str(v)),
        None => {
            m.remove(key);
        }
    };
    match existing {
        Some(m) => {
            if let Some(n) = non_empty(&image.new_name) {
                m.insert("newName", Value::str(n));
            }
            if non_empty(&image.new_tag).is_some() || non_empty(&image.digest).is_some() {
                set(m, "newTag", non_empty(&image.new_tag));
                set(m, "digest", non_empty(&image.digest));
            }
        }
        None => {
            let mut m = Map::new();
            if !image.name.is_empty() {
                m.insert("name", Value::str(image.name.clone()));
            }
            set(&mut m, "newName", non_empty(&image.new_name));
            set(&mut m, "newTag", non_empty(&image.new_tag));
            set(&mut m, "digest", non_empty(&image.digest));
            list.push(Value::Map(m));
        }
    }
}

/// fluxcd/pkg/kustomize `IsLocalRelativePath`: no remote prefix, not absolute.
pub(crate) fn is_local_relative(path: &str) -> bool {
    const REMOTE: [&str; 8] = ["git::", "gh:", "ssh://", "https://", "http://", "git@", "github.com:", "github.com/"];
    let lower = path.to_lowercase();
    if REMOTE.iter().any(|p| p.len() < path.len() && lower.starts_with(p)) {
        return false;
    }
    let without_scheme = lower.strip_prefix("file://").unwrap_or(&lower);
    !(path.starts_with('/') || without_scheme.starts_with('/'))
}

/// Whether `path` exists without leaving `root` (Flux's secure filesystem answers "no" for
/// anything outside it).
fn exists_within(root: &Path, path: &Path) -> bool {
    path.canonicalize().is_ok_and(|real| real.starts_with(root))
}
