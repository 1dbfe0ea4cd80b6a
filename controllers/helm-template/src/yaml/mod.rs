//! YAML and JSON as Helm reads and writes them: `sigs.k8s.io/yaml` (YAML → JSON → Go values,
//! so every number is a `float64`; output through JSON into yaml.v2's emitter) and Go's
//! `encoding/json`.

pub mod emit;
pub mod json;

use std::collections::BTreeMap;

use yaml_rust2::{Yaml, YamlLoader};

use crate::template::format::format_float;
use crate::value::Value;

/// A YAML parse error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("error converting YAML to JSON: yaml: {0}")]
pub struct YamlError(pub String);

/// Parses the first document of `src` as `sigs.k8s.io/yaml.Unmarshal` into `interface{}`.
pub fn parse(src: &str) -> Result<Value, YamlError> {
    let docs = YamlLoader::load_from_str(src).map_err(|e| YamlError(e.to_string()))?;
    Ok(docs.first().map(convert).unwrap_or(Value::Nil))
}

/// Parses every document of `src`.
pub fn parse_all(src: &str) -> Result<Vec<Value>, YamlError> {
    let docs = YamlLoader::load_from_str(src).map_err(|e| YamlError(e.to_string()))?;
    Ok(docs.iter().map(convert).collect())
}

fn key_string(k: &Yaml) -> String {
    match k {
        Yaml::String(s) | Yaml::Real(s) => match k {
            Yaml::Real(_) => s.parse::<f64>().map(|f| format_float(f, 'g', -1)).unwrap_or_else(|_| s.clone()),
            _ => s.clone(),
        },
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Null => "null".into(),
        _ => String::new(),
    }
}

fn convert(y: &Yaml) -> Value {
    match y {
        Yaml::Real(s) => Value::Float(parse_yaml_float(s)),
        Yaml::Integer(i) => Value::Float(*i as f64),
        Yaml::String(s) => Value::str(s.as_str()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::list(a.iter().map(convert).collect()),
        Yaml::Hash(h) => {
            let mut m = BTreeMap::new();
            for (k, v) in h {
                m.insert(key_string(k), convert(v));
            }
            Value::map(m)
        }
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Value::Nil,
    }
}

fn parse_yaml_float(s: &str) -> f64 {
    match s.to_ascii_lowercase().trim_start_matches('+') {
        ".inf" => f64::INFINITY,
        "-.inf" => f64::NEG_INFINITY,
        ".nan" => f64::NAN,
        other => other.replace('_', "").parse().unwrap_or(0.0),
    }
}
