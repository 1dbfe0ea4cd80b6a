//! The function map templates see: Go's builtins, Sprig as Helm exposes it, and Helm's own.

pub mod builtin;
pub mod helm;
pub mod signature;
pub mod sprig;

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::template::exec::{Exec, ExecError};
use crate::template::format::sprint_v;
use crate::value::Value;

/// How a function call fails.
#[derive(Debug)]
pub enum FuncError {
    /// An argument error Go reports before the call (no `error calling` prefix).
    Arg(String),
    /// Argument `index` is not of the Go type `expected` (`usize::MAX`: the argument is unknown).
    Type {
        /// Which argument.
        index: usize,
        /// The parameter's Go type.
        expected: &'static str,
        /// The function.
        func: String,
    },
    /// The function returned an error that is itself a template error message.
    Call(String),
    /// The function returned a plain (non-template) error.
    Plain(String),
    /// A nested template execution failed (`include`, `tpl`).
    Nested(ExecError),
}

/// A template function.
pub type Func = fn(&mut Exec, &[Value]) -> Result<Value, FuncError>;

/// The result of a function.
pub type FResult = Result<Value, FuncError>;

fn table() -> &'static HashMap<&'static str, Func> {
    static T: OnceLock<HashMap<&'static str, Func>> = OnceLock::new();
    T.get_or_init(|| {
        let mut m: HashMap<&'static str, Func> = HashMap::new();
        // Later registrations win, as Helm's FuncMap entries override Go's builtins.
        builtin::register(&mut m);
        sprig::register(&mut m);
        helm::register(&mut m);
        sprig::register_aliases(&mut m);
        m
    })
}

/// Whether `v` parses as a semantic version (Masterminds' lenient rules), as chart versions must.
pub fn sprig_version_valid(v: &str) -> Option<()> {
    sprig::version_valid(v)
}

/// Helm's `IsCompatibleRange`: whether `version` satisfies the semver `constraint`.
/// Go's `time.Parse(layout, value)` error message, if `value` does not parse.
pub fn time_parse_error(layout: &str, value: &str) -> Option<String> {
    sprig::go_parse_error(layout, value)
}

/// Whether `constraint` is satisfied by `version` (Masterminds semver, as Helm checks).
pub fn semver_satisfies(constraint: &str, version: &str) -> bool {
    sprig::satisfies(constraint, version)
}

/// The function called `name`, if there is one.
pub fn lookup(name: &str) -> Option<Func> {
    if name == "and" || name == "or" {
        return Some(builtin::and_or_placeholder);
    }
    table().get(name).copied()
}

/// Whether a function called `name` exists.
pub fn exists(name: &str) -> bool {
    lookup(name).is_some()
}

/// Checks the argument count as Go's reflection call does.
pub fn want(args: &[Value], n: usize, name: &str) -> Result<(), FuncError> {
    if args.len() != n {
        return Err(FuncError::Arg(format!("wrong number of args for {name}: want {n} got {}", args.len())));
    }
    Ok(())
}

/// Checks a minimum argument count (variadic functions).
pub fn want_at_least(args: &[Value], n: usize, name: &str) -> Result<(), FuncError> {
    if args.len() < n {
        return Err(FuncError::Arg(format!("wrong number of args for {name}: want at least {n} got {}", args.len())));
    }
    Ok(())
}

/// The `i`th argument as a `string` parameter.
pub fn arg_str(a: &[Value], i: usize) -> Result<String, FuncError> {
    match a.get(i) {
        Some(Value::Str(s)) => Ok(s.to_string()),
        _ => Err(FuncError::Type { index: i, expected: "string", func: String::new() }),
    }
}

/// The `i`th argument as an `int` parameter (Go converts untyped constants, not values).
pub fn arg_int(a: &[Value], i: usize) -> Result<i64, FuncError> {
    match a.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        _ => Err(FuncError::Type { index: i, expected: "int", func: String::new() }),
    }
}

/// A list argument of Sprig's list functions (which take `interface{}` and check the kind).
pub fn arg_list(v: &Value, name: &str) -> Result<Vec<Value>, FuncError> {
    let kind = match v {
        Value::List(l) => return Ok(l.to_vec()),
        Value::Nil => {
            return Err(FuncError::Plain("runtime error: invalid memory address or nil pointer dereference".into()));
        }
        Value::Map(_) => "map",
        Value::Object(_) => "ptr",
        other => other.kind_name(),
    };
    Err(FuncError::Plain(match name {
        "append" | "push" => format!("Cannot push on type {kind}"),
        "prepend" => format!("Cannot prepend on type {kind}"),
        "compact" => format!("Cannot compact on type {kind}"),
        "chunk" => format!("Cannot chunk type {kind}"),
        "concat" => format!("Cannot concat type {kind} as list"),
        _ => format!("Cannot find {name} on type {kind}"),
    }))
}

/// Sprig's `strval`: strings as they are, everything else with `%v`.
pub fn strval(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::Nil => String::new(),
        other => sprint_v(other),
    }
}

/// spf13/cast's `ToInt64` as Sprig uses it: numbers truncate, strings parse, anything else is 0.
pub fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => parse_go_int(s).or_else(|| s.parse::<f64>().ok().map(|f| f as i64)).unwrap_or(0),
        _ => 0,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
pub fn parse_go_int(s: &str) -> Option<i64> {
    let t = s.replace('_', "");
    let (neg, b) = match t.strip_prefix('-') {
        Some(r) => (true, r.to_string()),
        None => (false, t.trim_start_matches('+').to_string()),
    };
    let l = b.to_ascii_lowercase();
    let v = if let Some(h) = l.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = l.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(x) = l.strip_prefix("0b") {
        i64::from_str_radix(x, 2).ok()
    } else if l.len() > 1 && l.starts_with('0') {
        i64::from_str_radix(&l[1..], 8).ok()
    } else {
        l.parse().ok()
    }?;
    Some(if neg { -v } else { v })
}

/// spf13/cast's `ToFloat64`.
pub fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}
