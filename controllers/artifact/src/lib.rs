//! Artifact storage for Flux sources: deterministic tar.gz archives, digests, retention, ignore
//! rules, and the HTTP server that serves them.

pub mod sourceignore;
pub mod digest;
pub mod archive;
pub mod paths;
pub mod storage;
pub mod server;
