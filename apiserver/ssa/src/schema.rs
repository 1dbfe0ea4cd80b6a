//! The structured-merge-diff view of an `eddy_api` [`Schema`], as kube-openapi's `schemaconv`
//! builds it from a CRD's OpenAPI schema:
//!
//! - `type: object` → a map whose declared properties are struct fields; other keys use
//!   `additionalProperties`, or are *deduced* when the node (or an ancestor) has
//!   `x-kubernetes-preserve-unknown-fields` or declares no properties at all; otherwise unknown
//!   keys are errors ("field not declared in schema"). `x-kubernetes-map-type: atomic` makes the
//!   whole map one leaf.
//! - `type: array` → a list: atomic unless `x-kubernetes-list-type` is `set` or `map` (then
//!   associative, keyed by `x-kubernetes-list-map-keys`).
//! - scalars; `format`s other than `byte` (e.g. `date-time`) and `x-kubernetes-int-or-string`
//!   make an untyped scalar.
//! - no `type` (preserve-unknown-fields, int-or-string) → any of scalar, list (atomic) or map,
//!   chosen by the value.
//! - *deduced* values: maps are granular (recursively deduced), lists atomic.
//!
//! `metadata` is typed with Kubernetes' `ObjectMeta` (labels and annotations granular maps,
//! `finalizers` a set, `ownerReferences` a list keyed by `uid` of atomic items, `managedFields`
//! atomic), as kube-apiserver does for custom resources.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use eddy_api::Schema;
use eddy_api::schema::Type;

/// A reference to a type: a schema node, or one of the two built-in untyped types.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ty<'s> {
    /// A schema node; `preserve` is inherited from an ancestor with preserve-unknown-fields.
    Node(&'s Schema, bool),
    /// `__untyped_deduced_`: granular maps of deduced values, atomic lists, scalars.
    Deduced,
    /// `__untyped_atomic_`: atomic maps and lists, scalars.
    Untyped,
}

/// Kinds of scalars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    String,
    Numeric,
    Boolean,
    Untyped,
}

/// A list type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListType<'s> {
    pub elem: Ty<'s>,
    pub associative: bool,
    pub keys: &'s [String],
}

/// A map (or struct) type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MapType<'s> {
    pub fields: Option<&'s BTreeMap<String, Schema>>,
    pub elem: Option<Ty<'s>>,
    pub atomic: bool,
    pub preserve: bool,
}

impl<'s> MapType<'s> {
    /// The type of a declared field.
    pub fn field(&self, name: &str) -> Option<Ty<'s>> {
        self.fields.and_then(|f| f.get(name)).map(|s| Ty::Node(s, self.preserve))
    }

    /// The type of the value at `key`: its field type, else the element type.
    pub fn value_type(&self, key: &str) -> Option<Ty<'s>> {
        self.field(key).or(self.elem)
    }

    pub fn is_field(&self, name: &str) -> bool {
        self.fields.is_some_and(|f| f.contains_key(name))
    }
}

/// What a type may be; the value decides which one applies (`deduceAtom`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Atom<'s> {
    pub scalar: Option<Scalar>,
    pub list: Option<ListType<'s>>,
    pub map: Option<MapType<'s>>,
}

/// The handler kube picks for an atom: map first, then scalar, then list.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind<'s> {
    Scalar(Scalar),
    List(ListType<'s>),
    Map(MapType<'s>),
    Invalid,
}

impl<'s> Atom<'s> {
    /// Narrows the atom to the one matching the value, if the atom allows it.
    pub fn deduce(self, v: Option<&serde_json::Value>) -> Atom<'s> {
        use serde_json::Value;
        match v {
            None => self,
            Some(Value::Number(_) | Value::String(_) | Value::Bool(_)) if self.scalar.is_some() => {
                Atom { scalar: self.scalar, ..Atom::default() }
            }
            Some(Value::Array(_)) if self.list.is_some() => Atom { list: self.list, ..Atom::default() },
            Some(Value::Object(_)) if self.map.is_some() => Atom { map: self.map, ..Atom::default() },
            Some(_) => self,
        }
    }

    pub fn kind(self) -> Kind<'s> {
        if let Some(m) = self.map {
            Kind::Map(m)
        } else if let Some(s) = self.scalar {
            Kind::Scalar(s)
        } else if let Some(l) = self.list {
            Kind::List(l)
        } else {
            Kind::Invalid
        }
    }

    /// Whether two deduced atoms are the same (so one handler serves both sides).
    pub fn same(&self, other: &Atom<'_>) -> bool {
        self.scalar.is_some() == other.scalar.is_some()
            && self.list.is_some() == other.list.is_some()
            && self.map.is_some() == other.map.is_some()
    }
}

