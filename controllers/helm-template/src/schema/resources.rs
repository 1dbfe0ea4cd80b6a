//! The resources of a schema document, found as the library finds them before it validates
//! the document against its metaschema: the document itself and every subschema with an
//! `$id` (`id` in draft 4), each with its absolute base URI and its draft. A subschema's
//! `$schema` counts only when the subschema is a resource under that draft's rules
//! (`$id` for 6 and later, `id` for 4); otherwise it is in the draft of the resource around it.
//! Anchors (`$anchor`, `$dynamicAnchor`, fragment `id`s before 2019-09) are collected per
//! resource, and `$ref`s resolve against the base URI of the resource they are in.

use std::collections::{BTreeMap, HashMap};

use super::SchemaError;
use super::json::Json;
use super::refs;

/// One resource: its absolute base URI and draft.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    pub(crate) base: String,
    pub(crate) draft: u32,
}

/// The resources and anchors of a document.
#[derive(Debug, Default)]
pub(crate) struct Resources {
    /// Resource root pointer → the resource.
    pub(crate) list: BTreeMap<String, Resource>,
    /// `(resource pointer, anchor)` → schema pointer.
    anchors: HashMap<(String, String), String>,
    /// Resource pointer → its `$dynamicAnchor` names and schema pointers.
    dynamic_anchors: HashMap<String, Vec<(String, String)>>,
    /// Absolute URI → resource pointer.
    ids: HashMap<String, String>,
}

/// The draft a `$schema` URL names (`None` for one the library does not know).
pub(crate) fn draft_from_url(url: &str) -> Option<u32> {
    let (u, frag) = url.split_once('#').unwrap_or((url, ""));
    if !frag.is_empty() {
        return None;
    }
    let u = u.strip_prefix("http://").or_else(|| u.strip_prefix("https://")).unwrap_or(u);
    Some(match u {
        "json-schema.org/schema" | "json-schema.org/draft/2020-12/schema" => 2020,
        "json-schema.org/draft/2019-09/schema" => 2019,
        "json-schema.org/draft-07/schema" => 7,
        "json-schema.org/draft-06/schema" => 6,
        "json-schema.org/draft-04/schema" => 4,
        _ => return None,
    })
}

