//! client-go's `EventCorrelator` (`tools/record/events_cache.go`): what happens to an Event
//! between the recorder and the API server.
//!
//! Three stages run on every event, in upstream's order:
//!
//! 1. **Aggregation** by reason: events that differ only in their message are grouped under
//!    the key (source, involved object, type, reason, reporting controller and instance). When
//!    a group has seen `max_events` (10) distinct messages within `max_interval` (600 s) of
//!    each other, the event is replaced by one whose message is prefixed
//!    `(combined from similar events): ` and which is deduplicated under the group key.
//! 2. **Deduplication** (the "event logger"): an event identical to one already written
//!    (same source, involved object including fieldPath, type, reason and message) takes the
//!    earlier Event's name and firstTimestamp, `count` + 1, and a strategic-merge patch of
//!    `count`, `lastTimestamp` and `message` to send instead of a create.
//! 3. **Spam filter**: a token bucket per source and involved object and type (burst 25,
//!    refilled at 1/300 per second) decides whether the event is written at all. As upstream,
//!    an event dropped here has still advanced the deduplication count.
//!
//! Every cache is an LRU of 4096 entries. The keys are upstream's: plain concatenations of
//! the fields without separators. The clock is passed in, so the behaviour is testable.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value};

use super::lru::Lru;

/// Tuning of the correlator; the defaults are client-go's.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelatorOptions {
    /// Entries in each of the three caches (4096).
    pub lru_cache_size: usize,
    /// Tokens a new source/object bucket starts with (25).
    pub burst: u32,
    /// Tokens added per second (1/300).
    pub qps: f64,
    /// Distinct messages per reason group before they are combined (10).
    pub max_events: usize,
    /// How long a reason group is remembered after its last event (600 s).
    pub max_interval: Duration,
}

impl Default for CorrelatorOptions {
    fn default() -> Self {
        Self {
            lru_cache_size: 4096,
            burst: 25,
            qps: 1.0 / 300.0,
            max_events: 10,
            max_interval: Duration::from_secs(600),
        }
    }
}

/// The outcome for an event the spam filter let through.
#[derive(Debug, Clone, PartialEq)]
pub struct Correlated {
    /// The Event to write (possibly the combined one, with the name and count of an earlier
    /// write).
    pub event: Event,
    /// When the Event was seen before (`event.count > 1`): the strategic-merge patch to send.
    pub patch: Option<Value>,
}

fn s(o: Option<&String>) -> &str {
    o.map_or("", String::as_str)
}

/// client-go `getEventKey`: the identity of an event for deduplication.
fn event_key(e: &Event) -> String {
    let src = e.source.as_ref();
    let io = &e.involved_object;
    [
        s(src.and_then(|x| x.component.as_ref())),
        s(src.and_then(|x| x.host.as_ref())),
        s(io.kind.as_ref()),
        s(io.namespace.as_ref()),
        s(io.name.as_ref()),
        s(io.field_path.as_ref()),
        s(io.uid.as_ref()),
        s(io.api_version.as_ref()),
        s(e.type_.as_ref()),
        s(e.reason.as_ref()),
        s(e.message.as_ref()),
    ]
    .concat()
}

/// client-go `getSpamKey`: source, involved object and type.
fn spam_key(e: &Event) -> String {
    let src = e.source.as_ref();
    let io = &e.involved_object;
    [
        s(src.and_then(|x| x.component.as_ref())),
        s(src.and_then(|x| x.host.as_ref())),
        s(io.kind.as_ref()),
        s(io.namespace.as_ref()),
        s(io.name.as_ref()),
        s(io.uid.as_ref()),
        s(io.api_version.as_ref()),
        s(e.type_.as_ref()),
    ]
    .concat()
}

