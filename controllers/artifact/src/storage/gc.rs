//! Retention of old artifacts (pkg `storage/gc.go`, `GetGarbageFiles` and `GarbageCollect`).
//!
//! An object's directory keeps its current artifact and some previous ones, so that consumers
//! still downloading an older revision can finish. Garbage is chosen in two steps, exactly as
//! Flux does, quirks included:
//!
//! 1. every file other than the current one whose modification time is more than the TTL in
//!    the past;
//! 2. then, unless fewer than `records` files would remain, the oldest remaining files other
//!    than the current one until `records` files remain. The current file counts toward
//!    `records`.
//!
//! Two upstream quirks are kept because they decide which files stay downloadable. When step 1
//! found garbage, step 2 counts the files it adds twice, so it stops early and may keep more
//! than `records` files (they go once they pass the TTL). Files that share a modification time
//! are one entry in step 2's ordering (Go keys a map by time), so only the last of them in walk
//! order can be collected by it. The walk looks at no more than 1,000 files; `*.lock` files
//! are never counted (their artifact's lock is removed with it).
//!
//! Temporary files (see [`super::atomic`]) are not artifacts: they never count toward
//! `records` and are deleted once older than the TTL.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::atomic::is_temp_file_name;

/// The most files the walk of one object directory considers (pkg `GarbageCountLimit`).
pub const GARBAGE_COUNT_LIMIT: usize = 1000;

/// A file found in an object's directory.
#[derive(Debug)]
struct Found {
    path: PathBuf,
    modified: SystemTime,
}

/// The files of `dir` to delete, given the current artifact file `current`.
///
/// # Errors
///
/// The errors met while walking `dir` (Flux's "can't walk over file: …").
pub(crate) fn garbage_files(
    dir: &Path,
    current: &Path,
    records: usize,
    ttl: Duration,
    now: SystemTime,
) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut temps = Vec::new();
    let mut errors = Vec::new();
    walk(dir, &mut files, &mut temps, &mut errors);
    if !errors.is_empty() {
        return Err(format!("can't walk over file: {}", errors.join(",")));
    }
    let expired = |modified: SystemTime| now.duration_since(modified).is_ok_and(|age| age > ttl);

    let mut garbage: Vec<PathBuf> =
        files.iter().filter(|f| f.path != current && expired(f.modified)).map(|f| f.path.clone()).collect();
    // Stale temporary files go regardless of the records rule.
    let stale_temps: Vec<PathBuf> = temps.into_iter().filter(|f| expired(f.modified)).map(|f| f.path).collect();

    let total = files.len();
    if total - garbage.len() >= records {
        // Go orders by a map from modification time to (the last walked) path.
        let mut by_time: HashMap<SystemTime, &Path> = HashMap::new();
        for f in &files {
            by_time.insert(f.modified, &f.path);
        }
        let mut stamps: Vec<SystemTime> = files.iter().map(|f| f.modified).collect();
        stamps.sort();
        let sorted: Vec<&Path> = stamps.iter().filter_map(|t| by_time.get(t).copied()).collect();

        let ttl_garbage = garbage.len();
        let records = i64::try_from(records).unwrap_or(i64::MAX);
        let sorted_len = i64::try_from(sorted.len()).unwrap_or(i64::MAX);
        let mut collected: i64 = 0;
        for path in sorted {
            if path == current || path.extension().is_some_and(|e| e == "lock") || garbage.iter().any(|g| g == path) {
                continue;
            }
            let garbage_len = i64::try_from(garbage.len()).unwrap_or(i64::MAX);
            let remaining = if ttl_garbage > 0 { sorted_len - collected - garbage_len } else { sorted_len - collected };
            if remaining > records {
                garbage.push(path.to_path_buf());
                collected += 1;
            }
        }
    }
    garbage.extend(stale_temps);
    Ok(garbage)
}

/// Walks `dir` as Go's `filepath.WalkDir` does (lexical order, not following symlinks),
/// collecting regular artifact files (at most [`GARBAGE_COUNT_LIMIT`]) and temporary files.
fn walk(dir: &Path, files: &mut Vec<Found>, temps: &mut Vec<Found>, errors: &mut Vec<String>) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(format!("{}: {e}", dir.display()));
            return;
        }
    };
    let mut children: Vec<(Vec<u8>, PathBuf)> = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => children.push((entry.file_name().as_bytes().to_vec(), entry.path())),
            Err(e) => errors.push(format!("{}: {e}", dir.display())),
        }
    }
    children.sort();
    for (name, path) in children {
        if files.len() >= GARBAGE_COUNT_LIMIT {
            return;
        }
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                errors.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        if meta.is_dir() {
            walk(&path, files, temps, errors);
            continue;
        }
        if meta.file_type().is_symlink() || path.extension().is_some_and(|e| e == "lock") {
            continue;
        }
        let modified = match meta.modified() {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let found = Found { path, modified };
        if is_temp_file_name(&name) { temps.push(found) } else { files.push(found) }
    }
}

