//! The scanner and parser of fluxcd/pkg/envsubst (a fork of drone/envsubst), re-expressed.
//!
//! Only `${…}` opens an expression; `$$` escapes a dollar (so `$${X}` is the literal `${X}`) and,
//! inside the pattern and replacement of `${X/pattern/replacement}`, `\/` and `\\` escape a
//! slash and a backslash. The scanner is a state machine whose mode and accepted characters
//! the parser sets before each token; its quirks (such as an escape consuming the escaped
//! character without checking it) are kept because they decide what Flux outputs.

/// A parsed template node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// Literal text.
    Text(String),
    /// A substitution: the operator (`""` for a plain `${VAR}`), the variable and the
    /// operator's arguments.
    Func { name: String, param: String, args: Vec<Node> },
}

/// Why a template does not parse (upstream's error texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// An expression that is not valid.
    #[error("bad substitution")]
    BadSubstitution,
    /// `${VAR` without `}`.
    #[error("missing closing brace")]
    MissingClosingBrace,
    /// `${` not followed by a variable name.
    #[error("unable to parse variable name")]
    VariableName,
    /// An argument of an operator that does not parse.
    #[error("unable to parse substitution within function")]
    FuncSubstitution,
    /// A default operator that does not parse.
    #[error("unable to parse default function")]
    DefaultFunction,
}

const EOF: char = '\0';

const SCAN_IDENT: u8 = 1;
const SCAN_LBRACK: u8 = 2;
const SCAN_RBRACK: u8 = 4;
const SCAN_ESCAPE: u8 = 8;

const ESC_DOLLAR: u8 = 1;
const ESC_BACKSLASH: u8 = 2;
const ESC_ALL: u8 = ESC_DOLLAR | ESC_BACKSLASH;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Illegal,
    Eof,
    Ident,
    Lbrack,
    Rbrack,
}

/// Which characters the identifier token accepts (`i` is the token length so far, including
/// the character being tested).
#[derive(Debug, Clone, Copy)]
enum Accept {
    Any,
    Ident,
    Colons,
    OneHash,
    NotClosing,
    HashOp,
    PercentOp,
    DefaultOp,
    ReplaceOp,
    OneEqual,
    OneColon,
    NotColonOrClose,
    Slashes,
    NotSlash,
    CasingOp,
}

impl Accept {
    fn accepts(self, r: char, i: usize) -> bool {
        match self {
            Accept::Any => true,
            Accept::Ident => r.is_alphabetic() || r.is_numeric() || r == '_',
            Accept::Colons => r == ':',
            Accept::OneHash => r == '#' && i == 1,
            Accept::NotClosing => r != '}',
            Accept::HashOp => r == '#' && i < 3,
            Accept::PercentOp => r == '%' && i < 3,
            Accept::DefaultOp => (i == 1 && r == ':') || (i == 2 && matches!(r, '=' | '-' | '?' | '+')),
            Accept::ReplaceOp => (i == 1 && r == '/') || (i == 2 && matches!(r, '/' | '#' | '%')),
            Accept::OneEqual => i == 1 && r == '=',
            Accept::OneColon => i == 1 && r == ':',
            Accept::NotColonOrClose => r != ':' && r != '}',
            Accept::Slashes => r == '/',
            Accept::NotSlash => r != '/',
            Accept::CasingOp => (r == ',' || r == '^') && i < 3,
        }
    }
}

struct Scanner {
    buf: Vec<char>,
    pos: usize,
    start: usize,
    width: usize,
    mode: u8,
    escape: u8,
    accept: Accept,
}

impl Scanner {
    fn read(&mut self) -> char {
        match self.buf.get(self.pos) {
            Some(&r) => {
                self.width = 1;
                self.pos += 1;
                r
            }
            None => {
                self.width = 0;
                EOF
            }
        }
    }

    fn unread(&mut self) {
        self.pos -= self.width;
    }

