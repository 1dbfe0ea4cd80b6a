//! One conformance suite for every engine of Eddy's object store.
//!
//! Each `pub async fn` here checks one behaviour of [`Store`] given a factory that opens a
//! fresh store with the given options. [`conformance_suite!`] expands them all into
//! `#[tokio::test]`s for one engine; every engine crate invokes it, so the store behaves the
//! same on every engine.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use eddy_storage::{
    Error, Event, EventType, Key, KvEngine, ListOptions, Object, Preconditions, Prefix, Quota, Revision, Store,
    StoreOptions, WatchError, Watcher,
};

pub mod model;

/// The revision of a new, empty store; its first write takes the next one.
pub const R: Revision = eddy_storage::FIRST_REVISION;

/// Expands the whole suite into tests for one engine. `$open` is an expression of type
/// `impl Fn(StoreOptions) -> Store<E>` that opens a fresh, empty store.
#[macro_export]
macro_rules! conformance_suite {
    ($open:expr) => {
        $crate::conformance_suite!($open, proptest_cases = 32);
    };
    ($open:expr, proptest_cases = $cases:expr) => {
        $crate::proptest::proptest! {
            #![proptest_config($crate::proptest::prelude::ProptestConfig {
                cases: $cases,
                ..$crate::proptest::prelude::ProptestConfig::default()
            })]
            #[test]
            fn concurrent_writers_compaction_and_watchers(
                writers in 1usize..6,
                ops_per_writer in 1usize..60,
                seed_objects in 0usize..30,
                late_from in 0u64..30,
                compact in $crate::proptest::prelude::any::<bool>(),
            ) {
                let case = $crate::ConcurrentCase { seed_objects, writers, ops_per_writer, late_from, compact };
                $crate::block_on(async {
                    let s = $open(eddy_storage::StoreOptions { watch_buffer: 100_000, ..$crate::test_options() });
                    $crate::concurrent_watch_case(&s, case).await;
                });
            }

            #[test]
            fn random_operations_match_the_model(ops in $crate::model::ops(60)) {
                $crate::block_on(async {
                    let s = $open($crate::test_options());
                    $crate::check_against_model(&s, &ops).await;
                });
            }
        }
        $crate::conformance_suite!(@tests $open;
            create_get_and_already_exists,
            revisions_strictly_increase,
            update_compare_and_swap,
            delete_with_preconditions,
            guaranteed_update_loses_no_update,
            list_selects_prefix_in_order,
            paginated_list_keeps_its_revision,
            list_at_past_revision,
            list_rejects_compacted_and_future_revisions,
            watch_replays_history_then_live,
            watch_filters_namespace_and_resource,
            watch_from_compacted_revision_fails,
            lagging_watcher_is_cut_off_and_can_resume,
            watch_exactly_once_under_concurrent_writers_and_compaction,
            background_compaction_by_age,
            namespace_quotas,
            object_size_limit,
            invalid_keys_are_rejected,
        );
    };
    (@tests $open:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::$name(&$open).await;
            }
        )*
    };
}

pub use proptest;

/// Runs a property-test case on a fresh two-worker runtime.
pub fn block_on(case: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(case);
}

/// A key in group `g`, resource `things`.
pub fn key(ns: &str, name: &str) -> Key {
    Key::new("g.example", "things", ns, name)
}

