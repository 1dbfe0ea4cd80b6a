//! Query parameters of API requests, parsed and checked once.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use eddy_api::admission::FieldValidation;
use eddy_storage::Revision;
use serde_json::{Value, json};

use crate::selector::{FieldSelector, LabelSelector, parse_label_selector};
use crate::status::ApiError;
use crate::table::IncludeObject;

/// The decoded query string.
#[derive(Debug, Clone, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    /// Decodes a raw query string (`a=b&c=d`).
    ///
    /// # Errors
    /// 400 when it is not valid `application/x-www-form-urlencoded`.
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or_default())
            .map_err(|e| ApiError::bad_request(format!("malformed query string: {e}")))?;
        Ok(Self(pairs.into_iter().collect()))
    }

    /// A parameter's value, if present.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A boolean parameter (`true`/`1` are true).
    #[must_use]
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "1"))
    }

    /// `dryRun`: only `All` is defined.
    ///
    /// # Errors
    /// 400 for any other value.
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => {
                Err(ApiError::bad_request(format!("dryRun: Unsupported value: {other:?}: supported values: \"All\"")))
            }
        }
    }

    /// `fieldValidation`.
    ///
    /// # Errors
    /// 400 for an unknown mode.
    pub fn field_validation(&self) -> Result<FieldValidation, ApiError> {
        self.get("fieldValidation")
            .unwrap_or_default()
            .parse()
            .map_err(|e: eddy_api::admission::BadFieldValidation| ApiError::bad_request(e.to_string()))
    }

    /// `labelSelector`.
    ///
    /// # Errors
    /// 400 when malformed.
    pub fn label_selector(&self) -> Result<LabelSelector, ApiError> {
        parse_label_selector(self.get("labelSelector").unwrap_or_default())
    }

    /// `fieldSelector`.
    ///
    /// # Errors
    /// 400 when malformed or about an unsupported field.
    pub fn field_selector(&self) -> Result<FieldSelector, ApiError> {
        FieldSelector::parse(self.get("fieldSelector").unwrap_or_default())
    }

    /// `includeObject`.
    ///
    /// # Errors
    /// 400 for an unknown value.
    pub fn include_object(&self) -> Result<IncludeObject, ApiError> {
        let v = self.get("includeObject").unwrap_or_default();
        IncludeObject::parse(v).ok_or_else(|| ApiError::bad_request(format!("includeObject: Unsupported value: {v:?}")))
    }

    /// `limit` (0 or absent: no limit).
    ///
    /// # Errors
    /// 400 when not a non-negative number.
    pub fn limit(&self) -> Result<Option<usize>, ApiError> {
        match self.get("limit") {
            None | Some("") => Ok(None),
            Some(l) => match l.parse::<i64>() {
                Ok(n) if n > 0 => Ok(usize::try_from(n).ok()),
                Ok(_) => Ok(None),
                Err(_) => Err(ApiError::bad_request(format!("limit: invalid value {l:?}"))),
            },
        }
    }

    /// `timeoutSeconds` of a watch, as kube decodes it: a 64-bit signed number of seconds
    /// (a negative one reads as 0).
    ///
    /// # Errors
    /// 400 when not a number that fits 64 bits.
    pub fn timeout_seconds(&self) -> Result<Option<u64>, ApiError> {
        self.signed_timeout_seconds().map(|t| t.map(|t| u64::try_from(t).unwrap_or(0)))
    }

    fn signed_timeout_seconds(&self) -> Result<Option<i64>, ApiError> {
        match self.get("timeoutSeconds") {
            None | Some("") => Ok(None),
            Some(t) => t
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("timeoutSeconds: invalid value {t:?}"))),
        }
    }

    /// How long a watch lasts, as kube-apiserver decides it: the client's `timeoutSeconds`
    /// when positive, `default` when absent or 0, and no time at all when negative (the
    /// stream ends at once). Clamped to [`MAX_WATCH_TIMEOUT`] (the longest duration Go can
    /// represent), so no value can overflow a deadline.
    ///
    /// # Errors
    /// 400 when `timeoutSeconds` is not a number that fits 64 bits.
    pub fn watch_timeout(&self, default: Duration) -> Result<Duration, ApiError> {
        Ok(match self.signed_timeout_seconds()? {
            None | Some(0) => default,
            Some(t) if t < 0 => Duration::ZERO,
            Some(t) => Duration::from_secs(t.unsigned_abs()).min(MAX_WATCH_TIMEOUT),
        })
    }
}

