//! The `/metrics` text: rendered, parsed back with an independent reader of the exposition
//! format, and compared with the names, labels, help texts and buckets of Flux and
//! controller-runtime (as Go's client writes them).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use eddy_api::meta::Condition;
use eddy_controller_runtime::metrics::{ActiveWorker, Metrics, ReconcileOutcome};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    /// Label names in the order written.
    order: Vec<String>,
    value: String,
}

/// One family: its HELP, TYPE and samples.
#[derive(Debug, Default)]
struct Family {
    help: String,
    kind: String,
    samples: Vec<Sample>,
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses the text format strictly enough to catch malformed output.
fn parse(text: &str) -> (Vec<String>, BTreeMap<String, Family>) {
    let mut order = Vec::new();
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let mut current = String::new();
    assert!(text.ends_with('\n'), "the exposition ends with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name and text");
            assert!(!families.contains_key(name), "family {name} appears twice");
            current = name.to_owned();
            order.push(current.clone());
            families.entry(current.clone()).or_default().help = unescape(help);
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name and type");
            assert_eq!(name, current, "TYPE follows its HELP");
            families.get_mut(name).unwrap().kind = kind.to_owned();
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "unexpected line {line:?}");
        let (name, rest) = line.split_at(line.find(['{', ' ']).expect("sample name"));
        let (labels, order_, value) = if let Some(rest) = rest.strip_prefix('{') {
            let mut labels = BTreeMap::new();
            let mut names = Vec::new();
            let mut rest = rest;
            loop {
                if let Some(after) = rest.strip_prefix('}') {
                    rest = after;
                    break;
                }
                let rest2 = rest.strip_prefix(',').unwrap_or(rest);
                let (label, after) = rest2.split_once("=\"").expect("label=\"value\"");
                let mut value = String::new();
                let mut chars = after.char_indices();
                let end = loop {
                    let (i, c) = chars.next().expect("closing quote");
                    match c {
                        '\\' => {
                            value.push(c);
                            value.push(chars.next().expect("escaped char").1);
                        }
                        '"' => break i,
                        c => value.push(c),
                    }
                };
                assert!(labels.insert(label.to_owned(), unescape(&value)).is_none(), "duplicate label {label}");
                names.push(label.to_owned());
                rest = &after[end + 1..];
            }
            (labels, names, rest.trim_start().to_owned())
        } else {
            (BTreeMap::new(), Vec::new(), rest.trim_start().to_owned())
        };
        assert!(value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value.as_str()), "value {value:?}");
        let family = families.get_mut(&current).unwrap_or_else(|| panic!("sample {name} before any HELP"));
        let base = match family.kind.as_str() {
            "histogram" => name
                .strip_suffix("_bucket")
                .or_else(|| name.strip_suffix("_sum"))
                .or_else(|| name.strip_suffix("_count"))
                .unwrap_or(name),
            _ => name,
        };
        assert_eq!(base, current, "sample {name} inside family {current}");
        family.samples.push(Sample { name: name.to_owned(), labels, order: order_, value });
    }
    (order, families)
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn value(f: &Family, name: &str, pairs: &[(&str, &str)]) -> String {
    let want = labels(pairs);
    f.samples
        .iter()
        .find(|s| s.name == name && s.labels == want)
        .unwrap_or_else(|| panic!("no {name}{want:?} in {:#?}", f.samples))
        .value
        .clone()
}

