//! A Helm `template` engine in Rust: Go's `text/template`, Sprig and Helm's functions, chart
//! loading (directories and archives), values coalescing and dependencies, and `helm template`'s
//! output (hooks separated, manifests in install order). Pure: the only I/O is reading a chart
//! directory the caller names.
//!
//! Proof: `tests/corpus.rs` (our charts, byte-identical to helm v4.3.2 from `hack/build-helm` or
//! listed in `tests/corpus/known-differences.txt`), `tests/scaffold.rs` (`helm create`'s chart),
//! `tests/helm_testcharts.rs` (Helm's own test charts from its Go module), `tests/fuzz.rs`
//! (generated templates), `tests/engine.rs` (Go's documented `text/template` behaviour).
//!
//! `values.schema.json` is validated as Helm does (`schema`, santhosh-tekuri/jsonschema v6's
//! wording); its limits are listed in that module. Every Sprig function Helm exposes is
//! implemented; named time zones come from the tz database compiled in (`chrono-tz`).
//!
//! Subcharts answer a `Chart.yaml` dependency by name and version range, as Helm matches them.
//! `tests/real_charts.rs` renders real charts from Go modules (metrics-server, external-secrets,
//! kyverno, kyverno-policies) against helm.
//!
//! Not implemented: `--post-renderer` (in Helm v4 it names a post-renderer plugin, and Helm's
//! plugin system is not reproduced); `--validate` is refused by `eddy helm template` (it needs a
//! cluster).
//!
//! ```no_run
//! let chart = eddy_helm_template::chart::load::load_dir(std::path::Path::new("mychart"))?;
//! let out = eddy_helm_template::render(&chart, &eddy_helm_template::Options::default())?;
//! print!("{}", out.to_helm_output());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod chart;
mod engine;
pub mod funcs;
mod objects;
pub mod render;
pub mod schema;
pub mod sort;
pub mod template;
pub mod value;
pub mod yaml;

pub use chart::Chart;
pub use render::{Error, Options, Rendered, render};
pub use value::Value;
