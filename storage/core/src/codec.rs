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

/// The `h/` value. The revision is in the key; namespace and name are stored once.
pub(crate) fn encode_event(ev: &Event) -> Vec<u8> {
    let size = ev.object.as_ref().map_or(0, |o| o.value.len()) + ev.prev.as_ref().map_or(0, |o| o.value.len());
    let mut out = Vec::with_capacity(size + 96);
    out.push(VERSION);
    out.push(match ev.kind {
        EventType::Added => 1,
        EventType::Modified => 2,
        EventType::Deleted => 3,
    });
    out.extend_from_slice(&ev.commit_unix_ms.to_be_bytes());
    put_chunk(&mut out, ev.namespace().as_bytes());
    put_chunk(&mut out, ev.name().as_bytes());
    for part in [&ev.object, &ev.prev] {
        match part {
            Some(o) => {
                out.push(1);
                put_object_body(&mut out, o);
            }
            None => out.push(0),
        }
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

pub(crate) fn decode_event(revision: Revision, bytes: &[u8]) -> Result<Event, Error> {
    let mut r = Reader { buf: bytes };
    if r.u8()? != VERSION {
        return Err(Error::Corrupt("unknown event record version".into()));
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
    let object = if r.u8()? == 1 { Some(read_object_body(&mut r, &namespace, &name)?) } else { None };
    let prev = if r.u8()? == 1 { Some(read_object_body(&mut r, &namespace, &name)?) } else { None };
    Ok(Event { kind, revision, object, prev, commit_unix_ms })
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

    #[test]
    fn event_round_trip() {
        let ev = Event {
            kind: EventType::Modified,
            revision: 9,
            object: Some(obj(9)),
            prev: Some(obj(7)),
            commit_unix_ms: 42,
        };
        let bytes = encode_event(&ev);
        assert_eq!(decode_event(9, &bytes).unwrap(), ev);
        assert_eq!(event_key(&bytes).unwrap(), ("ns", "n"));
        let del =
            Event { kind: EventType::Deleted, revision: 10, object: None, prev: Some(obj(9)), commit_unix_ms: 43 };
        assert_eq!(decode_event(10, &encode_event(&del)).unwrap(), del);
    }

    #[test]
    fn truncated_records_are_errors_not_panics() {
        let bytes = encode_event(&Event {
            kind: EventType::Added,
            revision: 1,
            object: Some(obj(1)),
            prev: None,
            commit_unix_ms: 0,
        });
        for cut in 0..bytes.len() {
            assert!(decode_event(1, &bytes[..cut]).is_err());
        }
    }
}
