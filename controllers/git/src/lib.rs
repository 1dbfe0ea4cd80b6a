//! Git for Eddy's source controller: fetching with gix as Flux's GitRepository controller does.
//!
//! This crate is the Git layer of `source-controller`'s GitRepository reconciler, rebuilt on
//! [gix](https://docs.rs/gix) with the observable behaviour of `fluxcd/pkg/git` and
//! `fluxcd/pkg/git/gogit` (go-git) that source-controller uses:
//!
//! - [`reference`]: the checkout strategies (branch, tag, semver range, reference name, commit)
//!   and what each one fetches;
//! - [`revision`]: commits, tags and Flux's revision strings (`main@sha1:<hash>`);
//! - [`clone()`]: clone into a directory, with the no-clone optimisation, shallow fetches,
//!   submodules, sparse checkout, proxies and a hard time limit;
//! - [`semver`]: Masterminds/semver v3 ranges over tags;
//! - [`auth`] and [`proxy`]: credentials and proxies from a Secret's data, with Flux's rules;
//! - [`error`]: typed failures with Flux's wording and reasons;
//! - [`ls_remote()`]: the remote's references;
//! - [`verify`]: OpenPGP and SSH signatures of commits and tags, verified in process.
//!
//! Everything is blocking: the controller calls it from `spawn_blocking`. Each operation has a
//! time limit and can be cancelled ([`CancelToken`]); see [`cancel`] for how a hung server or a
//! hung `ssh` is ended. The crate knows nothing of Kubernetes: the controller turns Secrets into
//! [`AuthOptions`] and [`ProxyOptions`].

pub mod auth;
pub mod cache;
pub mod cancel;
mod checkout;
pub mod clone;
pub mod error;
mod http_list;
mod objects;
mod pem;
pub mod proxy;
pub mod reference;
pub mod remote;
pub mod revision;
pub mod semver;
mod socks;
mod ssh;
pub mod submodule;
mod transport;
pub mod verify;

pub use auth::{AuthError, AuthOptions, Transport};
pub use cache::CheckoutCache;
pub use cancel::CancelToken;
pub use clone::{CloneOptions, CloneOutcome, DEFAULT_TIMEOUT, clone};
pub use error::{ErrorKind, GitError, redact_url};
pub use proxy::{ProxyError, ProxyOptions};
pub use reference::CheckoutStrategy;
pub use remote::{RemoteRef, ls_remote, ls_remote_with, resolve_remote_ref};
pub use revision::{Commit, Person, Revision, Tag, Time};
