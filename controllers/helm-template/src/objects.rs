//! The host objects Helm puts in the render values: `.Files`, `.Capabilities` (with
//! `KubeVersion` and `APIVersions`).

use std::collections::BTreeMap;
use std::rc::Rc;

use base64::Engine as _;

use crate::value::{Object, Value};

/// `.Files`: the chart's non-template files, by path.
pub struct Files {
    /// Path → content.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Files {
    fn get(&self, name: &str) -> String {
        self.files.get(name).map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default()
    }

    fn glob(&self, pattern: &str) -> Files {
        let re = glob_regex(pattern);
        Files {
            files: self
                .files
                .iter()
                .filter(|(k, _)| re.as_ref().is_some_and(|r| r.is_match(k)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    fn as_map(&self, encode: bool) -> Value {
        let mut m = BTreeMap::new();
        for (k, v) in &self.files {
            let base = k.rsplit('/').next().unwrap_or(k).to_string();
            let s = if encode {
                base64::engine::general_purpose::STANDARD.encode(v)
            } else {
                String::from_utf8_lossy(v).into_owned()
            };
            m.insert(base, Value::str(s));
        }
        Value::map(m)
    }
}

/// gobwas/glob with `/` as separator, as Helm's `Files.Glob` compiles it.
fn glob_regex(pattern: &str) -> Option<regex::Regex> {
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut in_alt = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                re.push_str(".*");
                i += 1;
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '{' => {
                re.push_str("(?:");
                in_alt = true;
            }
            '}' if in_alt => {
                re.push(')');
                in_alt = false;
            }
            ',' if in_alt => re.push('|'),
            '[' => {
                let end = chars[i..].iter().position(|&x| x == ']').map(|p| p + i)?;
                let mut class: String = chars[i + 1..end].iter().collect();
                if let Some(rest) = class.strip_prefix('!') {
                    class = format!("^{rest}");
                }
                re.push('[');
                re.push_str(&class);
                re.push(']');
                i = end;
            }
            '\\' if i + 1 < chars.len() => {
                i += 1;
                re.push_str(&regex::escape(&chars[i].to_string()));
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    re.push('$');
    regex::Regex::new(&re).ok()
}

impl Object for Files {
    fn type_name(&self) -> &str {
        "files.Files"
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "AsConfig" => Some(Value::str(to_yaml(&self.as_map(false)))),
            "AsSecrets" => Some(Value::str(to_yaml(&self.as_map(true)))),
            _ => None,
        }
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let arg = || match args {
            [Value::Str(s)] => Ok(s.to_string()),
            _ => Err(format!("wrong number of args for {name}: want 1 got {}", args.len())),
        };
        Some(match name {
            "Get" => arg().map(|p| Value::str(self.get(&p))),
            "GetBytes" => arg().map(|p| {
                Value::list(
                    self.files
                        .get(&p)
                        .map(|b| b.iter().map(|x| Value::Int(i64::from(*x))).collect())
                        .unwrap_or_default(),
                )
            }),
            "Glob" => arg().map(|p| Value::Object(Rc::new(self.glob(&p)))),
            "Lines" => arg().map(|p| {
                let Some(bytes) = self.files.get(&p) else {
                    return Value::list(Vec::new());
                };
                let s = String::from_utf8_lossy(bytes).into_owned();
                let s = s.strip_suffix('\n').unwrap_or(&s);
                Value::list(s.split('\n').map(Value::str).collect())
            }),
            _ => return None,
        })
    }

    fn entries(&self) -> Option<Vec<(String, Value)>> {
        Some(
            self.files
                .iter()
                .map(|(k, v)| (k.clone(), Value::list(v.iter().map(|x| Value::Int(i64::from(*x))).collect())))
                .collect(),
        )
    }

    fn display(&self) -> String {
        let parts: Vec<String> = self
            .files
            .iter()
            .map(|(k, v)| {
                let bytes: Vec<String> = v.iter().map(u8::to_string).collect();
                format!("{k}:[{}]", bytes.join(" "))
            })
            .collect();
        format!("map[{}]", parts.join(" "))
    }
}

fn to_yaml(v: &Value) -> String {
    if let Value::Map(m) = v
        && m.borrow().is_empty()
    {
        return String::new();
    }
    crate::yaml::emit::marshal(v).trim_end_matches('\n').to_string()
}

/// `.Capabilities.KubeVersion`.
pub struct KubeVersion {
    /// `v1.37.0`.
    pub version: String,
    /// `1`.
    pub major: String,
    /// `37`.
    pub minor: String,
}

impl Object for KubeVersion {
    fn type_name(&self) -> &str {
        "common.KubeVersion"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Version" | "GitVersion" | "String" => Some(Value::str(self.version.as_str())),
            "Major" => Some(Value::str(self.major.as_str())),
            "Minor" => Some(Value::str(self.minor.as_str())),
            _ => None,
        }
    }
    fn call(&self, _: &str, _: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    fn display(&self) -> String {
        self.version.clone()
    }
    fn to_data(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("Major".into(), Value::str(self.major.as_str()));
        m.insert("Minor".into(), Value::str(self.minor.as_str()));
        m.insert("Version".into(), Value::str(self.version.as_str()));
        Value::map(m)
    }
}

/// `.Capabilities.APIVersions`.
pub struct ApiVersions(pub Vec<String>);

impl Object for ApiVersions {
    fn type_name(&self) -> &str {
        "common.VersionSet"
    }
    fn field(&self, _: &str) -> Option<Value> {
        None
    }
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if name != "Has" {
            return None;
        }
        Some(match args {
            [Value::Str(s)] => Ok(Value::Bool(self.0.iter().any(|v| v == &**s))),
            _ => Err(format!("wrong number of args for Has: want 1 got {}", args.len())),
        })
    }
    fn display(&self) -> String {
        format!("[{}]", self.0.join(" "))
    }
    fn to_data(&self) -> Value {
        Value::list(self.0.iter().map(|s| Value::str(s.as_str())).collect())
    }
}

/// `.Capabilities`.
pub struct Capabilities {
    /// The Kubernetes version.
    pub kube: Rc<KubeVersion>,
    /// The API versions.
    pub apis: Rc<ApiVersions>,
}

impl Object for Capabilities {
    fn type_name(&self) -> &str {
        "*common.Capabilities"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "KubeVersion" => Some(Value::Object(self.kube.clone())),
            "APIVersions" => Some(Value::Object(self.apis.clone())),
            "HelmVersion" => {
                let mut m = BTreeMap::new();
                m.insert("Version".into(), Value::str("v4.3.2"));
                m.insert("GitCommit".into(), Value::str(""));
                m.insert("GitTreeState".into(), Value::str(""));
                m.insert("GoVersion".into(), Value::str(""));
                Some(Value::map(m))
            }
            _ => None,
        }
    }
    fn call(&self, _: &str, _: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    fn display(&self) -> String {
        format!("&{{{} {} {{}}}}", self.kube.version, self.apis.display())
    }
}
