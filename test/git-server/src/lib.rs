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
//! # Example
//!
//! ```
//! use eddy_test_git::{HttpGitServer, RepoBuilder};
//!
//! let root = tempfile::tempdir()?;
//! let mut repo = RepoBuilder::init(root.path(), "repo.git")?;
//! repo.write("hello.txt", "hello\n")?;
//! let commit = repo.commit("first")?;
//! repo.push()?;
//!
//! let server = HttpGitServer::builder(root.path()).basic_auth("user", "pass").start()?;
//! let url = server.repo_url("repo.git"); // http://127.0.0.1:PORT/repo.git
//! assert!(url.starts_with("http://127.0.0.1:"));
//! // ... point the client under test at `url`, then check what it asked for:
//! assert_eq!(server.counts().fetches, 0);
//! # let _ = commit;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The standard repository
//!
//! [`standard_repository`] builds what Eddy's acceptance tests use, under a server root:
//!
//! - `sub.git`: branch `main` with one commit holding `sub.txt` (`"submodule\n"`).
//! - `repo.git`, `HEAD` → `main`:
//!
//! | ref | kind | points to | signed |
//! |---|---|---|---|
//! | `main` | branch | C3 "main head", child of C2 | no: the unsigned HEAD |
//! | `dev` | branch | D1 "dev head", child of C2 | OpenPGP |
//! | `ssh-signed` | branch | S1 "ssh-signed head", child of C2 | SSH |
//! | `v0.1.0` | lightweight tag | C1 "initial" | — |
//! | `v1.0.0` | annotated tag | C2 "add submodule" | no |
//! | `v1.1.0` | annotated tag | D1 | OpenPGP (tag and commit) |
//! | `v2.0.0-rc.1` | annotated tag | S1 | SSH (tag and commit) |
//!
//! C1 holds `README.md`, `version.txt` (`0.1.0`), `deploy/configmap.yaml` (a ConfigMap
//! `default/eddy-test`), the executable `bin/run.sh` (mode 100755), the symlink `link` →
//! `README.md` (mode 120000), a root `.sourceignore` (`ignored/`) and `ignored/ignored.txt`.
//! C2 adds the submodule `sub` (URL `../sub.git`, which a client resolves against
//! `repo.git`'s own URL, so it works on any server of the root) and sets `version.txt` to
//! `1.0.0`; C3, D1 and S1 set it to `main`, `1.1.0` and `2.0.0-rc.1`, so a test can tell what
//! was checked out. Everything is committed by `Eddy Test <eddy-test@example.com>` at
//! [`fixture::EPOCH`] plus one minute per step: C1, C2 and C3 have the same IDs on every run,
//! the signed objects differ per run because the keys ([`StandardRepository::keys`]: the
//! armored OpenPGP public key, the SSH public key and its `allowed_signers` line) are
//! generated each time.
//!
//! The tools come from the system: `git` (with `git-http-backend`), `gpg`, `ssh-keygen` and
//! OpenSSH's `sshd`. `hack/ensure-deps` installs them on a fresh machine.

mod body;
pub mod error;
pub mod fixture;
pub mod http;
pub mod process;
pub mod proxy;
mod runtime;
pub mod ssh;
pub mod tls;

pub use error::{Error, Result};
pub use fixture::{RepoBuilder, SignatureFormat, SigningKeys, StandardRepository, standard_repository};
pub use http::{HttpGitServer, HttpGitServerBuilder, RequestCounts};
pub use proxy::{HttpProxy, ProxyCounts};
pub use ssh::{SshGitServer, SshKeyPair, SshKeyType};
pub use tls::{IssuedCert, TestCa};