/// client-go `EventAggregatorByReasonFunc`: the group key and the message.
fn aggregate_key(e: &Event) -> (String, String) {
    let src = e.source.as_ref();
    let io = &e.involved_object;
    let key = [
        s(src.and_then(|x| x.component.as_ref())),
        s(src.and_then(|x| x.host.as_ref())),
        s(io.kind.as_ref()),
        s(io.namespace.as_ref()),
        s(io.name.as_ref()),
        s(io.uid.as_ref()),
        s(io.api_version.as_ref()),
        s(e.type_.as_ref()),
        s(e.reason.as_ref()),
        s(e.reporting_component.as_ref()),
        s(e.reporting_instance.as_ref()),
    ]
    .concat();
    (key, e.message.clone().unwrap_or_default())
}

/// A token bucket as golang.org/x/time/rate's limiter: starts full.
#[derive(Debug, Clone)]
struct TokenBucket {
    tokens: f64,
    last_nanos: i128,
}

#[derive(Debug, Clone, Default)]
struct AggregateRecord {
    messages: BTreeSet<String>,
    last_nanos: Option<i128>,
}

#[derive(Debug, Clone)]
struct EventLog {
    count: i32,
    first_timestamp: Option<Time>,
    name: String,
    resource_version: Option<String>,
}

/// Deduplication, aggregation and spam filtering of Kubernetes Events, as client-go's.
#[derive(Debug)]
pub struct EventCorrelator {
    options: CorrelatorOptions,
    spam: Lru<TokenBucket>,
    aggregates: Lru<AggregateRecord>,
    log: Lru<EventLog>,
}

impl EventCorrelator {
    /// A correlator with empty caches.
    #[must_use]
    pub fn new(options: CorrelatorOptions) -> Self {
        let size = options.lru_cache_size;
        Self { options, spam: Lru::new(size), aggregates: Lru::new(size), log: Lru::new(size) }
    }

    /// Runs `event` through aggregation, deduplication and the spam filter at time `now`;
    /// `None` when the spam filter drops it.
    pub fn correlate(&mut self, event: Event, now: Timestamp) -> Option<Correlated> {
        let (event, key) = self.aggregate(event, now);
        let (event, patch) = self.observe(event, &key);
        if self.spam_filtered(&event, now) {
            return None;
        }
        Some(Correlated { event, patch })
    }

    /// Remembers the Event the API server returned after a successful write, so that the next
    /// identical event patches it (client-go `UpdateState`).
    pub fn update_state(&mut self, event: &Event) {
        let key = event_key(event);
        self.log.insert(&key, log_of(event));
    }

    fn aggregate(&mut self, event: Event, now: Timestamp) -> (Event, String) {
        let now_nanos = now.as_nanosecond();
        let event_key = event_key(&event);
        let (group, message) = aggregate_key(&event);
        let max_interval = i128::try_from(self.options.max_interval.as_nanos()).unwrap_or(i128::MAX);
        let mut record = self.aggregates.get_mut(&group).map(std::mem::take).unwrap_or_default();
        if record.last_nanos.is_none_or(|last| now_nanos - last > max_interval) {
            record = AggregateRecord::default();
        }
        record.messages.insert(message);
        record.last_nanos = Some(now_nanos);
        let distinct = record.messages.len();
        if distinct >= self.options.max_events {
            // Upstream pops an arbitrary member of the stored set after storing it.
            record.messages.pop_first();
        }
        self.aggregates.insert(&group, record);
        if distinct < self.options.max_events {
            return (event, event_key);
        }
        let time = Time(now);
        let combined = Event {
            metadata: ObjectMeta {
                name: Some(format!("{}.{:x}", s(event.involved_object.name.as_ref()), now_nanos)),
                namespace: event.metadata.namespace.clone(),
                ..ObjectMeta::default()
            },
            count: Some(1),
            first_timestamp: Some(time.clone()),
            last_timestamp: Some(time),
            message: Some(format!("(combined from similar events): {}", s(event.message.as_ref()))),
            type_: event.type_.clone(),
            reason: event.reason.clone(),
            source: event.source.clone(),
            involved_object: event.involved_object,
            ..Event::default()
        };
        (combined, group)
    }

