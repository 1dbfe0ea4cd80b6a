//! The RocksDB engine of Eddy's object store.
//!
//! [`RocksEngine`] implements [`eddy_storage::KvEngine`] over one RocksDB database: durable
//! batches are written with a synced write-ahead log, snapshots are RocksDB snapshots, and
//! checkpoints are RocksDB checkpoints (hard links where possible), so backups are online and
//! cheap. Tuned for a few hundred MiB of resident memory with 100,000 objects.
//!
//! # Column families
//! The store's key spaces (see `eddy_storage`'s key layout) have two access patterns, kept in
//! two column families so that each is tuned for its own:
//! - `history`: the history (`h`) and successor (`n`) key spaces. Append-only in revision
//!   order and dropped from the old end by range deletes, so its files never overlap: they
//!   move down the levels without being rewritten, and compaction drops them whole. Neither
//!   compressed nor bloom-filtered: replays scan it; the few point reads (a successor row,
//!   the event it names, for values left unresolved at the end of a replay chunk) hit keys
//!   that exist, where a bloom filter saves nothing.
//! - `default`: everything else — current objects (random updates, point lookups on every
//!   write, full scans for lists) and the small metadata rows.
//!
//! The engine routes each key by its first byte; one engine snapshot and one atomic batch
//! span both families, so the store sees one ordered key space.
//!
//! A database written before the split (history in `default`) is migrated when opened: its
//! history rows move to `history` in a few batches, idempotently, so a crash part-way is
//! finished by the next open. The upgrade is one way: an Eddy built before the split cannot
//! open a migrated directory (RocksDB refuses the unknown column family), nor read the
//! history events written since (format version 2); restore a backup taken before the
//! upgrade to go back.

use std::path::{Path, PathBuf};

use eddy_storage::{EngineError, EngineStats, KvEngine, KvRead, Store, StoreOptions, WriteBatch, WriteOp};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DB, DBCompressionType, Options, ReadOptions,
    SnapshotWithThreadMode, WriteOptions,
};

/// Tuning of the RocksDB engine.
#[derive(Debug, Clone)]
pub struct RocksOptions {
    /// Block cache size in bytes. Default 64 MiB.
    pub block_cache_bytes: usize,
    /// Memtable size in bytes, per column family. Default 16 MiB (at most three are held per
    /// family, and at most four times this in all).
    pub write_buffer_bytes: usize,
    /// Background compaction and flush threads. Default 2.
    pub background_jobs: i32,
}

impl Default for RocksOptions {
    fn default() -> Self {
        Self { block_cache_bytes: 64 << 20, write_buffer_bytes: 16 << 20, background_jobs: 2 }
    }
}

/// Name of the column family holding history.
const HISTORY_CF: &str = "history";

/// Whether a key belongs to the history column family: its first byte is one of the
/// history tags. Keep in sync with [`RUNS`].
fn is_history(key: &[u8]) -> bool {
    matches!(key.first(), Some(b'h' | b'n'))
}

/// The key space as runs of one column family, in key order: where each run starts, and
/// whether it is history. A run ends where the next one starts.
const RUNS: [(&[u8], bool); 5] = [(b"", false), (b"h", true), (b"i", false), (b"n", true), (b"o", false)];

/// The pieces of `[start, end)` in each column family, in key order: `(start, end, history)`.
fn split_range<'a>(start: &'a [u8], end: &'a [u8]) -> impl Iterator<Item = (&'a [u8], &'a [u8], bool)> {
    RUNS.iter().enumerate().filter_map(move |(i, (lo, history))| {
        let s = if start > *lo { start } else { lo };
        let e = match RUNS.get(i + 1) {
            Some((hi, _)) if *hi < end => hi,
            _ => end,
        };
        (s < e).then_some((s, e, *history))
    })
}

/// A RocksDB-backed engine.
pub struct RocksEngine {
    db: DB,
    path: PathBuf,
    cache: Cache,
}

fn err(e: &rocksdb::Error) -> EngineError {
    EngineError::new(e.to_string())
}

