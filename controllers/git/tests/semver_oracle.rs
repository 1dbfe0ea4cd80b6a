//! Eddy's Masterminds semver layer agrees with the real library on every row of the oracle
//! table (`tests/data/semver_oracle.tsv`, produced by `hack/semver-oracle/regen.sh` from
//! Masterminds/semver v3.5.0, the version source-controller pins).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use eddy_git::semver::{Constraint, Version};

fn inputs(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).collect()
}

#[test]
fn agrees_with_masterminds_on_every_row() {
    let table = include_str!("data/semver_oracle.tsv");
    let constraints_in = inputs(include_str!("data/semver_constraints.txt"));
    let versions_in = inputs(include_str!("data/semver_versions.txt"));

    let mut constraints = BTreeMap::new();
    let mut versions = BTreeMap::new();
    let (mut rows, mut mismatches) = (0, Vec::new());
    let (mut seen_c, mut seen_v) = (0, 0);
    for line in table.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        rows += 1;
        match cols.as_slice() {
            ["constraint", c, verdict] => {
                seen_c += 1;
                let ours = Constraint::parse(c);
                if ours.is_ok() != (*verdict == "ok") {
                    mismatches.push(format!("constraint {c:?}: oracle {verdict}, ours {ours:?}"));
                }
                if let Ok(parsed) = ours {
                    constraints.insert((*c).to_owned(), parsed);
                }
            }
            ["version", v, verdict] => {
                seen_v += 1;
                let ours = Version::parse_tag(v);
                if ours.is_ok() != (*verdict == "ok") {
                    mismatches.push(format!("version {v:?}: oracle {verdict}, ours {ours:?}"));
                }
                if let Ok(parsed) = ours {
                    versions.insert((*v).to_owned(), parsed);
                }
            }
            ["check", c, v, verdict] => {
                let (Some(c_parsed), Some(v_parsed)) = (constraints.get(*c), versions.get(*v)) else {
                    mismatches.push(format!("check {c:?} {v:?}: not parsed by us"));
                    continue;
                };
                let ours = c_parsed.matches(v_parsed);
                if ours != (*verdict == "true") {
                    mismatches.push(format!("check {c:?} {v:?}: oracle {verdict}, ours {ours}"));
                }
            }
            ["compare", a, b, verdict] => {
                let (Some(a_parsed), Some(b_parsed)) = (versions.get(*a), versions.get(*b)) else {
                    mismatches.push(format!("compare {a:?} {b:?}: not parsed by us"));
                    continue;
                };
                let ours = match a_parsed.compare(b_parsed) {
                    Ordering::Less => "-1",
                    Ordering::Equal => "0",
                    Ordering::Greater => "1",
                };
                if ours != *verdict {
                    mismatches.push(format!("compare {a:?} {b:?}: oracle {verdict}, ours {ours}"));
                }
            }
            other => panic!("malformed oracle row: {other:?}"),
        }
    }
    // The table covers every input (it is not stale or truncated).
    assert_eq!(seen_c, constraints_in.len(), "constraint rows vs semver_constraints.txt");
    assert_eq!(seen_v, versions_in.len(), "version rows vs semver_versions.txt");
    assert!(rows > 5000, "only {rows} rows");
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}
