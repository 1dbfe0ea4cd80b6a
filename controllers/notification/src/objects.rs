//! The notification kinds as the runtime sees them.
//!
//! `eddy-api`'s `Alert`, `Provider` and `Receiver` live in another crate and so does the
//! runtime's [`FluxObject`] trait; these transparent wrappers give the runtime's informers and
//! controllers what they need. Alerts and Providers (`v1beta3`) are static objects without a
//! status, as upstream: their "conditions" are never written.

use eddy_api::meta::{Condition, ObjectMeta};
use eddy_api::notification::{Alert, Provider, Receiver};
use eddy_controller_runtime::FluxObject;
use serde::{Deserialize, Serialize};

/// The finalizer notification-controller used to put on Alerts and Providers before they
/// became static (`NotificationFinalizer`); the Alert controller removes it.
pub const NOTIFICATION_FINALIZER: &str = "finalizers.fluxcd.io";

/// Implements [`FluxObject`] for a status-less wrapper.
macro_rules! static_object {
    ($(#[$doc:meta])* $name:ident($inner:ty), plural: $plural:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name {
            /// The object.
            pub object: $inner,
            /// Never serialized: these kinds have no status.
            #[serde(skip)]
            no_conditions: Vec<Condition>,
        }

        impl From<$inner> for $name {
            fn from(object: $inner) -> Self {
                Self { object, no_conditions: Vec::new() }
            }
        }

        impl FluxObject for $name {
            const GROUP: &'static str = <$inner>::GROUP;
            const VERSION: &'static str = <$inner>::VERSION;
            const KIND: &'static str = <$inner>::KIND;
            const PLURAL: &'static str = $plural;

            fn meta(&self) -> &ObjectMeta {
                &self.object.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.object.metadata
            }
            fn conditions(&self) -> &[Condition] {
                &[]
            }
            fn conditions_mut(&mut self) -> &mut Vec<Condition> {
                &mut self.no_conditions
            }
            fn observed_generation(&self) -> Option<i64> {
                None
            }
            fn set_observed_generation(&mut self, _generation: i64) {}
            fn last_handled_reconcile_at(&self) -> Option<&str> {
                None
            }
            fn set_last_handled_reconcile_at(&mut self, _value: String) {}
            fn suspended(&self) -> bool {
                self.object.spec.suspend.unwrap_or(false)
            }
            fn interval_str(&self) -> &str {
                ""
            }
        }
    };
}

static_object!(
    /// An Alert (`v1beta3`).
    AlertObject(Alert), plural: "alerts"
);
static_object!(
    /// A Provider (`v1beta3`).
    ProviderObject(Provider), plural: "providers"
);

/// A Receiver (`v1`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReceiverObject {
    /// The object.
    pub object: Receiver,
}

impl From<Receiver> for ReceiverObject {
    fn from(object: Receiver) -> Self {
        Self { object }
    }
}

/// Upstream's default Receiver interval (`GetInterval`).
const RECEIVER_DEFAULT_INTERVAL: &str = "10m";

impl FluxObject for ReceiverObject {
    const GROUP: &'static str = Receiver::GROUP;
    const VERSION: &'static str = Receiver::VERSION;
    const KIND: &'static str = Receiver::KIND;
    const PLURAL: &'static str = "receivers";

    fn meta(&self) -> &ObjectMeta {
        &self.object.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.object.metadata
    }
    fn conditions(&self) -> &[Condition] {
        self.object.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default()
    }
    fn conditions_mut(&mut self) -> &mut Vec<Condition> {
        self.object.status.get_or_insert_with(Default::default).conditions.get_or_insert_with(Vec::new)
    }
    fn observed_generation(&self) -> Option<i64> {
        self.object.status.as_ref().and_then(|s| s.observed_generation)
    }
    fn set_observed_generation(&mut self, generation: i64) {
        self.object.status.get_or_insert_with(Default::default).observed_generation = Some(generation);
    }
    fn last_handled_reconcile_at(&self) -> Option<&str> {
        self.object.status.as_ref().and_then(|s| s.last_handled_reconcile_at.as_deref())
    }
    fn set_last_handled_reconcile_at(&mut self, value: String) {
        self.object.status.get_or_insert_with(Default::default).last_handled_reconcile_at = Some(value);
    }
    fn suspended(&self) -> bool {
        self.object.spec.suspend.unwrap_or(false)
    }
    fn interval_str(&self) -> &str {
        self.object.spec.interval.as_deref().unwrap_or(RECEIVER_DEFAULT_INTERVAL)
    }
}

#[cfg(test)]
mod tests {
    use eddy_controller_runtime::object::{decode, encode};

    use super::*;

    #[test]
    fn plural_names_match_the_api_registry() {
        fn check<T: FluxObject>() {
            let info = eddy_api::find(T::GROUP, T::KIND).expect("kind in the registry");
            assert_eq!(info.plural, T::PLURAL, "{}", T::KIND);
        }
        check::<AlertObject>();
        check::<ProviderObject>();
        check::<ReceiverObject>();
    }

    #[test]
    fn wrappers_are_transparent() {
        let mut alert = Alert::new("a", "ns");
        alert.spec.provider_ref.name = "p".into();
        let wrapped = AlertObject::from(alert.clone());
        assert_eq!(serde_json::to_value(&wrapped).unwrap(), serde_json::to_value(&alert).unwrap());
        let back: AlertObject = decode(encode(&wrapped).unwrap()).unwrap();
        assert_eq!(back.object, alert);
        assert!(back.conditions().is_empty());

        let receiver = ReceiverObject::from(Receiver::new("r", "ns"));
        assert_eq!(receiver.interval_str(), "10m");
    }
}