/// A schema's `$id` (`id` in draft 4) without its fragment, as `draft` reads it: hidden by a
/// sibling `$ref` before 2019-09. The fragment is returned too.
fn id_of(j: &Json, draft: u32) -> Option<(&str, &str)> {
    if draft < 2019 && j.get("$ref").is_some() {
        return None;
    }
    let id = j.get(if draft == 4 { "id" } else { "$id" }).and_then(Json::as_str)?;
    Some(id.split_once('#').unwrap_or((id, "")))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn escape(tok: &str) -> String {
    tok.replace('~', "~0").replace('/', "~1")
}

impl Resources {
    /// Finds the resources of `root`, loaded from `url`; its draft comes from its `$schema`
    /// (2020-12 when it has none).
    pub(crate) fn collect(root: &Json, url: &str) -> Result<Resources, SchemaError> {
        let draft = match root.get("$schema").and_then(Json::as_str) {
            None => 2020,
            Some(u) => draft_from_url(u).ok_or_else(|| SchemaError::UnsupportedMetaSchema(u.to_string()))?,
        };
        let mut r = Resources::default();
        let base = match id_of(root, draft).map(|(u, _)| u).filter(|u| !u.is_empty()) {
            Some(u) => refs::resolve(url, u),
            None => url.to_string(),
        };
        r.ids.insert(url.to_string(), String::new());
        r.ids.insert(base.clone(), String::new());
        r.list.insert(String::new(), Resource { base, draft });
        r.walk(root, "", "");
        Ok(r)
    }

    /// The pointer of the resource holding the schema at `ptr`.
    pub(crate) fn resource_of(&self, ptr: &str) -> &str {
        let mut p = ptr;
        loop {
            if let Some((k, _)) = self.list.get_key_value(p) {
                return k;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return "",
            }
        }
    }

    /// The draft of the schema at `ptr`.
    pub(crate) fn draft_at(&self, ptr: &str) -> u32 {
        self.list.get(self.resource_of(ptr)).map_or(2020, |r| r.draft)
    }

    /// The `$dynamicAnchor`s the resource at `ptr` declares, with their schema pointers.
    pub(crate) fn dynamic_anchors(&self, ptr: &str) -> Vec<(String, String)> {
        self.dynamic_anchors.get(ptr).cloned().unwrap_or_default()
    }

    fn walk(&mut self, j: &Json, ptr: &str, res: &str) {
        let mut res = res.to_string();
        match j {
            Json::Obj(members) => {
                let outer = self.list.get(&res).map_or(2020, |r| r.draft);
                let mut draft = outer;
                let id;
                if !ptr.is_empty() {
                    let own = j.get("$schema").and_then(Json::as_str).and_then(draft_from_url);
                    match own.and_then(|d| Some((d, id_of(j, d)?))).filter(|(_, (u, _))| !u.is_empty()) {
                        Some((d, own_id)) => {
                            draft = d;
                            id = Some(own_id);
                        }
                        None => id = id_of(j, outer),
                    }
                    if let Some((u, _)) = id
                        && !u.is_empty()
                    {
                        let base = self.list.get(&res).map(|r| r.base.clone()).unwrap_or_default();
                        let abs = refs::resolve(&base, u);
                        res = ptr.to_string();
                        self.ids.entry(abs.clone()).or_insert_with(|| res.clone());
                        self.list.insert(res.clone(), Resource { base: abs, draft });
                    }
                } else {
                    id = id_of(j, draft);
                }
                let anchor = |a: &str| (res.clone(), a.to_string());
                if draft >= 2019 {
                    if let Some(a) = j.get("$anchor").and_then(Json::as_str) {
                        self.anchors.insert(anchor(a), ptr.to_string());
                    }
                    if draft >= 2020
                        && let Some(a) = j.get("$dynamicAnchor").and_then(Json::as_str)
                    {
                        self.anchors.insert(anchor(a), ptr.to_string());
                        self.dynamic_anchors.entry(res.clone()).or_default().push((a.to_string(), ptr.to_string()));
                    }
                } else if let Some((_, a)) = id
                    && !a.is_empty()
                    && !a.starts_with('/')
                {
                    self.anchors.insert(anchor(a), ptr.to_string());
                }
                for (k, v) in members {
                    if k != "enum" && k != "const" {
                        self.walk(v, &format!("{ptr}/{}", escape(k)), &res);
                    }
                }
            }
            Json::Arr(items) => {
                for (i, v) in items.iter().enumerate() {
                    self.walk(v, &format!("{ptr}/{i}"), &res);
                }
            }
            _ => {}
        }
    }

    /// A reference's target pointer, and the anchor its fragment names (if it names one).
    /// The reference resolves against the base URI of the resource holding `from`; it must
    /// name the document or one of its resources (`$id`s), and its fragment resolves within
    /// that resource.
    pub(crate) fn resolve(&self, reference: &str, from: &str) -> Result<(String, Option<String>), SchemaError> {
        let (u, frag) = reference.split_once('#').unwrap_or((reference, ""));
        let mut res = self.resource_of(from).to_string();
        if !u.is_empty() {
            let base = self.list.get(&res).map_or(refs::DOCUMENT_URL, |r| r.base.as_str());
            let abs = refs::resolve(base, u);
            res = self.ids.get(&abs).cloned().ok_or_else(|| SchemaError::UnsupportedRef(reference.to_string()))?;
        }
        let frag = percent_decode(frag);
        if frag.is_empty() || frag.starts_with('/') {
            return Ok((format!("{res}{frag}"), None));
        }
        match self.anchors.get(&(res, frag.clone())) {
            Some(p) => Ok((p.clone(), Some(frag))),
            None => Err(SchemaError::UnresolvedRef(reference.to_string())),
        }
    }
}