/// Checks a histogram's series: the `le` values in order, cumulative counts, +Inf = count.
fn check_histogram(f: &Family, name: &str, pairs: &[(&str, &str)], les: &[&str]) {
    let base = labels(pairs);
    let buckets: Vec<&Sample> = f
        .samples
        .iter()
        .filter(|s| s.name == format!("{name}_bucket") && s.labels.iter().filter(|(k, _)| *k != "le").eq(base.iter()))
        .collect();
    let got: Vec<&str> = buckets.iter().map(|s| s.labels["le"].as_str()).collect();
    let mut want: Vec<&str> = les.to_vec();
    want.push("+Inf");
    assert_eq!(got, want, "{name} buckets");
    assert!(buckets.iter().all(|s| s.order.last().map(String::as_str) == Some("le")), "le comes last");
    let counts: Vec<u64> = buckets.iter().map(|s| s.value.parse().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{name} buckets are cumulative: {counts:?}");
    let count: u64 = value(f, &format!("{name}_count"), pairs).parse().unwrap();
    assert_eq!(counts.last().copied(), Some(count));
}

const FLUX_LE: [&str; 10] = [
    "0.01",
    "0.038363583488692544",
    "0.1471764538093883",
    "0.5646216173286169",
    "2.166090855590701",
    "8.309900738254731",
    "31.879757075478317",
    "122.30217221643493",
    "469.19495946736544",
    "1799.9999999999986",
];
const WORKQUEUE_LE: [&str; 12] = [
    "1e-08",
    "1e-07",
    "1e-06",
    "9.999999999999999e-06",
    "9.999999999999999e-05",
    "0.001",
    "0.01",
    "0.1",
    "1",
    "10",
    "100",
    "1000",
];
const RECONCILE_LE: [&str; 40] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.15", "0.2", "0.25", "0.3", "0.35", "0.4", "0.45", "0.5", "0.6", "0.7",
    "0.8", "0.9", "1", "1.25", "1.5", "1.75", "2", "2.5", "3", "3.5", "4", "4.5", "5", "6", "7", "8", "9", "10", "15",
    "20", "25", "30", "40", "50", "60",
];

fn condition(t: &str, status: &str) -> Condition {
    serde_json::from_value(serde_json::json!({
        "type": t, "status": status, "reason": "Succeeded", "message": "m", "lastTransitionTime": "2026-01-01T00:00:00Z"
    }))
    .unwrap()
}

/// A registry with a bit of everything, and a worker kept busy.
fn populated() -> (Metrics, ActiveWorker) {
    let m = Metrics::new();
    let c = m.controller("gitrepository", 4);
    let busy = c.worker();
    c.reconciled(ReconcileOutcome::Success, Duration::from_millis(200));
    c.reconciled(ReconcileOutcome::Error, Duration::from_millis(1500));
    c.reconciled(ReconcileOutcome::RequeueAfter, Duration::from_millis(7));
    c.reconciled(ReconcileOutcome::TerminalError, Duration::from_secs(90));
    c.panicked();
    let _idle = m.controller("kustomization", 2);
    let q = m.queue("gitrepository");
    q.add(0);
    q.add(0);
    q.add(-100);
    q.get(0, Duration::from_micros(20));
    q.done(Duration::from_millis(50));
    q.retry();
    q.set_unfinished(Duration::from_millis(3500), Duration::from_secs(2));
    m.record_duration("GitRepository", "flux-system", "podinfo", Duration::from_millis(500));
    m.record_duration("GitRepository", "flux-system", "podinfo", Duration::from_secs(3));
    m.record_duration("GitRepository", "apps", "zeta", Duration::from_secs(4000));
    m.record_conditions(
        "GitRepository",
        "flux-system",
        "podinfo",
        &[condition("Ready", "True"), condition("Reconciling", "Bogus")],
    );
    m.record_suspend("GitRepository", "flux-system", "podinfo", true);
    m.set_leader("eddy-controllers-leader-election", true);
    (m, busy)
}

