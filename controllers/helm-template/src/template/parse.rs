//! The parser of Go's `text/template`, with Go's error messages
//! (`template: NAME:LINE: unexpected "}" in operand`).

use std::collections::HashSet;
use std::sync::Arc;

use super::lex::{Item, ItemType, lex};
use super::literal::{parse_number, unquote};
use super::node::{Arg, Branch, BranchKind, Command, Node, Pipe};

/// A parsed template: its body and the text it came from (for error positions).
#[derive(Debug, Clone)]
pub struct Tree {
    /// The template's name.
    pub name: Arc<str>,
    /// The name of the file it was parsed from (same as `name` for file templates).
    pub parse_name: Arc<str>,
    /// Its body.
    pub root: Vec<Node>,
    /// The source text.
    pub text: Arc<str>,
}

impl Tree {
    /// Whether the tree holds only whitespace text (Go does not let such a tree replace a
    /// definition).
    pub fn is_empty(&self) -> bool {
        self.root.iter().all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
    }

    /// `NAME:LINE:COL` of a byte offset, as Go's `ErrorContext` prints it.
    pub fn location(&self, pos: usize) -> String {
        let pos = pos.min(self.text.len());
        let before = &self.text[..pos];
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(i) => pos - (i + 1),
            None => pos,
        };
        format!("{}:{line}:{col}", self.parse_name)
    }
}

/// A parse error; its message is Go's, complete with the `template: NAME:LINE:` prefix.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// The result of parsing one file: its own tree and the templates it defines.
pub struct Parsed {
    /// The file's tree.
    pub main: Tree,
    /// `define`d and `block` templates, in order.
    pub defined: Vec<Tree>,
}

struct Parser<'a> {
    name: Arc<str>,
    text: Arc<str>,
    items: Vec<Item>,
    i: usize,
    vars: Vec<String>,
    range_depth: usize,
    funcs: &'a dyn Fn(&str) -> bool,
    defined: Vec<Tree>,
    action_line: usize,
}

enum Ended {
    End,
    Else(usize),
}

/// Parses `text` as the template `name`; `has_func` tells which function names exist.
pub fn parse(name: &str, text: &str, has_func: &dyn Fn(&str) -> bool) -> Result<Parsed, ParseError> {
    let mut p = Parser {
        name: name.into(),
        text: text.into(),
        items: lex(text),
        i: 0,
        vars: vec!["$".into()],
        range_depth: 0,
        funcs: has_func,
        defined: Vec::new(),
        action_line: 0,
    };
    let root = p.parse_root()?;
    Ok(Parsed {
        main: Tree { name: p.name.clone(), parse_name: p.name.clone(), root, text: p.text.clone() },
        defined: p.defined,
    })
}

fn item_string(it: &Item) -> String {
    match it.typ {
        ItemType::Eof => "EOF".into(),
        ItemType::Error => it.val.clone(),
        ItemType::Keyword => format!("<{}>", it.val),
        _ if it.val.chars().count() > 10 => {
            let short: String = it.val.chars().take(10).collect();
            format!("{}...", super::format::go_quote(&short))
        }
        _ => super::format::go_quote(&it.val),
    }
}

