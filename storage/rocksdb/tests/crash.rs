//! Crash test: a child process writes under concurrent load and reports every acknowledged
//! write; it is killed with SIGKILL at random moments, 20 times. After each kill the store is
//! reopened and must hold every acknowledged write with its revision, never go backwards, and
//! let a watch resume from the child's last seen revision without gaps or duplicates.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use eddy_storage::{Key, Prefix, Revision, StoreOptions};
use rand::Rng;

const KILLS: usize = 20;

#[derive(Default)]
struct Report {
    start: Option<Revision>,
    acks: Vec<(String, Revision)>,
    last_seen: Option<Revision>,
    errors: Vec<String>,
}

fn run_child(dir: &std::path::Path, run: usize, kill_after: Duration) -> Report {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eddy-storage-crash-writer"))
        .arg(dir)
        .arg(run.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn crash writer");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut report = Report::default();
    // Wait until the child has opened the store, then let it write for a while.
    let first = rx.recv_timeout(Duration::from_secs(60)).expect("child did not start");
    report.start = first.strip_prefix("START ").and_then(|s| s.parse().ok());
    assert!(report.start.is_some(), "unexpected first line {first:?}");
    std::thread::sleep(kill_after);
    child.kill().expect("SIGKILL the child");
    let _ = child.wait();
    reader.join().unwrap();
    for line in rx.try_iter() {
        let mut parts = line.split(' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("ACK"), Some(key), Some(rev)) => {
                if let Ok(rev) = rev.parse() {
                    report.acks.push((key.to_owned(), rev));
                }
            }
            (Some("SEEN"), Some(rev), None) => {
                if let Ok(rev) = rev.parse() {
                    report.last_seen = Some(rev);
                }
            }
            (Some("ERR"), ..) => report.errors.push(line.clone()),
            _ => {} // a line cut by the kill
        }
    }
    report
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut rng = rand::rng();
    let mut high_water: Revision = 0;
    let mut total_acks = 0usize;
    let rt = tokio::runtime::Runtime::new().unwrap();
    for run in 0..KILLS {
        let kill_after = Duration::from_millis(rng.random_range(50..700));
        let report = run_child(&data, run, kill_after);
        assert!(report.errors.is_empty(), "child reported errors: {:?}", report.errors);
        let start = report.start.unwrap();
        assert!(start >= high_water, "run {run}: revision went backwards: {start} < {high_water}");
        total_acks += report.acks.len();

        let store = eddy_storage_rocksdb::open_store(&data, StoreOptions::default()).expect("reopen after SIGKILL");
        let current = store.current_revision();
        let max_ack = report.acks.iter().map(|(_, r)| *r).max().unwrap_or(start);
        assert!(current >= max_ack, "run {run}: current revision {current} < acknowledged {max_ack}");

        // Every acknowledged write is present: the key exists at or after its revision, and
        // the history holds exactly that write at that revision.
        let prefix = Prefix::resource("crash.example", "things");
        let mut history: HashMap<Revision, String> = HashMap::new();
        rt.block_on(async {
            let mut w = store.watch(&prefix, start).unwrap();
            let mut expect = start + 1;
            while expect <= current {
                let ev = tokio::time::timeout(Duration::from_secs(10), w.next())
                    .await
                    .expect("history replay stalled")
                    .expect("watch ended")
                    .expect("watch error");
                assert_eq!(ev.revision, expect, "run {run}: gap or duplicate in recovered history");
                history.insert(ev.revision, format!("{}/{}", ev.namespace(), ev.name()));
                expect += 1;
            }
        });
        let mut latest: HashMap<&str, Revision> = HashMap::new();
        for (key, rev) in &report.acks {
            assert_eq!(history.get(rev), Some(key), "run {run}: acknowledged write {key}@{rev} missing");
            let e = latest.entry(key.as_str()).or_default();
            *e = (*e).max(*rev);
        }
        for (key, rev) in latest {
            let (ns, name) = key.split_once('/').unwrap();
            let obj = store.get(&Key::new("crash.example", "things", ns, name)).expect("acknowledged key missing");
            assert!(obj.mod_revision >= rev, "run {run}: {key} at {} < acknowledged {rev}", obj.mod_revision);
        }

        // A watch resumed from the child's last seen revision continues without gaps or
        // duplicates, into new writes made after the restart.
        let resume_from = report.last_seen.unwrap_or(start);
        rt.block_on(async {
            let mut w = store.watch(&prefix, resume_from).unwrap();
            let k = Key::new("crash.example", "things", "ns0", format!("after-restart-{run}"));
            let created = store.create(&k, "u", bytes::Bytes::from_static(b"x")).await.unwrap();
            assert_eq!(created.mod_revision, current + 1, "run {run}: first revision after restart");
            let mut expect = resume_from + 1;
            while expect <= created.mod_revision {
                let ev = tokio::time::timeout(Duration::from_secs(10), w.next()).await.unwrap().unwrap().unwrap();
                assert_eq!(ev.revision, expect, "run {run}: resumed watch skipped or repeated");
                expect += 1;
            }
        });
        high_water = current + 1;
        drop(store);
    }
    assert!(total_acks > KILLS * 10, "the child acknowledged only {total_acks} writes in {KILLS} runs");
}