/// Deletes `garbage` (and each file's `.lock` companion) and returns what was deleted.
///
/// # Errors
///
/// The files deleted before the failures, and the failures.
pub(crate) fn delete(garbage: Vec<PathBuf>) -> Result<Vec<PathBuf>, (Vec<PathBuf>, Vec<String>)> {
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for file in garbage {
        match fs::remove_file(&file) {
            Ok(()) => deleted.push(file.clone()),
            Err(e) => errors.push(format!("{}: {e}", file.display())),
        }
        let mut lock = file.into_os_string();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        if fs::symlink_metadata(&lock).is_ok()
            && let Err(e) = fs::remove_file(&lock)
        {
            errors.push(format!("{}: {e}", lock.display()));
        }
    }
    if errors.is_empty() { Ok(deleted) } else { Err((deleted, errors)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    const MIN: Duration = Duration::from_secs(60);

    /// Creates `name` in `dir` with a modification time `age` before `now`.
    fn file(dir: &Path, name: &str, now: SystemTime, age: Duration) -> PathBuf {
        let path = dir.join(name);
        File::create(&path).unwrap().set_modified(now - age).unwrap();
        path
    }

    fn names(paths: &[PathBuf]) -> Vec<String> {
        let mut v: Vec<String> = paths.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn ttl_then_records_with_current_counted() {
        let tmp = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let d = tmp.path();
        // Young files only: the records rule keeps the current one and the newest other.
        file(d, "a", now, Duration::from_secs(40));
        file(d, "b", now, Duration::from_secs(30));
        file(d, "c", now, Duration::from_secs(20));
        let cur = file(d, "d", now, Duration::from_secs(10));
        let g = garbage_files(d, &cur, 2, MIN, now).unwrap();
        assert_eq!(names(&g), ["a", "b"]);
        // records = 0 still never deletes the current file.
        let g = garbage_files(d, &cur, 0, MIN, now).unwrap();
        assert_eq!(names(&g), ["a", "b", "c"]);
    }

    #[test]
    fn expired_files_go_even_below_records_but_never_the_current_one() {
        let tmp = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let d = tmp.path();
        file(d, "old", now, Duration::from_secs(120));
        let cur = file(d, "cur", now, Duration::from_secs(300));
        let g = garbage_files(d, &cur, 2, MIN, now).unwrap();
        assert_eq!(names(&g), ["old"]);
        // Exactly the TTL is not expired (strictly greater).
        let tmp = tempfile::tempdir().unwrap();
        let edge = file(tmp.path(), "edge", now, MIN);
        let cur = file(tmp.path(), "cur", now, Duration::ZERO);
        assert!(garbage_files(tmp.path(), &cur, 0, MIN, now).unwrap() == vec![edge]);
        assert!(garbage_files(tmp.path(), &cur, 5, MIN, now).unwrap().is_empty());
    }

    #[test]
    fn upstream_double_count_keeps_extra_files_when_some_expired() {
        let tmp = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let d = tmp.path();
        file(d, "a-expired", now, Duration::from_secs(100));
        for (n, age) in [("b", 50), ("c", 40), ("d", 30), ("e", 20)] {
            file(d, n, now, Duration::from_secs(age));
        }
        let cur = file(d, "f", now, Duration::from_secs(1));
        let g = garbage_files(d, &cur, 2, MIN, now).unwrap();
        // Flux deletes a (TTL), b and c, keeping d, e and f: three files for records = 2.
        assert_eq!(names(&g), ["a-expired", "b", "c"]);
    }

    #[test]
    fn equal_times_collapse_to_the_last_walked_file() {
        let tmp = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let d = tmp.path();
        file(d, "x1", now, Duration::from_secs(30));
        file(d, "x2", now, Duration::from_secs(30));
        let cur = file(d, "y", now, Duration::from_secs(1));
        let g = garbage_files(d, &cur, 1, MIN, now).unwrap();
        assert_eq!(names(&g), ["x2"], "x1 shares its time with x2 and is never ordered");
    }

    #[test]
    fn locks_symlinks_and_temp_files() {
        let tmp = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let d = tmp.path();
        let old = file(d, "old.tar.gz", now, Duration::from_secs(600));
        file(d, "old.tar.gz.lock", now, Duration::from_secs(600));
        std::os::unix::fs::symlink(&old, d.join("latest.tar.gz")).unwrap();
        let stale = file(d, ".eddy-tmp-x.tar.gz.1", now, Duration::from_secs(600));
        file(d, ".eddy-tmp-y.tar.gz.2", now, Duration::from_secs(5));
        let cur = file(d, "cur.tar.gz", now, Duration::ZERO);
        let g = garbage_files(d, &cur, 1, MIN, now).unwrap();
        assert_eq!(g, vec![old.clone(), stale.clone()]);
        let deleted = delete(g).unwrap();
        assert_eq!(deleted, vec![old, stale]);
        let mut left: Vec<String> =
            fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(left, [".eddy-tmp-y.tar.gz.2", "cur.tar.gz", "latest.tar.gz"]);
    }
}
