//! Execution of parsed templates, as Go's `text/template` does it: variables and their
//! scoping, control structures, field and method evaluation, pipelines, function calls with
//! Go's error messages (`template: NAME:LINE:COL: executing "NAME" at <NODE>: …`).

use std::collections::HashMap;
use std::rc::Rc;

use super::node::{Arg, BranchKind, Command, Node, Pipe};
use super::parse::Tree;
use crate::value::Value;

/// The most output one execution may produce (a runaway `range` fails instead of exhausting
/// memory).
const MAX_OUTPUT: usize = 256 << 20;

/// Go's limit on nested template invocations.
const MAX_EXEC_DEPTH: usize = 10_000;

/// An execution error, worded as Go's `ExecError` (the message includes the location).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ExecError {
    /// Go's message.
    pub message: String,
    /// Every message of the chain (outermost first), as `errors.Unwrap` walks it.
    pub chain: Vec<String>,
    /// Whether the innermost error is a template error (Helm formats those as a trace).
    pub traceable: bool,
}

impl ExecError {
    fn plain(message: String) -> ExecError {
        ExecError { chain: vec![message.clone()], message, traceable: true }
    }
}

/// The named templates visible to an execution.
pub type TemplateSet = HashMap<String, std::sync::Arc<Tree>>;

/// What a template execution needs beyond its data: the template set, options and the state
/// Helm's functions keep (include recursion counts).
pub struct Exec {
    /// The named templates.
    pub set: Rc<TemplateSet>,
    /// `missingkey=error` (Helm's `--strict`) instead of `missingkey=zero`.
    pub strict: bool,
    /// How many times each template is being included (Helm's recursion guard).
    pub include_counts: HashMap<String, usize>,
    /// The name of the root template (`gotpl` in Helm), used by `tpl`.
    pub root_name: String,
    depth: usize,
}

enum Flow {
    Normal,
    Break,
    Continue,
}

pub(super) struct State<'a> {
    pub(super) tree: &'a Tree,
    pub(super) vars: Vec<(String, Value)>,
    pub(super) node_pos: Option<usize>,
    pub(super) node_ctx: Ctx<'a>,
    /// The command being evaluated (call errors are reported at it).
    pub(super) cmd_pos: usize,
    pub(super) cmd_ctx: Ctx<'a>,
}