#[test]
fn names_labels_help_and_buckets_are_upstreams() {
    let (m, _busy) = populated();
    let text = m.render();
    let (order, families) = parse(&text);
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "families are sorted by name, as Go's registry gathers them");
    let kinds: BTreeMap<&str, &str> = families.iter().map(|(k, f)| (k.as_str(), f.kind.as_str())).collect();
    assert_eq!(
        kinds,
        BTreeMap::from([
            ("controller_runtime_active_workers", "gauge"),
            ("controller_runtime_max_concurrent_reconciles", "gauge"),
            ("controller_runtime_reconcile_errors_total", "counter"),
            ("controller_runtime_reconcile_panics_total", "counter"),
            ("controller_runtime_reconcile_time_seconds", "histogram"),
            ("controller_runtime_reconcile_timeouts_total", "counter"),
            ("controller_runtime_reconcile_total", "counter"),
            ("controller_runtime_terminal_reconcile_errors_total", "counter"),
            ("gotk_reconcile_condition", "gauge"),
            ("gotk_reconcile_duration_seconds", "histogram"),
            ("gotk_suspend_status", "gauge"),
            ("leader_election_master_status", "gauge"),
            ("workqueue_adds_total", "counter"),
            ("workqueue_depth", "gauge"),
            ("workqueue_longest_running_processor_seconds", "gauge"),
            ("workqueue_queue_duration_seconds", "histogram"),
            ("workqueue_retries_total", "counter"),
            ("workqueue_unfinished_work_seconds", "gauge"),
            ("workqueue_work_duration_seconds", "histogram"),
        ])
    );
    // Every sample's labels are written in name order (le last), as Go sorts label pairs.
    for (name, f) in &families {
        for s in &f.samples {
            let names: Vec<&String> = s.order.iter().filter(|l| *l != "le").collect();
            let mut sorted = names.clone();
            sorted.sort();
            assert_eq!(names, sorted, "{name}");
        }
    }
    assert_eq!(
        families["gotk_reconcile_duration_seconds"].help,
        "The duration in seconds of a GitOps Toolkit resource reconciliation."
    );
    assert_eq!(families["controller_runtime_reconcile_total"].help, "Total number of reconciliations per controller");
    assert_eq!(
        families["workqueue_unfinished_work_seconds"].help,
        "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. \
         Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases."
    );

    // Flux's series.
    let d = &families["gotk_reconcile_duration_seconds"];
    let podinfo = [("kind", "GitRepository"), ("name", "podinfo"), ("namespace", "flux-system")];
    check_histogram(d, "gotk_reconcile_duration_seconds", &podinfo, &FLUX_LE);
    assert_eq!(value(d, "gotk_reconcile_duration_seconds_sum", &podinfo), "3.5");
    let zeta = [("kind", "GitRepository"), ("name", "zeta"), ("namespace", "apps")];
    check_histogram(d, "gotk_reconcile_duration_seconds", &zeta, &FLUX_LE);
    assert_eq!(
        value(
            d,
            "gotk_reconcile_duration_seconds_bucket",
            &[zeta.as_slice(), &[("le", "1799.9999999999986")]].concat()
        ),
        "0"
    );
    let c = &families["gotk_reconcile_condition"];
    let with = |t: &'static str, s: &'static str| [podinfo.as_slice(), &[("status", s), ("type", t)]].concat();
    assert_eq!(value(c, "gotk_reconcile_condition", &with("Ready", "True")), "1");
    assert_eq!(value(c, "gotk_reconcile_condition", &with("Ready", "False")), "0");
    assert_eq!(value(c, "gotk_reconcile_condition", &with("Ready", "Unknown")), "0");
    for s in ["True", "False", "Unknown"] {
        assert_eq!(
            value(c, "gotk_reconcile_condition", &with("Reconciling", s)),
            "0",
            "an invalid status sets all three to 0"
        );
    }
    assert_eq!(value(&families["gotk_suspend_status"], "gotk_suspend_status", &podinfo), "1");

    // controller-runtime's series.
    let git = [("controller", "gitrepository")];
    let total = &families["controller_runtime_reconcile_total"];
    for (result, n) in [("error", "2"), ("requeue_after", "1"), ("requeue", "0"), ("success", "1")] {
        assert_eq!(
            value(total, "controller_runtime_reconcile_total", &[("controller", "gitrepository"), ("result", result)]),
            n
        );
        assert_eq!(
            value(total, "controller_runtime_reconcile_total", &[("controller", "kustomization"), ("result", result)]),
            "0"
        );
    }
    assert_eq!(
        value(
            &families["controller_runtime_reconcile_errors_total"],
            "controller_runtime_reconcile_errors_total",
            &git
        ),
        "2"
    );
    assert_eq!(
        value(
            &families["controller_runtime_terminal_reconcile_errors_total"],
            "controller_runtime_terminal_reconcile_errors_total",
            &git
        ),
        "1"
    );
    assert_eq!(
        value(
            &families["controller_runtime_reconcile_panics_total"],
            "controller_runtime_reconcile_panics_total",
            &git
        ),
        "1"
    );
    assert_eq!(
        value(
            &families["controller_runtime_max_concurrent_reconciles"],
            "controller_runtime_max_concurrent_reconciles",
            &git
        ),
        "4"
    );
    assert_eq!(value(&families["controller_runtime_active_workers"], "controller_runtime_active_workers", &git), "1");
    let time = &families["controller_runtime_reconcile_time_seconds"];
    assert!(
        time.samples.iter().all(|s| s.labels["controller"] == "gitrepository"),
        "a controller that never reconciled has no reconcile_time series yet"
    );
    check_histogram(time, "controller_runtime_reconcile_time_seconds", &git, &RECONCILE_LE);
    assert_eq!(
        value(
            time,
            "controller_runtime_reconcile_time_seconds_bucket",
            &[("controller", "gitrepository"), ("le", "60")]
        ),
        "3"
    );
    assert_eq!(value(time, "controller_runtime_reconcile_time_seconds_count", &git), "4");

    // The workqueue: name and controller are both the queue's name.
    let q = [("controller", "gitrepository"), ("name", "gitrepository")];
    let depth = &families["workqueue_depth"];
    assert_eq!(value(depth, "workqueue_depth", &[q.as_slice(), &[("priority", "0")]].concat()), "1");
    assert_eq!(value(depth, "workqueue_depth", &[q.as_slice(), &[("priority", "-100")]].concat()), "1");
    assert_eq!(value(&families["workqueue_adds_total"], "workqueue_adds_total", &q), "3");
    assert_eq!(value(&families["workqueue_retries_total"], "workqueue_retries_total", &q), "1");
    assert_eq!(value(&families["workqueue_unfinished_work_seconds"], "workqueue_unfinished_work_seconds", &q), "3.5");
    assert_eq!(
        value(
            &families["workqueue_longest_running_processor_seconds"],
            "workqueue_longest_running_processor_seconds",
            &q
        ),
        "2"
    );
    for h in ["workqueue_queue_duration_seconds", "workqueue_work_duration_seconds"] {
        check_histogram(&families[h], h, &q, &WORKQUEUE_LE);
    }
    assert_eq!(
        value(
            &families["workqueue_queue_duration_seconds"],
            "workqueue_queue_duration_seconds_bucket",
            &[q.as_slice(), &[("le", "9.999999999999999e-05")]].concat()
        ),
        "1"
    );
    assert_eq!(
        value(
            &families["leader_election_master_status"],
            "leader_election_master_status",
            &[("name", "eddy-controllers-leader-election")]
        ),
        "1"
    );
}

