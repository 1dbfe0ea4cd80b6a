//! Crash-test child: opens the store in `argv[1]` with durable writes, then writes from 16
//! concurrent tasks forever, printing one line per acknowledged write, plus the events its own
//! watcher sees, until it is killed.
//!
//! Output lines: `START <rev>`, `ACK <name> <rev>`, `SEEN <rev>`.

use std::io::Write;
use std::path::PathBuf;

use bytes::Bytes;
use eddy_storage::{Key, Prefix, StoreOptions};

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: crash-writer DIR"));
    let run: u64 = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let store = eddy_storage_rocksdb::open_store(&dir, StoreOptions::default()).expect("open store");
    let start = store.current_revision();
    let mut watcher = store.watch(&Prefix::resource("crash.example", "things"), start).expect("watch");
    say(&format!("START {start}"));
    tokio::spawn(async move {
        while let Some(Ok(ev)) = watcher.next().await {
            say(&format!("SEEN {}", ev.revision));
        }
    });
    let mut tasks = Vec::new();
    for t in 0..16u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let value = Bytes::from(vec![b'x'; 512 + (t as usize) * 64]);
            for i in 0u64.. {
                // Each task creates a fresh key, then updates it a few times.
                let name = format!("r{run}-t{t}-k{}", i / 4);
                let key = Key::new("crash.example", "things", format!("ns{}", t % 4), &name);
                let result = if i % 4 == 0 {
                    store.create(&key, &name, value.clone()).await.map(|o| o.mod_revision)
                } else {
                    store.update(&key, value.clone(), None).await.map(|o| o.mod_revision)
                };
                match result {
                    Ok(rev) => say(&format!("ACK ns{}/{name} {rev}", t % 4)),
                    Err(e) => {
                        say(&format!("ERR {e}"));
                        return;
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}
