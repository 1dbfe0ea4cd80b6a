//! Versions as Masterminds/semver v3 parses and orders them.
//!
//! Flux reads tags with `fluxcd/pkg/version.ParseVersion`: the tag must split into exactly three
//! dot-separated parts, then Masterminds' `NewVersion` parses it leniently (a `v` prefix and
//! leading zeros in the numbers are accepted, `CoerceNewVersion` being on by default). The
//! pre-release and build metadata are validated as Masterminds does (no empty identifiers, no
//! leading zero in a numeric pre-release identifier). Ordering ignores build metadata and follows
//! Masterminds' `Compare`, which differs from the semver specification in one corner: two
//! non-numeric pre-release identifiers compare as byte strings, and a numeric identifier too large
//! for `u64` counts as non-numeric.

use std::cmp::Ordering;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// The longest version string Masterminds accepts (`MaxVersionLen`).
const MAX_VERSION_LEN: usize = 256;

/// Masterminds' `looseSemVerRegex`, anchored; `\.` and character classes only, so it reads the
/// same under Go's RE2 and Rust's `regex`.
static LOOSE_VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$",
    )
    .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});

/// Why a string is not a version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Not of the form `[v]MAJOR[.MINOR[.PATCH]][-PRE][+META]` (Flux also wants all three numbers).
    #[error("invalid semantic version")]
    Invalid,
    /// Longer than 256 bytes.
    #[error("version string is too long (max {MAX_VERSION_LEN} bytes)")]
    TooLong,
    /// A number does not fit in 64 bits.
    #[error("error parsing version segment")]
    Segment,
    /// A numeric pre-release identifier starts with `0`.
    #[error("version segment starts with 0")]
    SegmentStartsZero,
    /// An empty or malformed pre-release identifier.
    #[error("invalid prerelease string")]
    Prerelease,
    /// An empty or malformed build metadata identifier.
    #[error("invalid metadata string")]
    Metadata,
}

/// A parsed version, keeping the text it was parsed from (the tag name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    metadata: String,
    original: String,
}

impl Version {
    /// Parses `v` as Masterminds' `NewVersion` does (lenient: `v` prefix, missing minor/patch,
    /// leading zeros).
    ///
    /// # Errors
    ///
    /// [`VersionError`] when `v` is not a version.
    pub fn parse(v: &str) -> Result<Self, VersionError> {
        if v.len() > MAX_VERSION_LEN {
            return Err(VersionError::TooLong);
        }
        let m = LOOSE_VERSION.captures(v).ok_or(VersionError::Invalid)?;
        let num = |i: usize| -> Result<u64, VersionError> {
            match m.get(i) {
                None => Ok(0),
                Some(s) => parse_uint(s.as_str().trim_start_matches('.')).ok_or(VersionError::Segment),
            }
        };
        let version = Self {
            major: num(1)?,
            minor: num(2)?,
            patch: num(3)?,
            pre: m.get(5).map_or(String::new(), |s| s.as_str().to_owned()),
            metadata: m.get(8).map_or(String::new(), |s| s.as_str().to_owned()),
            original: v.to_owned(),
        };
        if !version.pre.is_empty() {
            validate_prerelease(&version.pre)?;
        }
        if !version.metadata.is_empty() {
            validate_metadata(&version.metadata)?;
        }
        Ok(version)
    }

    /// Parses a tag name as Flux's `version.ParseVersion`: exactly three dot-separated parts
    /// (`v1.2` and `1` are refused), then [`Version::parse`].
    ///
    /// # Errors
    ///
    /// [`VersionError::Invalid`] for fewer than three parts, else as [`Version::parse`].
    pub fn parse_tag(tag: &str) -> Result<Self, VersionError> {
        if tag.splitn(3, '.').count() != 3 {
            return Err(VersionError::Invalid);
        }
        Self::parse(tag)
    }

    /// The major number.
    #[must_use]
    pub fn major(&self) -> u64 {
        self.major
    }

    /// The minor number.
    #[must_use]
    pub fn minor(&self) -> u64 {
        self.minor
    }

    /// The patch number.
    #[must_use]
    pub fn patch(&self) -> u64 {
        self.patch
    }

