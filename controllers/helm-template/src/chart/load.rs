//! Loading charts from a directory or a `.tgz` archive, as Helm's loader does: `Chart.yaml`,
//! `values.yaml`, `templates/`, `charts/` (directories and archives), other files, and
//! `.helmignore`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use super::{Chart, ChartError, File, Metadata};
use crate::value::Value;
use crate::yaml;

/// Loads a chart from a directory.
pub fn load_dir(dir: &Path) -> Result<Chart, ChartError> {
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    let ignore = files
        .iter()
        .find(|f| f.name == ".helmignore")
        .map(|f| String::from_utf8_lossy(&f.data).into_owned())
        .unwrap_or_default();
    let rules = IgnoreRules::parse(&ignore);
    let files = files.into_iter().filter(|f| !rules.ignored(&f.name)).collect();
    load_files(files)
}

/// Loads a chart from the bytes of a gzipped tar archive (`helm package` output).
pub fn load_archive(bytes: &[u8]) -> Result<Chart, ChartError> {
    let gz = flate2::read::GzDecoder::new(bytes);
    let mut ar = tar::Archive::new(gz);
    let mut files = Vec::new();
    let entries = ar.entries().map_err(|e| ChartError::Archive(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| ChartError::Archive(e.to_string()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(|e| ChartError::Archive(e.to_string()))?.to_string_lossy().replace('\\', "/");
        // The first path element is the chart's directory.
        let Some((_, rest)) = path.split_once('/') else {
            continue;
        };
        if rest.split('/').any(|p| p == "..") {
            return Err(ChartError::Archive(format!("chart illegally references parent directory: {path}")));
        }
        let mut data = Vec::new();
        entry.by_ref().take(64 << 20).read_to_end(&mut data).map_err(|e| ChartError::Archive(e.to_string()))?;
        files.push(File { name: rest.to_string(), data });
    }
    let ignore = files
        .iter()
        .find(|f| f.name == ".helmignore")
        .map(|f| String::from_utf8_lossy(&f.data).into_owned())
        .unwrap_or_default();
    let rules = IgnoreRules::parse(&ignore);
    let files = files.into_iter().filter(|f| !rules.ignored(&f.name)).collect();
    load_files(files)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<File>) -> Result<(), ChartError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| ChartError::Io(format!("{}: {e}", dir.display())))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let p = e.path();
        let meta = std::fs::metadata(&p).map_err(|e| ChartError::Io(format!("{}: {e}", p.display())))?;
        if meta.is_dir() {
            walk(root, &p, out)?;
        } else {
            let rel = p.strip_prefix(root).unwrap_or(&p).to_string_lossy().replace('\\', "/");
            let data = std::fs::read(&p).map_err(|e| ChartError::Io(format!("{}: {e}", p.display())))?;
            out.push(File { name: rel, data });
        }
    }
    Ok(())
}

