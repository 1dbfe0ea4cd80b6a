//! Function calls, as Go's executor makes them: `and`/`or` short-circuit, each argument
//! converted to its parameter's type as it is evaluated (Go's wording for a mismatch), and call
//! errors reported at the whole command.

use super::exec::{Ctx, Either, Exec, ExecError, R, State};
use super::node::Arg;
use crate::funcs::signature::P;
use crate::funcs::{self, FuncError};
use crate::value::Value;

impl Exec {
    pub(super) fn eval_function<'a>(
        &mut self,
        st: &mut State<'a>,
        dot: &Value,
        name: &str,
        args: &'a [Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        let ident_ctx = (st.node_pos, st.node_ctx);
        // `and` and `or` short-circuit.
        if name == "and" || name == "or" {
            let mut all: Vec<Either<'_>> = args.iter().map(Either::Arg).collect();
            if let Some(f) = fin {
                all.push(Either::Val(f));
            }
            if all.is_empty() {
                return Err(self.error(st, &format!("wrong number of args for {name}: want at least 1 got 0")));
            }
            let mut v = Value::Nil;
            for a in all {
                v = match a {
                    Either::Arg(a) => self.eval_arg(st, dot, a)?,
                    Either::Val(v) => v,
                };
                if v.truthy() == (name == "or") {
                    return Ok(v);
                }
            }
            return Ok(v);
        }
        let Some(func) = funcs::lookup(name) else {
            return Err(self.error(st, &format!("{name:?} is not a defined function")));
        };
        let sig = funcs::signature::params(name);
        let total = args.len() + usize::from(fin.is_some());
        if let Some((ps, variadic)) = sig {
            let fixed = if variadic { ps.len() - 1 } else { ps.len() };
            if (variadic && total < fixed) || (!variadic && total != ps.len()) {
                let want = if variadic { format!("at least {fixed}") } else { ps.len().to_string() };
                return Err(self.error(st, &format!("wrong number of args for {name}: want {want} got {total}")));
            }
        }
        let param = |i: usize| sig.map(|(ps, _)| ps[i.min(ps.len() - 1)]);
        let mut vals = Vec::with_capacity(total);
        for (i, a) in args.iter().enumerate() {
            let v = self.eval_arg(st, dot, a)?;
            if let Some(p) = param(i) {
                self.check_arg(st, p, &v, Some(a))?;
            }
            vals.push(v);
        }
        if let Some(f) = fin {
            if let Some(p) = param(args.len()) {
                self.check_arg(st, p, &f, None)?;
            }
            vals.push(f);
        }
        let last_ctx = (st.node_pos, st.node_ctx);
        match func(self, &vals) {
            Ok(v) => Ok(v),
            Err(FuncError::Type { index, expected, .. }) => {
                let index = if index == usize::MAX {
                    vals.iter().position(|v| !matches!(v, Value::Map(_))).unwrap_or(0)
                } else {
                    index
                };
                let value = vals.get(index).cloned().unwrap_or_default();
                let node = args.get(index);
                match node {
                    Some(a) => {
                        st.node_pos = Some(a.pos());
                        st.node_ctx = Ctx::Arg(a);
                    }
                    None if args.is_empty() => {
                        st.node_pos = ident_ctx.0;
                        st.node_ctx = ident_ctx.1;
                    }
                    None => {
                        st.node_pos = last_ctx.0;
                        st.node_ctx = last_ctx.1;
                    }
                }
                let msg = match (&value, node) {
                    (Value::Nil, Some(Arg::Field(..) | Arg::Chain(..))) => {
                        format!("wrong type for value; expected {expected}; got interface {{}}")
                    }
                    (Value::Nil, _) => format!("invalid value; expected {expected}"),
                    (_, Some(a @ (Arg::Number(..) | Arg::String(..) | Arg::Bool(..)))) => {
                        let what = if expected == "int" { "integer" } else { expected };
                        format!("expected {what}; found {a}")
                    }
                    _ => format!("wrong type for value; expected {expected}; got {}", value.type_name()),
                };
                Err(self.error(st, &msg))
            }
            Err(FuncError::Arg(msg)) => Err(self.error(st, &msg)),
            Err(e) => {
                st.node_pos = Some(st.cmd_pos);
                st.node_ctx = st.cmd_ctx;
                Err(self.call_error(st, name, e))
            }
        }
    }

    /// Go's conversion of an argument to a typed parameter (`evalArg`/`validateType`).
    fn check_arg(&self, st: &State<'_>, p: P, v: &Value, node: Option<&Arg>) -> R<()> {
        let ok = match p {
            P::Any => true,
            P::Str => matches!(v, Value::Str(_)),
            P::Int => matches!(v, Value::Int(_)),
            P::Bool => matches!(v, Value::Bool(_)),
            P::Map => matches!(v, Value::Map(_)),
        };
        if ok {
            return Ok(());
        }
        let expected = p.go_name();
        let msg = match node {
            Some(a @ (Arg::Number(..) | Arg::String(..) | Arg::Bool(..))) => match p {
                P::Map => format!("can't handle {a} for arg of type {expected}"),
                P::Int => format!("expected integer; found {a}"),
                _ => format!("expected {expected}; found {a}"),
            },
            Some(Arg::Nil(_)) if p == P::Map => return Ok(()),
            Some(Arg::Nil(_)) => format!("cannot assign nil to {expected}"),
            Some(Arg::Field(..) | Arg::Chain(..)) if v.is_nil() => {
                format!("wrong type for value; expected {expected}; got interface {{}}")
            }
            _ if v.is_nil() && p == P::Map => return Ok(()),
            _ if v.is_nil() => format!("invalid value; expected {expected}"),
            _ => format!("wrong type for value; expected {expected}; got {}", v.type_name()),
        };
        Err(self.error(st, &msg))
    }

    fn call_error(&self, st: &State<'_>, name: &str, e: FuncError) -> ExecError {
        match e {
            FuncError::Nested(inner) => {
                let mut e = self.error(st, &format!("error calling {name}: {}", inner.message));
                e.chain.extend(inner.chain);
                e
            }
            FuncError::Plain(msg) | FuncError::Call(msg) | FuncError::Arg(msg) => {
                let mut e = self.error(st, &format!("error calling {name}: {msg}"));
                e.chain.push(msg);
                e
            }
            FuncError::Type { expected, .. } => self.error(st, &format!("wrong type for value; expected {expected}")),
        }
    }
}
