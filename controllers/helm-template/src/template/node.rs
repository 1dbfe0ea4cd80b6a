//! The parse tree of a template, and how Go prints its nodes (`String()`), which error
//! messages quote.

use std::fmt;

/// A node of a template's list.
#[derive(Debug, Clone)]
pub enum Node {
    /// Literal text.
    Text(String),
    /// `{{pipeline}}`.
    Action(Pipe),
    /// `{{if}}`, `{{range}}` or `{{with}}`.
    Branch(Box<Branch>),
    /// `{{template "name" pipeline}}`.
    Template {
        /// Byte offset.
        pos: usize,
        /// The template invoked.
        name: String,
        /// Its data.
        pipe: Option<Pipe>,
    },
    /// `{{break}}`.
    Break(usize),
    /// `{{continue}}`.
    Continue(usize),
}

/// Which control structure a branch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchKind {
    /// `if`.
    If,
    /// `range`.
    Range,
    /// `with`.
    With,
}

/// `{{if}}`, `{{range}}`, `{{with}}` with their bodies.
#[derive(Debug, Clone)]
pub struct Branch {
    /// The kind.
    pub kind: BranchKind,
    /// The condition or collection.
    pub pipe: Pipe,
    /// The body.
    pub list: Vec<Node>,
    /// The `else` body.
    pub else_list: Option<Vec<Node>>,
}

/// A pipeline, with its declared variables.
#[derive(Debug, Clone)]
pub struct Pipe {
    /// Byte offset.
    pub pos: usize,
    /// `=` rather than `:=`.
    pub is_assign: bool,
    /// Declared variables (`$x`, `$i, $v`).
    pub decl: Vec<String>,
    /// The commands.
    pub cmds: Vec<Command>,
}

/// A command: the words of one pipeline stage.
#[derive(Debug, Clone)]
pub struct Command {
    /// Byte offset.
    pub pos: usize,
    /// The words.
    pub args: Vec<Arg>,
}

/// A word of a command.
#[derive(Debug, Clone)]
pub enum Arg {
    /// `.A.B`.
    Field(usize, Vec<String>),
    /// `(pipe).A.B` or `$x.A` with a non-variable head.
    Chain(usize, Box<Arg>, Vec<String>),
    /// `$x.A.B` (first element is the variable name).
    Variable(usize, Vec<String>),
    /// A function name.
    Identifier(usize, String),
    /// `.`.
    Dot(usize),
    /// `nil`.
    Nil(usize),
    /// `true`/`false`.
    Bool(usize, bool),
    /// A number literal.
    Number(usize, Number),
    /// A string literal (unquoted), with its original text.
    String(usize, String, String),
    /// A parenthesised pipeline.
    Pipe(usize, Box<Pipe>),
}

/// A number literal's possible readings.
#[derive(Debug, Clone)]
pub struct Number {
    /// The literal text.
    pub text: String,
    /// Its value as an integer, if it is one.
    pub int: Option<i64>,
    /// Its value as a float, if it has one.
    pub float: Option<f64>,
    /// Whether it reads as a float first (has `.`, `e` and is not hex).
    pub is_float_literal: bool,
    /// A character constant (`'a'`).
    pub is_char: bool,
}

impl Arg {
    /// Byte offset of the word.
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field(p, _)
            | Arg::Chain(p, _, _)
            | Arg::Variable(p, _)
            | Arg::Identifier(p, _)
            | Arg::Dot(p)
            | Arg::Nil(p)
            | Arg::Bool(p, _)
            | Arg::Number(p, _)
            | Arg::String(p, _, _)
            | Arg::Pipe(p, _) => *p,
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field(_, idents) => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Chain(_, node, fields) => {
                if matches!(**node, Arg::Pipe(..)) {
                    write!(f, "({node})")?;
                } else {
                    write!(f, "{node}")?;
                }
                for i in fields {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Variable(_, idents) => write!(f, "{}", idents.join(".")),
            Arg::Identifier(_, name) => write!(f, "{name}"),
            Arg::Dot(_) => write!(f, "."),
            Arg::Nil(_) => write!(f, "nil"),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Number(_, n) => write!(f, "{}", n.text),
            Arg::String(_, _, quoted) => write!(f, "{quoted}"),
            Arg::Pipe(_, p) => write!(f, "{p}"),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                write!(f, " ")?;
            }
            if let Arg::Pipe(_, p) = a {
                write!(f, "({p})")?;
            } else {
                write!(f, "{a}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            write!(f, "{}", self.decl.join(", "))?;
            write!(f, "{}", if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                write!(f, " | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl Node {
    /// How Go prints a node in an error context.
    pub fn go_string(&self) -> String {
        match self {
            Node::Text(t) => format!("{t:?}"),
            Node::Action(p) => format!("{{{{{p}}}}}"),
            Node::Branch(b) => {
                let kw = match b.kind {
                    BranchKind::If => "if",
                    BranchKind::Range => "range",
                    BranchKind::With => "with",
                };
                format!("{{{{{kw} {}}}}}", b.pipe)
            }
            Node::Template { name, pipe, .. } => match pipe {
                Some(p) => format!("{{{{template {name:?} {p}}}}}"),
                None => format!("{{{{template {name:?}}}}}"),
            },
            Node::Break(_) => "{{break}}".into(),
            Node::Continue(_) => "{{continue}}".into(),
        }
    }
}
