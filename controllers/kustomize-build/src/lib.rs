//! A `kustomize build` engine written in Rust.
//!
//! [`build`] reads a kustomization directory and renders the same YAML stream
//! that kustomize v5 prints for it, byte for byte. Loading is restricted the
//! way Flux restricts it: nothing outside the build boundary is read, symlinks
//! cannot escape it and remote resources are refused.

mod build;
pub mod envsubst;
mod fieldspec;
pub mod flux;
mod generators;
mod kustomization;
mod loader;
mod nameref;
mod openapi;
mod patch;
mod replacements;
mod resource;
mod selector;
mod transformers;
mod vars;
pub mod varsub;
pub mod yaml;

use std::path::{Path, PathBuf};

pub use resource::{ResId, Resource};

/// Options of a build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The directory nothing may be read from outside of. Without one, a
    /// `RootOnly` build reads bases and components from anywhere (as
    /// `kustomize build` does; files stay confined to their kustomization's
    /// directory) and a `BoundaryOnly` build is confined to the build root.
    pub boundary: Option<PathBuf>,
    /// The value of the `app.kubernetes.io/managed-by` label written by
    /// `buildMetadata: [managedByLabel]`. Defaults to what the reference
    /// `kubectl kustomize` writes, `kustomize-(devel)`.
    pub managed_by: Option<String>,
    /// Which files a kustomization may read.
    pub load_restrictions: LoadRestrictions,
}

/// Where the files a kustomization names (resources, patches, generator
/// inputs) may live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LoadRestrictions {
    /// Files only in or below the kustomization's own directory, as
    /// `kustomize build` and `kubectl kustomize` enforce by default; other
    /// kustomization directories (bases such as `../base`, components) may
    /// be anywhere inside the boundary.
    #[default]
    RootOnly,
    /// Anywhere inside the build boundary, as Flux's kustomize-controller
    /// allows (it disables kustomize's restriction but confines the build to
    /// the source artifact).
    BoundaryOnly,
}

/// Everything that can make a build fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A YAML document could not be parsed.
    #[error("{path}: invalid YAML at {source}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parse error (with its line).
        source: yaml::YamlError,
    },
    /// A path points outside of what the build may read.
    #[error("security: {0}")]
    Restricted(String),
    /// A remote resource was referenced.
    #[error("remote resource {0:?} refused: remote bases and resources are not supported")]
    Remote(String),
    /// The kustomization file is invalid.
    #[error("{path}: {message}")]
    Kustomization {
        /// The kustomization file or directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A resource is invalid.
    #[error("{0}")]
    Resource(String),
    /// A transformer or generator failed.
    #[error("{0}")]
    Transform(String),
    /// Flux's generator refused the directory or the Kustomization's fields (Flux's message).
    #[error("{0}")]
    Flux(String),
    /// Post-build variable substitution failed for an object (Flux's message).
    #[error("post build failed for '{object}': {message}")]
    Substitute {
        /// The object, as Flux names it (`Deployment.v1.apps/app`).
        object: String,
        /// What failed (never a variable's value).
        message: String,
    },
}

impl Error {
    pub(crate) fn transform(msg: impl Into<String>) -> Self {
        Error::Transform(msg.into())
    }
}

/// Builds the kustomization at `root` and renders the result as a YAML stream.
///
/// # Errors
/// Any problem loading, transforming or rendering the tree.
pub fn build(root: &Path, options: &BuildOptions) -> Result<String, Error> {
    let resources = build_resources(root, options)?;
    render(&resources)
}

/// Builds the kustomization at `root` and returns the resulting resources in
/// output order.
///
/// # Errors
/// Any problem loading or transforming the tree.
pub fn build_resources(root: &Path, options: &BuildOptions) -> Result<Vec<Resource>, Error> {
    build::run(root, options)
}

/// Renders resources the way kustomize prints them.
///
/// # Errors
/// Values that cannot be rendered (such as infinities).
pub fn render(resources: &[Resource]) -> Result<String, Error> {
    let mut out = String::new();
    for (i, r) in resources.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        let text = yaml::emit_document(&yaml::Value::Map(r.obj.clone()))
            .map_err(|e| Error::Resource(format!("rendering {}: {}", r.id(), e.message)))?;
        out.push_str(&text);
    }
    Ok(out)
}
