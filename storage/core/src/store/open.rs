//! Opening a [`Store`]: recovering its bookkeeping from the engine and starting the writer.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use parking_lot::Mutex;

use super::handle::{Handle, Shared, read_meta};
use super::sequencer::{ResourceName, Writer};
use super::{Quota, Store, StoreOptions, Usage};
use crate::codec;
use crate::engine::{KvEngine, KvRead, WriteBatch};
use crate::error::Error;
use crate::key::{self, Revision};
use crate::watch::{Hub, history_revision};

/// The revision of a new, empty store.
pub const FIRST_REVISION: Revision = 1;

impl<E: KvEngine> Store<E> {
    /// Opens a store over `engine`, recovering the revision counter, compaction point,
    /// quotas, usage and the history time index, and starts the writer thread.
    ///
    /// A new store starts at revision [`FIRST_REVISION`], as etcd does: the API reads
    /// resourceVersion `"0"` as "any state" (a watch from it begins with the current objects
    /// as `ADDED` events), so no list or object may ever carry it.
    pub fn open(engine: E, options: StoreOptions) -> Result<Self, Error> {
        if engine.snapshot().get(key::META_REVISION)?.is_none() {
            let mut wb = WriteBatch::new();
            wb.put(key::META_REVISION.to_vec(), FIRST_REVISION.to_be_bytes().to_vec());
            engine.write(&wb, options.sync)?;
        }
        let snapshot = engine.snapshot();
        let current = read_meta(&snapshot, key::META_REVISION)?;
        let compacted = read_meta(&snapshot, key::META_COMPACTED)?;
        let mut usage = HashMap::new();
        let mut quotas = HashMap::new();
        let mut resources: HashMap<String, HashMap<String, ResourceName>> = HashMap::new();
        let mut times = VecDeque::new();
        let mut failure = None;
        snapshot.scan(b"u", b"v", &mut |k, v| {
            match codec::decode_u64_pair(v) {
                Ok((objects, bytes)) => {
                    usage.insert(String::from_utf8_lossy(&k[1..]).into_owned(), Usage { objects, bytes });
                }
                Err(e) => failure = Some(e),
            }
            failure.is_none()
        })?;
        snapshot.scan(b"q", b"r", &mut |k, v| {
            match codec::decode_u64_pair(v) {
                Ok((objects, bytes)) => {
                    let quota = Quota {
                        max_objects: (objects != u64::MAX).then_some(objects),
                        max_bytes: (bytes != u64::MAX).then_some(bytes),
                    };
                    quotas.insert(String::from_utf8_lossy(&k[1..]).into_owned(), quota);
                }
                Err(e) => failure = Some(e),
            }
            failure.is_none()
        })?;
        snapshot.scan(b"r", b"s", &mut |k, _| {
            if let Some(r) = key::parse_resource_marker(k) {
                resources.entry(r.0.clone()).or_default().insert(r.1.clone(), Arc::new(r));
            }
            true
        })?;
        snapshot.scan(b"t", b"u", &mut |k, v| {
            match codec::decode_u64(v) {
                Ok(rev) => times.push_back((history_revision(k), rev)),
                Err(e) => failure = Some(e),
            }
            failure.is_none()
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        drop(snapshot);

        let shared = Arc::new(Shared {
            engine,
            hub: Hub::new(current),
            options,
            current: AtomicU64::new(current),
            compacted: AtomicU64::new(compacted),
            batches: AtomicU64::new(0),
            usage: Mutex::new(usage),
            quotas: Mutex::new(quotas),
        });
        let (tx, rx) = crossbeam_channel::unbounded();
        let writer = Writer {
            shared: Arc::clone(&shared),
            rx,
            resources,
            times,
            pending: HashMap::new(),
            usage: shared.usage.lock().clone(),
            quotas: shared.quotas.lock().clone(),
            rev: current,
            compacted,
            committed: current,
        };
        let thread = std::thread::Builder::new()
            .name("eddy-store-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| Error::Engine(crate::EngineError::new(format!("spawning writer: {e}"))))?;
        Ok(Self { handle: Arc::new(Handle { shared, tx: Mutex::new(Some(tx)), writer: Mutex::new(Some(thread)) }) })
    }
}
