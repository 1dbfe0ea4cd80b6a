//! The conformance suite on the in-memory engine.

use eddy_storage::memory::MemoryEngine;
use eddy_storage::{Store, StoreOptions};

fn open(options: StoreOptions) -> Store<MemoryEngine> {
    Store::open(MemoryEngine::new(), options).unwrap()
}

eddy_storage_conformance::conformance_suite!(open, proptest_cases = 64);

#[tokio::test]
async fn backup_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    eddy_storage_conformance::backup_round_trip(&open, dir.path(), |path| {
        Store::open(MemoryEngine::open_checkpoint(path).unwrap(), eddy_storage_conformance::test_options()).unwrap()
    })
    .await;
}
