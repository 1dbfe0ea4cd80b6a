//! The Flux kinds as the runtime sees them: typed objects (from `eddy-api`) with the few
//! accessors every controller needs — metadata, conditions, `observedGeneration`,
//! `lastHandledReconcileAt`, `spec.suspend` and `spec.interval`.
//!
//! The typed structs of `eddy-api` carry their own `ObjectMeta`, not k8s-openapi's, so they do
//! not implement `kube::Resource`. The runtime talks to the API with `DynamicObject` and an
//! [`kube::core::ApiResource`] built from [`FluxObject`]'s constants, and converts at the edge
//! ([`decode`], [`encode`]). That keeps the types crate free of I/O and of kube.

use std::fmt;
use std::time::Duration;

use eddy_api::meta::{Condition, ObjectMeta};
use kube::api::DynamicObject;
use kube::core::{ApiResource, GroupVersionKind};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The annotation `flux reconcile` sets to ask for an immediate reconcile.
pub const RECONCILE_REQUEST_ANNOTATION: &str = "reconcile.fluxcd.io/requestedAt";

/// The finalizer every Flux controller puts on the objects it reconciles.
pub const FINALIZER: &str = "finalizers.fluxcd.io";

/// A Flux kind a controller reconciles.
pub trait FluxObject: Clone + fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// API group.
    const GROUP: &'static str;
    /// The version the typed struct describes (the storage version).
    const VERSION: &'static str;
    /// Kind name.
    const KIND: &'static str;
    /// Resource (plural) name.
    const PLURAL: &'static str;

    /// Object metadata.
    fn meta(&self) -> &ObjectMeta;
    /// Object metadata, mutable.
    fn meta_mut(&mut self) -> &mut ObjectMeta;
    /// `status.conditions` (empty when there is no status yet).
    fn conditions(&self) -> &[Condition];
    /// `status.conditions`, creating the status when missing.
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    /// `status.observedGeneration`.
    fn observed_generation(&self) -> Option<i64>;
    /// Sets `status.observedGeneration`.
    fn set_observed_generation(&mut self, generation: i64);
    /// `status.lastHandledReconcileAt`.
    fn last_handled_reconcile_at(&self) -> Option<&str>;
    /// Sets `status.lastHandledReconcileAt`.
    fn set_last_handled_reconcile_at(&mut self, value: String);
    /// `spec.suspend`.
    fn suspended(&self) -> bool;
    /// `spec.interval` as written (a Go duration).
    fn interval_str(&self) -> &str;
    /// `spec.retryInterval` where the kind has one; `None` otherwise.
    fn retry_interval_str(&self) -> Option<&str> {
        None
    }

    /// The `ApiResource` the dynamic API uses for this kind.
    #[must_use]
    fn api_resource() -> ApiResource {
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(Self::GROUP, Self::VERSION, Self::KIND), Self::PLURAL)
    }

    /// `namespace/name` of the object.
    #[must_use]
    fn key(&self) -> ObjectKey {
        ObjectKey::new(
            self.meta().namespace.as_deref().unwrap_or_default(),
            self.meta().name.as_deref().unwrap_or_default(),
        )
    }

    /// `metadata.generation` (0 when unset).
    #[must_use]
    fn generation(&self) -> i64 {
        self.meta().generation.unwrap_or(0)
    }

    /// Whether deletion was requested.
    #[must_use]
    fn is_deleting(&self) -> bool {
        self.meta().deletion_timestamp.is_some()
    }

    /// The value of the reconcile-request annotation, if set.
    #[must_use]
    fn reconcile_request(&self) -> Option<&str> {
        self.meta().annotations.as_ref()?.get(RECONCILE_REQUEST_ANNOTATION).map(String::as_str)
    }

    /// `spec.interval` parsed; `None` when it does not parse (the API validates it, so only a
    /// hand-edited store could hold such a value).
    #[must_use]
    fn interval(&self) -> Option<Duration> {
        crate::duration::parse(self.interval_str()).ok()
    }

    /// Whether the object carries `finalizer`.
    #[must_use]
    fn has_finalizer(&self, finalizer: &str) -> bool {
        self.meta().finalizers.as_ref().is_some_and(|f| f.iter().any(|x| x == finalizer))
    }
}

