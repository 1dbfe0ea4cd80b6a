//! The document formats: loading a document into branches plus its metadata, and writing
//! decrypted branches back.

pub(crate) mod dotenv;
pub(crate) mod ini;
pub(crate) mod json;
pub(crate) mod yaml;
mod yaml_comments;
mod yaml_scalar;

use crate::Format;
use crate::error::DocumentError;
use crate::metadata::{self, Metadata};
use crate::tree::{Branch, Key, Value};

/// Loads an encrypted document: its branches (metadata removed) and its metadata.
pub(crate) fn load(data: &[u8], format: Format) -> Result<(Vec<Branch>, Metadata), DocumentError> {
    let mut branches = match format {
        Format::Yaml => yaml::load(data)?,
        // A binary document is stored encrypted as JSON with a single `data` value.
        Format::Json | Format::Binary => json::load(data)?,
        Format::Dotenv => dotenv::load(data)?,
        Format::Ini => ini::load(data)?,
    };
    let meta = match format {
        Format::Yaml | Format::Json | Format::Binary => metadata::extract_nested(&mut branches)?,
        Format::Dotenv => metadata::extract_prefixed(&mut branches)?,
        Format::Ini => metadata::extract_section(&mut branches)?,
    };
    let comments_read = format != Format::Yaml || yaml_comments::weave(data, &mut branches);
    if !comments_read
        && (meta.rules.encrypted_comment_regex.is_some() || meta.rules.unencrypted_comment_regex.is_some())
    {
        return Err(DocumentError::Unsupported(
            "a comment regex (encrypted_comment_regex, unencrypted_comment_regex) in a YAML document",
        ));
    }
    Ok((branches, meta))
}

/// Writes decrypted branches in `format`.
pub(crate) fn emit(branches: &[Branch], format: Format) -> Result<Vec<u8>, String> {
    match format {
        Format::Yaml => Ok(yaml::emit(branches)),
        Format::Json => json::emit(branches),
        Format::Dotenv => dotenv::emit(branches),
        Format::Ini => ini::emit(branches),
        Format::Binary => {
            let branch =
                branches.first().filter(|_| branches.len() == 1).ok_or("there must be exactly one tree branch")?;
            let data = branch
                .iter()
                .find(|i| matches!(&i.key, Key::Str(k) if k == "data"))
                .ok_or("no binary data found in tree")?;
            match &data.value {
                Value::Str(s) => Ok(s.clone().into_bytes()),
                _ => Err("'data' key in tree does not have a string value".into()),
            }
        }
    }
}