    /// Drops the character just read; the one after it counts as read.
    fn skip(&mut self) {
        self.buf.remove(self.pos - 1);
    }

    fn peek(&mut self) -> char {
        let r = self.read();
        self.unread();
        r
    }

    fn text(&self) -> String {
        self.buf[self.start..self.pos.min(self.buf.len())].iter().collect()
    }

    fn scan(&mut self) -> Token {
        self.start = self.pos;
        let r = self.read();
        if r == EOF {
            Token::Eof
        } else if self.lbrack(r) {
            Token::Lbrack
        } else if self.rbrack(r) {
            Token::Rbrack
        } else if self.ident(r) {
            Token::Ident
        } else {
            Token::Illegal
        }
    }

    fn ident(&mut self, r: char) -> bool {
        if self.mode & SCAN_IDENT == 0 {
            return false;
        }
        if self.escaped(r) {
            self.skip();
        } else if !self.accept.accepts(r, self.pos - self.start) {
            return false;
        }
        loop {
            let r = self.read();
            if r == EOF {
                self.unread();
                break;
            }
            if self.lbrack(r) {
                self.unread();
                self.unread();
                break;
            }
            if self.escaped(r) {
                self.skip();
                continue;
            }
            if !self.accept.accepts(r, self.pos - self.start) {
                self.unread();
                break;
            }
        }
        true
    }

    fn lbrack(&mut self, r: char) -> bool {
        if self.mode & SCAN_LBRACK == 0 || r != '$' {
            return false;
        }
        if self.read() == '{' {
            return true;
        }
        self.unread();
        false
    }

    fn rbrack(&self, r: char) -> bool {
        self.mode & SCAN_RBRACK != 0 && r == '}'
    }

    fn escaped(&mut self, r: char) -> bool {
        if self.mode & SCAN_ESCAPE == 0 {
            return false;
        }
        if r == '$' && self.escape & ESC_DOLLAR != 0 && self.peek() == '$' {
            return true;
        }
        r == '\\' && self.escape & ESC_BACKSLASH != 0 && matches!(self.peek(), '/' | '\\')
    }
}

/// Parses a template into its nodes, in order.
pub(crate) fn parse(input: &str) -> Result<Vec<Node>, ParseError> {
    let mut p =
        Scanner { buf: input.chars().collect(), pos: 0, start: 0, width: 0, mode: 0, escape: 0, accept: Accept::Any };
    let mut nodes = Vec::new();
    loop {
        p.accept = Accept::Any;
        p.mode = SCAN_IDENT | SCAN_LBRACK | SCAN_ESCAPE;
        p.escape = ESC_DOLLAR;
        match p.scan() {
            Token::Ident => nodes.push(Node::Text(p.text())),
            Token::Eof => return Ok(nodes),
            Token::Lbrack => nodes.push(p.func()?),
            Token::Illegal | Token::Rbrack => return Err(ParseError::BadSubstitution),
        }
    }
}

impl Scanner {
    fn expect(&mut self, accept: Accept, mode: u8, err: ParseError) -> Result<String, ParseError> {
        self.accept = accept;
        self.mode = mode;
        match self.scan() {
            Token::Ident => Ok(self.text()),
            _ => Err(err),
        }
    }

    fn func(&mut self) -> Result<Node, ParseError> {
        self.escape = ESC_ALL;
        if self.peek() == '#' {
            return self.len_func();
        }
        let name = self.expect(Accept::Ident, SCAN_IDENT, ParseError::VariableName)?;
        match self.peek() {
            ':' => return self.default_or_substr(name),
            '=' => return self.default_func(name),
            ',' | '^' => return self.casing_func(name),
            '/' => return self.replace_func(name),
            '#' => return self.remove_func(name, Accept::HashOp),
            '%' => return self.remove_func(name, Accept::PercentOp),
            _ => {}
        }
        self.accept = Accept::Ident;
        self.mode = SCAN_RBRACK;
        match self.scan() {
            Token::Rbrack => Ok(Node::Func { name: String::new(), param: name, args: Vec::new() }),
            _ => Err(ParseError::MissingClosingBrace),
        }
    }

