//! A typed view of any Flux object in its storage version.

use serde_json::Value;

use crate::conversion::{ConversionError, convert_to_storage};

/// Why an unstructured object could not be turned into a typed one.
#[derive(Debug, thiserror::Error)]
pub enum TypedError {
    /// Conversion to the storage version failed.
    #[error(transparent)]
    Conversion(#[from] ConversionError),
    /// The object does not fit the typed struct.
    #[error("decoding {kind}: {source}")]
    Decode {
        /// The kind being decoded.
        kind: String,
        /// The serde error.
        source: serde_json::Error,
    },
    /// The kind has no typed struct.
    #[error("no typed struct for kind {0}")]
    UnknownKind(String),
}

macro_rules! flux_object {
    ($($variant:ident => $ty:path),* $(,)?) => {
        /// Any Flux object, typed, in its storage version.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum FluxObject {
            $(
                #[doc = concat!("A ", stringify!($variant), ".")]
                $variant(Box<$ty>),
            )*
        }

        impl FluxObject {
            /// Converts an unstructured object to its storage version and decodes it.
            ///
            /// # Errors
            /// [`TypedError`] when the kind is unknown or the object does not decode.
            pub fn from_value(obj: Value) -> Result<Self, TypedError> {
                let obj = convert_to_storage(obj)?;
                let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
                match kind.as_str() {
                    $(
                        stringify!($variant) => serde_json::from_value::<$ty>(obj)
                            .map(|o| FluxObject::$variant(Box::new(o)))
                            .map_err(|source| TypedError::Decode { kind, source }),
                    )*
                    _ => Err(TypedError::UnknownKind(kind)),
                }
            }

            /// The unstructured form of the object.
            ///
            /// # Errors
            /// Only if serialization fails, which the API structs do not do.
            pub fn to_value(&self) -> Result<Value, serde_json::Error> {
                match self {
                    $(FluxObject::$variant(o) => serde_json::to_value(o),)*
                }
            }
        }
    };
}

flux_object! {
    GitRepository => crate::source::GitRepository,
    HelmRepository => crate::source::HelmRepository,
    HelmChart => crate::source::HelmChart,
    OCIRepository => crate::source::OCIRepository,
    Bucket => crate::source::Bucket,
    ExternalArtifact => crate::source::ExternalArtifact,
    Kustomization => crate::kustomize::Kustomization,
    HelmRelease => crate::helm::HelmRelease,
    Receiver => crate::notification::Receiver,
    Provider => crate::notification::Provider,
    Alert => crate::notification::Alert,
    ImageRepository => crate::image::ImageRepository,
    ImagePolicy => crate::image::ImagePolicy,
    ImageUpdateAutomation => crate::image::ImageUpdateAutomation,
}
