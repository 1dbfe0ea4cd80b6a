//! Byte encodings of stored records. Versioned by a leading byte so the layout can evolve.

use bytes::Bytes;

use crate::error::Error;
use crate::key::Revision;

const VERSION: u8 = 1;

/// One stored object as the store hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Namespace (empty when cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The identity given at create; opaque to the store, kept across updates.
    pub uid: String,
    /// The revision that created the object.
    pub create_revision: Revision,
    /// The revision of the object's last write (its `resourceVersion`).
    pub mod_revision: Revision,
    /// The object's bytes, opaque to the store.
    pub value: Bytes,
}

/// What a watch event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object was updated.
    Modified,
    /// The object was deleted.
    Deleted,
}

/// One committed change, as delivered by watch and kept in the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Added, Modified or Deleted.
    pub kind: EventType,
    /// The revision the change was committed at.
    pub revision: Revision,
    /// The object after the change (`None` for Deleted).
    pub object: Option<Object>,
    /// The object before the change (`None` for Added).
    pub prev: Option<Object>,
    /// Commit time, milliseconds since the Unix epoch.
    pub commit_unix_ms: u64,
}

impl Event {
    /// The namespace of the changed object.
    pub fn namespace(&self) -> &str {
        self.object.as_ref().or(self.prev.as_ref()).map_or("", |o| o.namespace.as_str())
    }

    /// The name of the changed object.
    pub fn name(&self) -> &str {
        self.object.as_ref().or(self.prev.as_ref()).map_or("", |o| o.name.as_str())
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn corrupt(what: &str) -> Error {
        Error::Corrupt(format!("truncated {what}"))
    }
    fn u8(&mut self) -> Result<u8, Error> {
        let (b, rest) = self.buf.split_first().ok_or_else(|| Self::corrupt("byte"))?;
        self.buf = rest;
        Ok(*b)
    }
    fn u64(&mut self) -> Result<u64, Error> {
        let b = self.buf.get(..8).ok_or_else(|| Self::corrupt("integer"))?;
        let v = u64::from_be_bytes(b.try_into().map_err(|_| Self::corrupt("integer"))?);
        self.buf = &self.buf[8..];
        Ok(v)
    }
    fn chunk(&mut self) -> Result<&'a [u8], Error> {
        let b = self.buf.get(..4).ok_or_else(|| Self::corrupt("length"))?;
        let len = u32::from_be_bytes(b.try_into().map_err(|_| Self::corrupt("length"))?) as usize;
        let c = self.buf.get(4..4 + len).ok_or_else(|| Self::corrupt("chunk"))?;
        self.buf = &self.buf[4 + len..];
        Ok(c)
    }
    fn string(&mut self) -> Result<String, Error> {
        let c = self.chunk()?;
        String::from_utf8(c.to_vec()).map_err(|_| Error::Corrupt("non-UTF-8 string".into()))
    }
}

fn put_chunk(out: &mut Vec<u8>, c: &[u8]) {
    // Object sizes are bounded far below 4 GiB by the store's size limit.
    out.extend_from_slice(&(c.len() as u32).to_be_bytes());
    out.extend_from_slice(c);
}

/// The `o/` value: everything but namespace and name, which the key carries.
pub(crate) fn encode_object(obj: &Object) -> Vec<u8> {
    let mut out = Vec::with_capacity(obj.value.len() + obj.uid.len() + 32);
    out.push(VERSION);
    out.extend_from_slice(&obj.create_revision.to_be_bytes());
    out.extend_from_slice(&obj.mod_revision.to_be_bytes());
    put_chunk(&mut out, obj.uid.as_bytes());
    out.extend_from_slice(&obj.value);
    out
}

pub(crate) fn decode_object(namespace: &str, name: &str, bytes: &[u8]) -> Result<Object, Error> {
    let mut r = Reader { buf: bytes };
    if r.u8()? != VERSION {
        return Err(Error::Corrupt("unknown object record version".into()));
    }
    let create_revision = r.u64()?;
    let mod_revision = r.u64()?;
    let uid = r.string()?;
    Ok(Object {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        uid,
        create_revision,
        mod_revision,
        value: Bytes::copy_from_slice(r.buf),
    })
}

fn put_object_body(out: &mut Vec<u8>, obj: &Object) {
    out.extend_from_slice(&obj.create_revision.to_be_bytes());
    out.extend_from_slice(&obj.mod_revision.to_be_bytes());
    put_chunk(out, obj.uid.as_bytes());
    put_chunk(out, &obj.value);
}