/// The longest watch: Go's largest `time.Duration` (about 292 years), which is what
/// kube-apiserver can represent.
pub const MAX_WATCH_TIMEOUT: Duration = Duration::from_secs(i64::MAX as u64 / 1_000_000_000);

/// Where a paginated list continues: the list's revision and the last key returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continue {
    /// Revision of the first page; every page is read at it.
    pub revision: Revision,
    /// Namespace of the last object returned.
    pub namespace: String,
    /// Name of the last object returned.
    pub name: String,
}

impl Continue {
    /// The opaque token sent to clients.
    #[must_use]
    pub fn encode(&self) -> String {
        let v = json!({"v": "eddy/v1", "rv": self.revision, "ns": self.namespace, "name": self.name});
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    /// Decodes a token from [`Continue::encode`].
    ///
    /// # Errors
    /// 400 for a token this server did not issue.
    pub fn decode(token: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
        let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
        if v["v"] != "eddy/v1" {
            return Err(bad());
        }
        Ok(Self {
            revision: v["rv"].as_u64().ok_or_else(bad)?,
            namespace: v["ns"].as_str().ok_or_else(bad)?.to_owned(),
            name: v["name"].as_str().ok_or_else(bad)?.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let c = Continue { revision: 42, namespace: "ns".into(), name: "a/b".into() };
        assert_eq!(Continue::decode(&c.encode()).ok(), Some(c));
        for bad in ["", "!!!", "eyJ2IjoxfQ", "bm90IGpzb24"] {
            assert_eq!(Continue::decode(bad).map_err(|e| e.code).err(), Some(400), "{bad}");
        }
    }

    #[test]
    fn parameters() {
        let q = Query::parse(Some("dryRun=All&limit=5&watch=1&fieldValidation=Strict&labelSelector=app%3Dweb"))
            .unwrap_or_default();
        assert!(q.dry_run().unwrap_or(false));
        assert_eq!(q.limit().ok().flatten(), Some(5));
        assert!(q.flag("watch"));
        assert_eq!(q.field_validation().ok(), Some(FieldValidation::Strict));
        assert!(q.label_selector().is_ok());
        let bad = Query::parse(Some("dryRun=Some&limit=x&fieldValidation=strict")).unwrap_or_default();
        assert!(bad.dry_run().is_err() && bad.limit().is_err() && bad.field_validation().is_err());
        assert_eq!(Query::parse(Some("limit=0")).ok().and_then(|q| q.limit().ok().flatten()), None);
    }

    #[test]
    fn watch_timeouts_are_clamped_never_overflowing() {
        let default = Duration::from_secs(1800);
        let timeout = |q: &str| Query::parse(Some(q)).and_then(|q| q.watch_timeout(default)).map_err(|e| e.code);
        assert_eq!(timeout("timeoutSeconds=30"), Ok(Duration::from_secs(30)));
        assert_eq!(timeout("timeoutSeconds=0"), Ok(default));
        assert_eq!(timeout("watch=1"), Ok(default));
        assert_eq!(timeout("timeoutSeconds=-5"), Ok(Duration::ZERO));
        assert_eq!(timeout("timeoutSeconds=9223372036854775807"), Ok(MAX_WATCH_TIMEOUT));
        assert_eq!(timeout("timeoutSeconds=18446744073709551615"), Err(400));
        assert_eq!(timeout("timeoutSeconds=soon"), Err(400));
        let now = tokio::time::Instant::now();
        assert!(now.checked_add(MAX_WATCH_TIMEOUT).is_some(), "the clamp itself fits a deadline");
    }
}
