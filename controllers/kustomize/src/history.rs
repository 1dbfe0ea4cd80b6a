//! `status.history`: the last reconciliations by applied content (fluxcd/pkg `meta.History`):
//! one snapshot per digest, newest first, at most [`MAX`].

use std::collections::BTreeMap;
use std::time::Duration;

use eddy_api::kustomize::{Kustomization, Snapshot};
use eddy_controller_runtime::{conditions, duration};

/// How many snapshots are kept.
pub const MAX: usize = 5;

/// Records a reconciliation of `digest` that ended with `status` (a reason).
pub fn upsert(obj: &mut Kustomization, digest: &str, took: Duration, status: &str, revision: &str) {
    let now = conditions::now();
    let metadata: BTreeMap<String, String> = [("revision".to_owned(), revision.to_owned())].into();
    let history = obj.status.get_or_insert_with(Default::default).history.get_or_insert_with(Vec::new);
    if let Some(pos) = history.iter().position(|s| s.digest == digest) {
        let mut s = history.remove(pos);
        s.last_reconciled = now;
        s.last_reconciled_duration = duration::format(took);
        s.last_reconciled_status = status.to_owned();
        s.total_reconciliations += 1;
        s.metadata = Some(metadata);
        history.insert(0, s);
    } else {
        history.insert(
            0,
            Snapshot {
                digest: digest.to_owned(),
                first_reconciled: now.clone(),
                last_reconciled: now,
                last_reconciled_duration: duration::format(took),
                last_reconciled_status: status.to_owned(),
                metadata: Some(metadata),
                total_reconciliations: 1,
            },
        );
    }
    history.truncate(MAX);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_snapshot_per_digest_newest_first() {
        let mut ks = Kustomization::default();
        upsert(&mut ks, "sha256:a", Duration::from_secs(1), "ReconciliationSucceeded", "r1");
        upsert(&mut ks, "sha256:b", Duration::from_secs(1), "ReconciliationSucceeded", "r2");
        upsert(&mut ks, "sha256:a", Duration::from_secs(2), "HealthCheckFailed", "r1");
        let h = ks.status.unwrap().history.unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].digest, "sha256:a");
        assert_eq!(h[0].total_reconciliations, 2);
        assert_eq!(h[0].last_reconciled_status, "HealthCheckFailed");
        assert_eq!(h[1].digest, "sha256:b");
        for i in 0..10 {
            upsert(&mut Kustomization::default(), &format!("{i}"), Duration::ZERO, "x", "r");
        }
    }

    #[test]
    fn history_is_bounded() {
        let mut ks = Kustomization::default();
        for i in 0..10 {
            upsert(&mut ks, &format!("sha256:{i}"), Duration::ZERO, "ReconciliationSucceeded", "r");
        }
        assert_eq!(ks.status.unwrap().history.unwrap().len(), MAX);
    }
}