    fn observe(&mut self, mut event: Event, key: &str) -> (Event, Option<Value>) {
        let mut patch = None;
        if let Some(last) = self.log.get_mut(key).filter(|l| l.count > 0) {
            event.metadata.name = Some(last.name.clone());
            event.metadata.resource_version.clone_from(&last.resource_version);
            event.first_timestamp.clone_from(&last.first_timestamp);
            event.count = Some(last.count.saturating_add(1));
            patch = Some(merge_patch(&event));
        }
        self.log.insert(key, log_of(&event));
        (event, patch)
    }

    fn spam_filtered(&mut self, event: &Event, now: Timestamp) -> bool {
        let key = spam_key(event);
        let now_nanos = now.as_nanosecond();
        let burst = f64::from(self.options.burst);
        let mut bucket =
            self.spam.get_mut(&key).cloned().unwrap_or(TokenBucket { tokens: burst, last_nanos: now_nanos });
        #[allow(clippy::cast_precision_loss)]
        let elapsed = (now_nanos - bucket.last_nanos).max(0) as f64 / 1e9;
        bucket.tokens = (bucket.tokens + elapsed * self.options.qps).min(burst);
        bucket.last_nanos = bucket.last_nanos.max(now_nanos);
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        self.spam.insert(&key, bucket);
        !allowed
    }
}

fn log_of(event: &Event) -> EventLog {
    EventLog {
        count: event.count.unwrap_or(0),
        first_timestamp: event.first_timestamp.clone(),
        name: event.metadata.name.clone().unwrap_or_default(),
        resource_version: event.metadata.resource_version.clone(),
    }
}