fn read_object_body(r: &mut Reader<'_>, namespace: &str, name: &str) -> Result<Object, Error> {
    let create_revision = r.u64()?;
    let mod_revision = r.u64()?;
    let uid = r.string()?;
    let value = Bytes::copy_from_slice(r.chunk()?);
    Ok(Object { namespace: namespace.to_owned(), name: name.to_owned(), uid, create_revision, mod_revision, value })
}

/// Version of `h/` records written by [`encode_event`]: the new object's value is not
/// repeated (see [`encode_event`]). Records of version [`VERSION`] (1), which carry it
/// inline, are still read.
const EVENT_VERSION: u8 = 2;

/// The `h/` value. The revision is in the key; namespace and name are stored once.
///
/// The object *after* the change is stored without its value: at the time of writing that
/// value is the `o/` row's, and when a later write replaces or deletes the object, that
/// write's event carries it as its `prev` (and an `n/` row points from this revision to that
/// later one). So every value is written once per write, yet history stays exact: see
/// [`crate::watch`] for how a replay finds it. The object *before* the change is stored in
/// full, because the write overwrites the only other copy.
pub(crate) fn encode_event(ev: &Event) -> Vec<u8> {
    let size = ev.prev.as_ref().map_or(0, |o| o.value.len() + o.uid.len())
        + ev.object.as_ref().map_or(0, |o| o.uid.len())
        + ev.namespace().len()
        + ev.name().len();
    let mut out = Vec::with_capacity(size + 64);
    out.push(EVENT_VERSION);
    out.push(match ev.kind {
        EventType::Added => 1,
        EventType::Modified => 2,
        EventType::Deleted => 3,
    });
    out.extend_from_slice(&ev.commit_unix_ms.to_be_bytes());
    put_chunk(&mut out, ev.namespace().as_bytes());
    put_chunk(&mut out, ev.name().as_bytes());
    match &ev.object {
        // The object's mod revision is the event's revision.
        Some(o) => {
            out.push(2);
            out.extend_from_slice(&o.create_revision.to_be_bytes());
            put_chunk(&mut out, o.uid.as_bytes());
        }
        None => out.push(0),
    }
    match &ev.prev {
        Some(o) => {
            out.push(1);
            put_object_body(&mut out, o);
        }
        None => out.push(0),
    }
    out
}

/// Decodes just enough of an `h/` value to know its namespace, without copying values.
pub(crate) fn event_namespace(bytes: &[u8]) -> Result<&str, Error> {
    let mut r = Reader { buf: bytes };
    r.u8()?;
    r.u8()?;
    r.u64()?;
    std::str::from_utf8(r.chunk()?).map_err(|_| Error::Corrupt("non-UTF-8 namespace".into()))
}

/// Decodes just the namespace and name of an `h/` value.
pub(crate) fn event_key(bytes: &[u8]) -> Result<(&str, &str), Error> {
    let mut r = Reader { buf: bytes };
    r.u8()?;
    r.u8()?;
    r.u64()?;
    let ns = std::str::from_utf8(r.chunk()?).map_err(|_| Error::Corrupt("non-UTF-8 namespace".into()))?;
    let name = std::str::from_utf8(r.chunk()?).map_err(|_| Error::Corrupt("non-UTF-8 name".into()))?;
    Ok((ns, name))
}

/// An event as read back from history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredEvent {
    /// The event. When [`StoredEvent::needs_value`] is set, `object.value` is empty and must
    /// be filled in from where the value lives now.
    pub(crate) event: Event,
    /// Whether the object's value was stored elsewhere (records of version 2).
    pub(crate) needs_value: bool,
}