#[test]
fn a_histogram_reads_exactly_as_gos() {
    let m = Metrics::new();
    m.record_duration("GitRepository", "flux-system", "podinfo", Duration::from_millis(500));
    m.record_duration("GitRepository", "flux-system", "podinfo", Duration::from_secs(3));
    let l = "kind=\"GitRepository\",name=\"podinfo\",namespace=\"flux-system\"";
    let mut want = String::from(
        "# HELP gotk_reconcile_duration_seconds The duration in seconds of a GitOps Toolkit resource reconciliation.\n\
         # TYPE gotk_reconcile_duration_seconds histogram\n",
    );
    for (le, n) in FLUX_LE.iter().zip([0, 0, 0, 1, 1, 2, 2, 2, 2, 2]) {
        want.push_str(&format!("gotk_reconcile_duration_seconds_bucket{{{l},le=\"{le}\"}} {n}\n"));
    }
    want.push_str(&format!(
        "gotk_reconcile_duration_seconds_bucket{{{l},le=\"+Inf\"}} 2\n\
         gotk_reconcile_duration_seconds_sum{{{l}}} 3.5\n\
         gotk_reconcile_duration_seconds_count{{{l}}} 2\n"
    ));
    assert_eq!(m.render(), want);
}

#[test]
fn deleted_objects_lose_their_series_and_empty_families_vanish() {
    let (m, _busy) = populated();
    m.delete_object("GitRepository", "flux-system", "podinfo");
    let (_, families) = parse(&m.render());
    assert!(!families.contains_key("gotk_reconcile_condition"));
    assert!(!families.contains_key("gotk_suspend_status"));
    let names: BTreeSet<&str> =
        families["gotk_reconcile_duration_seconds"].samples.iter().map(|s| s.labels["name"].as_str()).collect();
    assert_eq!(names, BTreeSet::from(["zeta"]));
    m.delete_duration("GitRepository", "apps", "zeta");
    assert!(!m.render().contains("gotk_"));
    // Fine-grained deletes, as Flux's Delete* helpers.
    m.record_conditions("Bucket", "ns", "b", &[condition("Ready", "False"), condition("Stalled", "True")]);
    m.record_suspend("Bucket", "ns", "b", false);
    m.delete_condition("Bucket", "ns", "b", "Stalled");
    let text = m.render();
    assert!(text.contains("type=\"Ready\"") && !text.contains("type=\"Stalled\""));
    m.delete_condition("Bucket", "ns", "b", "Ready");
    m.delete_suspend("Bucket", "ns", "b");
    assert!(!m.render().contains("gotk_"));
}