impl RocksEngine {
    /// Opens (creating if missing) the database in `path`, migrating history written before
    /// the column-family split.
    pub fn open(path: &Path, options: &RocksOptions) -> Result<Self, EngineError> {
        let cache = Cache::new_lru_cache(options.block_cache_bytes);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        // Index and filter blocks live outside the block cache (a few MiB for 100,000
        // objects), so a large list scan can never evict them and slow point reads down.
        table.set_cache_index_and_filter_blocks(false);
        table.set_block_size(16 * 1024);

        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_block_based_table_factory(&table);
        // Fresh data (L0, L1) is stored uncompressed to spare CPU on the write path; the rest
        // is LZ4. Not Zstd, not even at the bottom: while the store is small, every compaction
        // out of L0 writes the bottom level, and Zstd made compaction the largest CPU cost of
        // sustained writes (a quarter of the process's CPU time in profiles).
        opts.set_compression_per_level(&[
            DBCompressionType::None,
            DBCompressionType::None,
            DBCompressionType::Lz4,
            DBCompressionType::Lz4,
            DBCompressionType::Lz4,
            DBCompressionType::Lz4,
            DBCompressionType::Lz4,
        ]);
        opts.set_bottommost_compression_type(DBCompressionType::Lz4);
        opts.set_write_buffer_size(options.write_buffer_bytes);
        opts.set_max_write_buffer_number(3);
        // Every create first checks that its key is absent: a memtable bloom filter answers
        // that without searching the memtables.
        opts.set_memtable_prefix_bloom_ratio(0.05);
        opts.set_memtable_whole_key_filtering(true);
        // Both families' memtables together stay within this.
        opts.set_db_write_buffer_size(4 * options.write_buffer_bytes);
        opts.set_max_background_jobs(options.background_jobs);
        opts.set_bytes_per_sync(1 << 20);
        // The history family fills far more slowly than objects while objects are created,
        // and a WAL file is kept until every family has flushed what it holds: this bound
        // flushes history early enough that a reopen replays a few memtables' worth of log,
        // not hundreds of MiB.
        opts.set_max_total_wal_size(4 * options.write_buffer_bytes as u64);
        opts.set_keep_log_file_num(4);
        opts.set_recycle_log_file_num(2);

        let mut history_table = BlockBasedOptions::default();
        history_table.set_block_cache(&cache);
        history_table.set_cache_index_and_filter_blocks(false);
        history_table.set_block_size(16 * 1024);
        let mut history = Options::default();
        history.set_block_based_table_factory(&history_table);
        history.set_compression_type(DBCompressionType::None);
        history.set_write_buffer_size(options.write_buffer_bytes);
        history.set_max_write_buffer_number(3);

        let families =
            [ColumnFamilyDescriptor::new("default", opts.clone()), ColumnFamilyDescriptor::new(HISTORY_CF, history)];
        let db = DB::open_cf_descriptors(&opts, path, families)
            .map_err(|e| EngineError::new(format!("opening {}: {e}", path.display())))?;
        let engine = Self { db, path: path.to_path_buf(), cache };
        engine.migrate_history()?;
        Ok(engine)
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn history_cf(&self) -> &ColumnFamily {
        // Opened with the database (`open_cf_descriptors` creates it when missing).
        self.db
            .cf_handle(HISTORY_CF)
            .unwrap_or_else(|| unreachable!("column family {HISTORY_CF} is opened with the database"))
    }

    fn cf(&self, key: &[u8]) -> &ColumnFamily {
        if is_history(key) { self.history_cf() } else { self.default_cf() }
    }

    fn default_cf(&self) -> &ColumnFamily {
        self.db.cf_handle("default").unwrap_or_else(|| unreachable!("the default column family always exists"))
    }

    /// Moves history rows left in the default column family by an older layout into the
    /// history family. Each chunk (at most `CHUNK_ROWS` rows and about `CHUNK_BYTES`) is one
    /// atomic, synced batch that copies and deletes, so a crash leaves every row in exactly one
    /// place, and the next open carries on. Each chunk seeks past the last row moved, so the
    /// tombstones of earlier chunks are not stepped over again (linear in the rows moved).
    fn migrate_history(&self) -> Result<(), EngineError> {
        const CHUNK_ROWS: usize = 4096;
        const CHUNK_BYTES: usize = 16 << 20;
        let mut resume: Vec<u8> = Vec::new();
        loop {
            let mut wb = rocksdb::WriteBatch::default();
            let (mut rows, mut bytes) = (0, 0);
            let mut last: Option<Vec<u8>> = None;
            let mut it = self.db.raw_iterator_cf(self.default_cf());
            for (start, end, history) in split_range(b"", &[0xff; 2]) {
                if !history || end <= resume.as_slice() {
                    continue;
                }
                it.seek(start.max(resume.as_slice()));
                while rows < CHUNK_ROWS && bytes < CHUNK_BYTES && it.valid() {
                    let (Some(k), Some(v)) = (it.key(), it.value()) else { break };
                    if k >= end {
                        break;
                    }
                    wb.put_cf(self.history_cf(), k, v);
                    wb.delete_cf(self.default_cf(), k);
                    rows += 1;
                    bytes += k.len() + v.len();
                    last = Some(k.to_vec());
                    it.next();
                }
                it.status().map_err(|e| err(&e))?;
            }
            drop(it);
            let Some(mut last) = last else { break };
            let mut wo = WriteOptions::default();
            wo.set_sync(true);
            self.db.write_opt(wb, &wo).map_err(|e| err(&e))?;
            // The smallest key after `last`.
            last.push(0);
            resume = last;
        }
        Ok(())
    }
}

/// Opens a [`Store`] on a RocksDB database in `dir`, with default engine tuning.
pub fn open_store(dir: &Path, options: StoreOptions) -> Result<Store<RocksEngine>, eddy_storage::Error> {
    let engine = RocksEngine::open(dir, &RocksOptions::default())?;
    Store::open(engine, options)
}

/// Restores a backup made by [`Store::backup`]: copies it into `data_dir`, which must not
/// exist yet, ready for [`open_store`].
pub fn restore(backup_dir: &Path, data_dir: &Path) -> Result<(), EngineError> {
    if data_dir.exists() {
        return Err(EngineError::new(format!("restore target {} already exists", data_dir.display())));
    }
    std::fs::create_dir_all(data_dir).map_err(|e| EngineError::new(format!("creating {}: {e}", data_dir.display())))?;
    let entries = std::fs::read_dir(backup_dir)
        .map_err(|e| EngineError::new(format!("reading backup {}: {e}", backup_dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| EngineError::new(e.to_string()))?;
        let target = data_dir.join(entry.file_name());
        std::fs::copy(entry.path(), &target)
            .map_err(|e| EngineError::new(format!("copying {}: {e}", entry.path().display())))?;
    }
    Ok(())
}

/// A RocksDB snapshot (of both column families).
pub struct RocksSnapshot<'a> {
    engine: &'a RocksEngine,
    snapshot: SnapshotWithThreadMode<'a, DB>,
}

impl KvRead for RocksSnapshot<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        self.snapshot.get_cf(self.engine.cf(key), key).map_err(|e| err(&e))
    }

    fn scan(&self, start: &[u8], end: &[u8], visit: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<(), EngineError> {
        for (start, end, history) in split_range(start, end) {
            let cf = if history { self.engine.history_cf() } else { self.engine.default_cf() };
            let mut ro = ReadOptions::default();
            ro.set_iterate_upper_bound(end.to_vec());
            // Scans are lists and replays: large and sequential. Keeping their blocks out of
            // the cache keeps memory flat and the cache for point reads.
            ro.fill_cache(false);
            let mut it = self.snapshot.raw_iterator_cf_opt(cf, ro);
            it.seek(start);
            while it.valid() {
                let (Some(k), Some(v)) = (it.key(), it.value()) else { break };
                if !visit(k, v) {
                    return Ok(());
                }
                it.next();
            }
            it.status().map_err(|e| err(&e))?;
        }
        Ok(())
    }
}