pub(crate) fn decode_event(revision: Revision, bytes: &[u8]) -> Result<StoredEvent, Error> {
    let mut r = Reader { buf: bytes };
    let version = r.u8()?;
    if version != VERSION && version != EVENT_VERSION {
        return Err(Error::Corrupt(format!("unknown event record version {version}")));
    }
    let kind = match r.u8()? {
        1 => EventType::Added,
        2 => EventType::Modified,
        3 => EventType::Deleted,
        other => return Err(Error::Corrupt(format!("unknown event type {other}"))),
    };
    let commit_unix_ms = r.u64()?;
    let namespace = r.string()?;
    let name = r.string()?;
    let mut needs_value = false;
    let object = match r.u8()? {
        0 => None,
        1 => Some(read_object_body(&mut r, &namespace, &name)?),
        2 if version == EVENT_VERSION => {
            let create_revision = r.u64()?;
            let uid = r.string()?;
            needs_value = true;
            Some(Object {
                namespace: namespace.clone(),
                name: name.clone(),
                uid,
                create_revision,
                mod_revision: revision,
                value: Bytes::new(),
            })
        }
        other => return Err(Error::Corrupt(format!("unknown event object marker {other}"))),
    };
    let prev = match r.u8()? {
        0 => None,
        1 => Some(read_object_body(&mut r, &namespace, &name)?),
        other => return Err(Error::Corrupt(format!("unknown event object marker {other}"))),
    };
    if !r.buf.is_empty() {
        return Err(Error::Corrupt("trailing bytes in event record".into()));
    }
    Ok(StoredEvent { event: Event { kind, revision, object, prev, commit_unix_ms }, needs_value })
}

pub(crate) fn encode_u64_pair(a: u64, b: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(&a.to_be_bytes());
    out.extend_from_slice(&b.to_be_bytes());
    out
}

pub(crate) fn decode_u64_pair(bytes: &[u8]) -> Result<(u64, u64), Error> {
    let mut r = Reader { buf: bytes };
    Ok((r.u64()?, r.u64()?))
}

pub(crate) fn decode_u64(bytes: &[u8]) -> Result<u64, Error> {
    Reader { buf: bytes }.u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(rev: u64) -> Object {
        Object {
            namespace: "ns".into(),
            name: "n".into(),
            uid: "u-1".into(),
            create_revision: 1,
            mod_revision: rev,
            value: Bytes::from_static(b"{\"a\":1}"),
        }
    }

    #[test]
    fn object_round_trip() {
        let o = obj(7);
        assert_eq!(decode_object("ns", "n", &encode_object(&o)).unwrap(), o);
    }

    /// What a replay reads back before it fills in the object's value.
    fn without_value(ev: &Event) -> Event {
        let mut ev = ev.clone();
        if let Some(o) = &mut ev.object {
            o.value = Bytes::new();
        }
        ev
    }

    /// Object 7 modified at revision 9.
    fn modified() -> Event {
        Event { kind: EventType::Modified, revision: 9, object: Some(obj(9)), prev: Some(obj(7)), commit_unix_ms: 42 }
    }

    #[test]
    fn event_round_trip() {
        let ev = modified();
        let bytes = encode_event(&ev);
        assert_eq!(decode_event(9, &bytes).unwrap(), StoredEvent { event: without_value(&ev), needs_value: true });
        assert_eq!(event_key(&bytes).unwrap(), ("ns", "n"));
        assert_eq!(event_namespace(&bytes).unwrap(), "ns");
        let del =
            Event { kind: EventType::Deleted, revision: 10, object: None, prev: Some(obj(9)), commit_unix_ms: 43 };
        assert_eq!(decode_event(10, &encode_event(&del)).unwrap(), StoredEvent { event: del, needs_value: false });
    }

    #[test]
    fn the_new_value_is_not_stored_twice() {
        let mut big = obj(9);
        big.value = Bytes::from(vec![b'x'; 4096]);
        let added = Event { kind: EventType::Added, revision: 9, object: Some(big), prev: None, commit_unix_ms: 1 };
        assert!(encode_event(&added).len() < 100, "{} bytes", encode_event(&added).len());
    }

    /// Records of version 1 (written before values were stored once) carry the new object
    /// inline and are still read.
    #[test]
    fn version_1_events_are_still_read() {
        let ev = modified();
        let mut v1 = vec![1, 2];
        v1.extend_from_slice(&42u64.to_be_bytes());
        put_chunk(&mut v1, b"ns");
        put_chunk(&mut v1, b"n");
        for o in [obj(9), obj(7)] {
            v1.push(1);
            put_object_body(&mut v1, &o);
        }
        assert_eq!(decode_event(9, &v1).unwrap(), StoredEvent { event: ev, needs_value: false });
        assert_eq!(event_key(&v1).unwrap(), ("ns", "n"));
    }

    #[test]
    fn truncated_records_are_errors_not_panics() {
        let bytes = encode_event(&Event {
            kind: EventType::Modified,
            revision: 9,
            object: Some(obj(9)),
            prev: Some(obj(7)),
            commit_unix_ms: 0,
        });
        for cut in 0..bytes.len() {
            assert!(decode_event(9, &bytes[..cut]).is_err());
        }
    }
}
