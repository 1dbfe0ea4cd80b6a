//! Artifact storage for Flux sources: deterministic tar.gz archives, digests, retention, ignore
//! rules, and the HTTP server that serves them — fluxcd/pkg `artifact/storage`,
//! `artifact/server`, `sourceignore` and `tar` rebuilt for Eddy's source controllers and their
//! consumers.
//!
//! - [`sourceignore`]: which files a GitRepository artifact leaves out (go-git's gitignore
//!   semantics, Flux's defaults, `.sourceignore` files, `spec.ignore`).
//! - [`digest`]: `algorithm:hex` digests (sha256, sha384, sha512, blake3).
//! - [`archive`]: writing a directory as Flux's tarball (the tar stream is byte-for-byte what
//!   Go's `archive/tar` writes for Flux), safe extraction with a size limit, and includes.
//! - [`storage`]: the storage tree — artifact paths and URLs, atomic writes, verification,
//!   retention, locks.
//! - [`server`]: the read-only HTTP file server over the storage root.
//! - [`paths`]: joining untrusted relative paths under a root.
//!
//! The crate depends on `eddy-api` only for [`eddy_api::meta::Artifact`]; it knows nothing of
//! Kubernetes clients. Storage and archive functions do blocking file I/O; async callers run
//! them on `spawn_blocking`.

pub mod archive;
pub mod digest;
pub mod paths;
pub mod server;
pub mod sourceignore;
pub mod storage;
