//! Real Git servers and fixture repositories for Eddy's tests.
//!
//! Everything here runs real tools on 127.0.0.1, on ports picked at run time, with every wait
//! bounded and every child process killed and reaped when its owner is dropped (also when a
//! test panics):
//!
//! - [`HttpGitServer`]: smart HTTP through `git http-backend` (clone, fetch, push; protocol
//!   v2; gzip and chunked bodies), with basic auth, bearer tokens, TLS from a test CA, a
//!   hang mode, and per-service request counters.
//! - [`SshGitServer`]: OpenSSH `sshd` with `git-shell`-restricted keys, a generated host key
//!   and its `known_hosts` line.
//! - [`HttpProxy`]: a forward proxy (CONNECT tunnels and absolute-form requests), with
//!   optional basic proxy authentication and counters.
//! - [`RepoBuilder`]: bare repositories under a server root, filled with the git CLI with a
//!   fixed identity and dates; [`SigningKeys`] for OpenPGP- and SSH-signed commits and tags.
//! - [`SshKeyPair`]: client keys (ed25519, RSA, ECDSA; optionally with a passphrase).
//! - [`process`]: running commands with timeouts, and killing process trees.
//!
//! The tools come from the system: `git` (with `git-http-backend`), `gpg`, `ssh-keygen` and
//! OpenSSH's `sshd`. `hack/ensure-deps` installs them on a fresh machine.

mod body;
pub mod error;
pub mod fixture;
mod http;
pub mod process;
mod proxy;
mod runtime;
pub mod ssh;
pub mod tls;

pub use error::{Error, Result};
pub use fixture::{RepoBuilder, SignatureFormat, SigningKeys};
pub use http::{HttpGitServer, HttpGitServerBuilder, RequestCounts};
pub use proxy::{HttpProxy, ProxyCounts};
pub use ssh::{SshGitServer, SshKeyPair, SshKeyType};
pub use tls::{IssuedCert, TestCa};