/// Namespace and name of an object; the work queue's item.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// Namespace (empty for cluster-scoped objects).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// A key from its parts.
    #[must_use]
    pub fn new(namespace: &str, name: &str) -> Self {
        Self { namespace: namespace.to_owned(), name: name.to_owned() }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() { f.write_str(&self.name) } else { write!(f, "{}/{}", self.namespace, self.name) }
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why an object from the API could not be turned into its typed form.
#[derive(Debug, thiserror::Error)]
#[error("decoding {kind} {key}: {source}")]
pub struct DecodeError {
    /// The kind.
    pub kind: &'static str,
    /// The object (`namespace/name`), as far as known.
    pub key: String,
    /// The serde error.
    #[source]
    pub source: serde_json::Error,
}

/// Converts a dynamic object from the API into its typed form.
///
/// # Errors
/// When the object does not fit the typed struct.
pub fn decode<T: FluxObject>(obj: DynamicObject) -> Result<T, DecodeError> {
    let key = format!(
        "{}/{}",
        obj.metadata.namespace.as_deref().unwrap_or_default(),
        obj.metadata.name.as_deref().unwrap_or_default()
    );
    serde_json::to_value(obj).and_then(serde_json::from_value).map_err(|source| DecodeError {
        kind: T::KIND,
        key,
        source,
    })
}

/// Converts a typed object into a dynamic one.
///
/// # Errors
/// Only when serialization fails, which the API structs do not do.
pub fn encode<T: FluxObject>(obj: &T) -> Result<DynamicObject, serde_json::Error> {
    serde_json::to_value(obj).and_then(serde_json::from_value)
}

/// Implements [`FluxObject`] for an `eddy-api` kind whose status has `conditions`,
/// `observedGeneration` and `lastHandledReconcileAt`, and whose spec has `interval` and
/// `suspend`.
macro_rules! flux_object {
    ($ty:ty, plural: $plural:literal $(, retry_interval: $retry:ident)?) => {
        impl FluxObject for $ty {
            const GROUP: &'static str = <$ty>::GROUP;
            const VERSION: &'static str = <$ty>::VERSION;
            const KIND: &'static str = <$ty>::KIND;
            const PLURAL: &'static str = $plural;

            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
            fn conditions(&self) -> &[Condition] {
                self.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default()
            }
            fn conditions_mut(&mut self) -> &mut Vec<Condition> {
                self.status.get_or_insert_with(Default::default).conditions.get_or_insert_with(Vec::new)
            }
            fn observed_generation(&self) -> Option<i64> {
                self.status.as_ref().and_then(|s| s.observed_generation)
            }
            fn set_observed_generation(&mut self, generation: i64) {
                self.status.get_or_insert_with(Default::default).observed_generation = Some(generation);
            }
            fn last_handled_reconcile_at(&self) -> Option<&str> {
                self.status.as_ref().and_then(|s| s.last_handled_reconcile_at.as_deref())
            }
            fn set_last_handled_reconcile_at(&mut self, value: String) {
                self.status.get_or_insert_with(Default::default).last_handled_reconcile_at = Some(value);
            }
            fn suspended(&self) -> bool {
                self.spec.suspend.unwrap_or(false)
            }
            fn interval_str(&self) -> &str {
                &self.spec.interval
            }
            $(
            fn retry_interval_str(&self) -> Option<&str> {
                self.spec.$retry.as_deref()
            }
            )?
        }
    };
}

flux_object!(eddy_api::source::GitRepository, plural: "gitrepositories");
flux_object!(eddy_api::kustomize::Kustomization, plural: "kustomizations", retry_interval: retry_interval);

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_api::source::GitRepository;

    #[test]
    fn plural_names_match_the_api_registry() {
        fn check<T: FluxObject>() {
            let info = eddy_api::find(T::GROUP, T::KIND).expect("kind in the registry");
            assert_eq!(info.plural, T::PLURAL, "{}", T::KIND);
        }
        check::<GitRepository>();
        check::<eddy_api::kustomize::Kustomization>();
    }

    #[test]
    fn round_trip_through_dynamic_object() {
        let mut gr = GitRepository::new("app", "flux-system");
        gr.spec.url = "https://example.com/app".into();
        gr.spec.interval = "1m".into();
        gr.conditions_mut().push(Condition { r#type: "Ready".into(), ..Condition::default() });
        let dynamic = encode(&gr).unwrap();
        assert_eq!(dynamic.metadata.name.as_deref(), Some("app"));
        let back: GitRepository = decode(dynamic).unwrap();
        assert_eq!(back, gr);
        assert_eq!(back.key().to_string(), "flux-system/app");
        assert_eq!(back.interval(), Some(Duration::from_secs(60)));
    }
}
