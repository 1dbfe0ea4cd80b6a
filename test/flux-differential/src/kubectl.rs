//! One side's cluster, driven by `kubectl` as the cluster admin.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{Error, Result};

/// A cluster: Flux's reference cluster or Eddy's.
#[derive(Debug, Clone)]
pub struct Side {
    /// `"flux"` or `"eddy"`.
    pub name: &'static str,
    /// The admin kubeconfig.
    pub kubeconfig: PathBuf,
}

impl Side {
    /// A side reached through `kubeconfig`.
    #[must_use]
    pub fn new(name: &'static str, kubeconfig: PathBuf) -> Self {
        Self { name, kubeconfig }
    }

    /// Runs kubectl with `stdin` as input; returns standard output.
    ///
    /// # Errors
    /// kubectl cannot be run or exits non-zero.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let spawn_err = |source| Error::Spawn { program: "kubectl".into(), source };
        let mut child = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input.as_bytes()).map_err(spawn_err)?;
        }
        let out = child.wait_with_output().map_err(spawn_err)?;
        if !out.status.success() {
            return Err(Error::Kubectl {
                side: self.name,
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `kubectl apply --server-side` of a YAML stream (as the admin, field manager `differential`).
    ///
    /// # Errors
    /// kubectl fails.
    pub fn apply(&self, yaml: &str) -> Result<()> {
        self.kubectl(&["apply", "--server-side", "--field-manager=differential", "-f", "-"], Some(yaml)).map(drop)
    }

    /// One object as JSON with its managedFields, or `Null` when it does not exist.
    ///
    /// # Errors
    /// kubectl fails for another reason than absence, or prints no JSON.
    pub fn get(&self, resource: &str, namespace: Option<&str>, name: &str) -> Result<Value> {
        let mut args = vec!["get", resource, name, "-o", "json", "--ignore-not-found", "--show-managed-fields"];
        if let Some(ns) = namespace {
            args.extend(["-n", ns]);
        }
        let text = self.kubectl(&args, None)?;
        if text.trim().is_empty() { Ok(Value::Null) } else { Ok(serde_json::from_str(&text)?) }
    }

    /// The items of a list (`kubectl get RESOURCE -n NS -o json`).
    ///
    /// # Errors
    /// kubectl fails or prints no JSON.
    pub fn list(&self, resource: &str, namespace: &str) -> Result<Vec<Value>> {
        let text = self.kubectl(&["get", resource, "-n", namespace, "-o", "json"], None)?;
        let v: Value = serde_json::from_str(&text)?;
        Ok(v["items"].as_array().cloned().unwrap_or_default())
    }

    /// Polls `f` every 500 ms until it returns `Some`, at most `limit`.
    ///
    /// # Errors
    /// `f` fails, or the limit passes ([`Error::Timeout`] naming `what`).
    pub fn wait<T>(&self, what: &str, limit: Duration, mut f: impl FnMut(&Self) -> Result<Option<T>>) -> Result<T> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(v) = f(self)? {
                return Ok(v);
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout(format!("{what} on the {} cluster", self.name)));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// The condition of `type_` in `obj`'s status: (status, reason).
#[must_use]
pub fn condition(obj: &Value, type_: &str) -> Option<(String, String)> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_).map(|c| {
        (c["status"].as_str().unwrap_or_default().to_owned(), c["reason"].as_str().unwrap_or_default().to_owned())
    })
}
