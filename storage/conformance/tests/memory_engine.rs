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
