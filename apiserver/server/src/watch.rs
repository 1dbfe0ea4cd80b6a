//! Watch: a chunked stream of `{"type": ..., "object": ...}` JSON lines, one per change,
//! filtered by selectors and rendered in the requested version and shape.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use eddy_storage::{Event, EventType, KvEngine, WatchError, Watcher};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::negotiate::ObjectFormat;
use crate::registry::{ServedResource, decode_stored};
use crate::selector::Selectors;
use crate::status::ApiError;
use crate::storage_codec;
use crate::table::{IncludeObject, partial_metadata, table};

/// How to filter and render a watch's events.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    /// The resource and the version events are rendered in.
    pub resource: ServedResource,
    /// Label and field selectors.
    pub selectors: Selectors,
    /// Object, Table or PartialObjectMetadata.
    pub format: ObjectFormat,
    /// What a Table row carries.
    pub include: IncludeObject,
    /// Whether `BOOKMARK` events are sent.
    pub bookmarks: bool,
    /// How often bookmarks are sent.
    pub bookmark_interval: Duration,
    /// When the stream ends.
    pub deadline: Instant,
}

impl WatchSpec {
    /// Whether an object passes the selectors.
    #[must_use]
    pub fn matches(&self, obj: &Value) -> bool {
        self.selectors.matches(obj)
    }

    fn render(&self, obj: &Value) -> Value {
        match self.format {
            ObjectFormat::Object => obj.clone(),
            ObjectFormat::PartialMetadata(v) => partial_metadata(obj, v),
            ObjectFormat::Table(v) => table(&self.resource, std::slice::from_ref(obj), json!({}), v, self.include),
        }
    }

    /// One line of the stream.
    fn line(&self, kind: &str, obj: &Value) -> Bytes {
        let mut s = json!({"type": kind, "object": self.render(obj)}).to_string();
        s.push('\n');
        Bytes::from(s)
    }

    /// A `BOOKMARK` line: an object of the resource's kind holding only `resourceVersion` (and
    /// `extra` as an annotation), rendered like every other event of the stream. A client that
    /// asked for metadata decodes only `PartialObjectMetadata`: a bookmark of the resource's
    /// own kind ends its watch with a decoding error, and client-go then relists.
    fn bookmark(&self, revision: u64, extra: Option<(&str, &str)>) -> Bytes {
        let info = self.resource.info();
        let mut meta = json!({"resourceVersion": revision.to_string()});
        if let Some((k, v)) = extra {
            meta["annotations"] = json!({k: v});
        }
        let obj = json!({"kind": info.kind, "apiVersion": self.resource.api_version(), "metadata": meta});
        self.line("BOOKMARK", &obj)
    }
}

/// One line of a stream for an object already rendered as JSON.
#[must_use]
pub fn event_line(kind: &str, object: &[u8]) -> Bytes {
    let mut line = BytesMut::with_capacity(object.len() + kind.len() + 24);
    line.put_slice(b"{\"type\":\"");
    line.put_slice(kind.as_bytes());
    line.put_slice(b"\",\"object\":");
    line.put_slice(object);
    line.put_slice(b"}\n");
    line.freeze()
}

/// An `ERROR` event line carrying a Status.
#[must_use]
pub fn error_line(err: &ApiError) -> Bytes {
    let mut s = json!({"type": "ERROR", "object": err.to_status()}).to_string();
    s.push('\n');
    Bytes::from(s)
}

/// The most a chunk of a watch stream collects from lines that are ready at once.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// What one store event turns into.
enum Step {
    Line(Bytes),
    Skip,
    End,
}

/// The running state of one watch stream.
pub struct WatchStream<E: KvEngine> {
    spec: Arc<WatchSpec>,
    watcher: Option<Watcher<E>>,
    /// Lines to send before the live events (initial ADDED events, bookmarks, errors).
    pending: std::collections::VecDeque<Bytes>,
    next_bookmark: Instant,
}

impl<E: KvEngine> WatchStream<E> {
    /// A stream over `watcher` that first sends `pending`.
    pub fn new(spec: WatchSpec, watcher: Option<Watcher<E>>, pending: Vec<Bytes>) -> Self {
        let next_bookmark = Instant::now() + spec.bookmark_interval;
        Self { spec: Arc::new(spec), watcher, pending: pending.into(), next_bookmark }
    }

    /// Converts a store event into the line to send, if it passes the filters.
    fn event_line(&self, ev: &Event) -> Result<Option<Bytes>, ApiError> {
        if matches!(self.spec.format, ObjectFormat::Object) {
            return self.object_event_line(ev);
        }
        let res = &self.spec.resource;
        let decode = |o: &eddy_storage::Object| decode_stored(res, &o.value, ev.revision);
        let new = ev.object.as_ref().map(decode).transpose()?;
        let old = ev.prev.as_ref().map(decode).transpose()?;
        let new_ok = new.as_ref().is_some_and(|o| self.spec.matches(o));
        let old_ok = old.as_ref().is_some_and(|o| self.spec.matches(o));
        let line = match (ev.kind, new, old) {
            (EventType::Added, Some(n), _) if new_ok => Some(self.spec.line("ADDED", &n)),
            (EventType::Modified, Some(n), _) if new_ok && old_ok => Some(self.spec.line("MODIFIED", &n)),
            (EventType::Modified, Some(n), _) if new_ok => Some(self.spec.line("ADDED", &n)),
            (EventType::Modified, _, Some(o)) if old_ok => Some(self.spec.line("DELETED", &o)),
            (EventType::Deleted, _, Some(o)) if old_ok => Some(self.spec.line("DELETED", &o)),
            _ => None,
        };
        Ok(line)
    }

