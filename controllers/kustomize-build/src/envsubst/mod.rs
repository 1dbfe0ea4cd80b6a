//! Bash-like variable expansion as Flux's post-build substitution does it (fluxcd/pkg/envsubst,
//! itself a fork of drone/envsubst): `${VAR}`, defaults (`${VAR:=x}`, `${VAR:-x}`, `${VAR=x}`,
//! `${VAR:?x}`, `${VAR:+x}`, which all yield `x` when the value is empty), lengths
//! (`${#VAR}`), case (`^ ^^ , ,,`), substrings (`${VAR:o:l}`), prefix and suffix removal
//! (`# ## % %%` with globs) and replacement (`/ // /# /%`). `$${VAR}` is a literal `${VAR}`
//! and a bare `$VAR` is left alone.

mod funcs;
mod parse;

use parse::Node;
pub use parse::ParseError;

/// Why an expansion failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The input does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Strict mode: a variable is unset and the expression gives no default. The text is
    /// Flux's (`variable not set (strict mode): "VAR"`).
    #[error("variable not set (strict mode): {}", quote(.0))]
    NotSet(String),
}

/// Go's `%q` for the names the scanner accepts.
fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// Expands `input`. `lookup` returns a variable's value, or `None` when it is not set (in
/// non-strict mode, callers return `Some("")` for unknown variables, as Flux does).
///
/// # Errors
/// A template that does not parse, or an unset variable used without a default operator.
pub fn eval(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, EvalError> {
    let nodes = parse::parse(input)?;
    let mut out = Vec::with_capacity(input.len());
    for n in &nodes {
        eval_node(n, lookup, &mut out)?;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn eval_node(node: &Node, lookup: &dyn Fn(&str) -> Option<String>, out: &mut Vec<u8>) -> Result<(), EvalError> {
    match node {
        Node::Text(t) => out.extend_from_slice(t.as_bytes()),
        Node::Func { name, param, args } => {
            let mut values = Vec::with_capacity(args.len());
            for a in args {
                let mut v = Vec::new();
                eval_node(a, lookup, &mut v)?;
                values.push(v);
            }
            let value = match lookup(param) {
                Some(v) => v,
                None if is_default_op(name) => String::new(),
                None => return Err(EvalError::NotSet(param.clone())),
            };
            out.extend_from_slice(&funcs::apply(name, value.as_bytes(), &values));
        }
    }
    Ok(())
}

/// Operators that handle an unset variable themselves.
fn is_default_op(name: &str) -> bool {
    matches!(name, "-" | "+" | "=" | "?" | ":-" | ":+" | ":=" | ":?")
}

#[cfg(test)]
mod tests;