impl Parser<'_> {
    fn err<T>(&self, line: usize, msg: &str) -> Result<T, ParseError> {
        Err(ParseError(format!("template: {}:{line}: {msg}", self.name)))
    }

    fn cur_line(&self) -> usize {
        self.items[self.i.min(self.items.len() - 1)].line
    }

    fn next(&mut self) -> Item {
        let it = self.items[self.i.min(self.items.len() - 1)].clone();
        if self.i < self.items.len() {
            self.i += 1;
        }
        it
    }

    fn backup(&mut self) {
        self.i -= 1;
    }

    fn peek(&self) -> &Item {
        &self.items[self.i.min(self.items.len() - 1)]
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let it = self.next();
            if it.typ != ItemType::Space {
                return it;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let it = self.next_non_space();
        self.backup();
        it
    }

    fn unexpected<T>(&self, it: &Item, context: &str) -> Result<T, ParseError> {
        if it.typ == ItemType::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != it.line {
                extra = format!(" in action started at {}:{}", self.name, self.action_line);
                if it.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.err(it.line, &format!("{}{extra}", it.val));
        }
        self.err(it.line, &format!("unexpected {} in {context}", item_string(it)))
    }

    fn parse_root(&mut self) -> Result<Vec<Node>, ParseError> {
        let mut root = Vec::new();
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let save = self.i;
                self.next();
                let kw = self.next_non_space();
                if kw.typ == ItemType::Keyword && kw.val == "define" {
                    self.parse_definition()?;
                    continue;
                }
                self.i = save;
            }
            match self.text_or_action()? {
                Parsed1::Node(n) => root.push(n),
                Parsed1::End(line) => return self.err(line, "unexpected {{end}}"),
                Parsed1::Else(line) => return self.err(line, "unexpected {{else}}"),
            }
        }
        Ok(root)
    }

    fn parse_definition(&mut self) -> Result<(), ParseError> {
        let tok = self.next_non_space();
        let name = self.template_name(&tok, "define clause")?;
        let close = self.next_non_space();
        if close.typ != ItemType::RightDelim {
            return self.unexpected(&close, "define clause");
        }
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        if let Ended::Else(line) = end {
            return self.err(line, "unexpected {{else}}");
        }
        self.defined.push(Tree {
            name: name.into(),
            parse_name: self.name.clone(),
            root: list,
            text: self.text.clone(),
        });
        Ok(())
    }

    fn template_name(&self, tok: &Item, context: &str) -> Result<String, ParseError> {
        match tok.typ {
            ItemType::String | ItemType::RawString => unquote(&tok.val)
                .ok_or_else(|| ParseError(format!("template: {}:{}: {}", self.name, tok.line, "invalid syntax"))),
            _ => self.unexpected(tok, context),
        }
    }

    fn item_list(&mut self) -> Result<(Vec<Node>, Ended), ParseError> {
        let mut list = Vec::new();
        while self.peek_non_space().typ != ItemType::Eof {
            match self.text_or_action()? {
                Parsed1::Node(n) => list.push(n),
                Parsed1::End(_) => return Ok((list, Ended::End)),
                Parsed1::Else(line) => return Ok((list, Ended::Else(line))),
            }
        }
        let line = self.cur_line();
        self.err(line, "unexpected EOF")
    }

    fn text_or_action(&mut self) -> Result<Parsed1, ParseError> {
        let tok = self.next_non_space();
        match tok.typ {
            ItemType::Text => Ok(Parsed1::Node(Node::Text(tok.val))),
            ItemType::LeftDelim => {
                self.action_line = tok.line;
                let r = self.action();
                self.action_line = 0;
                r
            }
            _ => self.unexpected(&tok, "input"),
        }
    }

    fn action(&mut self) -> Result<Parsed1, ParseError> {
        let tok = self.next_non_space();
        if tok.typ == ItemType::Keyword {
            match tok.val.as_str() {
                "block" => return self.block_control(tok.pos).map(Parsed1::Node),
                "break" | "continue" => {
                    let close = self.next_non_space();
                    if close.typ != ItemType::RightDelim {
                        return self.unexpected(&close, &format!("{{{{{}}}}}", tok.val));
                    }
                    if self.range_depth == 0 {
                        return self.err(tok.line, &format!("{{{{{}}}}} outside {{{{range}}}}", tok.val));
                    }
                    return Ok(Parsed1::Node(if tok.val == "break" {
                        Node::Break(tok.pos)
                    } else {
                        Node::Continue(tok.pos)
                    }));
                }
                "else" => {
                    let peek = self.peek_non_space();
                    if peek.typ == ItemType::Keyword && (peek.val == "if" || peek.val == "with") {
                        // `{{else if …}}`: the `if` stays to be parsed by the caller.
                        return Ok(Parsed1::Else(tok.line));
                    }
                    let close = self.next_non_space();
                    if close.typ != ItemType::RightDelim {
                        return self.unexpected(&close, "else");
                    }
                    return Ok(Parsed1::Else(tok.line));
                }
                "end" => {
                    let close = self.next_non_space();
                    if close.typ != ItemType::RightDelim {
                        return self.unexpected(&close, "end");
                    }
                    return Ok(Parsed1::End(tok.line));
                }
                "if" => return self.control(BranchKind::If).map(Parsed1::Node),
                "range" => return self.control(BranchKind::Range).map(Parsed1::Node),
                "with" => return self.control(BranchKind::With).map(Parsed1::Node),
                "template" => return self.template_control(tok.pos).map(Parsed1::Node),
                _ => {}
            }
        }
        self.backup();
        let pipe = self.pipeline("command", ItemType::RightDelim)?;
        Ok(Parsed1::Node(Node::Action(pipe)))
    }

    fn control(&mut self, kind: BranchKind) -> Result<Node, ParseError> {
        let context = match kind {
            BranchKind::If => "if",
            BranchKind::Range => "range",
            BranchKind::With => "with",
        };
        let mark = self.vars.len();
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if kind == BranchKind::Range {
            self.range_depth += 1;
        }
        let (list, end) = self.item_list()?;
        if kind == BranchKind::Range {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        if let Ended::Else(_) = end {
            let peek = self.peek_non_space();
            let chained = peek.typ == ItemType::Keyword
                && ((kind == BranchKind::If && peek.val == "if") || (kind == BranchKind::With && peek.val == "with"));
            if chained {
                self.next_non_space();
                let inner = self.control(kind)?;
                else_list = Some(vec![inner]);
            } else {
                let (el, end2) = self.item_list()?;
                if let Ended::Else(line) = end2 {
                    return self.err(line, "expected end; found {{else}}");
                }
                else_list = Some(el);
            }
        }
        self.vars.truncate(mark);
        Ok(Node::Branch(Box::new(Branch { kind, pipe, list, else_list })))
    }

    fn template_control(&mut self, _pos: usize) -> Result<Node, ParseError> {
        let tok = self.next_non_space();
        let pos = tok.pos;
        let name = self.template_name(&tok, "template clause")?;
        let mut pipe = None;
        if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            pipe = Some(self.pipeline("template clause", ItemType::RightDelim)?);
        }
        Ok(Node::Template { pos, name, pipe })
    }

    fn block_control(&mut self, pos: usize) -> Result<Node, ParseError> {
        let tok = self.next_non_space();
        let name = self.template_name(&tok, "block clause")?;
        let mut pipe = None;
        if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            pipe = Some(self.pipeline("block clause", ItemType::RightDelim)?);
        }
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        if let Ended::Else(line) = end {
            return self.err(line, "unexpected {{else}}");
        }
        self.defined.push(Tree {
            name: name.as_str().into(),
            parse_name: self.name.clone(),
            root: list,
            text: self.text.clone(),
        });
        Ok(Node::Template { pos, name, pipe })
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> Result<Pipe, ParseError> {
        let mut pipe = Pipe { pos: self.peek_non_space().pos, is_assign: false, decl: Vec::new(), cmds: Vec::new() };
        'decls: loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break;
            }
            self.next_non_space();
            let after_var = self.i;
            let next = self.peek_non_space();
            match next.typ {
                ItemType::Assign | ItemType::Declare => {
                    pipe.is_assign = next.typ == ItemType::Assign;
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    if pipe.is_assign {
                        if !self.vars.contains(&v.val) {
                            return self.err(v.line, &format!("undefined variable {:?}", v.val));
                        }
                    } else {
                        self.vars.push(v.val.clone());
                    }
                    break 'decls;
                }
                ItemType::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val.clone());
                    if context == "range" && pipe.decl.len() < 2 {
                        let p = self.peek_non_space();
                        if matches!(p.typ, ItemType::Variable | ItemType::RightDelim | ItemType::RightParen) {
                            continue 'decls;
                        }
                        return self.err(v.line, "range can only initialize variables");
                    }
                    return self.err(v.line, &format!("too many declarations in {context}"));
                }
                _ => {
                    self.i = after_var - 1;
                    break 'decls;
                }
            }
        }
        loop {
            let tok = self.next_non_space();
            if tok.typ == end {
                if pipe.cmds.is_empty() {
                    return self.err(tok.line, &format!("missing value for {context}"));
                }
                for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
                    if matches!(
                        c.args[0],
                        Arg::Bool(..) | Arg::Dot(_) | Arg::Nil(_) | Arg::Number(..) | Arg::String(..)
                    ) {
                        return self.err(tok.line, &format!("non executable command in pipeline stage {}", i + 1));
                    }
                }
                return Ok(pipe);
            }
            match tok.typ {
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&tok, context),
            }
        }
    }

    fn command(&mut self) -> Result<Command, ParseError> {
        let mut cmd = Command { pos: self.peek_non_space().pos, args: Vec::new() };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let tok = self.next();
            match tok.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return self.unexpected(&tok, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            let line = self.cur_line();
            return self.err(line, "empty command");
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> Result<Option<Arg>, ParseError> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != ItemType::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().typ == ItemType::Field {
            fields.push(self.next().val[1..].to_string());
        }
        Ok(Some(match node {
            Arg::Field(_, mut idents) => {
                idents.extend(fields);
                Arg::Field(pos, idents)
            }
            Arg::Variable(_, mut idents) => {
                idents.extend(fields);
                Arg::Variable(pos, idents)
            }
            Arg::Bool(..) | Arg::String(..) | Arg::Number(..) | Arg::Nil(_) | Arg::Dot(_) => {
                let line = self.cur_line();
                return self.err(line, &format!("unexpected . after term {:?}", node.to_string()));
            }
            other => Arg::Chain(pos, Box::new(other), fields),
        }))
    }

    fn term(&mut self) -> Result<Option<Arg>, ParseError> {
        let tok = self.next_non_space();
        Ok(Some(match tok.typ {
            ItemType::Identifier => {
                if !(self.funcs)(&tok.val) {
                    return self.err(tok.line, &format!("function {:?} not defined", tok.val));
                }
                Arg::Identifier(tok.pos, tok.val)
            }
            ItemType::Dot => Arg::Dot(tok.pos),
            ItemType::Nil => Arg::Nil(tok.pos),
            ItemType::Variable => {
                if !self.vars.contains(&tok.val) {
                    return self.err(tok.line, &format!("undefined variable {:?}", tok.val));
                }
                Arg::Variable(tok.pos, vec![tok.val])
            }
            ItemType::Field => Arg::Field(tok.pos, vec![tok.val[1..].to_string()]),
            ItemType::Bool => Arg::Bool(tok.pos, tok.val == "true"),
            ItemType::CharConstant | ItemType::Number => match parse_number(&tok.val, tok.typ) {
                Some(n) => Arg::Number(tok.pos, n),
                None => return self.err(tok.line, &format!("illegal number syntax: {:?}", tok.val)),
            },
            ItemType::LeftParen => {
                let pipe = self.pipeline("parenthesized pipeline", ItemType::RightParen)?;
                Arg::Pipe(tok.pos, Box::new(pipe))
            }
            ItemType::String | ItemType::RawString => match unquote(&tok.val) {
                Some(s) => Arg::String(tok.pos, s, tok.val),
                None => return self.err(tok.line, "invalid syntax"),
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

enum Parsed1 {
    Node(Node),
    End(usize),
    Else(usize),
}

/// The set of function names a parser accepts.
pub fn func_set(names: impl IntoIterator<Item = String>) -> HashSet<String> {
    names.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Parsed, ParseError> {
        parse("t", s, &|n| n == "printf")
    }

    #[test]
    fn go_error_messages() {
        let e = |s: &str| p(s).err().map(|e| e.0).unwrap_or_default();
        assert_eq!(e("{{ .X }"), "template: t:1: unexpected \"}\" in operand");
        assert_eq!(e("{{ foo }}"), "template: t:1: function \"foo\" not defined");
        assert_eq!(e("\n{{ $x }}"), "template: t:2: undefined variable \"$x\"");
        assert_eq!(e("{{ if .X }}"), "template: t:1: unexpected EOF");
        assert_eq!(e("{{ end }}"), "template: t:1: unexpected {{end}}");
        assert_eq!(e("{{ }}"), "template: t:1: missing value for command");
        assert_eq!(e("{{ break }}"), "template: t:1: {{break}} outside {{range}}");
    }

    #[test]
    fn defines_are_collected() {
        let parsed = p("{{ define \"a\" }}A{{ end }}x{{ block \"b\" . }}B{{ end }}").ok();
        let names: Vec<String> =
            parsed.map(|p| p.defined.iter().map(|t| t.name.to_string()).collect()).unwrap_or_default();
        assert_eq!(names, vec!["a", "b"]);
    }
}
