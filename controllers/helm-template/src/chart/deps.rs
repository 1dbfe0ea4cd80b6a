//! Dependency processing as Helm's `ProcessDependenciesWithMerge`: aliases, `tags` and
//! `condition` decide which subcharts stay, then `import-values` copy child values up.

use std::collections::BTreeMap;

use super::values::{coalesce_tables, coalesce_values, coalesce_values_checked, path_value};
use super::{Chart, ChartError, ImportValue};
use crate::value::Value;

/// Fails as Helm's `CheckDependencies` does when a declared dependency is not in `charts/`.
pub fn check_dependencies(chart: &Chart) -> Result<(), ChartError> {
    let missing: Vec<&str> = chart
        .metadata
        .dependencies
        .iter()
        .filter(|d| !chart.dependencies.iter().any(|c| c.name() == d.name))
        .map(|d| d.name.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(ChartError::Missing(format!("found in Chart.yaml, but missing in charts/ directory: {}", missing.join(", "))))
}

/// Enables/disables subcharts and applies aliases and import-values, in place.
/// Fails as Helm's `ProcessDependencies` does when a subchart's values are not a map.
pub fn process(chart: &mut Chart, vals: &Value) -> Result<(), String> {
    enabled(chart, vals, "")?;
    import_values(chart);
    Ok(())
}

fn enabled(c: &mut Chart, v: &Value, path: &str) -> Result<(), String> {
    if c.metadata.dependencies.is_empty() {
        return Ok(());
    }
    // A subchart answers a requirement when its name matches and its version satisfies the
    // requirement's range (Helm's IsCompatibleRange); others stay as plain subcharts.
    let answers = |r: &super::Dependency, d: &Chart| {
        d.name() == r.name && crate::funcs::semver_satisfies(&r.version, &d.metadata.version)
    };
    let mut kept: Vec<Chart> = c
        .dependencies
        .iter()
        .filter(|existing| !c.metadata.dependencies.iter().any(|r| answers(r, existing)))
        .cloned()
        .collect();
    for req in &mut c.metadata.dependencies {
        if let Some(found) = c.dependencies.iter().find(|d| answers(req, d)) {
            let mut out = found.clone();
            if !req.alias.is_empty() {
                out.metadata.name = req.alias.clone();
            }
            kept.push(out);
        }
        if !req.alias.is_empty() {
            req.name = req.alias.clone();
        }
    }
    c.dependencies = kept;
    for r in &mut c.metadata.dependencies {
        r.enabled = true;
    }
    let cvals = coalesce_values_checked(c, v)?;
    // Tags.
    if let Some(Value::Map(tags)) = path_value(&cvals, "tags") {
        for r in &mut c.metadata.dependencies {
            let (mut has_true, mut has_false) = (false, false);
            for t in &r.tags {
                match tags.borrow().get(t) {
                    Some(Value::Bool(true)) => has_true = true,
                    Some(Value::Bool(false)) => has_false = true,
                    _ => {}
                }
            }
            r.enabled = has_true || !has_false;
        }
    }
    // Conditions.
    for r in &mut c.metadata.dependencies {
        for cond in r.condition.trim().split(',') {
            if cond.is_empty() {
                continue;
            }
            if let Some(Value::Bool(b)) = path_value(&cvals, &format!("{path}{cond}")) {
                r.enabled = b;
                break;
            }
        }
    }
    let removed: Vec<String> = c.metadata.dependencies.iter().filter(|r| !r.enabled).map(|r| r.name.clone()).collect();
    c.dependencies.retain(|d| !removed.contains(&d.metadata.name));
    c.metadata.dependencies.retain(|r| !removed.contains(&r.name));
    for t in &mut c.dependencies {
        let sub = format!("{path}{}.", t.metadata.name);
        enabled(t, &cvals, &sub)?;
    }
    Ok(())
}

fn path_to_map(path: &str, data: Value) -> Value {
    if path == "." {
        return data;
    }
    let mut cur = data;
    for part in path.split('.').rev() {
        let mut m = BTreeMap::new();
        m.insert(part.to_string(), cur);
        cur = Value::map(m);
    }
    cur
}

fn import_values(c: &mut Chart) {
    for d in &mut c.dependencies {
        import_values(d);
    }
    if c.metadata.dependencies.is_empty() {
        return;
    }
    let cvals = coalesce_values_merge(c);
    let b = Value::empty_map_rc();
    let mut any = false;
    for r in &c.metadata.dependencies {
        for iv in &r.import_values {
            let (child, parent) = match iv {
                ImportValue::Path { child, parent } => (child.clone(), parent.clone()),
                ImportValue::Export(s) => (format!("exports.{s}"), ".".to_string()),
            };
            let Some(Value::Map(vv)) = path_value(&cvals, &format!("{}.{child}", r.name)) else {
                continue;
            };
            any = true;
            if let Value::Map(src) = path_to_map(&parent, Value::Map(vv).deep_copy()) {
                coalesce_tables(&b, &src, true);
            }
        }
    }
    if !any {
        return;
    }
    if let Value::Map(cv) = cvals.deep_copy() {
        coalesce_tables(&cv, &b, true);
        c.values_yaml = crate::yaml::emit::marshal(&Value::Map(cv));
    }
}

fn coalesce_values_merge(c: &Chart) -> Value {
    coalesce_values(c, &Value::empty_map(), true)
}
