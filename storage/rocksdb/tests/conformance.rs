//! The conformance suite on the RocksDB engine, plus what only a persistent engine can show:
//! state, history, quotas and the revision counter survive a restart.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use eddy_storage::{
    EngineError, EngineStats, KvEngine, ListOptions, Preconditions, Quota, Store, StoreOptions, WriteBatch,
};
use eddy_storage_conformance::{R, collect, key, test_options, things};
use eddy_storage_rocksdb::{RocksEngine, RocksOptions};
use tempfile::TempDir;

/// A RocksDB engine that deletes its directory when dropped.
struct TempRocks {
    engine: RocksEngine,
    _dir: TempDir,
}

impl KvEngine for TempRocks {
    type Snapshot<'a> = <RocksEngine as KvEngine>::Snapshot<'a>;
    fn snapshot(&self) -> Self::Snapshot<'_> {
        self.engine.snapshot()
    }
    fn write(&self, batch: &WriteBatch, sync: bool) -> Result<(), EngineError> {
        self.engine.write(batch, sync)
    }
    fn checkpoint(&self, dir: &Path) -> Result<(), EngineError> {
        self.engine.checkpoint(dir)
    }
    fn stats(&self) -> EngineStats {
        self.engine.stats()
    }
}

fn open(options: StoreOptions) -> Store<TempRocks> {
    let dir = tempfile::tempdir().unwrap();
    let engine = RocksEngine::open(dir.path(), &RocksOptions::default()).unwrap();
    Store::open(TempRocks { engine, _dir: dir }, options).unwrap()
}

eddy_storage_conformance::conformance_suite!(open, proptest_cases = 12);