/// The two-way strategic-merge patch client-go computes between the event with `count` 0,
/// `lastTimestamp` at the epoch and no message, and the event itself: exactly those three
/// fields (the message only when not empty), in Go's key order.
fn merge_patch(event: &Event) -> Value {
    let mut patch = Map::new();
    patch.insert("count".into(), Value::from(event.count.unwrap_or(0)));
    if let Some(last) = &event.last_timestamp {
        patch.insert("lastTimestamp".into(), serde_json::to_value(last).unwrap_or(Value::Null));
    }
    if let Some(message) = event.message.as_ref().filter(|m| !m.is_empty()) {
        patch.insert("message".into(), Value::from(message.as_str()));
    }
    Value::Object(patch)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{EventSource, ObjectReference};

    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn event(reason: &str, message: &str, now: Timestamp) -> Event {
        Event {
            metadata: ObjectMeta {
                name: Some(format!("app.{:x}", now.as_nanosecond())),
                namespace: Some("ns".into()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("source.toolkit.fluxcd.io/v1".into()),
                kind: Some("GitRepository".into()),
                name: Some("app".into()),
                namespace: Some("ns".into()),
                uid: Some("u1".into()),
                ..ObjectReference::default()
            },
            source: Some(EventSource { component: Some("source-controller".into()), host: None }),
            reporting_component: Some("source-controller".into()),
            reason: Some(reason.into()),
            message: Some(message.into()),
            type_: Some("Normal".into()),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            ..Event::default()
        }
    }

    /// Correlates and, like the writer, remembers the "server's" answer.
    fn write(c: &mut EventCorrelator, e: Event, now: Timestamp) -> Option<Correlated> {
        let out = c.correlate(e, now)?;
        c.update_state(&out.event);
        Some(out)
    }

    #[test]
    fn identical_events_patch_the_first_with_a_growing_count() {
        let mut c = EventCorrelator::new(CorrelatorOptions::default());
        let first = write(&mut c, event("Progressing", "m", at(0)), at(0)).unwrap();
        assert_eq!(first.patch, None);
        assert_eq!(first.event.count, Some(1));
        let name = first.event.metadata.name.clone();
        for n in 2..=4 {
            let again = write(&mut c, event("Progressing", "m", at(n)), at(n)).unwrap();
            assert_eq!(again.event.metadata.name, name, "the earlier Event is reused");
            assert_eq!(again.event.count, Some(i32::try_from(n).unwrap()));
            assert_eq!(again.event.first_timestamp, Some(Time(at(0))));
            let patch = again.patch.unwrap();
            assert_eq!(
                serde_json::to_string(&patch).unwrap(),
                format!(
                    r#"{{"count":{n},"lastTimestamp":"{}","message":"m"}}"#,
                    serde_json::to_value(Time(at(n))).unwrap().as_str().unwrap()
                )
            );
        }
        // Another message is another Event.
        let other = write(&mut c, event("Progressing", "other", at(9)), at(9)).unwrap();
        assert_eq!(other.patch, None);
        assert_ne!(other.event.metadata.name, name);
    }

    #[test]
    fn ten_distinct_messages_of_one_reason_are_combined() {
        let mut c = EventCorrelator::new(CorrelatorOptions::default());
        for i in 0..9 {
            let out = write(&mut c, event("Failed", &format!("m{i}"), at(i)), at(i)).unwrap();
            assert_eq!(out.event.message.as_deref(), Some(format!("m{i}").as_str()));
        }
        let tenth = write(&mut c, event("Failed", "m9", at(9)), at(9)).unwrap();
        assert_eq!(tenth.event.message.as_deref(), Some("(combined from similar events): m9"));
        assert_eq!(tenth.event.count, Some(1));
        assert_eq!(tenth.patch, None);
        assert_eq!(tenth.event.metadata.name.as_deref(), Some(format!("app.{:x}", at(9).as_nanosecond()).as_str()));
        assert_eq!(tenth.event.reporting_component, None, "upstream's combined event has no reporting fields");
        assert_eq!(tenth.event.metadata.annotations, None);
        // The next new message is combined into the same Event, whose count grows.
        let eleventh = write(&mut c, event("Failed", "m10", at(10)), at(10)).unwrap();
        assert_eq!(eleventh.event.message.as_deref(), Some("(combined from similar events): m10"));
        assert_eq!(eleventh.event.metadata.name, tenth.event.metadata.name);
        assert_eq!(eleventh.event.count, Some(2));
        assert!(eleventh.patch.is_some());
        // Another reason is another group.
        let other = write(&mut c, event("Other", "x", at(11)), at(11)).unwrap();
        assert_eq!(other.event.message.as_deref(), Some("x"));
    }

    #[test]
    fn a_quiet_group_is_forgotten_after_the_interval() {
        let mut c = EventCorrelator::new(CorrelatorOptions::default());
        for i in 0..9 {
            write(&mut c, event("Failed", &format!("m{i}"), at(i)), at(i)).unwrap();
        }
        let later = at(8 + 601);
        let out = write(&mut c, event("Failed", "m9", later), later).unwrap();
        assert_eq!(out.event.message.as_deref(), Some("m9"));
    }

    #[test]
    fn the_spam_filter_lets_25_through_then_one_per_five_minutes() {
        let mut c = EventCorrelator::new(CorrelatorOptions::default());
        let mut written = 0;
        for i in 0..40 {
            // Distinct reasons so that aggregation does not interfere.
            if write(&mut c, event(&format!("R{i}"), "m", at(0)), at(0)).is_some() {
                written += 1;
            }
        }
        assert_eq!(written, 25);
        assert!(write(&mut c, event("Late", "m", at(299)), at(299)).is_none());
        assert!(write(&mut c, event("Later", "m", at(300)), at(300)).is_some());
        assert!(write(&mut c, event("Later2", "m", at(301)), at(301)).is_none());
        // Another object has its own bucket.
        let mut e = event("R0", "m", at(301));
        e.involved_object.name = Some("other".into());
        assert!(write(&mut c, e, at(301)).is_some());
    }

    #[test]
    fn a_filtered_duplicate_still_counts() {
        let opts = CorrelatorOptions { burst: 1, ..CorrelatorOptions::default() };
        let mut c = EventCorrelator::new(opts);
        assert!(write(&mut c, event("R", "m", at(0)), at(0)).is_some());
        assert!(c.correlate(event("R", "m", at(1)), at(1)).is_none());
        let third = c.correlate(event("R", "m", at(400)), at(400)).unwrap();
        assert_eq!(third.event.count, Some(3), "the dropped duplicate advanced the count, as upstream");
    }
}