#[test]
fn concurrent_recording_loses_nothing_across_ten_thousand_objects() {
    let m = Metrics::new();
    let ctrl = m.controller("kustomization", 8);
    let queue = m.queue("kustomization");
    std::thread::scope(|s| {
        for t in 0..8 {
            let (m, ctrl, queue) = (m.clone(), ctrl.clone(), queue.clone());
            s.spawn(move || {
                for i in 0..1250 {
                    let name = format!("app-{t}-{i}");
                    let _busy = ctrl.worker();
                    queue.add(0);
                    queue.get(0, Duration::from_millis(1));
                    m.record_duration("Kustomization", "tenants", &name, Duration::from_millis(30));
                    ctrl.reconciled(ReconcileOutcome::Success, Duration::from_millis(30));
                    queue.done(Duration::from_millis(30));
                }
            });
        }
    });
    let (_, families) = parse(&m.render());
    let counts: Vec<&Sample> = families["gotk_reconcile_duration_seconds"]
        .samples
        .iter()
        .filter(|s| s.name == "gotk_reconcile_duration_seconds_count")
        .collect();
    assert_eq!(counts.len(), 10_000);
    assert!(counts.iter().all(|s| s.value == "1"));
    let names: Vec<&str> = counts.iter().map(|s| s.labels["name"].as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "series are sorted by label values");
    let k = [("controller", "kustomization")];
    assert_eq!(
        value(
            &families["controller_runtime_reconcile_total"],
            "controller_runtime_reconcile_total",
            &[k[0], ("result", "success")]
        ),
        "10000"
    );
    assert_eq!(value(&families["controller_runtime_active_workers"], "controller_runtime_active_workers", &k), "0");
    let q = [("controller", "kustomization"), ("name", "kustomization")];
    assert_eq!(value(&families["workqueue_adds_total"], "workqueue_adds_total", &q), "10000");
    assert_eq!(
        value(&families["workqueue_depth"], "workqueue_depth", &[q.as_slice(), &[("priority", "0")]].concat()),
        "0"
    );
    assert_eq!(
        value(&families["workqueue_work_duration_seconds"], "workqueue_work_duration_seconds_count", &q),
        "10000"
    );
}

#[test]
fn counters_past_a_million_are_written_as_go_writes_floats() {
    let m = Metrics::new();
    let q = m.queue("big");
    for _ in 0..1_000_000 {
        q.retry();
    }
    assert!(m.render().contains("workqueue_retries_total{controller=\"big\",name=\"big\"} 1e+06\n"));
}
