//! Time limits and cancellation for blocking Git operations.
//!
//! Every operation runs under a [`Watchdog`]: a thread that waits until the operation ends, the
//! deadline passes or the caller's [`CancelToken`] fires. gix polls the shared interrupt flag
//! between steps (pack reading, checkout), HTTP requests carry the remaining time as their own
//! timeout, and a blocking read from `ssh` — which gix cannot interrupt — is ended by killing
//! the `ssh` process the operation started (its pid file is registered with the watchdog). So
//! `spec.timeout` ends an operation even against a server that accepts and never answers.
//!
//! A cancelled operation stops at gix's next check of the flag; a hung `ssh` is killed at once.
//! An HTTP request already waiting on a silent server cannot be aborted from outside the
//! `reqwest` worker, so it ends at the latest at the deadline.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::GitError;

/// How often the watchdog looks at the caller's token.
const POLL: Duration = Duration::from_millis(50);

/// Lets another thread cancel a running operation (e.g. when the controller shuts down).
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that has not fired.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels every operation holding this token.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`CancelToken::cancel`] was called.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A process the watchdog kills when the operation must end: the pid is read from `pid_file`
/// and only killed if its command line mentions `marker` (so a recycled pid is never hit).
#[derive(Debug, Clone)]
pub(crate) struct Killable {
    pub(crate) pid_file: PathBuf,
    pub(crate) marker: String,
}

/// The state shared by an operation and its watchdog.
#[derive(Debug)]
pub(crate) struct Watchdog {
    interrupt: Arc<AtomicBool>,
    timed_out: Arc<AtomicBool>,
    cancelled: Arc<AtomicBool>,
    killables: Arc<Mutex<Vec<Killable>>>,
    deadline: Instant,
    timeout: Duration,
    done: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching an operation limited to `timeout`, optionally cancellable by `token`.
    pub(crate) fn start(timeout: Duration, token: Option<&CancelToken>) -> Self {
        let interrupt = Arc::new(AtomicBool::new(false));
        let timed_out = Arc::new(AtomicBool::new(false));
        let cancelled = Arc::new(AtomicBool::new(false));
        let killables: Arc<Mutex<Vec<Killable>>> = Arc::default();
        let deadline = Instant::now() + timeout;
        let (done, rx) = mpsc::channel::<()>();
        let token = token.cloned();
        let thread = {
            let (interrupt, timed_out, cancelled, killables) =
                (interrupt.clone(), timed_out.clone(), cancelled.clone(), killables.clone());
            std::thread::Builder::new().name("eddy-git-watchdog".into()).spawn(move || {
                loop {
                    let now = Instant::now();
                    if now >= deadline {
                        timed_out.store(true, Ordering::SeqCst);
                        break;
                    }
                    if token.as_ref().is_some_and(CancelToken::is_cancelled) {
                        cancelled.store(true, Ordering::SeqCst);
                        break;
                    }
                    match rx.recv_timeout(POLL.min(deadline - now)) {
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                        Err(RecvTimeoutError::Timeout) => {}
                    }
                }
                interrupt.store(true, Ordering::SeqCst);
                let list = killables.lock().map(|l| l.clone()).unwrap_or_default();
                for k in &list {
                    kill(k);
                }
            })
        };
        Self { interrupt, timed_out, cancelled, killables, deadline, timeout, done: Some(done), thread: thread.ok() }
    }

    /// The flag gix polls.
    pub(crate) fn interrupt(&self) -> &AtomicBool {
        &self.interrupt
    }

    /// Time left before the deadline (zero once passed).
    pub(crate) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Registers a process to kill if the operation must end.
    pub(crate) fn register(&self, k: Killable) {
        if let Ok(mut list) = self.killables.lock() {
            list.push(k);
        }
    }

    /// The error to report instead of whatever failed, if the operation was interrupted.
    pub(crate) fn interruption(&self, url: &str) -> Option<GitError> {
        if self.timed_out.load(Ordering::SeqCst) || (Instant::now() >= self.deadline) {
            Some(GitError::Timeout { url: url.to_owned(), timeout: self.timeout })
        } else if self.cancelled.load(Ordering::SeqCst) || self.interrupt.load(Ordering::SeqCst) {
            Some(GitError::Cancelled { url: url.to_owned() })
        } else {
            None
        }
    }

    /// Fails with the interruption error if the operation must stop.
    pub(crate) fn check(&self, url: &str) -> Result<(), GitError> {
        match self.interruption(url) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn kill(k: &Killable) {
    let Ok(text) = std::fs::read_to_string(&k.pid_file) else { return };
    let Ok(pid) = text.trim().parse::<i32>() else { return };
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return };
    if !String::from_utf8_lossy(&cmdline).contains(&k.marker) {
        return;
    }
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        match rustix::process::kill_process(pid, rustix::process::Signal::KILL) {
            Ok(()) => tracing::debug!(pid = pid.as_raw_nonzero().get(), "killed ssh at the deadline"),
            Err(e) => tracing::debug!(error = %e, "could not kill ssh"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_sets_the_interrupt_flag() {
        let w = Watchdog::start(Duration::from_millis(100), None);
        assert!(!w.interrupt().load(Ordering::SeqCst));
        std::thread::sleep(Duration::from_millis(300));
        assert!(w.interrupt().load(Ordering::SeqCst));
        assert!(matches!(w.interruption("u"), Some(GitError::Timeout { .. })));
    }

    #[test]
    fn token_cancels() {
        let t = CancelToken::new();
        let w = Watchdog::start(Duration::from_secs(30), Some(&t));
        t.cancel();
        std::thread::sleep(Duration::from_millis(200));
        assert!(w.interrupt().load(Ordering::SeqCst));
        assert!(matches!(w.interruption("u"), Some(GitError::Cancelled { .. })));
    }

    #[test]
    fn finishing_stops_the_watchdog_promptly() {
        let start = Instant::now();
        drop(Watchdog::start(Duration::from_secs(30), None));
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
