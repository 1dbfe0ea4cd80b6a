//! The Markdown report: one column per side, a ratio column when Flux and Eddy both ran,
//! kustomize-controller alone next to Flux's two controllers, and issue 18's goals checked.

use std::fmt::Write as _;

use super::{Config, Outcome};
use crate::gitrepo::procs::{Phase, Usage};

/// The process that is Flux's Kustomization controller.
const KC: &str = "kustomize-controller";

/// The report of a run.
#[must_use]
pub fn markdown(config: &Config, outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} Kustomizations (interval {}, prune, wait, timeout 1m, post-build `app`{}) over {} GitRepositories \
         (interval {}) served by git http-backend on 127.0.0.1; creates at concurrency {}; steady state {} s.\n\
         Command: `{}`\n",
        config.objects,
        config.interval,
        config.service_account.as_ref().map_or_else(String::new, |sa| format!(", serviceAccountName {sa}")),
        config.repos,
        config.source_interval,
        config.concurrency,
        config.steady.as_secs(),
        config.command,
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
    type Get<'a> = &'a dyn Fn(&Outcome) -> Option<f64>;
    let mut row = |name: &str, get: Get<'_>, fmt: &dyn Fn(f64) -> String| {
        let _ = write!(s, "| {name} |");
        for o in outcomes {
            let _ = write!(s, " {} |", get(o).map_or_else(|| "—".to_owned(), fmt));
        }
        match (both, flux.and_then(get), eddy.and_then(get)) {
            (true, Some(f), Some(e)) if e > 0.0 => {
                let _ = write!(s, " {:.1}× |", f / e);
            }
            (true, ..) => s.push_str(" — |"),
            _ => {}
        }
        s.push('\n');
    };
    let secs = |v: f64| format!("{v:.1} s");
    let cpu = |v: f64| format!("{v:.2} CPU s");
    let mib = |v: f64| format!("{v:.0} MiB");
    let count = |v: f64| format!("{v:.0}");
    let kc = |p: &Phase| p.per_process.get(KC).cloned();
    row("GitRepositories created → Ready", &|o| Some(o.sources_seconds), &secs);
    row("**created → all Kustomizations Ready** (last one)", &|o| Some(o.create.completion.all_seconds), &secs);
    row("… per object p50", &|o| Some(o.create.completion.quantile(0.5)), &secs);
    row("… p90", &|o| Some(o.create.completion.quantile(0.9)), &secs);
    row("client time to send the creates", &|o| Some(o.create.sending_seconds), &secs);
    row("CPU until all Ready", &|o| Some(o.create.phase.total().cpu_seconds), &cpu);
    row("… kustomize-controller alone", &|o| kc(&o.create.phase).map(|u| u.cpu_seconds), &cpu);
    row("kube-apiserver + etcd CPU until all Ready", &|o| Some(o.create.context.total().cpu_seconds), &cpu);
    row(
        &format!("**steady-state CPU** ({} s)", config.steady.as_secs()),
        &|o| Some(o.steady.total().cpu_seconds),
        &cpu,
    );
    row("… as cores", &|o| Some(o.steady.total().cpu_seconds / o.steady.seconds.max(1.0)), &|v| format!("{v:.3}"));
    row("… kustomize-controller alone", &|o| kc(&o.steady).map(|u| u.cpu_seconds), &cpu);
    row("steady state: kube-apiserver + etcd CPU", &|o| Some(o.steady_context.total().cpu_seconds), &cpu);
    row("steady state: Kustomization changes seen by a watch", &|o| Some(o.steady_events as f64), &count);
    row("**steady-state RSS, mean**", &|o| Some(o.steady.total().rss_mean_mib), &mib);
    row("… kustomize-controller alone", &|o| kc(&o.steady).map(|u| u.rss_mean_mib), &mib);
    row("steady-state RSS, max", &|o| Some(o.steady.total().rss_max_mib), &mib);
    row("peak RSS over the run (VmHWM)", &|o| Some(peak_hwm(o)), &mib);
    row("idle RSS before the Kustomizations", &|o| Some(o.idle.total().rss_mean_mib), &mib);
    row("**upgrade run: commit → all applied and Ready**", &|o| Some(o.upgrade.completion.all_seconds), &secs);
    row("… per object p50", &|o| Some(o.upgrade.completion.quantile(0.5)), &secs);
    row("… CPU", &|o| Some(o.upgrade.phase.total().cpu_seconds), &cpu);
    row("… kube-apiserver + etcd CPU", &|o| Some(o.upgrade.context.total().cpu_seconds), &cpu);
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
            "{}: load average (1/5/15 min) at the end of creation {}, of the steady state {}, of the upgrade {}.",
            o.name, o.create.load, o.steady_load, o.upgrade.load
        );
    }
    s.push('\n');
    if let (Some(f), Some(e)) = (flux, eddy) {
        s.push_str(&goals(f, e));
    }
    s
}

/// Issue 18's goals: ≥ 10× faster to Ready, ≥ 10× less steady-state CPU, ≤ 1/4 of the memory;
/// CPU and memory against Flux's two controllers and against kustomize-controller alone.
fn goals(f: &Outcome, e: &Outcome) -> String {
    let met = |ok: bool| if ok { "met" } else { "**not met**" };
    let speed = f.create.completion.all_seconds / e.create.completion.all_seconds.max(1e-9);
    let upgrade = f.upgrade.completion.all_seconds / e.upgrade.completion.all_seconds.max(1e-9);
    let kc_steady = f.steady.per_process.get(KC).cloned().unwrap_or_default();
    let ecpu = e.steady.total().cpu_seconds.max(1e-9);
    let (cpu_both, cpu_kc) = (f.steady.total().cpu_seconds / ecpu, kc_steady.cpu_seconds / ecpu);
    let erss = e.steady.total().rss_mean_mib;
    let ratio = |a: f64, b: &Usage| a / b.rss_mean_mib.max(1e-9);
    let (mem_both, mem_kc) = (ratio(erss, &f.steady.total()), ratio(erss, &kc_steady));
    format!(
        "Goals (issue 18): created → all Ready {speed:.1}× faster (≥ 10×: {}); upgrade run {upgrade:.1}× faster; \
         steady-state CPU {cpu_both:.1}× less than source-controller + kustomize-controller (≥ 10×: {}), \
         {cpu_kc:.1}× less than kustomize-controller alone; memory (steady-state mean RSS) {mem_both:.2} of Flux's \
         two controllers (≤ 0.25: {}), {mem_kc:.2} of kustomize-controller alone.\n",
        met(speed >= 10.0),
        met(cpu_both >= 10.0),
        met(mem_both <= 0.25),
    )
}

/// The largest VmHWM seen at the end of any phase.
fn peak_hwm(o: &Outcome) -> f64 {
    [&o.create.phase, &o.steady, &o.upgrade.phase].iter().map(|p| p.total().hwm_mib).fold(0.0, f64::max)
}