impl<'a> State<'a> {
    fn new(tree: &'a Tree, data: &Value) -> State<'a> {
        State {
            tree,
            vars: vec![("$".into(), data.clone())],
            node_pos: None,
            node_ctx: Ctx::None,
            cmd_pos: 0,
            cmd_ctx: Ctx::None,
        }
    }
}

/// The node an error names (`at <...>`): kept as a reference and printed only when an error
/// is reported, so that a successful render formats nothing.
#[derive(Clone, Copy, Default)]
pub(super) enum Ctx<'a> {
    /// Nothing yet.
    #[default]
    None,
    /// An action, branch or template node (printed as Go's `String()` of the node).
    Node(&'a Node),
    /// A pipeline.
    Pipe(&'a Pipe),
    /// A command.
    Cmd(&'a Command),
    /// An argument.
    Arg(&'a Arg),
    /// A function name.
    Name(&'a str),
}

impl std::fmt::Display for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ctx::None => Ok(()),
            Ctx::Node(n) => f.write_str(&n.go_string()),
            Ctx::Pipe(p) => write!(f, "{p}"),
            Ctx::Cmd(c) => write!(f, "{c}"),
            Ctx::Arg(a) => write!(f, "{a}"),
            Ctx::Name(n) => f.write_str(n),
        }
    }
}

pub(super) type R<T> = Result<T, ExecError>;

impl Exec {
    /// A new execution context over `set`.
    pub fn new(set: Rc<TemplateSet>, strict: bool) -> Exec {
        Exec { set, strict, include_counts: HashMap::new(), root_name: "gotpl".into(), depth: 0 }
    }

    /// Executes the template `name` with `data` (Go's `ExecuteTemplate`).
    pub fn execute_template(&mut self, name: &str, data: &Value) -> R<String> {
        let Some(tree) = self.set.get(name).cloned() else {
            return Err(ExecError::plain(format!(
                "template: no template {} associated with template {}",
                super::format::go_quote(name),
                super::format::go_quote(&self.root_name)
            )));
        };
        self.execute_tree(&tree, data)
    }

    /// Executes a tree with `data` as both `.` and `$`.
    pub fn execute_tree(&mut self, tree: &Tree, data: &Value) -> R<String> {
        let mut out = String::new();
        let mut st = State::new(tree, data);
        self.walk_list(&mut st, data, &tree.root, &mut out)?;
        Ok(out)
    }

    fn walk_list<'a>(&mut self, st: &mut State<'a>, dot: &Value, list: &'a [Node], out: &mut String) -> R<Flow> {
        for n in list {
            match self.walk(st, dot, n, out)? {
                Flow::Normal => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Normal)
    }

    fn walk<'a>(&mut self, st: &mut State<'a>, dot: &Value, node: &'a Node, out: &mut String) -> R<Flow> {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Action(pipe) => {
                st.node_pos = Some(pipe.pos);
                st.node_ctx = Ctx::Node(node);
                let v = self.eval_pipeline(st, dot, pipe)?;
                if pipe.decl.is_empty() {
                    print_value(&v, out);
                }
            }
            Node::Branch(b) => {
                st.node_pos = Some(b.pipe.pos);
                st.node_ctx = Ctx::Node(node);
                let mark = st.vars.len();
                let r = match b.kind {
                    BranchKind::If | BranchKind::With => {
                        let v = self.eval_pipeline(st, dot, &b.pipe)?;
                        if v.truthy() {
                            let d = if b.kind == BranchKind::With { v } else { dot.clone() };
                            self.walk_list(st, &d, &b.list, out)?
                        } else if let Some(el) = &b.else_list {
                            self.walk_list(st, dot, el, out)?
                        } else {
                            Flow::Normal
                        }
                    }
                    BranchKind::Range => self.walk_range(st, dot, b, out)?,
                };
                st.vars.truncate(mark);
                return Ok(r);
            }
            Node::Template { pos, name, pipe } => {
                st.node_pos = Some(*pos);
                st.node_ctx = Ctx::Node(node);
                let Some(tree) = self.set.get(name).cloned() else {
                    return Err(self.error(st, &format!("template {name:?} not defined")));
                };
                let data = match pipe {
                    Some(p) => self.eval_pipeline(st, dot, p)?,
                    None => Value::Nil,
                };
                self.depth += 1;
                if self.depth >= MAX_EXEC_DEPTH {
                    self.depth -= 1;
                    return Err(self.error(st, &format!("exceeded maximum template depth ({MAX_EXEC_DEPTH})")));
                }
                let mut sub = State::new(&tree, &data);
                let r = self.walk_list(&mut sub, &data, &tree.root, out);
                self.depth -= 1;
                r?;
            }
            Node::Break(_) => return Ok(Flow::Break),
            Node::Continue(_) => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn walk_range<'a>(
        &mut self,
        st: &mut State<'a>,
        dot: &Value,
        b: &'a super::node::Branch,
        out: &mut String,
    ) -> R<Flow> {
        let v = self.eval_pipeline(st, dot, &b.pipe)?;
        let mark = st.vars.len();
        // Integer ranges are walked lazily: `range 1000000000` must not allocate.
        if let Value::Int(n) | Value::Int64(n) = &v {
            if b.pipe.decl.len() > 1 {
                return Err(self.error(st, &format!("can't use {n} to iterate over more than one variable")));
            }
            if *n <= 0 {
                if let Some(el) = &b.else_list {
                    return self.walk_list(st, dot, el, out);
                }
                return Ok(Flow::Normal);
            }
            let wide = matches!(v, Value::Int64(_));
            for i in 0..*n {
                let x = if wide { Value::Int64(i) } else { Value::Int(i) };
                if self.range_step(st, b, mark, x.clone(), &x, out)? {
                    break;
                }
            }
            return Ok(Flow::Normal);
        }
        let items: Vec<(Value, Value)> = match &v {
            Value::List(l) => l.iter().enumerate().map(|(i, x)| (Value::Int(i as i64), x.clone())).collect(),
            Value::Map(m) => m.borrow().iter().map(|(k, x)| (Value::str(k.as_str()), x.clone())).collect(),
            Value::Int(_) | Value::Int64(_) => Vec::new(),
            Value::Nil => Vec::new(),
            Value::Object(o) if o.entries().is_some() => {
                o.entries().unwrap_or_default().into_iter().map(|(k, v)| (Value::str(k), v)).collect()
            }
            Value::Float(_) | Value::Bool(_) | Value::Str(_) | Value::Object(_) => {
                return Err(self.error(st, &format!("range can't iterate over {}", print_string(&v))));
            }
        };
        if items.is_empty() {
            if let Some(el) = &b.else_list {
                return self.walk_list(st, dot, el, out);
            }
            return Ok(Flow::Normal);
        }
        for (index, elem) in items {
            if self.range_step(st, b, mark, index, &elem, out)? {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    /// One iteration of a range: sets the loop variables, walks the body; true on `break`.
    fn range_step<'a>(
        &mut self,
        st: &mut State<'a>,
        b: &'a super::node::Branch,
        mark: usize,
        index: Value,
        elem: &Value,
        out: &mut String,
    ) -> R<bool> {
        let decl = &b.pipe.decl;
        if !decl.is_empty() {
            if b.pipe.is_assign {
                let val = if decl.len() > 1 { index.clone() } else { elem.clone() };
                assign_var(st, &decl[0], val);
            } else {
                set_top_var(st, mark, 1, elem.clone());
            }
        }
        if decl.len() > 1 {
            if b.pipe.is_assign {
                assign_var(st, &decl[1], elem.clone());
            } else {
                set_top_var(st, mark, 2, index);
            }
        }
        let f = self.walk_list(st, elem, &b.list, out);
        st.vars.truncate(mark);
        if out.len() > MAX_OUTPUT {
            return Err(self.error(st, &format!("rendered output exceeds {MAX_OUTPUT} bytes")));
        }
        Ok(matches!(f?, Flow::Break))
    }

    pub(super) fn error(&self, st: &State<'_>, msg: &str) -> ExecError {
        let name = &st.tree.name;
        let message = match st.node_pos {
            None => format!("template: {name}: {msg}"),
            Some(pos) => {
                let ctx = &st.node_ctx;

                format!(
                    "template: {}: executing {} at <{ctx}>: {msg}",
                    st.tree.location(pos),
                    super::format::go_quote(name)
                )
            }
        };
        ExecError::plain(message)
    }

    fn at<'a>(st: &mut State<'a>, pos: usize, ctx: Ctx<'a>) {
        st.node_pos = Some(pos);
        st.node_ctx = ctx;
    }

    /// Evaluates a pipeline, declaring or assigning its variables.
    fn eval_pipeline<'a>(&mut self, st: &mut State<'a>, dot: &Value, pipe: &'a Pipe) -> R<Value> {
        let v = self.eval_pipeline_raw(st, dot, pipe)?;
        if !pipe.decl.is_empty() {
            for name in &pipe.decl {
                if pipe.is_assign {
                    if let Some(slot) = st.vars.iter_mut().rev().find(|(n, _)| n == name) {
                        slot.1 = v.clone();
                    }
                } else {
                    st.vars.push((name.clone(), v.clone()));
                }
            }
        }
        Ok(v)
    }