impl KvEngine for RocksEngine {
    type Snapshot<'a> = RocksSnapshot<'a>;

    fn snapshot(&self) -> RocksSnapshot<'_> {
        RocksSnapshot { engine: self, snapshot: self.db.snapshot() }
    }

    fn write(&self, batch: &WriteBatch, sync: bool) -> Result<(), EngineError> {
        let (default, history) = (self.default_cf(), self.history_cf());
        let cf = |key: &[u8]| if is_history(key) { history } else { default };
        // Sized up front: growing the batch's buffer would copy every value again.
        let mut wb = rocksdb::WriteBatch::with_capacity_bytes(batch.size_in_bytes() + 16 * batch.ops().len() + 64);
        for op in batch.ops() {
            match op {
                WriteOp::Put { key, value } => wb.put_cf(cf(key), key, value),
                WriteOp::Delete { key } => wb.delete_cf(cf(key), key),
                WriteOp::DeleteRange { start, end } => {
                    for (start, end, in_history) in split_range(start, end) {
                        wb.delete_range_cf(if in_history { history } else { default }, start, end);
                    }
                }
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        self.db.write_opt(wb, &wo).map_err(|e| err(&e))
    }

    fn checkpoint(&self, dir: &Path) -> Result<(), EngineError> {
        let cp = rocksdb::checkpoint::Checkpoint::new(&self.db).map_err(|e| err(&e))?;
        cp.create_checkpoint(dir).map_err(|e| err(&e))
    }

    fn stats(&self) -> EngineStats {
        let prop = |name: &str| self.db.property_int_value(name).ok().flatten().unwrap_or(0);
        let prop_cf = |name: &str| self.db.property_int_value_cf(self.history_cf(), name).ok().flatten().unwrap_or(0);
        let disk_bytes = dir_size(&self.path);
        let memory_bytes = prop("rocksdb.cur-size-all-mem-tables")
            + prop_cf("rocksdb.cur-size-all-mem-tables")
            + self.cache.get_usage() as u64;
        EngineStats { disk_bytes, memory_bytes }
    }
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_split_at_column_family_borders() {
        let parts: Vec<_> = split_range(b"a", b"p").collect();
        assert_eq!(
            parts,
            vec![
                (&b"a"[..], &b"h"[..], false),
                (&b"h"[..], &b"i"[..], true),
                (&b"i"[..], &b"n"[..], false),
                (&b"n"[..], &b"o"[..], true),
                (&b"o"[..], &b"p"[..], false),
            ]
        );
        let inside: Vec<_> = split_range(b"hg\0r\0", b"hg\0r\x01").collect();
        assert_eq!(inside, vec![(&b"hg\0r\0"[..], &b"hg\0r\x01"[..], true)]);
        assert_eq!(split_range(b"o", b"o").count(), 0);
        for key in [&b"h1"[..], b"n1"] {
            assert!(is_history(key));
        }
        for key in [&b""[..], b"o1", b"m", b"i", b"t"] {
            assert!(!is_history(key));
        }
    }

    /// A database whose history lives in the default column family (the layout before the
    /// split) is migrated on open, and reads see every row exactly once.
    #[test]
    fn history_in_the_default_family_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut opts = Options::default();
            opts.create_if_missing(true);
            let db = DB::open(&opts, dir.path()).unwrap();
            for i in 0u64..10_000 {
                let mut k = b"hg\0r\0".to_vec();
                k.extend_from_slice(&i.to_be_bytes());
                db.put(&k, i.to_be_bytes()).unwrap();
            }
            db.put(b"og\0r\0ns\0a", b"object").unwrap();
        }
        let engine = RocksEngine::open(dir.path(), &RocksOptions::default()).unwrap();
        let snapshot = engine.snapshot();
        let mut seen = Vec::new();
        snapshot
            .scan(b"", &[0xff], &mut |k, _| {
                seen.push(k.to_vec());
                true
            })
            .unwrap();
        assert_eq!(seen.len(), 10_001);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "one ordered key space");
        assert_eq!(snapshot.get(b"og\0r\0ns\0a").unwrap().as_deref(), Some(&b"object"[..]));
        let mut k = b"hg\0r\0".to_vec();
        k.extend_from_slice(&7u64.to_be_bytes());
        assert_eq!(snapshot.get(&k).unwrap(), Some(7u64.to_be_bytes().to_vec()));
        // Nothing is left behind in the default family.
        let mut left = 0;
        let mut it = engine.db.raw_iterator_cf(engine.default_cf());
        it.seek(b"h");
        while it.valid() && it.key().is_some_and(|k| k < &b"i"[..]) {
            left += 1;
            it.next();
        }
        assert_eq!(left, 0);
    }
}
