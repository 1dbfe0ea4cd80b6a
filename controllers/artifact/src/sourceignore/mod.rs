//! Ignore rules for source artifacts, as fluxcd/pkg `sourceignore` applies them.
//!
//! A GitRepository artifact leaves out what its ignore rules exclude. The rules come from
//! three places, in increasing priority:
//!
//! 1. Defaults ([`EXCLUDE_VCS`] always; [`EXCLUDE_EXT`], [`EXCLUDE_CI`] and [`EXCLUDE_EXTRA`]
//!    only when the user gave no pattern at all).
//! 2. Every `.sourceignore` file in the tree, each scoped to its own directory (the root's
//!    first, then the subdirectories depth first in name order).
//! 3. The object's `spec.ignore`, scoped to the root.
//!
//! [`gitrepository_matcher`] combines them exactly as source-controller's
//! `reconcileArtifact` does. Matching rules are in [`pattern`]; component globbing in `glob`.
//!
//! Paths are lists of components relative to the archived root (Flux uses the absolute path and
//! a domain made of the root's components; both compare the same components).

mod glob;
pub mod pattern;

use std::fs;
use std::io::{self, Read};
use std::path::Path;

pub use pattern::{MatchResult, Matcher, Pattern};

/// The name of the ignore files loaded from the tree.
pub const IGNORE_FILE: &str = ".sourceignore";
/// Version-control files, always excluded.
pub const EXCLUDE_VCS: &str = ".git/,.gitignore,.gitmodules,.gitattributes";
/// File extensions excluded by default.
pub const EXCLUDE_EXT: &str = "*.jpg,*.jpeg,*.gif,*.png,*.wmv,*.flv,*.tar.gz,*.zip";
/// CI configuration excluded by default.
pub const EXCLUDE_CI: &str = ".github/,.circleci/,.travis.yml,.gitlab-ci.yml,appveyor.yml,.drone.yml,cloudbuild.yaml,codeship-services.yml,codeship-steps.yml";
/// Tooling files excluded by default.
pub const EXCLUDE_EXTRA: &str = "**/.goreleaser.yml,**/.sops.yaml,**/.flux.yaml";

/// The longest line Go's `bufio.Scanner` reads with its default buffer; reading stops at a
/// longer one (and Flux ignores the scanner's error, keeping the lines before it).
const MAX_LINE: usize = 64 * 1024 - 1;

fn parse_list<D: AsRef<[u8]>>(list: &str, domain: &[D]) -> Vec<Pattern> {
    list.split(',').map(|p| Pattern::parse(p.as_bytes(), domain)).collect()
}

/// The [`EXCLUDE_VCS`] patterns, scoped to `domain`.
pub fn vcs_patterns<D: AsRef<[u8]>>(domain: &[D]) -> Vec<Pattern> {
    parse_list(EXCLUDE_VCS, domain)
}

/// The default [`EXCLUDE_EXT`], [`EXCLUDE_CI`] and [`EXCLUDE_EXTRA`] patterns, scoped to
/// `domain`.
pub fn default_patterns<D: AsRef<[u8]>>(domain: &[D]) -> Vec<Pattern> {
    [EXCLUDE_EXT, EXCLUDE_CI, EXCLUDE_EXTRA].iter().flat_map(|list| parse_list(list, domain)).collect()
}

/// A matcher with the VCS and default patterns below `patterns` (pkg `NewDefaultMatcher`).
pub fn default_matcher<D: AsRef<[u8]>>(patterns: Vec<Pattern>, domain: &[D]) -> Matcher {
    let mut all = vcs_patterns(domain);
    all.extend(default_patterns(domain));
    all.extend(patterns);
    Matcher::new(all)
}

/// The filter source-controller archives with (pkg `storage.SourceIgnoreFilter`): the VCS
/// patterns, then the defaults only when `patterns` is empty, then `patterns`.
pub fn source_ignore_matcher<D: AsRef<[u8]>>(patterns: Vec<Pattern>, domain: &[D]) -> Matcher {
    if patterns.is_empty() {
        return default_matcher(patterns, domain);
    }
    let mut all = vcs_patterns(domain);
    all.extend(patterns);
    Matcher::new(all)
}