/// Builds a chart from its files (paths relative to the chart root, `/`-separated).
pub fn load_files(files: Vec<File>) -> Result<Chart, ChartError> {
    let mut chart = Chart::default();
    let mut sub: BTreeMap<String, Vec<File>> = BTreeMap::new();
    let mut archives: Vec<File> = Vec::new();
    let mut have_chart_yaml = false;
    for f in files {
        let name = f.name.clone();
        if name == "Chart.yaml" {
            have_chart_yaml = true;
            let text = String::from_utf8_lossy(&f.data).into_owned();
            chart.metadata = Metadata::from_yaml(&text)?;
        } else if name == "values.yaml" {
            let text = String::from_utf8_lossy(&f.data).into_owned();
            yaml::parse(&text).map_err(|e| ChartError::Yaml("values.yaml".into(), e.to_string()))?;
            chart.values_yaml = text;
        } else if name == "values.schema.json" {
            chart.schema = Some(f.data);
        } else if name == "requirements.yaml" {
            chart.requirements = Some(String::from_utf8_lossy(&f.data).into_owned());
            chart.files.push(f);
        } else if name.starts_with("templates/") {
            chart.templates.push(f);
        } else if let Some(rest) = name.strip_prefix("charts/") {
            if rest.starts_with(['.', '_']) {
                continue;
            }
            match rest.split_once('/') {
                Some((dir, inner)) => {
                    sub.entry(dir.to_string()).or_default().push(File { name: inner.to_string(), data: f.data });
                }
                None if rest.ends_with(".tgz") || rest.ends_with(".tar.gz") => archives.push(f),
                None => chart.files.push(f),
            }
        } else {
            chart.files.push(f);
        }
    }
    if !have_chart_yaml {
        return Err(ChartError::Missing("Chart.yaml file is missing".into()));
    }
    // Helm's loader reads a Chart.yaml without apiVersion as v1.
    if chart.metadata.api_version.is_empty() {
        chart.metadata.api_version = "v1".into();
    }
    validate(&chart.metadata)?;
    if let Some(req) = chart.requirements.take()
        && chart.metadata.api_version == "v1"
        && let Ok(Value::Map(m)) = yaml::parse(&req)
        && let Some(Value::List(deps)) = m.borrow().get("dependencies")
    {
        chart.metadata.dependencies = deps.iter().map(super::Dependency::from_value).collect();
    }
    for (dir, files) in sub {
        let dep = load_files(files).map_err(|e| {
            ChartError::Invalid(format!("error unpacking subchart {dir} in {}: {e}", chart.metadata.name))
        })?;
        chart.dependencies.push(dep);
    }
    for a in archives {
        chart.dependencies.push(load_archive(&a.data)?);
    }
    Ok(chart)
}

/// Helm's `Metadata.Validate`.
fn validate(md: &Metadata) -> Result<(), ChartError> {
    let invalid = |m: String| Err(ChartError::Invalid(format!("validation: {m}")));
    if md.name.is_empty() {
        return invalid("chart.metadata.name is required".into());
    }
    if md.name.contains('/') {
        return invalid(format!("chart.metadata.name {:?} is invalid", md.name));
    }
    if md.version.is_empty() {
        return invalid("chart.metadata.version is required".into());
    }
    if crate::funcs::sprig_version_valid(&md.version).is_none() {
        return invalid(format!("chart.metadata.version {:?} is invalid", md.version));
    }
    if !matches!(md.chart_type.as_str(), "" | "application" | "library") {
        return invalid("chart.metadata.type must be application or library".into());
    }
    Ok(())
}

/// `.helmignore` rules (a subset of gitignore, as Helm's `ignore` package reads them).
struct IgnoreRules {
    rules: Vec<(bool, bool, regex::Regex)>,
}

impl IgnoreRules {
    fn parse(text: &str) -> IgnoreRules {
        let mut rules = Vec::new();
        // Helm's default: hidden files under templates/ are ignored.
        if let Ok(re) = regex::Regex::new(r"^templates/\.[^/]*$") {
            rules.push((false, false, re));
        }
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negate, pat) = match line.strip_prefix('!') {
                Some(p) => (true, p),
                None => (false, line),
            };
            let dir_only = pat.ends_with('/');
            let pat = pat.trim_end_matches('/');
            let anchored = pat.contains('/');
            let pat = pat.trim_start_matches('/');
            let mut re = String::new();
            re.push_str(if anchored { "^" } else { "(^|/)" });
            let chars: Vec<char> = pat.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                match chars[i] {
                    '*' if chars.get(i + 1) == Some(&'*') => {
                        re.push_str(".*");
                        i += 1;
                    }
                    '*' => re.push_str("[^/]*"),
                    '?' => re.push_str("[^/]"),
                    c => re.push_str(&regex::escape(&c.to_string())),
                }
                i += 1;
            }
            re.push_str(if dir_only { "/" } else { "($|/)" });
            if let Ok(r) = regex::Regex::new(&re) {
                rules.push((negate, dir_only, r));
            }
        }
        IgnoreRules { rules }
    }

    fn ignored(&self, path: &str) -> bool {
        if path == "Chart.yaml" {
            return false;
        }
        let mut ignored = false;
        for (negate, _, re) in &self.rules {
            if re.is_match(path) {
                ignored = !negate;
            }
        }
        ignored
    }
}
