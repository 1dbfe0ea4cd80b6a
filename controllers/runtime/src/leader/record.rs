//! The leader election record and its place in a Lease (client-go `resourcelock`
//! `LeaderElectionRecord`, `LeaseSpecToLeaderElectionRecord` and back).

use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;

/// Who holds the lease and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeaderRecord {
    /// The holder; empty when released.
    pub(crate) holder: String,
    pub(crate) lease_duration_seconds: i32,
    pub(crate) acquire_time: Timestamp,
    pub(crate) renew_time: Timestamp,
    pub(crate) transitions: i32,
}

impl LeaderRecord {
    /// The record stored in `spec`; absent fields are zero, as client-go reads them.
    pub(crate) fn from_spec(spec: &LeaseSpec) -> Self {
        Self {
            holder: spec.holder_identity.clone().unwrap_or_default(),
            lease_duration_seconds: spec.lease_duration_seconds.unwrap_or(0),
            acquire_time: spec.acquire_time.as_ref().map_or(Timestamp::UNIX_EPOCH, |t| t.0),
            renew_time: spec.renew_time.as_ref().map_or(Timestamp::UNIX_EPOCH, |t| t.0),
            transitions: spec.lease_transitions.unwrap_or(0),
        }
    }

    /// The spec holding this record. As client-go, it replaces the whole spec: a
    /// `preferredHolder` or `strategy` someone set is dropped.
    pub(crate) fn to_spec(&self) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.holder.clone()),
            lease_duration_seconds: Some(self.lease_duration_seconds),
            acquire_time: Some(MicroTime(self.acquire_time)),
            renew_time: Some(MicroTime(self.renew_time)),
            lease_transitions: Some(self.transitions),
            preferred_holder: None,
            strategy: None,
        }
    }
}

/// Now, at the microsecond precision a Lease stores, so that a record reads back equal.
pub(crate) fn now_micros() -> Timestamp {
    let now = crate::events::now();
    Timestamp::from_microsecond(now.as_microsecond()).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_spec_in_micro_time() {
        let t = Timestamp::from_microsecond(1_700_000_000_123_456).unwrap();
        let r = LeaderRecord {
            holder: "a_1".into(),
            lease_duration_seconds: 35,
            acquire_time: t,
            renew_time: t,
            transitions: 3,
        };
        let spec = r.to_spec();
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["acquireTime"], "2023-11-14T22:13:20.123456Z");
        assert_eq!(json["holderIdentity"], "a_1");
        assert_eq!(json["leaseTransitions"], 3);
        let back: LeaseSpec = serde_json::from_value(json).unwrap();
        assert_eq!(LeaderRecord::from_spec(&back), r);
        assert_eq!(LeaderRecord::from_spec(&LeaseSpec::default()).holder, "");
    }
}