    /// [`Self::event_line`] for plain objects: filtered on the stored bytes and rendered by
    /// the storage codec, without decoding objects stored in the watched version.
    fn object_event_line(&self, ev: &Event) -> Result<Option<Bytes>, ApiError> {
        let sel = &self.spec.selectors;
        let new_ok = ev.object.as_ref().map(|o| sel.matches_stored(o)).transpose()?.unwrap_or(false);
        let old_ok = ev.prev.as_ref().map(|o| sel.matches_stored(o)).transpose()?.unwrap_or(false);
        let (kind, obj) = match (ev.kind, &ev.object, &ev.prev) {
            (EventType::Added, Some(n), _) if new_ok => ("ADDED", n),
            (EventType::Modified, Some(n), _) if new_ok && old_ok => ("MODIFIED", n),
            (EventType::Modified, Some(n), _) if new_ok => ("ADDED", n),
            (EventType::Modified, _, Some(o)) if old_ok => ("DELETED", o),
            (EventType::Deleted, _, Some(o)) if old_ok => ("DELETED", o),
            _ => return Ok(None),
        };
        let json = storage_codec::to_json(&self.spec.resource, &obj.value, ev.revision)?;
        Ok(Some(event_line(kind, &json)))
    }

    /// The next chunk of the stream; `None` when it ends. A chunk is one line, followed by
    /// every further line that is ready without waiting (up to [`CHUNK_BYTES`]), so that a
    /// burst of events or the initial ADDED events go out in few writes instead of one TLS
    /// record and one client wake-up per event.
    pub async fn next_chunk(&mut self) -> Option<Bytes> {
        let first = self.next_line().await?;
        if first.len() >= CHUNK_BYTES {
            return Some(first);
        }
        let mut chunk: Option<BytesMut> = None;
        while let Some(line) = self.ready_line() {
            let buf = chunk.get_or_insert_with(|| {
                let mut b = BytesMut::with_capacity(CHUNK_BYTES.min(4 * (first.len() + line.len())));
                b.put_slice(&first);
                b
            });
            buf.put_slice(&line);
            if buf.len() >= CHUNK_BYTES {
                break;
            }
        }
        Some(chunk.map_or(first, BytesMut::freeze))
    }

    /// The next line, waiting for it; `None` when the stream ends.
    async fn next_line(&mut self) -> Option<Bytes> {
        loop {
            if let Some(line) = self.pending.pop_front() {
                return Some(line);
            }
            let watcher = self.watcher.as_mut()?;
            let bookmark_at = if self.spec.bookmarks { self.next_bookmark } else { self.spec.deadline };
            let wake = bookmark_at.min(self.spec.deadline);
            tokio::select! {
                ev = watcher.next() => match self.on_event(ev) {
                    Step::Line(line) => return Some(line),
                    Step::Skip => {}
                    Step::End => return None,
                },
                () = tokio::time::sleep_until(wake) => {
                    if Instant::now() >= self.spec.deadline {
                        return None;
                    }
                    self.next_bookmark = Instant::now() + self.spec.bookmark_interval;
                    let rev = watcher.last_revision();
                    return Some(self.spec.bookmark(rev, None));
                }
            }
        }
    }

    /// The next line if one is ready without waiting. `None` when none is (or the stream
    /// ended: the next [`Self::next_line`] says so).
    fn ready_line(&mut self) -> Option<Bytes> {
        loop {
            if let Some(line) = self.pending.pop_front() {
                return Some(line);
            }
            let ev = self.watcher.as_mut()?.try_next()?;
            match self.on_event(Some(ev)) {
                Step::Line(line) => return Some(line),
                Step::Skip => {}
                Step::End => return None,
            }
        }
    }

    /// What a store event (or the end of the store's stream) means for the stream.
    fn on_event(&mut self, ev: Option<Result<Arc<Event>, WatchError>>) -> Step {
        match ev {
            Some(Ok(ev)) => match self.event_line(&ev) {
                Ok(Some(line)) => Step::Line(line),
                Ok(None) => Step::Skip,
                Err(e) => {
                    self.watcher = None;
                    Step::Line(error_line(&e))
                }
            },
            Some(Err(WatchError::Compacted { requested, compacted })) => {
                self.watcher = None;
                Step::Line(error_line(&ApiError::expired(format!(
                    "too old resource version: {requested} ({compacted})"
                ))))
            }
            // A lagging watcher or a closing store ends the stream; clients re-watch from the
            // last resourceVersion they saw.
            Some(Err(_)) | None => {
                self.watcher = None;
                Step::End
            }
        }
    }

    /// A bookmark marking the end of the initial events (`sendInitialEvents`).
    #[must_use]
    pub fn initial_events_end(spec: &WatchSpec, revision: u64) -> Bytes {
        spec.bookmark(revision, Some(("k8s.io/initial-events-end", "true")))
    }

    /// An `ADDED` line for an initial event.
    #[must_use]
    pub fn added(spec: &WatchSpec, obj: &Value) -> Bytes {
        spec.line("ADDED", obj)
    }
}
