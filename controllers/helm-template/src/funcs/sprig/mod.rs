//! Sprig v3's functions as Helm exposes it (Helm removes `env` and `expandenv`).

mod collections;
mod crypto;
mod dates;
mod extra;
mod keys;
mod misc;
mod passwords;
mod semver;
mod strings;

use std::collections::HashMap;

use super::Func;

pub(super) fn register(m: &mut HashMap<&'static str, Func>) {
    strings::register(m);
    collections::register(m);
    misc::register(m);
    extra::register(m);
    semver::register(m);
    dates::register(m);
    crypto::register(m);
    passwords::register(m);
}

/// The `must*` and other aliases, once every function they stand for is registered.
pub(super) fn register_aliases(m: &mut HashMap<&'static str, Func>) {
    extra::register_aliases(m);
}

pub(crate) use dates::go_parse_error;

/// Whether `v` parses as a semantic version.
pub(super) fn version_valid(v: &str) -> Option<()> {
    semver::Version::parse(v).map(|_| ())
}

/// Whether `version` satisfies `constraint` (false when either does not parse).
pub(super) fn satisfies(constraint: &str, version: &str) -> bool {
    semver::matches(constraint, version).unwrap_or(false)
}
