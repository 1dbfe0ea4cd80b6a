//! Writing the verdict for people: on the terminal and as Markdown for the docs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::diff::Difference;
use crate::known::Verdict;

/// The text report: one line per scenario, then every difference.
#[must_use]
pub fn text(results: &BTreeMap<String, Vec<Difference>>, errors: &BTreeMap<String, String>, v: &Verdict) -> String {
    let mut s = String::new();
    for (name, diffs) in results {
        let state = if v.unexpected.contains_key(name) {
            "DIFFERS"
        } else if diffs.is_empty() {
            "agrees"
        } else {
            "agrees up to known differences"
        };
        let _ = writeln!(s, "{name:32} {state}");
    }
    for (name, e) in errors {
        let _ = writeln!(s, "{name:32} ERROR: {e}");
    }
    for (name, diffs) in &v.unexpected {
        let _ = writeln!(s, "\nunexpected differences in {name}:");
        for d in diffs {
            let _ = writeln!(s, "  {}\n    flux: {}\n    eddy: {}", d.path, d.flux, d.eddy);
        }
    }
    for k in &v.stale {
        let _ =
            writeln!(s, "\nlisted difference no longer differs (remove it): {} | {} | {}", k.scenario, k.field, k.why);
    }
    let _ = writeln!(
        s,
        "\n{} scenarios, {} agree exactly, {} with known differences only, {} differ, {} stale entries, {} errors",
        results.len() + errors.len(),
        results.values().filter(|d| d.is_empty()).count(),
        results.iter().filter(|(n, d)| !d.is_empty() && !v.unexpected.contains_key(*n)).count(),
        v.unexpected.len(),
        v.stale.len(),
        errors.len()
    );
    s
}

fn cell(s: &str) -> String {
    let s = s.replace('|', "\\|").replace('\n', " ");
    if s.chars().count() > 160 { format!("{}…", s.chars().take(160).collect::<String>()) } else { s }
}

/// The Markdown report: a table of scenarios, then each difference with both values.
#[must_use]
pub fn markdown(results: &BTreeMap<String, Vec<Difference>>, errors: &BTreeMap<String, String>, v: &Verdict) -> String {
    let mut s = String::from("| scenario | result |\n|---|---|\n");
    for (name, diffs) in results {
        let state = if v.unexpected.contains_key(name) {
            format!("differs ({} fields unlisted)", v.unexpected[name].len())
        } else if diffs.is_empty() {
            "agrees".to_owned()
        } else {
            format!("agrees up to {} known field differences", diffs.len())
        };
        let _ = writeln!(s, "| `{name}` | {state} |");
    }
    for (name, e) in errors {
        let _ = writeln!(s, "| `{name}` | harness error: {} |", cell(e));
    }
    let mut rows = String::new();
    for (name, list) in &v.known {
        for (d, why) in list {
            let _ = writeln!(
                rows,
                "| `{name}` | `{}` | {} | {} | {} |",
                cell(&d.path),
                cell(&d.flux),
                cell(&d.eddy),
                cell(why)
            );
        }
    }
    for (name, list) in &v.unexpected {
        for d in list {
            let _ = writeln!(
                rows,
                "| `{name}` | `{}` | {} | {} | **unlisted** |",
                cell(&d.path),
                cell(&d.flux),
                cell(&d.eddy)
            );
        }
    }
    if !rows.is_empty() {
        s.push_str("\n| scenario | field | Flux | Eddy | why |\n|---|---|---|---|---|\n");
        s.push_str(&rows);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::known::{judge, parse};

    #[test]
    fn reports_name_every_scenario_and_difference() {
        let d = Difference {
            path: "kustomizations.app.conditions[Ready].message".into(),
            flux: "\"a\"".into(),
            eddy: "\"b\"".into(),
        };
        let results = BTreeMap::from([("one".to_owned(), vec![]), ("two".to_owned(), vec![d])]);
        let errors = BTreeMap::from([("three".to_owned(), "boom".to_owned())]);
        let v = judge(&results, &parse("").expect("parse"));
        let t = text(&results, &errors, &v);
        assert!(t.contains("one") && t.contains("agrees"));
        assert!(t.contains("two") && t.contains("DIFFERS"));
        assert!(t.contains("ERROR: boom"));
        let m = markdown(&results, &errors, &v);
        assert!(
            m.contains("| `two` | `kustomizations.app.conditions[Ready].message` | \"a\" | \"b\" | **unlisted** |"),
            "{m}"
        );
    }
}