/// Reads patterns from ignore-file text (pkg `ReadPatterns`): one per line (`\n`, with a
/// trailing `\r` dropped), skipping lines that start with `#` and lines of only white space.
/// Reading stops at a line longer than Go's scanner buffer, as upstream's does.
pub fn read_patterns<D: AsRef<[u8]>>(text: &[u8], domain: &[D]) -> Vec<Pattern> {
    let mut patterns = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        if line.len() > MAX_LINE {
            break;
        }
        rest = next;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.starts_with(b"#") && !is_blank(line) {
            patterns.push(Pattern::parse(line, domain));
        }
    }
    patterns
}

/// Whether `line` holds only white space (Go's `strings.TrimSpace(s) == ""`: an invalid UTF-8
/// byte is not space).
fn is_blank(mut line: &[u8]) -> bool {
    while !line.is_empty() {
        let (r, n) = glob::decode_rune(line);
        if !char::from_u32(r).is_some_and(char::is_whitespace) {
            return false;
        }
        line = &line[n..];
    }
    true
}

/// Reads the ignore file at `path` (pkg `ReadIgnoreFile`); a missing file, or anything that is
/// not a regular file (a directory, a FIFO), has no patterns. At most one line past Go's
/// scanner limit is read.
///
/// # Errors
///
/// Any I/O error other than the file not existing.
pub fn read_ignore_file<D: AsRef<[u8]>>(path: &Path, domain: &[D]) -> io::Result<Vec<Pattern>> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Ok(Vec::new()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    }
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut text = Vec::new();
    // The file may grow while read: read a bounded amount, enough for any line Go would keep.
    file.take(64 * 1024 * 1024).read_to_end(&mut text)?;
    Ok(read_patterns(&text, domain))
}

/// Loads every [`IGNORE_FILE`] under `dir` (pkg `LoadIgnorePatterns`): the one in `dir` scoped
/// to `domain`, then each subdirectory's (not `.git`, not through symlinks) scoped to
/// `domain` + its path, depth first in byte order of names.
///
/// # Errors
///
/// An I/O error reading a directory or an ignore file.
pub fn load_ignore_patterns<D: AsRef<[u8]>>(dir: &Path, domain: &[D]) -> io::Result<Vec<Pattern>> {
    let mut domain: Vec<Vec<u8>> = domain.iter().map(|d| d.as_ref().to_vec()).collect();
    let mut patterns = Vec::new();
    load_into(dir, &mut domain, &mut patterns)?;
    Ok(patterns)
}

fn load_into(dir: &Path, domain: &mut Vec<Vec<u8>>, out: &mut Vec<Pattern>) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    out.extend(read_ignore_file(&dir.join(IGNORE_FILE), domain)?);
    let mut subdirs = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() && entry.file_name() != ".git" {
            subdirs.push(entry.file_name());
        }
    }
    subdirs.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in subdirs {
        domain.push(name.as_bytes().to_vec());
        let result = load_into(&dir.join(&name), domain, out);
        domain.pop();
        result?;
    }
    Ok(())
}

/// The matcher a GitRepository archives its checkout with (source-controller
/// `reconcileArtifact`): the `.sourceignore` files under `dir`, then `spec.ignore`, both scoped
/// to the root, combined by [`source_ignore_matcher`]. A `spec.ignore` of only comments and
/// blank lines adds no pattern, so the defaults still apply.
///
/// # Errors
///
/// An I/O error while loading the ignore files.
pub fn gitrepository_matcher(dir: &Path, spec_ignore: Option<&str>) -> io::Result<Matcher> {
    const ROOT: &[&[u8]] = &[];
    let mut patterns = load_ignore_patterns(dir, ROOT)?;
    if let Some(ignore) = spec_ignore {
        patterns.extend(read_patterns(ignore.as_bytes(), ROOT));
    }
    Ok(source_ignore_matcher(patterns, ROOT))
}

#[cfg(test)]
mod tests;
