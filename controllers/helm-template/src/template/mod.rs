//! Go's `text/template`: lexer, parser, executor and `fmt` formatting.

mod call;
pub mod exec;
pub mod format;
pub mod lex;
pub mod literal;
pub mod node;
pub mod parse;