    /// The pre-release, without its `-` (empty for a release).
    #[must_use]
    pub fn prerelease(&self) -> &str {
        &self.pre
    }

    /// The build metadata, without its `+` (empty when absent).
    #[must_use]
    pub fn metadata(&self) -> &str {
        &self.metadata
    }

    /// The text this version was parsed from.
    #[must_use]
    pub fn original(&self) -> &str {
        &self.original
    }

    /// Masterminds' `Compare`: numbers, then pre-release (a release ranks above its
    /// pre-releases); build metadata is ignored.
    #[must_use]
    pub fn compare(&self, other: &Self) -> Ordering {
        self.major.cmp(&other.major).then(self.minor.cmp(&other.minor)).then(self.patch.cmp(&other.patch)).then_with(
            || match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &other.pre),
            },
        )
    }
}

impl fmt::Display for Version {
    /// The normalised form (no `v`, all three numbers), as Masterminds' `String`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

/// Go's `strconv.ParseUint(s, 10, 64)`: ASCII digits only (no sign), fits in 64 bits.
pub(crate) fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Masterminds' `comparePrerelease`: identifier by identifier, a missing one ranking lowest.
pub(crate) fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let a: Vec<&str> = a.split('.').collect();
    let b: Vec<&str> = b.split('.').collect();
    for i in 0..a.len().max(b.len()) {
        let d = compare_pre_part(a.get(i).copied().unwrap_or(""), b.get(i).copied().unwrap_or(""));
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (parse_uint(s), parse_uint(o)) {
        (None, None) => {
            if s > o {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        // A number ranks below a string.
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(si), Some(oi)) => {
            if si > oi {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

fn is_allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

fn validate_prerelease(p: &str) -> Result<(), VersionError> {
    for part in p.split('.') {
        if part.is_empty() {
            return Err(VersionError::Prerelease);
        } else if part.bytes().all(|b| b.is_ascii_digit()) {
            if part.len() > 1 && part.starts_with('0') {
                return Err(VersionError::SegmentStartsZero);
            }
        } else if !part.bytes().all(is_allowed) {
            return Err(VersionError::Prerelease);
        }
    }
    Ok(())
}

fn validate_metadata(m: &str) -> Result<(), VersionError> {
    if m.split('.').any(|part| part.is_empty() || !part.bytes().all(is_allowed)) {
        return Err(VersionError::Metadata);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_forms_parse_as_masterminds() {
        let v = Version::parse("v1.2").unwrap();
        assert_eq!((v.major(), v.minor(), v.patch()), (1, 2, 0));
        assert_eq!(v.original(), "v1.2");
        assert_eq!(Version::parse("01.02.3").unwrap().to_string(), "1.2.3");
        assert_eq!(Version::parse("1.2.3-rc.1+b.5").unwrap().to_string(), "1.2.3-rc.1+b.5");
        assert_eq!(Version::parse("1.2.3-01"), Err(VersionError::SegmentStartsZero));
        assert_eq!(Version::parse("1.2.3-a..b"), Err(VersionError::Invalid));
        assert_eq!(Version::parse("V1.2.3"), Err(VersionError::Invalid));
        assert_eq!(Version::parse("18446744073709551616.0.0"), Err(VersionError::Segment));
    }

    #[test]
    fn flux_tags_need_three_parts() {
        assert!(Version::parse_tag("v1.2").is_err());
        assert!(Version::parse_tag("1").is_err());
        assert!(Version::parse_tag("v1.2.3").is_ok());
        assert!(Version::parse_tag("2025.02.03").is_ok());
    }

    #[test]
    fn ordering_follows_masterminds() {
        let cmp = |a: &str, b: &str| Version::parse(a).unwrap().compare(&Version::parse(b).unwrap());
        assert_eq!(cmp("1.0.0-alpha", "1.0.0"), Ordering::Less);
        assert_eq!(cmp("1.0.0-alpha.1", "1.0.0-alpha"), Ordering::Greater);
        assert_eq!(cmp("1.0.0-beta.11", "1.0.0-beta.2"), Ordering::Greater);
        assert_eq!(cmp("1.0.0-1", "1.0.0-alpha"), Ordering::Less);
        assert_eq!(cmp("1.2.3+a", "1.2.3+b"), Ordering::Equal);
    }
}
