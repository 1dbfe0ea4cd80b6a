//! # eddy-kustomize-controller — the Kustomization controller
//!
//! Flux's kustomize-controller on Eddy's runtime: fetch a source's artifact, build it with
//! Eddy's kustomize engine ([`eddy_kustomize`]), decrypt ([`eddy_sops`]), substitute
//! variables, apply it to the cluster with server-side apply ([`eddy_apply`]), prune what left
//! the source, and wait for health ([`eddy_health`]).
