//! The conformance suite on the in-memory engine.

use eddy_storage::memory::MemoryEngine;
use eddy_storage::{Store, StoreOptions};
use proptest::prelude::*;

fn open(options: StoreOptions) -> Store<MemoryEngine> {
    Store::open(MemoryEngine::new(), options).unwrap()
}

eddy_storage_conformance::conformance_suite!(open);

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn concurrent_writers_compaction_and_watchers(
        writers in 1usize..6,
        ops_per_writer in 1usize..60,
        seed_objects in 0usize..30,
        late_from in 0u64..30,
        compact in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let s = open(eddy_storage::StoreOptions { watch_buffer: 100_000, ..eddy_storage_conformance::test_options() });
            let case = eddy_storage_conformance::ConcurrentCase { seed_objects, writers, ops_per_writer, late_from, compact };
            eddy_storage_conformance::concurrent_watch_case(&s, case).await;
        });
    }

    #[test]
    fn random_operations_match_the_model(ops in eddy_storage_conformance::model::ops(60)) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let s = open(eddy_storage_conformance::test_options());
            eddy_storage_conformance::check_against_model(&s, &ops).await;
        });
    }
}

#[tokio::test]
async fn backup_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    eddy_storage_conformance::backup_round_trip(&open, dir.path(), |path| {
        Store::open(MemoryEngine::open_checkpoint(path).unwrap(), eddy_storage_conformance::test_options()).unwrap()
    })
    .await;
}
