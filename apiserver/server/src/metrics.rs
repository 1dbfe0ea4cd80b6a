//! Request metrics in the Prometheus text format, named as kube-apiserver names them:
//! `apiserver_request_total` and `apiserver_request_duration_seconds` by verb, group,
//! resource (and code, for the counter), plus store figures.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use parking_lot::Mutex;

/// Histogram bucket bounds in seconds.
const BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

type Labels = (String, String, String);

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// Counters and histograms of served requests.
#[derive(Default)]
pub struct Metrics {
    totals: Mutex<BTreeMap<(Labels, u16), u64>>,
    durations: Mutex<BTreeMap<Labels, Histogram>>,
}

/// The Kubernetes verb of a request, from its method and path shape.
#[must_use]
pub fn verb(method: &str, path: &str, watch: bool) -> (&'static str, String, String) {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, rest) = match segs.as_slice() {
        ["apis", g, _v, rest @ ..] => ((*g).to_owned(), rest),
        _ => (String::new(), &[][..]),
    };
    let (resource, named) = match rest {
        ["namespaces", _ns, r, more @ ..] => ((*r).to_owned(), !more.is_empty()),
        [r, more @ ..] => ((*r).to_owned(), !more.is_empty()),
        [] => (String::new(), false),
    };
    let verb = match (method, named) {
        ("GET", _) if watch => "WATCH",
        ("GET", false) if !resource.is_empty() => "LIST",
        ("GET" | "HEAD", _) => "GET",
        ("POST", _) => "POST",
        ("PUT", _) => "PUT",
        ("PATCH", _) => "PATCH",
        ("DELETE", false) => "DELETECOLLECTION",
        ("DELETE", true) => "DELETE",
        _ => "OTHER",
    };
    (verb, group, resource)
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, verb: &str, group: &str, resource: &str, code: u16, took: Duration) {
        let labels = (verb.to_owned(), group.to_owned(), resource.to_owned());
        *self.totals.lock().entry((labels.clone(), code)).or_insert(0) += 1;
        let secs = took.as_secs_f64();
        let mut d = self.durations.lock();
        let h = d.entry(labels).or_insert_with(|| Histogram { counts: vec![0; BUCKETS.len()], ..Histogram::default() });
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// The Prometheus text exposition, with `extra` lines (store figures) appended.
    #[must_use]
    pub fn render(&self, extra: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP apiserver_request_total Requests served, by verb, group, resource and HTTP code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        for (((verb, group, resource), code), n) in self.totals.lock().iter() {
            let _ = writeln!(
                out,
                "apiserver_request_total{{verb=\"{verb}\",group=\"{group}\",resource=\"{resource}\",code=\"{code}\"}} {n}"
            );
        }
        out.push_str("# HELP apiserver_request_duration_seconds Time to answer requests (a watch counts until its stream starts).\n");
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        for ((verb, group, resource), h) in self.durations.lock().iter() {
            let l = format!("verb=\"{verb}\",group=\"{group}\",resource=\"{resource}\"");
            for (b, c) in BUCKETS.iter().zip(&h.counts) {
                let _ = writeln!(out, "apiserver_request_duration_seconds_bucket{{{l},le=\"{b}\"}} {c}");
            }
            let _ = writeln!(out, "apiserver_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "apiserver_request_duration_seconds_sum{{{l}}} {}", h.sum);
            let _ = writeln!(out, "apiserver_request_duration_seconds_count{{{l}}} {}", h.count);
        }
        for (name, help, value) in extra {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_from_requests() {
        let p = "/apis/source.toolkit.fluxcd.io/v1/namespaces/a/gitrepositories";
        let check =
            |m: &str, path: &str, watch: bool, want: &str| assert_eq!(verb(m, path, watch).0, want, "{m} {path}");
        check("GET", p, false, "LIST");
        check("GET", p, true, "WATCH");
        check("GET", &format!("{p}/x"), false, "GET");
        check("GET", &format!("{p}/x/status"), false, "GET");
        check("POST", p, false, "POST");
        check("DELETE", p, false, "DELETECOLLECTION");
        check("DELETE", &format!("{p}/x"), false, "DELETE");
        check("GET", "/apis", false, "GET");
        assert_eq!(verb("GET", p, false).1, "source.toolkit.fluxcd.io");
        assert_eq!(verb("GET", p, false).2, "gitrepositories");
    }

    #[test]
    fn exposition() {
        let m = Metrics::default();
        m.observe("GET", "g", "r", 200, Duration::from_millis(20));
        m.observe("GET", "g", "r", 404, Duration::from_secs(2));
        let text = m.render(&[("eddy_store_revision", "Newest revision.", 7.0)]);
        assert!(text.contains("apiserver_request_total{verb=\"GET\",group=\"g\",resource=\"r\",code=\"200\"} 1"));
        assert!(text.contains(
            "apiserver_request_duration_seconds_bucket{verb=\"GET\",group=\"g\",resource=\"r\",le=\"0.025\"} 1"
        ));
        assert!(text.contains(
            "apiserver_request_duration_seconds_bucket{verb=\"GET\",group=\"g\",resource=\"r\",le=\"2.5\"} 2"
        ));
        assert!(text.contains("apiserver_request_duration_seconds_count{verb=\"GET\",group=\"g\",resource=\"r\"} 2"));
        assert!(text.contains("eddy_store_revision 7"));
    }
}
