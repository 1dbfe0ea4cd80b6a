//! Counters of the notification pipeline and the receiver server, rendered in the Prometheus
//! text format next to the runtime's metrics on `/metrics`.
//!
//! notification-controller exposes only go-http-metrics' request histograms for its two
//! servers; Eddy counts what an operator needs to see instead:
//! `eddy_notification_events_total{outcome}` (accepted, duplicate, overloaded, malformed),
//! `eddy_notification_alerts_matched_total`,
//! `eddy_notification_deliveries_total{type,result}` and
//! `eddy_notification_webhook_requests_total{code}`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// The counters; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Metrics(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    events: Mutex<BTreeMap<String, u64>>,
    matched: AtomicU64,
    deliveries: Mutex<BTreeMap<(String, String), u64>>,
    webhooks: Mutex<BTreeMap<u16, u64>>,
}

impl Metrics {
    /// Counts an incoming event by outcome.
    pub fn event(&self, outcome: &str) {
        *self.0.events.lock().entry(outcome.to_owned()).or_default() += 1;
    }

    /// Counts an Alert that matched an event.
    pub fn matched(&self) {
        self.0.matched.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a delivery to a provider type with its result (`success`, `failed`).
    pub fn delivery(&self, provider_type: &str, result: &str) {
        *self.0.deliveries.lock().entry((provider_type.to_owned(), result.to_owned())).or_default() += 1;
    }

    /// Counts a webhook request answered with `code`.
    pub fn webhook(&self, code: u16) {
        *self.0.webhooks.lock().entry(code).or_default() += 1;
    }

    /// Deliveries so far with this type and result.
    #[must_use]
    pub fn deliveries(&self, provider_type: &str, result: &str) -> u64 {
        self.0.deliveries.lock().get(&(provider_type.to_owned(), result.to_owned())).copied().unwrap_or(0)
    }

    /// Events so far with this outcome.
    #[must_use]
    pub fn events(&self, outcome: &str) -> u64 {
        self.0.events.lock().get(outcome).copied().unwrap_or(0)
    }

    /// The Prometheus text of every series.
    #[must_use]
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str("# HELP eddy_notification_events_total Events received by the notification pipeline, by outcome.\n");
        s.push_str("# TYPE eddy_notification_events_total counter\n");
        for (k, v) in self.0.events.lock().iter() {
            let _ = writeln!(s, "eddy_notification_events_total{{outcome=\"{k}\"}} {v}");
        }
        s.push_str("# HELP eddy_notification_alerts_matched_total Alerts matched by events.\n");
        s.push_str("# TYPE eddy_notification_alerts_matched_total counter\n");
        let _ = writeln!(s, "eddy_notification_alerts_matched_total {}", self.0.matched.load(Ordering::Relaxed));
        s.push_str(
            "# HELP eddy_notification_deliveries_total Notifications delivered to providers, by type and result.\n",
        );
        s.push_str("# TYPE eddy_notification_deliveries_total counter\n");
        for ((t, r), v) in self.0.deliveries.lock().iter() {
            let _ = writeln!(s, "eddy_notification_deliveries_total{{type=\"{t}\",result=\"{r}\"}} {v}");
        }
        s.push_str("# HELP eddy_notification_webhook_requests_total Receiver webhook requests, by status code.\n");
        s.push_str("# TYPE eddy_notification_webhook_requests_total counter\n");
        for (k, v) in self.0.webhooks.lock().iter() {
            let _ = writeln!(s, "eddy_notification_webhook_requests_total{{code=\"{k}\"}} {v}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters() {
        let m = Metrics::default();
        m.event("accepted");
        m.event("accepted");
        m.delivery("slack", "failed");
        m.webhook(200);
        let text = m.render();
        assert!(text.contains("eddy_notification_events_total{outcome=\"accepted\"} 2\n"), "{text}");
        assert!(text.contains("eddy_notification_deliveries_total{type=\"slack\",result=\"failed\"} 1\n"));
        assert!(text.contains("eddy_notification_webhook_requests_total{code=\"200\"} 1\n"));
        assert_eq!(m.deliveries("slack", "failed"), 1);
    }
}
