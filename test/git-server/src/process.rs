//! Child processes with bounded waits, and killing whole process trees.
//!
//! Every external command this crate runs (git, gpg, ssh-keygen) goes through [`run`], which
//! never waits longer than its timeout: when the time is up the command and everything it
//! started are killed and reaped, and the caller gets [`Error::Timeout`]. Standard output and
//! error are read on their own threads so a chatty child never blocks on a full pipe.
//!
//! Servers that run long-lived children (`sshd`, `git http-backend`) use [`kill_tree`] on
//! shutdown: the descendants are found through `/proc` (children of `sshd` put themselves in
//! new sessions, so a process-group signal would miss them) and killed bottom-up.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use crate::error::{Error, Result};

/// The default bound for one fixture command (git, gpg, ssh-keygen).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest standard error kept in an error message.
const MAX_STDERR: usize = 4096;

/// Runs `cmd` to completion with `stdin` as its input, waiting at most `timeout`.
///
/// Returns the output whatever the exit status (see [`run`] for the checked variant).
///
/// # Errors
///
/// [`Error::Io`] when the command cannot be started, [`Error::Timeout`] when it did not finish
/// in time (it is then killed, with everything it started, and reaped).
pub fn output_with_timeout(cmd: &mut Command, stdin: Option<&[u8]>, timeout: Duration) -> Result<Output> {
    let what = describe(cmd);
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| Error::io(format!("starting {what}"), e))?;
    let writer = match (child.stdin.take(), stdin) {
        (Some(mut pipe), Some(input)) => {
            let input = input.to_vec();
            Some(thread::spawn(move || {
                // A child that exits without reading its input is not an error here.
                let _ = pipe.write_all(&input);
            }))
        }
        _ => None,
    };
    let stdout = reader(child.stdout.take());
    let stderr = reader(child.stderr.take());
    let status = match wait_timeout(&mut child, timeout) {
        Ok(Some(status)) => status,
        Ok(None) => {
            kill_child(&mut child);
            return Err(Error::Timeout { what, timeout });
        }
        Err(e) => {
            kill_child(&mut child);
            return Err(Error::io(format!("waiting for {what}"), e));
        }
    };
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    // The child is gone, but a grandchild may still hold the pipes: the readers are joined
    // only as long as the deadline allows.
    let stdout = join_reader(stdout, timeout);
    let stderr = join_reader(stderr, timeout);
    Ok(Output { status, stdout, stderr })
}

/// Runs `cmd` like [`output_with_timeout`] and fails unless it exits with status 0.
///
/// `what` describes the command in errors; the arguments are never shown, as they may hold a
/// passphrase.
///
/// # Errors
///
/// As [`output_with_timeout`], plus [`Error::CommandFailed`] on a non-zero exit.
pub fn run(cmd: &mut Command, what: &str, stdin: Option<&[u8]>, timeout: Duration) -> Result<Output> {
    let output = output_with_timeout(cmd, stdin, timeout).map_err(|e| match e {
        Error::Timeout { timeout, .. } => Error::Timeout { what: what.to_owned(), timeout },
        Error::Io { source, .. } => Error::io(format!("running {what}"), source),
        other => other,
    })?;
    if !output.status.success() {
        return Err(Error::CommandFailed {
            what: what.to_owned(),
            status: output.status,
            stderr: truncate(&String::from_utf8_lossy(&output.stderr)),
        });
    }
    Ok(output)
}

/// Waits for `child` at most `timeout`; `Ok(None)` when it is still running.
///
/// # Errors
///
/// When the status cannot be read.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Kills `child` and every process it started, then reaps it.
pub fn kill_child(child: &mut Child) {
    kill_tree(child.id());
    let _ = child.kill();
    let _ = child.wait();
}

/// Sends SIGKILL to every descendant of `pid` (found through `/proc`), deepest first, and then
/// to `pid` itself. Processes that are already gone are ignored. The caller reaps `pid` if it
/// is its child; the descendants are reaped by their own parents or by init.
pub fn kill_tree(pid: u32) {
    let mut victims = descendants(pid);
    victims.reverse();
    victims.push(pid);
    for victim in victims {
        if let Some(pid) = i32::try_from(victim).ok().and_then(Pid::from_raw) {
            let _ = kill_process(pid, Signal::KILL);
        }
    }
}

/// Sends SIGTERM to `pid` (used to let a server log its own shutdown before the SIGKILL).
pub fn terminate(pid: u32) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process(pid, Signal::TERM);
    }
}

/// The descendants of `pid`, parents before their children.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            let ppid = stat
                .rfind(')')
                .and_then(|end| stat[end + 1..].split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                children.entry(ppid).or_default().push(child);
            }
        }
    }
    let mut out = Vec::new();
    let mut queue = vec![pid];
    while let Some(next) = queue.pop() {
        for &child in children.get(&next).map(Vec::as_slice).unwrap_or_default() {
            if !out.contains(&child) {
                out.push(child);
                queue.push(child);
            }
        }
    }
    out
}

/// Finds `name` on `PATH`, or at one of `extra` locations.
///
/// # Errors
///
/// [`Error::ToolMissing`] naming `hack/ensure-deps`.
pub fn find_program(name: &'static str, extra: &[&str]) -> Result<PathBuf> {
    let from_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name));
    let extra = extra.iter().map(PathBuf::from);
    from_path
        .chain(extra)
        .find(|p| is_executable(p))
        .ok_or_else(|| Error::ToolMissing { tool: name, path: "PATH".to_owned() })
}

/// Whether `path` is an executable file.
pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A short description of a command: its program's file name.
fn describe(cmd: &Command) -> String {
    Path::new(cmd.get_program()).file_name().map_or_else(|| "command".to_owned(), |n| n.to_string_lossy().into_owned())
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> Option<thread::JoinHandle<Vec<u8>>> {
    pipe.map(|mut pipe| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    })
}

fn join_reader(handle: Option<thread::JoinHandle<Vec<u8>>>, timeout: Duration) -> Vec<u8> {
    let Some(handle) = handle else { return Vec::new() };
    let deadline = Instant::now() + timeout;
    while !handle.is_finished() {
        if Instant::now() >= deadline {
            return Vec::new();
        }
        thread::sleep(Duration::from_millis(5));
    }
    handle.join().unwrap_or_default()
}

/// Trims `s` and keeps at most [`MAX_STDERR`] bytes of it.
pub(crate) fn truncate(s: &str) -> String {
    let s = s.trim();
    if s.len() <= MAX_STDERR {
        return s.to_owned();
    }
    let mut end = MAX_STDERR;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