/// Every `things` object.
pub fn things() -> Prefix {
    Prefix::resource("g.example", "things")
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Options for tests: fast, without durable syncs (the crash test covers durability).
pub fn test_options() -> StoreOptions {
    StoreOptions { sync: false, ..StoreOptions::default() }
}

/// Drains what a watcher has ready, waiting up to a few seconds for `count` events.
pub async fn collect<E: KvEngine>(w: &mut Watcher<E>, count: usize) -> Vec<Result<Arc<Event>, WatchError>> {
    let mut out = Vec::new();
    while out.len() < count {
        match tokio::time::timeout(Duration::from_secs(10), w.next()).await {
            Ok(Some(item)) => {
                let stop = item.is_err();
                out.push(item);
                if stop {
                    break;
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    out
}

fn ok_events(items: Vec<Result<Arc<Event>, WatchError>>) -> Vec<Arc<Event>> {
    items.into_iter().map(|r| r.expect("watch error")).collect()
}

pub async fn create_get_and_already_exists<E: KvEngine>(open: &impl Fn(StoreOptions) -> Store<E>) {
    let s = open(test_options());
    let o = s.create(&key("ns", "a"), "uid-a", b("v1")).await.unwrap();
    assert_eq!((o.create_revision, o.mod_revision, o.uid.as_str()), (R + 1, R + 1, "uid-a"));
    assert_eq!(s.get(&key("ns", "a")).unwrap(), o);
    assert!(matches!(s.create(&key("ns", "a"), "uid-b", b("v2")).await, Err(Error::AlreadyExists)));
    assert!(matches!(s.get(&key("ns", "b")), Err(Error::NotFound)));
    assert_eq!(s.current_revision(), R + 1, "a failed create takes no revision");
}

pub async fn revisions_strictly_increase<E: KvEngine>(open: &impl Fn(StoreOptions) -> Store<E>) {
    let s = open(test_options());
    assert_eq!(s.current_revision(), R, "a new store");
    let mut last = R;
    for i in 0..20 {
        let k = Key::new("g.example", if i % 2 == 0 { "things" } else { "others" }, "ns", format!("o{i}"));
        let o = s.create(&k, "u", b("x")).await.unwrap();
        assert_eq!(o.mod_revision, last + 1);
        last = o.mod_revision;
    }
    let u = s.update(&key("ns", "o0"), b("y"), None).await.unwrap();
    assert_eq!(u.mod_revision, R + 21);
    assert_eq!(u.create_revision, R + 1);
    assert_eq!(s.current_revision(), R + 21);
}

pub async fn update_compare_and_swap<E: KvEngine>(open: &impl Fn(StoreOptions) -> Store<E>) {
    let s = open(test_options());
    let o = s.create(&key("ns", "a"), "uid-a", b("v1")).await.unwrap();
    let u = s.update(&key("ns", "a"), b("v2"), Some(o.mod_revision)).await.unwrap();
    assert_eq!((u.mod_revision, u.uid.as_str(), &u.value[..]), (R + 2, "uid-a", &b"v2"[..]));
    match s.update(&key("ns", "a"), b("v3"), Some(o.mod_revision)).await {
        Err(Error::Conflict { expected, actual }) if (expected, actual) == (R + 1, R + 2) => {}
        other => panic!("expected conflict, got {other:?}"),
    }
    assert_eq!(&s.get(&key("ns", "a")).unwrap().value[..], b"v2");
    let unconditional = s.update(&key("ns", "a"), b("v4"), None).await.unwrap();
    assert_eq!(unconditional.mod_revision, R + 3);
    assert!(matches!(s.update(&key("ns", "missing"), b("x"), None).await, Err(Error::NotFound)));
}

pub async fn delete_with_preconditions<E: KvEngine>(open: &impl Fn(StoreOptions) -> Store<E>) {
    let s = open(test_options());
    let o = s.create(&key("ns", "a"), "uid-a", b("v1")).await.unwrap();
    let wrong_uid = Preconditions { uid: Some("other".into()), revision: None };
    assert!(matches!(s.delete(&key("ns", "a"), wrong_uid).await, Err(Error::PreconditionFailed(_))));
    let wrong_rev = Preconditions { uid: None, revision: Some(99) };
    assert!(matches!(s.delete(&key("ns", "a"), wrong_rev).await, Err(Error::PreconditionFailed(_))));
    let right = Preconditions { uid: Some("uid-a".into()), revision: Some(o.mod_revision) };
    let d = s.delete(&key("ns", "a"), right).await.unwrap();
    assert_eq!(d.revision, R + 2);
    assert_eq!(d.object, o);
    assert!(matches!(s.get(&key("ns", "a")), Err(Error::NotFound)));
    assert!(matches!(s.delete(&key("ns", "a"), Preconditions::default()).await, Err(Error::NotFound)));
    // The name can be reused; the new object is a new incarnation.
    let again = s.create(&key("ns", "a"), "uid-2", b("v")).await.unwrap();
    assert_eq!(again.create_revision, R + 3);
}

pub async fn guaranteed_update_loses_no_update<E: KvEngine>(open: &impl Fn(StoreOptions) -> Store<E>) {
    let s = open(test_options());
    s.create(&key("ns", "counter"), "u", b("0")).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                s.guaranteed_update(&key("ns", "counter"), |cur| {
                    let n: u64 = std::str::from_utf8(&cur.value).unwrap().parse().unwrap();
                    Ok(Bytes::from((n + 1).to_string()))
                })
                .await
                .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(&s.get(&key("ns", "counter")).unwrap().value[..], b"200");
    assert_eq!(s.current_revision(), R + 201);
    // An update that changes nothing writes nothing.
    let same = s.guaranteed_update(&key("ns", "counter"), |cur| Ok(cur.value.clone())).await.unwrap();
    assert_eq!(same.mod_revision, R + 201);
    assert_eq!(s.current_revision(), R + 201);
    let aborted = s.guaranteed_update(&key("ns", "counter"), |_| Err(Error::Aborted("no".into()))).await;
    assert!(matches!(aborted, Err(Error::Aborted(_))));
}

pub async fn list_selects_prefix_in_order<E: KvEngine>(open: &impl Fn(StoreOptions) -> Store<E>) {
    let s = open(test_options());
    for (ns, name) in [("b", "2"), ("a", "9"), ("ab", "1"), ("a", "10"), ("", "cluster")] {
        s.create(&key(ns, name), "u", b(name)).await.unwrap();
    }
    s.create(&Key::new("g.example", "others", "a", "x"), "u", b("x")).await.unwrap();
    s.create(&Key::new("other.example", "things", "a", "y"), "u", b("y")).await.unwrap();
    let all = s.list(&things(), &ListOptions::default()).unwrap();
    let names: Vec<(&str, &str)> = all.objects.iter().map(|o| (o.namespace.as_str(), o.name.as_str())).collect();
    assert_eq!(names, vec![("", "cluster"), ("a", "10"), ("a", "9"), ("ab", "1"), ("b", "2")]);
    assert_eq!(all.revision, R + 7);
    assert!(!all.more);
    let a = s.list(&Prefix::namespaced("g.example", "things", "a"), &ListOptions::default()).unwrap();
    let names: Vec<&str> = a.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, vec!["10", "9"]);
    let empty = s.list(&Prefix::namespaced("g.example", "things", "zzz"), &ListOptions::default()).unwrap();
    assert!(empty.objects.is_empty());
}

/// Pages through `prefix` at the first page's revision and returns everything.
pub fn list_all_pages<E: KvEngine>(
    s: &Store<E>,
    prefix: &Prefix,
    page: usize,
    revision: Option<Revision>,
) -> (Vec<Object>, Revision) {
    let mut out = Vec::new();
    let mut opts = ListOptions { revision, start_after: None, limit: Some(page) };
    loop {
        let r = s.list(prefix, &opts).unwrap();
        assert!(r.objects.len() <= page);
        opts.revision = Some(r.revision);
        if let Some(last) = r.objects.last() {
            opts.start_after = Some((last.namespace.clone(), last.name.clone()));
        }
        out.extend(r.objects);
        if !r.more {
            return (out, opts.revision.unwrap_or_default());
        }
    }
}

pub async fn paginated_list_keeps_its_revision<E: KvEngine>(open: &impl Fn(StoreOptions) -> Store<E>) {
    let s = open(test_options());
    for i in 0..25 {
        s.create(&key(&format!("ns{}", i % 3), &format!("o{i:02}")), "u", b(&format!("v{i}"))).await.unwrap();
    }
    let before = s.list(&things(), &ListOptions::default()).unwrap();
    let first = s.list(&things(), &ListOptions { limit: Some(10), ..ListOptions::default() }).unwrap();
    assert!(first.more);
    assert_eq!(first.objects.len(), 10);
    // Writes between pages: modify, delete and create on both sides of the cursor.
    s.update(&key("ns0", "o00"), b("changed"), None).await.unwrap();
    s.update(&key("ns2", "o23"), b("changed"), None).await.unwrap();
    s.delete(&key("ns1", "o04"), Preconditions::default()).await.unwrap();
    s.delete(&key("ns2", "o20"), Preconditions::default()).await.unwrap();
    s.create(&key("ns1", "zz"), "u", b("new")).await.unwrap();
    s.create(&key("ns0", "aa"), "u", b("new")).await.unwrap();
    let mut all = first.objects.clone();
    let mut opts = ListOptions {
        revision: Some(first.revision),
        start_after: first.objects.last().map(|o| (o.namespace.clone(), o.name.clone())),
        limit: Some(10),
    };
    loop {
        let page = s.list(&things(), &opts).unwrap();
        assert_eq!(page.revision, first.revision);
        opts.start_after = page.objects.last().map(|o| (o.namespace.clone(), o.name.clone()));
        all.extend(page.objects);
        if !page.more {
            break;
        }
    }
    assert_eq!(all, before.objects, "pages must reflect the first page's revision");
    let now = s.list(&things(), &ListOptions::default()).unwrap();
    assert_eq!(now.objects.len(), 25);
    assert!(now.objects.iter().any(|o| o.name == "zz"));
}

pub async fn list_at_past_revision<E: KvEngine>(open: &impl Fn(StoreOptions) -> Store<E>) {
    let s = open(test_options());
    let mut model = model::Model::default();
    let mut snapshots = Vec::new();
    for step in 0..60u32 {
        let name = format!("o{}", step % 7);
        let ns = format!("ns{}", step % 2);
        let k = key(&ns, &name);
        let exists = s.get(&k).is_ok();
        if step % 5 == 4 && exists {
            let d = s.delete(&k, Preconditions::default()).await.unwrap();
            model.delete(&k, d.revision);
        } else if exists {
            let o = s.update(&k, b(&format!("s{step}")), None).await.unwrap();
            model.put(&k, o);
        } else {
            let o = s.create(&k, "u", b(&format!("s{step}"))).await.unwrap();
            model.put(&k, o);
        }
        snapshots.push((s.current_revision(), model.list(&things())));
    }
    for (rev, expected) in &snapshots {
        let got = s.list(&things(), &ListOptions { revision: Some(*rev), ..ListOptions::default() }).unwrap();
        assert_eq!(&got.objects, expected, "state at revision {rev}");
        let (paged, _) = list_all_pages(&s, &things(), 3, Some(*rev));
        assert_eq!(&paged, expected, "paged state at revision {rev}");
        let ns1 = s
            .list(
                &Prefix::namespaced("g.example", "things", "ns1"),
                &ListOptions { revision: Some(*rev), ..ListOptions::default() },
            )
            .unwrap();
        let want: Vec<Object> = expected.iter().filter(|o| o.namespace == "ns1").cloned().collect();
        assert_eq!(ns1.objects, want);
    }
}

pub async fn list_rejects_compacted_and_future_revisions<E: KvEngine>(open: &impl Fn(StoreOptions) -> Store<E>) {
    let s = open(test_options());
    for i in 0..10 {
        s.create(&key("ns", &format!("o{i}")), "u", b("v")).await.unwrap();
    }
    assert_eq!(s.compact(R + 5).await.unwrap(), R + 5);
    assert_eq!(s.compacted_revision(), R + 5);
    let old = s.list(&things(), &ListOptions { revision: Some(R + 4), ..ListOptions::default() });
    assert!(
        matches!(old, Err(Error::Compacted { requested, compacted }) if (requested, compacted) == (R + 4, R + 5)),
        "{old:?}"
    );
    let at5 = s.list(&things(), &ListOptions { revision: Some(R + 5), ..ListOptions::default() }).unwrap();
    assert_eq!(at5.objects.len(), 5);
    let future = s.list(&things(), &ListOptions { revision: Some(R + 11), ..ListOptions::default() });
    assert!(
        matches!(future, Err(Error::FutureRevision { requested, current }) if (requested, current) == (R + 11, R + 10)),
        "{future:?}"
    );
    // Compacting backwards is a no-op.
    assert_eq!(s.compact(R + 3).await.unwrap(), R + 5);
}

pub async fn watch_replays_history_then_live<E: KvEngine>(open: &impl Fn(StoreOptions) -> Store<E>) {
    let s = open(test_options());
    s.create(&key("ns", "a"), "u", b("1")).await.unwrap();
    s.update(&key("ns", "a"), b("2"), None).await.unwrap();
    let mut w = s.watch(&things(), 0).unwrap();
    s.delete(&key("ns", "a"), Preconditions::default()).await.unwrap();
    s.create(&key("ns", "b"), "u", b("3")).await.unwrap();
    let evs = ok_events(collect(&mut w, 4).await);
    let kinds: Vec<(EventType, Revision)> = evs.iter().map(|e| (e.kind, e.revision)).collect();
    assert_eq!(
        kinds,
        vec![
            (EventType::Added, R + 1),
            (EventType::Modified, R + 2),
            (EventType::Deleted, R + 3),
            (EventType::Added, R + 4)
        ]
    );
    assert_eq!(&evs[1].prev.as_ref().unwrap().value[..], b"1");
    assert_eq!(&evs[1].object.as_ref().unwrap().value[..], b"2");
    assert!(evs[2].object.is_none());
    assert_eq!(&evs[2].prev.as_ref().unwrap().value[..], b"2");
    assert_eq!(w.last_revision(), R + 4);
    // Starting at a revision skips what came before it.
    let mut w2 = s.watch(&things(), R + 2).unwrap();
    let evs = ok_events(collect(&mut w2, 2).await);
    assert_eq!(evs.iter().map(|e| e.revision).collect::<Vec<_>>(), vec![R + 3, R + 4]);
    // A watch from the current revision sees only new events.
    let mut w3 = s.watch(&things(), s.current_revision()).unwrap();
    assert!(w3.try_next().is_none());
    s.create(&key("ns", "c"), "u", b("x")).await.unwrap();
    let evs = ok_events(collect(&mut w3, 1).await);
    assert_eq!(evs[0].revision, R + 5);
}

pub async fn watch_filters_namespace_and_resource<E: KvEngine>(open: &impl Fn(StoreOptions) -> Store<E>) {
    let s = open(test_options());
    s.create(&key("a", "early"), "u", b("x")).await.unwrap();
    s.create(&key("ab", "early"), "u", b("x")).await.unwrap();
    let mut wa = s.watch(&Prefix::namespaced("g.example", "things", "a"), 0).unwrap();
    let mut wall = s.watch(&things(), 0).unwrap();
    let mut wother = s.watch(&Prefix::resource("g.example", "others"), 0).unwrap();
    s.create(&key("a", "late"), "u", b("x")).await.unwrap();
    s.create(&key("b", "late"), "u", b("x")).await.unwrap();
    s.create(&Key::new("g.example", "others", "a", "o"), "u", b("x")).await.unwrap();
    let a: Vec<(String, Revision)> =
        ok_events(collect(&mut wa, 2).await).iter().map(|e| (e.name().to_owned(), e.revision)).collect();
    assert_eq!(a, vec![("early".to_owned(), R + 1), ("late".to_owned(), R + 3)]);
    let all: Vec<Revision> = ok_events(collect(&mut wall, 4).await).iter().map(|e| e.revision).collect();
    assert_eq!(all, vec![R + 1, R + 2, R + 3, R + 4]);
    let other: Vec<Revision> = ok_events(collect(&mut wother, 1).await).iter().map(|e| e.revision).collect();
    assert_eq!(other, vec![R + 5]);
    assert!(wa.try_next().is_none() && wall.try_next().is_none() && wother.try_next().is_none());
}

pub async fn watch_from_compacted_revision_fails<E: KvEngine>(open: &impl Fn(StoreOptions) -> Store<E>) {
    let s = open(test_options());
    for i in 0..6 {
        s.create(&key("ns", &format!("o{i}")), "u", b("v")).await.unwrap();
    }
    s.compact(R + 3).await.unwrap();
    assert!(matches!(
        s.watch(&things(), R + 2),
        Err(Error::Compacted { requested, compacted }) if (requested, compacted) == (R + 2, R + 3)
    ));
    let mut w = s.watch(&things(), R + 3).unwrap();
    let revs: Vec<Revision> = ok_events(collect(&mut w, 3).await).iter().map(|e| e.revision).collect();
    assert_eq!(revs, vec![R + 4, R + 5, R + 6]);
}

pub async fn lagging_watcher_is_cut_off_and_can_resume<E: KvEngine>(open: &impl Fn(StoreOptions) -> Store<E>) {
    let s = open(StoreOptions { watch_buffer: 4, ..test_options() });
    let mut w = s.watch(&things(), 0).unwrap();
    let mut fast = s.watch(&things(), 0).unwrap();
    let mut fast_seen = Vec::new();
    for i in 0..20 {
        s.create(&key("ns", &format!("o{i:02}")), "u", b("v")).await.unwrap();
        // The fast watcher keeps up and is never cut off.
        while let Some(ev) = fast.try_next() {
            fast_seen.push(ev.unwrap().revision);
        }
    }
    assert_eq!(fast_seen, (R + 1..=R + 20).collect::<Vec<_>>());
    let items = collect(&mut w, 100).await;
    let (delivered, errors): (Vec<_>, Vec<_>) = items.into_iter().partition(Result::is_ok);
    let delivered: Vec<Revision> = delivered.into_iter().map(|e| e.unwrap().revision).collect();
    assert_eq!(delivered, (R + 1..=R + delivered.len() as u64).collect::<Vec<_>>());
    assert!(delivered.len() < 20);
    let last = match errors.as_slice() {
        [Err(WatchError::Lagged { last_revision })] => *last_revision,
        other => panic!("expected one Lagged error, got {other:?}"),
    };
    assert_eq!(last, R + delivered.len() as u64);
    // Resume from the last revision seen: the rest arrives, from history, without gaps.
    let mut resumed = s.watch(&things(), last).unwrap();
    let rest: Vec<Revision> =
        ok_events(collect(&mut resumed, 20 - delivered.len()).await).iter().map(|e| e.revision).collect();
    assert_eq!(rest, ((last + 1)..=R + 20).collect::<Vec<_>>());
}

pub async fn watch_exactly_once_under_concurrent_writers_and_compaction<E: KvEngine>(
    open: &impl Fn(StoreOptions) -> Store<E>,
) {
    let s = open(StoreOptions { watch_buffer: 100_000, ..test_options() });
    concurrent_watch_case(
        &s,
        ConcurrentCase { seed_objects: 50, writers: 4, ops_per_writer: 150, late_from: 25, compact: true },
    )
    .await;
}

/// Parameters of [`concurrent_watch_case`].
#[derive(Debug, Clone, Copy)]
pub struct ConcurrentCase {
    /// Objects created before any watcher starts.
    pub seed_objects: usize,
    /// Concurrent writer tasks.
    pub writers: usize,
    /// Creates, updates and deletes per writer.
    pub ops_per_writer: usize,
    /// Revision (at most `seed_objects`) a second, catching-up watcher starts from mid-way.
    pub late_from: u64,
    /// Whether a compactor runs concurrently (below `late_from`, so the late watcher's
    /// history stays available).
    pub compact: bool,
}

/// Concurrent writers (and optionally a concurrent compactor) while two watchers run: one
/// live from the start, one started mid-way from an older revision. Both must deliver every
/// committed write exactly once, in revision order.
pub async fn concurrent_watch_case<E: KvEngine>(s: &Store<E>, case: ConcurrentCase) {
    for i in 0..case.seed_objects {
        s.create(&key("ns", &format!("seed{i}")), "u", b("v")).await.unwrap();
    }
    let base = s.current_revision();
    let late_from = case.late_from.min(base);
    let mut live = s.watch(&things(), base).unwrap();
    let mut writers = Vec::new();
    for t in 0..case.writers {
        let s = s.clone();
        let n = case.ops_per_writer;
        writers.push(tokio::spawn(async move {
            let mut committed = Vec::new();
            for i in 0..n {
                let k = key(&format!("ns{}", i % 3), &format!("w{t}-{}", i % 20));
                let rev = match s.get(&k) {
                    Ok(_) if i % 4 == 3 => s.delete(&k, Preconditions::default()).await.map(|d| d.revision),
                    Ok(_) => s.update(&k, b(&format!("{t}-{i}")), None).await.map(|o| o.mod_revision),
                    Err(_) => s.create(&k, "u", b(&format!("{t}-{i}"))).await.map(|o| o.mod_revision),
                };
                committed.push(rev.unwrap());
            }
            committed
        }));
    }
    // A second watcher starts mid-way from an older revision and must catch up seamlessly.
    tokio::time::sleep(Duration::from_millis(2)).await;
    let mut late = s.watch(&things(), late_from).unwrap();
    let compactor = case.compact.then(|| {
        let s = s.clone();
        tokio::spawn(async move {
            for step in 0..10 {
                s.compact(late_from.saturating_sub(10 - step)).await.unwrap();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    });
    let mut all: Vec<Revision> = Vec::new();
    for w in writers {
        all.extend(w.await.unwrap());
    }
    if let Some(c) = compactor {
        c.await.unwrap();
    }
    all.sort_unstable();
    assert_eq!(all.len(), case.writers * case.ops_per_writer);
    let got: Vec<Revision> = ok_events(collect(&mut live, all.len()).await).iter().map(|e| e.revision).collect();
    assert_eq!(got, all, "live watcher: every committed write once, in order");
    // The seed objects took the revisions after the new store's own.
    let mut expected_late: Vec<Revision> = ((late_from.max(R) + 1)..=base).collect();
    expected_late.extend(&all);
    let got_late: Vec<Revision> =
        ok_events(collect(&mut late, expected_late.len()).await).iter().map(|e| e.revision).collect();
    assert_eq!(got_late, expected_late, "catch-up watcher: history then live, no gap, no duplicate");
    assert!(live.try_next().is_none() && late.try_next().is_none(), "no event after the last write");
}

pub async fn background_compaction_by_age<E: KvEngine>(open: &impl Fn(StoreOptions) -> Store<E>) {
    let s = open(StoreOptions {
        history_retention: Duration::from_millis(300),
        compaction_interval: Duration::from_millis(50),
        ..test_options()
    });
    for i in 0..5 {
        s.create(&key("ns", &format!("o{i}")), "u", b("v")).await.unwrap();
    }
    let mut w = s.watch(&things(), 0).unwrap();
    assert_eq!(collect(&mut w, 5).await.len(), 5);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.compacted_revision() < R + 5 {
        assert!(std::time::Instant::now() < deadline, "history older than the retention window was not compacted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(matches!(s.watch(&things(), 0), Err(Error::Compacted { .. })));
    // Current state is untouched by compaction, and new history is kept.
    assert_eq!(s.list(&things(), &ListOptions::default()).unwrap().objects.len(), 5);
    s.create(&key("ns", "fresh"), "u", b("v")).await.unwrap();
    let mut w = s.watch(&things(), R + 5).unwrap();
    assert_eq!(ok_events(collect(&mut w, 1).await)[0].revision, R + 6);
}

pub async fn namespace_quotas<E: KvEngine>(open: &impl Fn(StoreOptions) -> Store<E>) {
    let s = open(StoreOptions { default_quota: Quota { max_objects: Some(3), max_bytes: None }, ..test_options() });
    for i in 0..3 {
        s.create(&key("limited", &format!("o{i}")), "u", b("12345")).await.unwrap();
    }
    match s.create(&key("limited", "o3"), "u", b("x")).await {
        Err(Error::QuotaExceeded { namespace, what: "objects", requested: 4, limit: 3 }) => {
            assert_eq!(namespace, "limited");
        }
        other => panic!("expected quota error, got {other:?}"),
    }
    assert_eq!(s.usage("limited"), eddy_storage::Usage { objects: 3, bytes: 15 });
    s.delete(&key("limited", "o0"), Preconditions::default()).await.unwrap();
    s.create(&key("limited", "o3"), "u", b("x")).await.unwrap();
    // A namespace-specific quota overrides the default; bytes are limited too.
    s.set_quota("big", Some(Quota { max_objects: None, max_bytes: Some(10) })).await.unwrap();
    assert_eq!(s.quota("big").max_bytes, Some(10));
    for i in 0..5 {
        s.create(&key("big", &format!("o{i}")), "u", b("12")).await.unwrap();
    }
    assert!(matches!(s.create(&key("big", "o5"), "u", b("1")).await, Err(Error::QuotaExceeded { what: "bytes", .. })));
    assert!(matches!(
        s.update(&key("big", "o0"), b("123"), None).await,
        Err(Error::QuotaExceeded { what: "bytes", .. })
    ));
    // Shrinking is always allowed.
    s.update(&key("big", "o0"), b("1"), None).await.unwrap();
    assert_eq!(s.usage("big"), eddy_storage::Usage { objects: 5, bytes: 9 });
    // Quota checks see earlier writes of the same batch: concurrent creates cannot overshoot.
    s.set_quota("race", Some(Quota { max_objects: Some(5), max_bytes: None })).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.create(&key("race", &format!("o{i}")), "u", b("x")).await.is_ok() }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap());
    }
    assert_eq!(ok, 5);
    assert_eq!(
        s.list(&Prefix::namespaced("g.example", "things", "race"), &ListOptions::default()).unwrap().objects.len(),
        5
    );
    s.set_quota("race", None).await.unwrap();
    assert_eq!(s.quota("race").max_objects, Some(3), "cleared quota falls back to the default");
}

pub async fn object_size_limit<E: KvEngine>(open: &impl Fn(StoreOptions) -> Store<E>) {
    let s = open(StoreOptions { max_object_bytes: 100, ..test_options() });
    let big = Bytes::from(vec![b'x'; 101]);
    assert!(matches!(
        s.create(&key("ns", "a"), "u", big.clone()).await,
        Err(Error::TooLarge { size: 101, limit: 100 })
    ));
    s.create(&key("ns", "a"), "u", Bytes::from(vec![b'x'; 100])).await.unwrap();
    assert!(matches!(s.update(&key("ns", "a"), big, None).await, Err(Error::TooLarge { .. })));
    let default_limit = StoreOptions::default().max_object_bytes;
    assert_eq!(default_limit, 1536 * 1024);
}

pub async fn invalid_keys_are_rejected<E: KvEngine>(open: &impl Fn(StoreOptions) -> Store<E>) {
    let s = open(test_options());
    assert!(matches!(s.create(&key("n\0s", "a"), "u", b("v")).await, Err(Error::InvalidKey(_))));
    assert!(matches!(s.create(&key("ns", ""), "u", b("v")).await, Err(Error::InvalidKey(_))));
    assert!(matches!(s.get(&Key::new("g", "", "ns", "a")), Err(Error::InvalidKey(_))));
    assert_eq!(s.current_revision(), R);
}

/// Runs a random operation sequence against the store and the reference [`model::Model`],
/// then checks results, lists at every revision and the replayed history.
pub async fn check_against_model<E: KvEngine>(s: &Store<E>, ops: &[model::Op]) {
    let mut m = model::Model::default();
    let mut states: BTreeMap<Revision, Vec<Object>> = BTreeMap::new();
    let mut watcher = s.watch(&things(), 0).unwrap();
    for op in ops {
        let expected = m.apply(op);
        let got = model::run(s, op).await;
        assert_eq!(got, expected, "op {op:?}");
        states.insert(s.current_revision(), m.list(&things()));
    }
    assert_eq!(s.current_revision(), m.revision());
    for (rev, want) in &states {
        let got = s.list(&things(), &ListOptions { revision: Some(*rev), ..ListOptions::default() }).unwrap();
        assert_eq!(&got.objects, want, "list at {rev}");
    }
    let evs = ok_events(collect(&mut watcher, m.history().len()).await);
    let got: Vec<(EventType, Revision, String)> =
        evs.iter().map(|e| (e.kind, e.revision, e.name().to_owned())).collect();
    assert_eq!(got, m.history());
    let timeless = |e: &Event| Event { commit_unix_ms: 0, ..e.clone() };
    assert_eq!(evs.iter().map(|e| timeless(e)).collect::<Vec<_>>(), m.events(), "live events");
    // A watch from any revision replays the retained history exactly: objects before and
    // after every change, wherever the store keeps their values.
    for from in 0..=m.revision() {
        let want: Vec<Event> = m.events().iter().filter(|e| e.revision > from).cloned().collect();
        let mut w = s.watch(&things(), from).unwrap();
        let got: Vec<Event> = ok_events(collect(&mut w, want.len()).await).iter().map(|e| timeless(e)).collect();
        assert_eq!(got, want, "history replayed from {from}");
    }
}

/// Backs up a store under load, keeps writing, restores the backup with `open_backup`, and
/// checks the restored store holds exactly the state (and history) of the backup's moment.
pub async fn backup_round_trip<E: KvEngine, E2: KvEngine>(
    open: &impl Fn(StoreOptions) -> Store<E>,
    scratch: &std::path::Path,
    open_backup: impl Fn(&std::path::Path) -> Store<E2>,
) {
    let s = open(test_options());
    for i in 0..30 {
        s.create(&key(&format!("ns{}", i % 4), &format!("o{i}")), "u", b(&format!("v{i}"))).await.unwrap();
    }
    s.set_quota("ns1", Some(Quota { max_objects: Some(100), max_bytes: None })).await.unwrap();
    let before = s.list(&things(), &ListOptions::default()).unwrap();
    let dir = scratch.join("backup");
    s.backup(&dir).unwrap();
    assert!(s.backup(&dir).is_err(), "a backup never overwrites an existing directory");
    s.update(&key("ns0", "o0"), b("after-backup"), None).await.unwrap();
    s.create(&key("ns0", "late"), "u", b("after-backup")).await.unwrap();
    let r = open_backup(&dir);
    assert_eq!(r.current_revision(), before.revision);
    assert_eq!(r.list(&things(), &ListOptions::default()).unwrap().objects, before.objects);
    assert_eq!(r.quota("ns1").max_objects, Some(100));
    assert_eq!(r.usage("ns1").objects, before.objects.iter().filter(|o| o.namespace == "ns1").count() as u64);
    let mut w = r.watch(&things(), 0).unwrap();
    assert_eq!(ok_events(collect(&mut w, 30).await).len(), 30);
    let next = r.create(&key("ns0", "restored"), "u", b("x")).await.unwrap();
    assert_eq!(next.mod_revision, before.revision + 1);
}
