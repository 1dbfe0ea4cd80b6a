//! The lexer of Go's `text/template`: text, actions between `{{` and `}}`, trim markers
//! (`{{- ` and ` -}}`), comments, and the tokens inside actions.

/// The kind of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemType {
    /// Plain text outside actions.
    Text,
    /// `{{`.
    LeftDelim,
    /// `}}`.
    RightDelim,
    /// A bare word: a function name or keyword.
    Identifier,
    /// A keyword (`if`, `range`, `end`, …).
    Keyword,
    /// `.Field`.
    Field,
    /// `$name`.
    Variable,
    /// `.` alone.
    Dot,
    /// `"..."`.
    String,
    /// `` `...` ``.
    RawString,
    /// `'c'`.
    CharConstant,
    /// A number.
    Number,
    /// `true` or `false`.
    Bool,
    /// `nil`.
    Nil,
    /// `|`.
    Pipe,
    /// `:=`.
    Declare,
    /// `=`.
    Assign,
    /// `(`.
    LeftParen,
    /// `)`.
    RightParen,
    /// `,`.
    Char,
    /// Spaces inside an action.
    Space,
    /// End of input.
    Eof,
    /// A lexing error; the value is the message.
    Error,
}

/// A token.
#[derive(Debug, Clone)]
pub struct Item {
    /// Its kind.
    pub typ: ItemType,
    /// Its text.
    pub val: String,
    /// Byte offset in the template text.
    pub pos: usize,
    /// 1-based line number.
    pub line: usize,
}

const KEYWORDS: &[&str] = &["block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"];

/// Whether `s` is a keyword.
pub fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s)
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    line: usize,
    start_line: usize,
    items: Vec<Item>,
    paren_depth: i32,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Splits a template into tokens; stops after the first error item.
pub fn lex(input: &str) -> Vec<Item> {
    let mut l = Lexer { input, pos: 0, start: 0, line: 1, start_line: 1, items: Vec::new(), paren_depth: 0 };
    l.run();
    l.items
}

