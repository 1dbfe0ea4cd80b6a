//! The replacements transformer.

use std::path::Path;

use crate::Error;
use crate::loader::Loader;
use crate::resource::Resource;
use crate::yaml::Value;

/// Applies `replacements` entries.
pub fn apply(_loader: &Loader, _dir: &Path, _ra: &mut [Resource], _entries: &[Value]) -> Result<(), Error> {
    Err(Error::transform("replacements are not supported by this build engine yet"))
}
