//! The background thread each server runs on.
//!
//! A server owns a thread with its own current-thread tokio runtime, so it serves the same
//! way whether the test is a plain `#[test]` that blocks on `git clone` or a
//! `#[tokio::test]` on a single-threaded runtime (which a server sharing the test's runtime
//! would deadlock). Stopping cancels a token that the accept loop and every connection
//! watch, gives in-flight work a bounded time to finish (children are killed), and joins the
//! thread with a bound too; whatever is left is dropped with the runtime, and children are
//! spawned with `kill_on_drop`.

use std::future::Future;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::{Error, Result};

/// How long a stopping server waits for its in-flight connections.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a stopping server waits for its thread.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A server's thread, runtime and shutdown token.
#[derive(Debug)]
pub(crate) struct Background {
    token: CancellationToken,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Runs `serve(token, tracker)` on a new thread named `name`. When `serve` returns after the
    /// token is cancelled, the thread waits up to [`DRAIN_TIMEOUT`] for the tracked tasks.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the runtime or thread cannot be created.
    pub(crate) fn spawn<F, Fut>(name: &str, serve: F) -> Result<Self>
    where
        F: FnOnce(CancellationToken, TaskTracker) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("building a tokio runtime", e))?;
        let token = CancellationToken::new();
        let thread_token = token.clone();
        let thread = thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let tracker = TaskTracker::new();
                    serve(thread_token, tracker.clone()).await;
                    tracker.close();
                    if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait()).await.is_err() {
                        tracing::warn!("test server: in-flight tasks still running at shutdown; dropping them");
                    }
                });
            })
            .map_err(|e| Error::io("spawning a server thread", e))?;
        Ok(Self { token, thread: Some(thread) })
    }

    /// The shutdown token (cancelled by [`Background::stop`]).
    pub(crate) fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Cancels the token and joins the thread, waiting at most a bounded time.
    pub(crate) fn stop(&mut self) {
        self.token.cancel();
        let Some(thread) = self.thread.take() else { return };
        let deadline = Instant::now() + JOIN_TIMEOUT;
        while !thread.is_finished() {
            if Instant::now() >= deadline {
                tracing::warn!("test server thread did not stop in time; detaching it");
                return;
            }
            thread::sleep(Duration::from_millis(2));
        }
        if thread.join().is_err() {
            tracing::warn!("test server thread panicked");
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop();
    }
}
