//! A Helm `template` engine in Rust: Go's `text/template`, Sprig and Helm's functions, chart
//! loading (directories and archives), values coalescing and dependencies, and `helm template`'s
//! output (hooks separated, manifests in install order). Pure: the only I/O is reading a chart
//! directory the caller names.
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
pub mod sort;
pub mod template;
pub mod value;
pub mod yaml;

pub use chart::Chart;
pub use render::{Error, Options, Rendered, render};
pub use value::Value;
