//! The Markdown report: one column per side, a ratio column when Flux and Eddy both ran, the
//! per-process breakdown, and issue 17's goals checked against the ratios.

use std::fmt::Write as _;

use super::procs::Phase;
use super::{Config, Outcome, Timed};

/// The report of a run.
#[must_use]
pub fn markdown(config: &Config, outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} GitRepositories (interval {}) over {} repositories served by git http-backend on 127.0.0.1; \
         creates at concurrency {}; steady state {} s.\n",
        config.objects,
        config.interval,
        config.repos,
        config.concurrency,
        config.steady.as_secs()
    );
    let flux = outcomes.iter().find(|o| o.name == "Flux");
    let eddy = outcomes.iter().find(|o| o.name == "Eddy");
    let both = flux.is_some() && eddy.is_some();
    let mut header = String::from("| measure |");
    let mut rule = String::from("|---|");
    for o in outcomes {
        let _ = write!(header, " {} |", o.name);
        rule.push_str("---|");
    }
    if both {
        header.push_str(" Flux ÷ Eddy |");
        rule.push_str("---|");
    }
    let _ = writeln!(s, "{header}\n{rule}");
    let n = config.objects as f64;
    type Get<'a> = &'a dyn Fn(&Outcome) -> Option<f64>;
    let mut row = |name: &str, get: Get<'_>, fmt: &dyn Fn(f64) -> String| {
        let _ = write!(s, "| {name} |");
        for o in outcomes {
            let _ = write!(s, " {} |", get(o).map_or_else(|| "—".to_owned(), fmt));
        }
        if let (true, Some(f), Some(e)) = (both, flux.and_then(get), eddy.and_then(get)) {
            let _ = write!(s, " {} |", if e > 0.0 { format!("{:.1}×", f / e) } else { "—".into() });
        } else if both {
            s.push_str(" — |");
        }
        s.push('\n');
    };
    let secs = |v: f64| format!("{v:.1} s");
    let cpu = |v: f64| format!("{v:.2} CPU s");
    let mib = |v: f64| format!("{v:.0} MiB");
    let count = |v: f64| format!("{v:.0}");
    let per = |v: f64| format!("{v:.2}");
    let ready = |t: &Timed| Some(t.completion.all_seconds);
    row("**created → all Ready** (last object)", &|o| ready(&o.create), &secs);
    row("… per object p50", &|o| Some(o.create.completion.quantile(0.5)), &secs);
    row("… p90", &|o| Some(o.create.completion.quantile(0.9)), &secs);
    row("client time to send the creates", &|o| Some(o.create.sending_seconds), &secs);
    row("CPU until all Ready", &|o| Some(o.create.phase.total().cpu_seconds), &cpu);
    row("kube-apiserver + etcd CPU until all Ready", &|o| Some(o.create.context.total().cpu_seconds), &cpu);
    row("git requests until all Ready (HTTP)", &|o| Some(o.create.git.http as f64), &count);
    row(
        &format!("**steady state CPU** ({} s)", config.steady.as_secs()),
        &|o| Some(o.steady.total().cpu_seconds),
        &cpu,
    );
    row("… as cores", &|o| Some(o.steady.total().cpu_seconds / o.steady.seconds.max(1.0)), &|v| format!("{v:.3}"));
    row("**steady state RSS, mean**", &|o| Some(o.steady.total().rss_mean_mib), &mib);
    row("steady state RSS, max", &|o| Some(o.steady.total().rss_max_mib), &mib);
    row("peak RSS over the run (VmHWM)", &|o| Some(peak_hwm(o)), &mib);
    row("idle RSS before the run", &|o| Some(o.idle.total().rss_mean_mib), &mib);
    row("steady state: git HTTP requests", &|o| Some(o.steady_git.http as f64), &count);
    row("… per object", &|o| Some(o.steady_git.http as f64 / n), &per);
    row("… info/refs GETs", &|o| Some(o.steady_git.info_refs as f64), &count);
    row("… ls-refs POSTs (protocol v2)", &|o| Some(o.steady_git.ls_refs as f64), &count);
    row("… fetch negotiations (packs)", &|o| Some(o.steady_git.fetches as f64), &count);
    row("steady state: object changes seen by a watch", &|o| Some(o.steady_events as f64), &count);
    row("steady state: kube-apiserver + etcd CPU", &|o| Some(o.steady_context.total().cpu_seconds), &cpu);
    row("**push → all Ready at the new revision** (interval)", &|o| ready(&o.push), &secs);
    row("… per object p50", &|o| Some(o.push.completion.quantile(0.5)), &secs);
    row("… CPU", &|o| Some(o.push.phase.total().cpu_seconds), &cpu);
    row("… fetch negotiations", &|o| Some(o.push.git.fetches as f64), &count);
    row(
        "**push + requestedAt on all → all Ready**",
        &|o| o.requested.as_ref().map(|t| t.completion.all_seconds),
        &secs,
    );
    row("… per object p50", &|o| o.requested.as_ref().map(|t| t.completion.quantile(0.5)), &secs);
    row("… client time to annotate", &|o| o.requested.as_ref().map(|t| t.sending_seconds), &secs);
    row("… CPU", &|o| o.requested.as_ref().map(|t| t.phase.total().cpu_seconds), &cpu);
    s.push('\n');

    for o in outcomes {
        if o.steady.per_process.len() > 1 {
            let _ = write!(s, "{} per process (creation CPU / steady CPU / steady RSS mean / VmHWM):", o.name);
            for (name, u) in &o.steady.per_process {
                let created = o.create.phase.per_process.get(name).map_or(0.0, |c| c.cpu_seconds);
                let _ = write!(
                    s,
                    " {name} {created:.2} / {:.2} CPU s / {:.0} / {:.0} MiB;",
                    u.cpu_seconds, u.rss_mean_mib, u.hwm_mib
                );
            }
            s.push('\n');
        }
        let _ = writeln!(
            s,
            "{}: load average (1/5/15 min) at the end of creation {}, of the steady state {}, of the push {}.",
            o.name, o.create.load, o.steady_load, o.push.load
        );
    }
    s.push('\n');

    if let (Some(f), Some(e)) = (flux, eddy) {
        let speed = f.create.completion.all_seconds / e.create.completion.all_seconds.max(1e-9);
        let cpu_ratio = e.steady.total().cpu_seconds / f.steady.total().cpu_seconds.max(1e-9);
        let mem_ratio = e.steady.total().rss_mean_mib / f.steady.total().rss_mean_mib.max(1e-9);
        let hwm_ratio = peak_hwm(e) / peak_hwm(f).max(1e-9);
        let met = |ok: bool| if ok { "met" } else { "**not met**" };
        let _ = writeln!(
            s,
            "Goals (issue 17): created → all Ready {speed:.1}× faster (≥ 5×: {}); steady-state CPU {cpu_ratio:.2} of \
             source-controller's (≤ 0.20: {}); memory (steady-state mean RSS) {mem_ratio:.2} of Flux's (≤ 0.33: {}; \
             peak {hwm_ratio:.2}).",
            met(speed >= 5.0),
            met(cpu_ratio <= 0.2),
            met(mem_ratio <= 1.0 / 3.0),
        );
    }
    s
}

/// The largest VmHWM seen at the end of any phase (VmHWM only grows, so this is the last).
fn peak_hwm(o: &Outcome) -> f64 {
    let phases: Vec<&Phase> =
        [Some(&o.create.phase), Some(&o.steady), Some(&o.push.phase), o.requested.as_ref().map(|t| &t.phase)]
            .into_iter()
            .flatten()
            .collect();
    phases.iter().map(|p| p.total().hwm_mib).fold(0.0, f64::max)
}