impl Lexer<'_> {
    fn emit_val(&mut self, typ: ItemType, val: String) {
        self.items.push(Item { typ, val, pos: self.start, line: self.start_line });
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn emit(&mut self, typ: ItemType) {
        let val = self.input[self.start..self.pos].to_string();
        self.emit_val(typ, val);
    }

    fn ignore(&mut self) {
        self.line += self.input[self.start..self.pos].matches('\n').count();
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn error(&mut self, msg: String) -> bool {
        self.items.push(Item { typ: ItemType::Error, val: msg, pos: self.start, line: self.start_line });
        false
    }

    fn peek_char(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn next_char(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn run(&mut self) {
        loop {
            // Text up to the next "{{".
            let rest = &self.input[self.pos..];
            let Some(idx) = rest.find("{{") else {
                self.pos = self.input.len();
                if self.pos > self.start {
                    let text = self.input[self.start..self.pos].to_string();
                    let lines = text.matches('\n').count();
                    self.emit_val(ItemType::Text, text);
                    self.line += lines;
                    self.start_line = self.line;
                }
                self.emit_val(ItemType::Eof, String::new());
                return;
            };
            self.pos += idx;
            let after = &self.input[self.pos + 2..];
            let trim = after.len() >= 2 && after.as_bytes()[0] == b'-' && is_space(after.as_bytes()[1]);
            if self.pos > self.start {
                let mut text = &self.input[self.start..self.pos];
                let lines = text.matches('\n').count();
                if trim {
                    text = text.trim_end_matches([' ', '\t', '\r', '\n']);
                }
                let text = text.to_string();
                if !text.is_empty() {
                    self.emit_val(ItemType::Text, text);
                }
                self.line = self.start_line + lines;
                self.start = self.pos;
                self.start_line = self.line;
            }
            if !self.lex_left_delim(trim) {
                return;
            }
        }
    }

    fn lex_left_delim(&mut self, trim: bool) -> bool {
        self.pos += 2;
        let after_marker = if trim { 2 } else { 0 };
        if self.input[self.pos + after_marker..].starts_with("/*") {
            self.pos += after_marker;
            self.ignore();
            return self.lex_comment();
        }
        self.emit(ItemType::LeftDelim);
        self.pos += after_marker;
        self.ignore();
        self.paren_depth = 0;
        self.lex_inside_action()
    }

    fn lex_comment(&mut self) -> bool {
        self.pos += 2;
        let Some(end) = self.input[self.pos..].find("*/") else {
            return self.error("unclosed comment".into());
        };
        self.pos += end + 2;
        let (trim, delim_len) = self.at_right_delim();
        if delim_len == 0 {
            return self.error("comment ends before closing delimiter".into());
        }
        self.ignore();
        self.pos += delim_len;
        self.ignore();
        if trim {
            self.trim_following();
        }
        true
    }

    /// Whether a right delimiter (with its trim marker) starts here, and its length.
    fn at_right_delim(&self) -> (bool, usize) {
        let rest = &self.input[self.pos..];
        let b = rest.as_bytes();
        if b.len() >= 4 && is_space(b[0]) && b[1] == b'-' && &rest[2..4] == "}}" {
            return (true, 4);
        }
        if rest.starts_with("}}") {
            return (false, 2);
        }
        (false, 0)
    }

    fn trim_following(&mut self) {
        let rest = &self.input[self.pos..];
        let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n']);
        self.pos += rest.len() - trimmed.len();
        self.ignore();
    }

    fn lex_inside_action(&mut self) -> bool {
        loop {
            let (trim, dlen) = self.at_right_delim();
            if dlen > 0 && self.paren_depth == 0 {
                if trim {
                    // The space before the marker.
                    self.pos += 1;
                    self.ignore();
                    self.pos += 1;
                    self.ignore();
                }
                self.pos += 2;
                self.emit(ItemType::RightDelim);
                if trim {
                    self.trim_following();
                }
                return true;
            }
            let Some(c) = self.next_char() else {
                return self.error("unclosed action".into());
            };
            match c {
                '\r' | '\n' if self.paren_depth == 0 => {
                    // Go allows newlines inside actions since 1.16.
                    self.lex_space();
                }
                ' ' | '\t' | '\r' | '\n' => self.lex_space(),
                '=' => self.emit(ItemType::Assign),
                ':' => {
                    if self.peek_char() != Some('=') {
                        return self.error("expected :=".into());
                    }
                    self.next_char();
                    self.emit(ItemType::Declare);
                }
                '|' => self.emit(ItemType::Pipe),
                '"' => {
                    if !self.lex_quote() {
                        return false;
                    }
                }
                '`' => {
                    let Some(end) = self.input[self.pos..].find('`') else {
                        return self.error("unterminated raw quoted string".into());
                    };
                    let s = &self.input[self.pos..self.pos + end];
                    self.line += s.matches('\n').count();
                    self.pos += end + 1;
                    self.emit(ItemType::RawString);
                }
                '$' => {
                    self.lex_word_chars();
                    self.emit(ItemType::Variable);
                }
                '\'' => {
                    if !self.lex_char() {
                        return false;
                    }
                }
                '.' => {
                    if let Some(n) = self.peek_char()
                        && n.is_ascii_digit()
                    {
                        self.pos -= 1;
                        if !self.lex_number() {
                            return false;
                        }
                        continue;
                    }
                    if self.peek_char().is_some_and(is_alnum) {
                        self.lex_word_chars();
                        self.emit(ItemType::Field);
                    } else {
                        self.emit(ItemType::Dot);
                    }
                }
                '+' | '-' | '0'..='9' => {
                    self.pos -= 1;
                    if !self.lex_number() {
                        return false;
                    }
                }
                c if is_alnum(c) => {
                    self.lex_word_chars();
                    let word = &self.input[self.start..self.pos];
                    let typ = if is_keyword(word) {
                        ItemType::Keyword
                    } else if word == "true" || word == "false" {
                        ItemType::Bool
                    } else if word == "nil" {
                        ItemType::Nil
                    } else {
                        ItemType::Identifier
                    };
                    // A field chained right after an identifier is not allowed; Go reports it.
                    self.emit(typ);
                }
                '(' => {
                    self.paren_depth += 1;
                    self.emit(ItemType::LeftParen);
                }
                ')' => {
                    self.paren_depth -= 1;
                    if self.paren_depth < 0 {
                        return self.error("unexpected right paren".into());
                    }
                    self.emit(ItemType::RightParen);
                }
                ',' => self.emit(ItemType::Char),
                c if c.is_ascii() && !c.is_ascii_control() => self.emit(ItemType::Char),
                c => {
                    return self.error(format!("bad character {}", go_char_repr(c)));
                }
            }
        }
    }

    fn lex_space(&mut self) {
        while let Some(c) = self.peek_char() {
            if !matches!(c, ' ' | '\t' | '\r' | '\n') {
                break;
            }
            // Stop before a trim marker " -}}".
            let (_, dlen) = self.at_right_delim();
            if dlen == 4 {
                break;
            }
            self.next_char();
        }
        self.emit(ItemType::Space);
    }

    fn lex_word_chars(&mut self) {
        while let Some(c) = self.peek_char() {
            if !is_alnum(c) {
                break;
            }
            self.next_char();
        }
    }

    fn lex_quote(&mut self) -> bool {
        loop {
            match self.next_char() {
                Some('\\') => {
                    if matches!(self.next_char(), None | Some('\n')) {
                        return self.error("unterminated quoted string".into());
                    }
                }
                None | Some('\n') => return self.error("unterminated quoted string".into()),
                Some('"') => break,
                Some(_) => {}
            }
        }
        self.emit(ItemType::String);
        true
    }

    fn lex_char(&mut self) -> bool {
        loop {
            match self.next_char() {
                Some('\\') => {
                    if matches!(self.next_char(), None | Some('\n')) {
                        return self.error("unterminated character constant".into());
                    }
                }
                None | Some('\n') => {
                    return self.error("unterminated character constant".into());
                }
                Some('\'') => break,
                Some(_) => {}
            }
        }
        self.emit(ItemType::CharConstant);
        true
    }

    fn lex_number(&mut self) -> bool {
        if matches!(self.peek_char(), Some('+' | '-')) {
            self.next_char();
        }
        let rest = &self.input[self.pos..];
        let mut digits = "0123456789_";
        if rest.starts_with("0x") || rest.starts_with("0X") {
            self.pos += 2;
            digits = "0123456789abcdefABCDEF_";
        } else if rest.starts_with("0o") || rest.starts_with("0O") {
            self.pos += 2;
            digits = "01234567_";
        } else if rest.starts_with("0b") || rest.starts_with("0B") {
            self.pos += 2;
            digits = "01_";
        }
        self.accept_run(digits);
        if self.peek_char() == Some('.') {
            self.next_char();
            self.accept_run(digits);
        }
        if digits.len() == 11 && matches!(self.peek_char(), Some('e' | 'E')) {
            self.next_char();
            if matches!(self.peek_char(), Some('+' | '-')) {
                self.next_char();
            }
            self.accept_run("0123456789_");
        }
        if self.peek_char().is_some_and(is_alnum) {
            self.next_char();
            return self.error(format!("bad number syntax: {:?}", &self.input[self.start..self.pos]));
        }
        self.emit(ItemType::Number);
        true
    }

    fn accept_run(&mut self, set: &str) {
        while let Some(c) = self.peek_char() {
            if !set.contains(c) {
                break;
            }
            self.next_char();
        }
    }
}

/// Go's `%#U` of a rune, as lexer errors print it.
fn go_char_repr(c: char) -> String {
    if c.is_control() { format!("U+{:04X}", c as u32) } else { format!("U+{:04X} '{c}'", c as u32) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<(ItemType, String)> {
        lex(s).into_iter().map(|i| (i.typ, i.val)).collect()
    }

    #[test]
    fn trim_markers_eat_whitespace() {
        let items = kinds("a  \n{{- .X -}}\n  b");
        assert_eq!(items[0], (ItemType::Text, "a".into()));
        assert_eq!(items[2], (ItemType::Field, ".X".into()));
        assert_eq!(items[4], (ItemType::Text, "b".into()));
    }

    #[test]
    fn comments_vanish() {
        let items = kinds("x{{/* c */}}y");
        assert_eq!(
            items,
            vec![(ItemType::Text, "x".into()), (ItemType::Text, "y".into()), (ItemType::Eof, String::new())]
        );
    }

    #[test]
    fn unclosed_action_is_an_error() {
        let items = kinds("{{ .X ");
        assert_eq!(items.last().map(|i| i.0), Some(ItemType::Error));
    }
}
