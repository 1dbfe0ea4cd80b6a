//! Signature verification (upstream's `verifySignature`, `verificationPolicyChanged`,
//! `verificationFingerprint`): the HEAD commit and/or the checked-out tag against the keys in
//! `spec.verify.secretRef`, in process.

use std::collections::BTreeMap;

use eddy_api::source::GitRepository;
use eddy_controller_runtime::conditions::{self, reasons as meta_reasons};
use eddy_controller_runtime::recorder::EventType;
use eddy_controller_runtime::{Outcome, ReconcileError};
use eddy_git::CloneOutcome;
use eddy_git::verify::{Keyring, verify_commit, verify_tag};
use sha2::{Digest as _, Sha256};

use super::conditions::{SOURCE_VERIFIED, actions, reasons};
use super::content::{verification_enabled, verification_mode};
use super::{GitRepositoryReconciler, Run, Step};
use crate::secrets::secret_data;

/// Upstream's `verificationFingerprint`: `sha256:<hex>` over the sorted OpenPGP key rings
/// (`pgp:<value>\0`) then the sorted SSH key sets (`ssh:<value>\0`).
pub(crate) fn fingerprint(data: &BTreeMap<String, Vec<u8>>) -> String {
    let (mut pgp, mut ssh): (Vec<&[u8]>, Vec<&[u8]>) = (Vec::new(), Vec::new());
    for (k, v) in data {
        if k.ends_with(".sshpub") { ssh.push(v) } else { pgp.push(v) }
    }
    pgp.sort();
    ssh.sort();
    let mut h = Sha256::new();
    for (prefix, set) in [(&b"pgp:"[..], &pgp), (&b"ssh:"[..], &ssh)] {
        for v in set {
            h.update(prefix);
            h.update(v);
            h.update([0u8]);
        }
    }
    format!("sha256:{}", hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl GitRepositoryReconciler {
    /// Whether the trusted keys changed since the artifact was verified (a missing Secret
    /// counts as a change, so the failure shows up).
    pub(super) async fn verification_policy_changed(&self, obj: &GitRepository) -> bool {
        if !verification_enabled(obj) {
            return false;
        }
        let Some(v) = obj.spec.verify.as_ref() else { return false };
        let namespace = obj.metadata.namespace.as_deref().unwrap_or_default();
        match secret_data(&self.clients.cluster, namespace, &v.secret_ref.name).await {
            Ok(data) => {
                Some(fingerprint(&data).as_str())
                    != obj.status.as_ref().and_then(|s| s.source_verification_fingerprint.as_deref())
            }
            Err(_) => true,
        }
    }

    pub(super) async fn verify_signature(&self, run: &mut Run<'_>) -> Step {
        let obj = &mut *run.obj;
        if !verification_enabled(obj) {
            if let Some(s) = obj.status.as_mut() {
                s.source_verification_mode = None;
                s.source_verification_fingerprint = None;
            }
            conditions::delete(obj, SOURCE_VERIFIED);
            return (Outcome::Success, None);
        }
        let Some(verify) = obj.spec.verify.clone() else { return (Outcome::Success, None) };
        let mode = verification_mode(obj).unwrap_or("HEAD");
        let namespace = obj.metadata.namespace.clone().unwrap_or_default();
        let fail = |obj: &mut GitRepository, e: ReconcileError| -> Step {
            conditions::mark_false(obj, SOURCE_VERIFIED, &e.reason, e.message.clone());
            (Outcome::Empty, Some(e))
        };
        let data = match secret_data(&self.clients.cluster, &namespace, &verify.secret_ref.name).await {
            Ok(d) => d,
            Err(e) => {
                let e = ReconcileError::generic(reasons::VERIFICATION_ERROR, format!("public keys secret error: {e}"));
                return fail(obj, e);
            }
        };
        let keyring = Keyring::from_secret_data(&data);
        let Some(CloneOutcome::Cloned { commit, .. }) = run.commit.as_ref() else {
            return (Outcome::Success, None);
        };
        let mut message = String::new();
        if matches!(mode, "Tag" | "TagAndHEAD") {
            let Some(tag) = commit.referencing_tag.as_ref() else {
                let e = ReconcileError::stalling(
                    reasons::INVALID_VERIFICATION_MODE,
                    "cannot verify tag object's signature if a tag reference is not specified",
                );
                return fail(obj, e);
            };
            let Some(signature) = tag.signature.as_deref() else {
                let e = ReconcileError::generic(
                    reasons::INVALID_GIT_OBJECT,
                    format!("cannot verify signature of tag '{}' since it is not signed", tag.display_name()),
                );
                return fail(obj, e);
            };
            match verify_tag(&keyring, signature, &tag.signed_payload) {
                Ok(v) => message.push_str(&format!(
                    "verified signature of\n\t- tag '{}' with key '{}'",
                    tag.display_name(),
                    v.key_id
                )),
                Err(err) => {
                    let e = ReconcileError::generic(
                        reasons::INVALID_TAG_SIGNATURE,
                        format!("signature verification of tag '{}' failed: {err}", tag.display_name()),
                    );
                    return fail(obj, e);
                }
            }
        }
        if matches!(mode, "HEAD" | "TagAndHEAD") {
            let signature = commit.signature.as_deref().unwrap_or_default();
            match verify_commit(&keyring, signature, &commit.signed_payload) {
                Ok(v) => {
                    let line = format!("commit '{}' with key '{}'", commit.hash, v.key_id);
                    if message.is_empty() {
                        message = format!("verified signature of\n\t- {line}");
                    } else {
                        message.push_str(&format!("\n\t- {line}"));
                    }
                }
                Err(err) => {
                    let e = ReconcileError::generic(
                        reasons::INVALID_COMMIT_SIGNATURE,
                        format!("signature verification of commit '{}' failed: {err}", commit.hash),
                    );
                    return fail(obj, e);
                }
            }
        }
        let status = obj.status.get_or_insert_with(Default::default);
        status.source_verification_mode = Some(mode.to_owned());
        status.source_verification_fingerprint = Some(fingerprint(&data));
        conditions::mark_true(obj, SOURCE_VERIFIED, meta_reasons::SUCCEEDED, message.clone());
        self.event(obj, EventType::Trace, meta_reasons::SUCCEEDED, actions::VERIFY_SOURCE, &message);
        (Outcome::Success, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_order_independent_and_separates_formats() {
        let a: BTreeMap<String, Vec<u8>> =
            [("a.asc".into(), b"K1".to_vec()), ("b".into(), b"K2".to_vec()), ("c.sshpub".into(), b"S".to_vec())].into();
        let b: BTreeMap<String, Vec<u8>> =
            [("z.asc".into(), b"K2".to_vec()), ("y".into(), b"K1".to_vec()), ("x.sshpub".into(), b"S".to_vec())].into();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        let c: BTreeMap<String, Vec<u8>> =
            [("a.asc".into(), b"K1".to_vec()), ("b".into(), b"K2".to_vec()), ("c.asc".into(), b"S".to_vec())].into();
        assert_ne!(fingerprint(&a), fingerprint(&c));
        // sha256("pgp:K1\0pgp:K2\0ssh:S\0")
        let expected = format!("sha256:{}", hex(&Sha256::digest(b"pgp:K1\0pgp:K2\0ssh:S\0")));
        assert_eq!(fingerprint(&a), expected);
    }
}