impl<'s> Ty<'s> {
    pub fn resolve(self) -> Atom<'s> {
        match self {
            Ty::Deduced => Atom {
                scalar: Some(Scalar::Untyped),
                list: Some(ListType { elem: Ty::Untyped, associative: false, keys: &[] }),
                map: Some(MapType { fields: None, elem: Some(Ty::Deduced), atomic: false, preserve: true }),
            },
            Ty::Untyped => Atom {
                scalar: Some(Scalar::Untyped),
                list: Some(ListType { elem: Ty::Untyped, associative: false, keys: &[] }),
                map: Some(MapType { fields: None, elem: Some(Ty::Untyped), atomic: true, preserve: true }),
            },
            Ty::Node(s, inherited) => {
                let preserve = inherited || s.preserve_unknown_fields;
                match s.type_ {
                    None => Atom {
                        scalar: Some(Scalar::Untyped),
                        list: Some(list_type(s, preserve)),
                        map: Some(map_type(s, preserve)),
                    },
                    Some(Type::Object) => Atom { map: Some(map_type(s, preserve)), ..Atom::default() },
                    Some(Type::Array) => Atom { list: Some(list_type(s, preserve)), ..Atom::default() },
                    Some(Type::String) => {
                        let scalar = match s.format.as_deref() {
                            _ if s.int_or_string => Scalar::Untyped,
                            None | Some("" | "byte") => Scalar::String,
                            Some(_) => Scalar::Untyped,
                        };
                        Atom { scalar: Some(scalar), ..Atom::default() }
                    }
                    Some(Type::Integer | Type::Number) => Atom {
                        scalar: Some(if s.int_or_string { Scalar::Untyped } else { Scalar::Numeric }),
                        ..Atom::default()
                    },
                    Some(Type::Boolean) => Atom { scalar: Some(Scalar::Boolean), ..Atom::default() },
                }
            }
        }
    }

    /// The default value of key field `name` of the items of a keyed list of this element type.
    pub fn key_default(self, name: &str) -> Option<&'s serde_json::Value> {
        match self {
            Ty::Node(s, _) => s.properties.get(name).and_then(|f| f.default.as_ref()),
            _ => None,
        }
    }
}

fn map_type(s: &Schema, preserve: bool) -> MapType<'_> {
    let elem = match &s.additional_properties {
        Some(ap) => Some(Ty::Node(ap, preserve)),
        None if preserve || s.properties.is_empty() => Some(Ty::Deduced),
        None => None,
    };
    MapType { fields: Some(&s.properties), elem, atomic: s.map_type.as_deref() == Some("atomic"), preserve }
}

fn list_type(s: &Schema, preserve: bool) -> ListType<'_> {
    let elem = s.items.as_deref().map_or(Ty::Untyped, |i| Ty::Node(i, preserve));
    let (associative, keys): (bool, &[String]) = match s.list_type.as_deref() {
        Some("set") => (true, &[]),
        Some("map") => (true, &s.list_map_keys),
        _ => (false, &[]),
    };
    ListType { elem, associative, keys }
}

/// Kubernetes' `ObjectMeta` with the list and map types that matter for field management.
#[must_use]
pub fn object_meta() -> &'static Schema {
    static META: OnceLock<Schema> = OnceLock::new();
    META.get_or_init(|| {
        let owner_reference = Schema::object()
            .req_prop("apiVersion", Schema::string())
            .prop("blockOwnerDeletion", Schema::boolean())
            .prop("controller", Schema::boolean())
            .req_prop("kind", Schema::string())
            .req_prop("name", Schema::string())
            .req_prop("uid", Schema::string())
            .map_type("atomic");
        let managed_fields_entry = Schema::object()
            .prop("apiVersion", Schema::string())
            .prop("fieldsType", Schema::string())
            .prop("fieldsV1", Schema::object())
            .prop("manager", Schema::string())
            .prop("operation", Schema::string())
            .prop("subresource", Schema::string())
            .prop("time", Schema::string().date_time());
        Schema::object()
            .prop("annotations", Schema::map(Schema::string()))
            .prop("creationTimestamp", Schema::string().date_time())
            .prop("deletionGracePeriodSeconds", Schema::integer().int64())
            .prop("deletionTimestamp", Schema::string().date_time())
            .prop("finalizers", Schema::array(Schema::string()).list_type("set"))
            .prop("generateName", Schema::string())
            .prop("generation", Schema::integer().int64())
            .prop("labels", Schema::map(Schema::string()))
            .prop("managedFields", Schema::array(managed_fields_entry).list_type("atomic"))
            .prop("name", Schema::string())
            .prop("namespace", Schema::string())
            .prop("ownerReferences", Schema::array(owner_reference).list_map(&["uid"]))
            .prop("resourceVersion", Schema::string())
            .prop("selfLink", Schema::string())
            .prop("uid", Schema::string())
    })
}

/// The type of whole objects of one kind and version: the version's schema with `metadata`
/// typed as `ObjectMeta` (kube-apiserver's model for custom resources).
#[derive(Debug, Clone)]
pub struct ObjectType {
    root: Schema,
}

impl ObjectType {
    /// Builds the object type from the schema of a whole object (as in `eddy_api`'s registry).
    #[must_use]
    pub fn new(object_schema: &Schema) -> Self {
        let mut root = object_schema.clone();
        root.properties.insert("metadata".to_owned(), object_meta().clone());
        root.properties.entry("apiVersion".to_owned()).or_insert_with(Schema::string);
        root.properties.entry("kind".to_owned()).or_insert_with(Schema::string);
        ObjectType { root }
    }

    /// The schema of the whole object (with `ObjectMeta`).
    #[must_use]
    pub fn schema(&self) -> &Schema {
        &self.root
    }

    pub(crate) fn ty(&self) -> Ty<'_> {
        Ty::Node(&self.root, false)
    }
}
