//! A writer killed with SIGKILL in the middle of storing an artifact: the previous artifact
//! stays intact, the partial file is never served, and garbage collection removes it once it
//! is older than the TTL.
//!
//! The test re-runs itself as the child (`EDDY_CRASH_CHILD` names the storage root): the
//! child stores an artifact from a reader that stalls after some bytes, and the parent kills it
//! while the temporary file is on disk.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use eddy_artifact::storage::{Storage, StorageOptions, TEMP_PREFIX};

const CHILD_ENV: &str = "EDDY_CRASH_CHILD";

fn storage(root: &Path) -> Storage {
    Storage::new(StorageOptions::new(root, "127.0.0.1:1")).unwrap()
}

/// Yields 128 KiB, then stalls (for at most a minute, so an orphaned child ends by itself).
struct Stalling(usize);

impl Read for Stalling {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0 >= 128 * 1024 {
            std::thread::sleep(Duration::from_secs(60));
            return Err(std::io::Error::other("stalled"));
        }
        let n = buf.len().min(4096);
        buf[..n].fill(b'n');
        self.0 += n;
        Ok(n)
    }
}

/// The child's part: store an artifact from a stalling reader until killed.
fn child(root: &str) {
    let s = storage(Path::new(root));
    let mut a = s.new_artifact("Bucket", "ns", "b", "r", "a.tar.gz").unwrap();
    let _ = s.copy_from(&mut a, &mut Stalling(0));
}

#[tokio::test]
async fn kill_during_write() {
    if let Ok(root) = std::env::var(CHILD_ENV) {
        child(&root);
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let s = storage(root.path());
    let mut a = s.new_artifact("Bucket", "ns", "b", "r", "a.tar.gz").unwrap();
    s.copy_from(&mut a, &mut &b"version one"[..]).unwrap();
    let dir = s.local_path(&a).unwrap().parent().unwrap().to_path_buf();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "kill_during_write", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, root.path())
        .spawn()
        .unwrap();
    // Wait until the child's temporary file holds what it was given.
    let deadline = Instant::now() + Duration::from_secs(30);
    let temp = loop {
        let found = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(TEMP_PREFIX));
        if let Some(temp) = found
            && fs::metadata(&temp).unwrap().len() >= 64 * 1024
        {
            break temp;
        }
        assert!(Instant::now() < deadline, "the child never started writing");
        assert!(child.try_wait().unwrap().is_none(), "the child ended early");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // The artifact is the old one, whole.
    assert_eq!(fs::read(s.local_path(&a).unwrap()).unwrap(), b"version one");
    s.verify(&a).unwrap();
    assert!(temp.exists(), "a SIGKILL leaves the temporary file behind");

    // The server never serves it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server_root = root.path().to_path_buf();
    let server = tokio::spawn(async move {
        eddy_artifact::server::serve(listener, &server_root, async {
            let _ = stopped.await;
        })
        .await
    });
    let temp_url = format!("/bucket/ns/b/{}", temp.file_name().unwrap().to_string_lossy());
    assert_eq!(status_of(addr, &temp_url).await, 404);
    assert_eq!(status_of(addr, "/bucket/ns/b/a.tar.gz").await, 200);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap().unwrap();

    // Collection keeps it while it could still be in use, then removes it.
    assert!(s.garbage_collect(&a, SystemTime::now()).unwrap().is_empty());
    let later = SystemTime::now() + Duration::from_secs(61);
    assert_eq!(s.garbage_collect(&a, later).unwrap(), vec![temp]);
    assert!(s.exists(&a));
}

async fn status_of(addr: std::net::SocketAddr, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}