    fn eval_pipeline_raw<'a>(&mut self, st: &mut State<'a>, dot: &Value, pipe: &'a Pipe) -> R<Value> {
        Self::at(st, pipe.pos, Ctx::Pipe(pipe));
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(st, dot, cmd, value)?);
        }
        Ok(value.unwrap_or_default())
    }

    fn eval_command<'a>(&mut self, st: &mut State<'a>, dot: &Value, cmd: &'a Command, fin: Option<Value>) -> R<Value> {
        let first = &cmd.args[0];
        let saved_cmd = (st.cmd_pos, st.cmd_ctx);
        st.cmd_pos = cmd.pos;
        st.cmd_ctx = Ctx::Cmd(cmd);
        let r = self.eval_command_inner(st, dot, cmd, fin, first);
        st.cmd_pos = saved_cmd.0;
        st.cmd_ctx = saved_cmd.1;
        r
    }

    fn eval_command_inner<'a>(
        &mut self,
        st: &mut State<'a>,
        dot: &Value,
        cmd: &'a Command,
        fin: Option<Value>,
        first: &'a Arg,
    ) -> R<Value> {
        match first {
            Arg::Field(pos, idents) => {
                Self::at(st, *pos, Ctx::Arg(first));
                self.eval_field_chain(st, dot, dot.clone(), idents, &cmd.args[1..], fin)
            }
            Arg::Chain(pos, head, fields) => {
                let recv = self.eval_arg(st, dot, head)?;
                Self::at(st, *pos, Ctx::Arg(first));
                self.eval_field_chain(st, dot, recv, fields, &cmd.args[1..], fin)
            }
            Arg::Identifier(pos, name) => {
                Self::at(st, *pos, Ctx::Name(name));
                self.eval_function(st, dot, name, &cmd.args[1..], fin)
            }
            Arg::Pipe(pos, p) => {
                if cmd.args.len() > 1 || fin.is_some() {
                    Self::at(st, *pos, Ctx::Arg(first));
                    self.not_function(st, cmd, true)?;
                }
                self.eval_pipeline(st, dot, p)
            }
            Arg::Variable(pos, idents) => {
                Self::at(st, *pos, Ctx::Arg(first));
                let v = self.var_value(st, &idents[0])?;
                if idents.len() == 1 {
                    self.not_function(st, cmd, fin.is_some())?;
                    return Ok(v);
                }
                self.eval_field_chain(st, dot, v, &idents[1..], &cmd.args[1..], fin)
            }
            _ => {
                Self::at(st, first.pos(), Ctx::Arg(first));
                self.not_function(st, cmd, fin.is_some())?;
                match first {
                    Arg::Nil(_) => Err(self.error(st, "nil is not a command")),
                    _ => self.eval_arg(st, dot, first),
                }
            }
        }
    }

    fn not_function(&self, st: &State<'_>, cmd: &Command, has_final: bool) -> R<()> {
        if cmd.args.len() > 1 || has_final {
            return Err(self.error(st, &format!("can't give argument to non-function {}", cmd.args[0])));
        }
        Ok(())
    }

    fn var_value(&self, st: &State<'_>, name: &str) -> R<Value> {
        match st.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.error(st, &format!("undefined variable: {name}"))),
        }
    }

    fn eval_field_chain<'a>(
        &mut self,
        st: &mut State<'a>,
        dot: &Value,
        mut recv: Value,
        idents: &[String],
        args: &'a [Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        let n = idents.len();
        for (i, name) in idents.iter().enumerate() {
            if i + 1 < n {
                recv = self.eval_field(st, dot, name, &recv, &[], None)?;
            } else {
                return self.eval_field(st, dot, name, &recv, args, fin);
            }
        }
        Ok(recv)
    }

    fn eval_field<'a>(
        &mut self,
        st: &mut State<'a>,
        dot: &Value,
        name: &str,
        recv: &Value,
        args: &'a [Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        let has_args = !args.is_empty() || fin.is_some();
        match recv {
            Value::Object(o) => {
                if let Some(v) = o.field(name) {
                    if has_args {
                        return Err(self.error(st, &format!("{name} has arguments but cannot be invoked as function")));
                    }
                    return Ok(v);
                }
                let mut vals = Vec::new();
                for a in args {
                    vals.push(self.eval_arg(st, dot, a)?);
                }
                if let Some(f) = fin {
                    vals.push(f);
                }
                match o.call(name, &vals) {
                    Some(Ok(v)) => Ok(v),
                    Some(Err(e)) => Err(self.error(st, &format!("error calling {name}: {e}"))),
                    None => Err(self.error(st, &format!("can't evaluate field {name} in type {}", o.type_name()))),
                }
            }
            Value::Map(m) => {
                if has_args {
                    return Err(self.error(st, &format!("{name} is not a method but has arguments")));
                }
                match m.borrow().get(name) {
                    Some(v) => Ok(v.clone()),
                    None if self.strict => {
                        Err(self.error(st, &format!("map has no entry for key {}", super::format::go_quote(name))))
                    }
                    None => Ok(Value::Nil),
                }
            }
            Value::Nil => Err(self.error(st, &format!("nil pointer evaluating interface {{}}.{name}"))),
            _ => Err(self.error(st, &format!("can't evaluate field {name} in type interface {{}}"))),
        }
    }

    pub(super) fn eval_arg<'a>(&mut self, st: &mut State<'a>, dot: &Value, arg: &'a Arg) -> R<Value> {
        Self::at(st, arg.pos(), Ctx::Arg(arg));
        match arg {
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Ok(Value::Nil),
            Arg::Bool(_, b) => Ok(Value::Bool(*b)),
            Arg::String(_, s, _) => Ok(Value::str(s.as_str())),
            Arg::Number(_, n) => Ok(if n.is_float_literal {
                Value::Float(n.float.unwrap_or_default())
            } else if let Some(i) = n.int {
                Value::Int(i)
            } else {
                Value::Float(n.float.unwrap_or_default())
            }),
            Arg::Field(pos, idents) => {
                Self::at(st, *pos, Ctx::Arg(arg));
                self.eval_field_chain(st, dot, dot.clone(), idents, &[], None)
            }
            Arg::Variable(pos, idents) => {
                Self::at(st, *pos, Ctx::Arg(arg));
                let v = self.var_value(st, &idents[0])?;
                self.eval_field_chain(st, dot, v, &idents[1..], &[], None)
            }
            Arg::Pipe(_, p) => self.eval_pipeline(st, dot, p),
            Arg::Identifier(pos, name) => {
                Self::at(st, *pos, Ctx::Name(name));
                self.eval_function(st, dot, name, &[], None)
            }
            Arg::Chain(pos, head, fields) => {
                let recv = self.eval_arg(st, dot, head)?;
                Self::at(st, *pos, Ctx::Arg(arg));
                self.eval_field_chain(st, dot, recv, fields, &[], None)
            }
        }
    }
}

fn assign_var(st: &mut State<'_>, name: &str, v: Value) {
    if let Some(slot) = st.vars.iter_mut().rev().find(|(n, _)| n == name) {
        slot.1 = v;
    }
}

fn set_top_var(st: &mut State<'_>, mark: usize, n: usize, v: Value) {
    if mark >= n {
        st.vars[mark - n].1 = v;
    }
}

pub(super) enum Either<'a> {
    /// An argument node, evaluated on demand.
    Arg(&'a Arg),
    /// The piped-in value.
    Val(Value),
}

/// How an action prints its value (`<no value>` for nil).
pub fn print_value(v: &Value, out: &mut String) {
    match v {
        Value::Nil => out.push_str("<no value>"),
        Value::Str(s) => out.push_str(s),
        other => out.push_str(&super::format::sprint_v(other)),
    }
}

fn print_string(v: &Value) -> String {
    let mut s = String::new();
    print_value(v, &mut s);
    s
}
