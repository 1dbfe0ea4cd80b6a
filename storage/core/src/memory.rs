//! The in-memory engine: the same [`KvEngine`] contract as RocksDB, with no disk at all.
//!
//! Built on a persistent ordered map, so a snapshot is an O(1) clone and readers never block
//! the writer. Durability is moot: `sync` is accepted and ignored. A checkpoint writes one
//! file that [`MemoryEngine::open_checkpoint`] reads back, so backup and restore behave the
//! same way on every engine.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use imbl::OrdMap;
use parking_lot::Mutex;

use crate::engine::{EngineError, EngineStats, KvEngine, KvRead, WriteBatch, WriteOp};

type Map = OrdMap<Vec<u8>, Vec<u8>>;

const CHECKPOINT_FILE: &str = "memory-engine.dump";
const CHECKPOINT_MAGIC: &[u8; 8] = b"EDDYMEM1";

/// An engine that keeps everything in memory. Meant for tests of the layers above storage.
#[derive(Default)]
pub struct MemoryEngine {
    map: Mutex<Map>,
}

/// A snapshot of a [`MemoryEngine`].
pub struct MemorySnapshot {
    map: Map,
}

impl MemoryEngine {
    /// An empty engine.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads an engine from a directory written by [`KvEngine::checkpoint`].
    pub fn open_checkpoint(dir: &Path) -> Result<Self, EngineError> {
        let mut data = Vec::new();
        fs::File::open(dir.join(CHECKPOINT_FILE))
            .and_then(|mut f| f.read_to_end(&mut data))
            .map_err(|e| EngineError::new(format!("reading checkpoint {}: {e}", dir.display())))?;
        let corrupt = || EngineError::new(format!("checkpoint {} is corrupt", dir.display()));
        let rest = data.strip_prefix(CHECKPOINT_MAGIC).ok_or_else(corrupt)?;
        let mut map = Map::new();
        let mut cursor = rest;
        while !cursor.is_empty() {
            let (key, after) = take_chunk(cursor).ok_or_else(corrupt)?;
            let (value, after) = take_chunk(after).ok_or_else(corrupt)?;
            map.insert(key.to_vec(), value.to_vec());
            cursor = after;
        }
        Ok(Self { map: Mutex::new(map) })
    }
}

fn take_chunk(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(buf.get(..4)?.try_into().ok()?) as usize;
    let chunk = buf.get(4..4 + len)?;
    Some((chunk, &buf[4 + len..]))
}

impl KvRead for MemorySnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        Ok(self.map.get(key).cloned())
    }

    fn scan(&self, start: &[u8], end: &[u8], visit: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<(), EngineError> {
        if start >= end {
            return Ok(());
        }
        for (k, v) in self.map.range(start.to_vec()..end.to_vec()) {
            if !visit(k, v) {
                break;
            }
        }
        Ok(())
    }
}

impl KvEngine for MemoryEngine {
    type Snapshot<'a> = MemorySnapshot;

    fn snapshot(&self) -> MemorySnapshot {
        MemorySnapshot { map: self.map.lock().clone() }
    }

    fn write(&self, batch: &WriteBatch, _sync: bool) -> Result<(), EngineError> {
        // Apply to a copy, then swap it in: readers see all of the batch or none of it.
        let mut guard = self.map.lock();
        let mut map = guard.clone();
        for op in batch.ops() {
            match op {
                WriteOp::Put { key, value } => {
                    map.insert(key.clone(), value.clone());
                }
                WriteOp::Delete { key } => {
                    map.remove(key);
                }
                WriteOp::DeleteRange { start, end } => {
                    if start < end {
                        let doomed: Vec<Vec<u8>> =
                            map.range(start.clone()..end.clone()).map(|(k, _)| k.clone()).collect();
                        for k in doomed {
                            map.remove(&k);
                        }
                    }
                }
            }
        }
        *guard = map;
        Ok(())
    }

    fn checkpoint(&self, dir: &Path) -> Result<(), EngineError> {
        let map = self.map.lock().clone();
        let io = |e: std::io::Error| EngineError::new(format!("writing checkpoint {}: {e}", dir.display()));
        if dir.exists() {
            return Err(EngineError::new(format!("checkpoint directory {} already exists", dir.display())));
        }
        fs::create_dir_all(dir).map_err(io)?;
        let mut out = std::io::BufWriter::new(fs::File::create(dir.join(CHECKPOINT_FILE)).map_err(io)?);
        out.write_all(CHECKPOINT_MAGIC).map_err(io)?;
        for (k, v) in &map {
            for chunk in [k, v] {
                let len = u32::try_from(chunk.len()).map_err(|_| EngineError::new("entry too large"))?;
                out.write_all(&len.to_be_bytes()).map_err(io)?;
                out.write_all(chunk).map_err(io)?;
            }
        }
        out.into_inner().map_err(|e| io(e.into_error()))?.sync_all().map_err(io)?;
        Ok(())
    }

    fn stats(&self) -> EngineStats {
        let map = self.map.lock().clone();
        let bytes: usize = map.iter().map(|(k, v)| k.len() + v.len()).sum();
        EngineStats { disk_bytes: 0, memory_bytes: bytes as u64 }
    }
}