    fn param(&mut self, accept: Accept, mode: u8) -> Result<Node, ParseError> {
        self.accept = accept;
        self.mode = mode | SCAN_LBRACK;
        match self.scan() {
            Token::Lbrack => self.func(),
            Token::Ident | Token::Rbrack => Ok(Node::Text(self.text())),
            Token::Illegal | Token::Eof => Err(ParseError::FuncSubstitution),
        }
    }

    fn default_or_substr(&mut self, name: String) -> Result<Node, ParseError> {
        self.read();
        let r = self.peek();
        self.unread();
        if matches!(r, '=' | '-' | '?' | '+') { self.default_func(name) } else { self.substr_func(name) }
    }

    fn substr_func(&mut self, param: String) -> Result<Node, ParseError> {
        let name = self.expect(Accept::OneColon, SCAN_IDENT, ParseError::BadSubstitution)?;
        let mut args = vec![self.param(Accept::NotColonOrClose, SCAN_IDENT)?];
        self.accept = Accept::Colons;
        self.mode = SCAN_IDENT | SCAN_RBRACK;
        match self.scan() {
            Token::Rbrack => return Ok(Node::Func { name, param, args }),
            Token::Ident => {}
            _ => return Err(ParseError::BadSubstitution),
        }
        args.push(self.param(Accept::NotClosing, SCAN_IDENT)?);
        self.close()?;
        Ok(Node::Func { name, param, args })
    }

    fn remove_func(&mut self, param: String, accept: Accept) -> Result<Node, ParseError> {
        let name = self.expect(accept, SCAN_IDENT, ParseError::BadSubstitution)?;
        let args = vec![self.param(Accept::NotClosing, SCAN_IDENT)?];
        self.close()?;
        Ok(Node::Func { name, param, args })
    }

    fn replace_func(&mut self, param: String) -> Result<Node, ParseError> {
        let name = self.expect(Accept::ReplaceOp, SCAN_IDENT, ParseError::BadSubstitution)?;
        let mut args = vec![self.param(Accept::NotSlash, SCAN_IDENT | SCAN_ESCAPE)?];
        self.expect(Accept::Slashes, SCAN_IDENT, ParseError::BadSubstitution)?;
        if self.peek() != '}' {
            args.push(self.param(Accept::NotClosing, SCAN_IDENT | SCAN_ESCAPE)?);
        }
        self.close()?;
        Ok(Node::Func { name, param, args })
    }

    fn default_func(&mut self, param: String) -> Result<Node, ParseError> {
        let accept = if self.peek() == '=' { Accept::OneEqual } else { Accept::DefaultOp };
        let name = self.expect(accept, SCAN_IDENT, ParseError::DefaultFunction)?;
        let mut args = Vec::new();
        loop {
            if self.peek() == '}' {
                self.close()?;
                return Ok(Node::Func { name, param, args });
            }
            args.push(self.param(Accept::NotClosing, SCAN_IDENT)?);
        }
    }

    fn casing_func(&mut self, param: String) -> Result<Node, ParseError> {
        let name = self.expect(Accept::CasingOp, SCAN_IDENT, ParseError::BadSubstitution)?;
        self.close()?;
        Ok(Node::Func { name, param, args: Vec::new() })
    }

    fn len_func(&mut self) -> Result<Node, ParseError> {
        let name = self.expect(Accept::OneHash, SCAN_IDENT, ParseError::BadSubstitution)?;
        let param = self.expect(Accept::Ident, SCAN_IDENT, ParseError::BadSubstitution)?;
        self.close()?;
        Ok(Node::Func { name, param, args: Vec::new() })
    }

    fn close(&mut self) -> Result<(), ParseError> {
        self.mode = SCAN_RBRACK;
        if self.scan() == Token::Rbrack { Ok(()) } else { Err(ParseError::BadSubstitution) }
    }
}