#[tokio::test]
async fn backup_and_restore() {
    let scratch = tempfile::tempdir().unwrap();
    let restored = scratch.path().join("restored");
    eddy_storage_conformance::backup_round_trip(&open, scratch.path(), |backup| {
        eddy_storage_rocksdb::restore(backup, &restored).unwrap();
        eddy_storage_rocksdb::open_store(&restored, test_options()).unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_history_and_counters_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let options = || StoreOptions { sync: true, ..StoreOptions::default() };
    {
        let s = eddy_storage_rocksdb::open_store(dir.path(), options()).unwrap();
        for i in 0..10 {
            s.create(&key("ns", &format!("o{i}")), &format!("uid{i}"), Bytes::from(format!("v{i}"))).await.unwrap();
        }
        s.update(&key("ns", "o1"), Bytes::from_static(b"changed"), Some(R + 2)).await.unwrap();
        s.delete(&key("ns", "o2"), Preconditions::default()).await.unwrap();
        s.set_quota("ns", Some(Quota { max_objects: Some(20), max_bytes: None })).await.unwrap();
        s.compact(R + 3).await.unwrap();
    }
    let s = eddy_storage_rocksdb::open_store(dir.path(), options()).unwrap();
    assert_eq!(s.current_revision(), R + 12);
    assert_eq!(s.compacted_revision(), R + 3);
    assert_eq!(s.quota("ns").max_objects, Some(20));
    assert_eq!(s.usage("ns").objects, 9);
    assert_eq!(&s.get(&key("ns", "o1")).unwrap().value[..], b"changed");
    assert_eq!(s.get(&key("ns", "o1")).unwrap().uid, "uid1");
    let mut w = s.watch(&things(), R + 3).unwrap();
    let revs: Vec<u64> = collect(&mut w, 9).await.into_iter().map(|e| e.unwrap().revision).collect();
    assert_eq!(revs, (R + 4..=R + 12).collect::<Vec<_>>());
    let at5 = s.list(&things(), &ListOptions { revision: Some(R + 5), ..ListOptions::default() }).unwrap();
    assert_eq!(at5.objects.len(), 5);
    let next = s.create(&key("ns", "new"), "u", Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(next.mod_revision, R + 13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_window_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        history_retention: Duration::from_millis(400),
        compaction_interval: Duration::from_millis(50),
        ..test_options()
    };
    {
        let s = eddy_storage_rocksdb::open_store(dir.path(), options.clone()).unwrap();
        for i in 0..5 {
            s.create(&key("ns", &format!("o{i}")), "u", Bytes::from_static(b"v")).await.unwrap();
        }
    }
    // The time index is persistent: after a restart, old history still ages out.
    let s = eddy_storage_rocksdb::open_store(dir.path(), options).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.compacted_revision() < R + 5 {
        assert!(std::time::Instant::now() < deadline, "history was not compacted after restart");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A replay reads history in chunks of 512 events; a value last written in one chunk and
/// replaced in a later one is found through the successor row the replacing write left. Every
/// event of a replay from several revisions must carry the values that were written.
/// (revision, name, value after, value before) of one event.
type Seen = (u64, String, Option<Bytes>, Option<Bytes>);

/// `count` updates of `ns/y` (created by the first), recorded in `expected`.
async fn filler(s: &Store<TempRocks>, expected: &mut Vec<Seen>, current: &mut HashMap<String, Bytes>, count: usize) {
    for _ in 0..count {
        let v = Bytes::from(format!("filler-{}", expected.len()));
        let prev = current.get("y").cloned();
        let o = match &prev {
            Some(_) => s.update(&key("ns", "y"), v.clone(), None).await.unwrap(),
            None => s.create(&key("ns", "y"), "uy", v.clone()).await.unwrap(),
        };
        current.insert("y".into(), v.clone());
        expected.push((o.mod_revision, "y".into(), Some(v), prev));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_across_history_chunks_carry_every_value() {
    let s = open(test_options());
    let mut expected: Vec<Seen> = Vec::new();
    let mut current: HashMap<String, Bytes> = HashMap::new();
    let mut n = 0;
    let mut value = || {
        n += 1;
        Bytes::from(format!("value-{n}"))
    };
    // x: created, replaced two chunks later, deleted a chunk after that, created again.
    let v = value();
    let o = s.create(&key("ns", "x"), "ux1", v.clone()).await.unwrap();
    expected.push((o.mod_revision, "x".into(), Some(v.clone()), None));
    current.insert("x".into(), v);
    filler(&s, &mut expected, &mut current, 700).await;
    let v = value();
    let o = s.update(&key("ns", "x"), v.clone(), None).await.unwrap();
    expected.push((o.mod_revision, "x".into(), Some(v.clone()), current.insert("x".into(), v)));
    filler(&s, &mut expected, &mut current, 600).await;
    let d = s.delete(&key("ns", "x"), Preconditions::default()).await.unwrap();
    expected.push((d.revision, "x".into(), None, current.remove("x")));
    filler(&s, &mut expected, &mut current, 520).await;
    let v = value();
    let o = s.create(&key("ns", "x"), "ux2", v.clone()).await.unwrap();
    expected.push((o.mod_revision, "x".into(), Some(v.clone()), None));
    current.insert("x".into(), v);
    let last = s.current_revision();
    assert_eq!(expected.last().map(|e| e.0), Some(last));

    for from in [0, 1, 300, 512, 701, 1000, 1400, 1822, last - 1] {
        let want: Vec<Seen> = expected.iter().filter(|e| e.0 > from).cloned().collect();
        let mut w = s.watch(&things(), from).unwrap();
        let got: Vec<Seen> = collect(&mut w, want.len())
            .await
            .into_iter()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.revision,
                    e.name().to_owned(),
                    e.object.as_ref().map(|o| o.value.clone()),
                    e.prev.as_ref().map(|o| o.value.clone()),
                )
            })
            .collect();
        assert_eq!(got.len(), want.len(), "replay from {from}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "replay from {from}");
        }
    }
}

/// Encodes a length-prefixed chunk as the store's record codec does.
fn chunk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap().to_be_bytes());
    out.extend_from_slice(bytes);
}

/// An object body `(create, mod, uid, value)` as the version-1 event record holds it.
fn body(out: &mut Vec<u8>, create: u64, modified: u64, value: &[u8]) {
    out.extend_from_slice(&create.to_be_bytes());
    out.extend_from_slice(&modified.to_be_bytes());
    chunk(out, b"uid-a");
    chunk(out, value);
}

/// A data directory written by the previous layout — one column family, history records of
/// version 1 carrying the new object inline — opens, replays its history exactly, and takes
/// new writes in the current layout next to the old records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_of_the_previous_layout_opens_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        let db = rocksdb::DB::open(&opts, dir.path()).unwrap();
        let resource = b"g.example\0things\0";
        // rev 1: create ns/a = "one"; rev 2: update it to "two".
        let mut object = vec![1u8];
        object.extend_from_slice(&1u64.to_be_bytes());
        object.extend_from_slice(&2u64.to_be_bytes());
        chunk(&mut object, b"uid-a");
        object.extend_from_slice(b"two");
        db.put([&b"o"[..], resource, b"ns\0a"].concat(), object).unwrap();
        for (rev, kind, new, old) in [(1u64, 1u8, &b"one"[..], None), (2, 2, b"two", Some(&b"one"[..]))] {
            let mut ev = vec![1u8, kind];
            ev.extend_from_slice(&1_000u64.to_be_bytes());
            chunk(&mut ev, b"ns");
            chunk(&mut ev, b"a");
            ev.push(1);
            body(&mut ev, 1, rev, new);
            match old {
                Some(old) => {
                    ev.push(1);
                    body(&mut ev, 1, rev - 1, old);
                }
                None => ev.push(0),
            }
            db.put([&b"h"[..], resource, &rev.to_be_bytes()].concat(), ev).unwrap();
        }
        db.put(b"mrev", 2u64.to_be_bytes()).unwrap();
        db.put(b"uns", [1u64.to_be_bytes(), 3u64.to_be_bytes()].concat()).unwrap();
        db.put([&b"r"[..], resource].concat(), b"").unwrap();
        db.put([&b"t"[..], &1_000u64.to_be_bytes()].concat(), 2u64.to_be_bytes()).unwrap();
    }
    // A store whose first write took revision 1 (written before new stores started at
    // `FIRST_REVISION`) opens unchanged.
    let s = eddy_storage_rocksdb::open_store(dir.path(), test_options()).unwrap();
    assert_eq!(s.current_revision(), 2);
    assert_eq!(&s.get(&key("ns", "a")).unwrap().value[..], b"two");
    assert_eq!(s.usage("ns").objects, 1);
    let three = s.update(&key("ns", "a"), Bytes::from_static(b"three"), Some(2)).await.unwrap();
    assert_eq!(three.mod_revision, 3);
    let mut w = s.watch(&things(), 0).unwrap();
    let evs: Vec<_> = collect(&mut w, 3).await.into_iter().map(Result::unwrap).collect();
    let value = |o: &Option<eddy_storage::Object>| o.as_ref().map(|o| String::from_utf8_lossy(&o.value).into_owned());
    let values: Vec<_> = evs.iter().map(|e| (e.revision, value(&e.object), value(&e.prev))).collect();
    let text = |s: &str| Some(s.to_owned());
    assert_eq!(values, vec![(1, text("one"), None), (2, text("two"), text("one")), (3, text("three"), text("two"))]);
    let at1 = s.list(&things(), &ListOptions { revision: Some(1), ..ListOptions::default() }).unwrap();
    assert_eq!(&at1.objects[0].value[..], b"one");
}
