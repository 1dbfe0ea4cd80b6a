//! YAML and JSON as Helm reads and writes them: `sigs.k8s.io/yaml` (YAML → JSON → Go values,
//! so every number is a `float64`; output through JSON into yaml.v2's emitter) and Go's
//! `encoding/json`.

pub mod emit;
pub mod json;
mod load;
pub mod toml;

use crate::value::Value;

/// A YAML parse error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("error converting YAML to JSON: yaml: {0}")]
pub struct YamlError(pub String);

/// Parses the first document of `src` as `sigs.k8s.io/yaml.Unmarshal` into `interface{}`.
pub fn parse(src: &str) -> Result<Value, YamlError> {
    Ok(load::load_all(src).map_err(YamlError)?.into_iter().next().unwrap_or(Value::Nil))
}

/// Parses every document of `src`.
pub fn parse_all(src: &str) -> Result<Vec<Value>, YamlError> {
    load::load_all(src).map_err(YamlError)
}
