//! The Go parameter types of functions whose parameters are not all `interface{}`: Go's
//! template engine converts and checks each argument as it evaluates it, so a wrong type is
//! reported before later arguments run (and with Go's wording).

/// A parameter type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P {
    /// `string`.
    Str,
    /// `int`.
    Int,
    /// `bool`.
    Bool,
    /// `map[string]interface{}`.
    Map,
    /// `interface{}`.
    Any,
}

impl P {
    /// The Go type name.
    pub fn go_name(self) -> &'static str {
        match self {
            P::Str => "string",
            P::Int => "int",
            P::Bool => "bool",
            P::Map => "map[string]interface {}",
            P::Any => "interface {}",
        }
    }
}

use P::{Any, Bool, Int, Map, Str};

/// The parameters of `name` and whether the last one is variadic.
pub fn params(name: &str) -> Option<(&'static [P], bool)> {
    Some(match name {
        "upper" | "lower" | "title" | "untitle" | "trim" | "nospace" | "snakecase" | "kebabcase" | "camelcase"
        | "swapcase" | "initials" | "shuffle" | "sha256sum" | "sha1sum" | "sha512sum" | "adler32sum"
        | "regexQuoteMeta" | "semver" | "fail" | "fromYaml" | "fromYamlArray" | "fromJson" | "fromJsonArray"
        | "mustFromJson" | "base" | "dir" | "clean" | "ext" | "isAbs" | "osBase" | "osDir" | "osClean" | "osExt"
        | "osIsAbs" | "atoi" | "b64enc" | "b64dec" | "b32enc" | "b32dec" | "getHostByName" | "urlParse" => {
            (&[Str], false)
        }
        "trimAll" | "trimall" | "trimPrefix" | "trimSuffix" | "contains" | "hasPrefix" | "hasSuffix" | "split"
        | "splitList" | "regexMatch" | "mustRegexMatch" | "regexFind" | "mustRegexFind" | "semverCompare"
        | "toDate" | "mustToDate" => (&[Str, Str], false),
        "replace"
        | "regexReplaceAll"
        | "mustRegexReplaceAll"
        | "regexReplaceAllLiteral"
        | "mustRegexReplaceAllLiteral" => (&[Str, Str, Str], false),
        "regexFindAll" | "mustRegexFindAll" | "regexSplit" | "mustRegexSplit" => (&[Str, Str, Int], false),
        "repeat" | "trunc" | "abbrev" | "wrap" | "indent" | "nindent" => (&[Int, Str], false),
        "substr" | "abbrevboth" => (&[Int, Int, Str], false),
        "wrapWith" => (&[Int, Str, Str], false),
        "plural" => (&[Str, Str, Int], false),
        "splitn" => (&[Str, Int, Str], false),
        "join" => (&[Str, Any], false),
        "encryptAES" | "decryptAES" => (&[Str, Str], false),
        "randAlphaNum" | "randAlpha" | "randNumeric" | "randAscii" | "randBytes" | "until" => (&[Int], false),
        "untilStep" => (&[Int, Int, Int], false),
        "chunk" | "mustChunk" => (&[Int, Any], false),
        "required" | "include" | "tpl" | "date" | "mustDateModify" | "dateModify" => (&[Str, Any], false),
        "dateInZone" => (&[Str, Any, Str], false),
        "htmlDateInZone" => (&[Any, Str], false),
        "ternary" => (&[Any, Any, Bool], false),
        "hasKey" | "get" | "unset" => (&[Map, Str], false),
        "set" => (&[Map, Str, Any], false),
        "pick" | "omit" => (&[Map, Str], true),
        "values" => (&[Map], false),
        "keys" => (&[Map], true),
        "merge" | "mergeOverwrite" | "mustMerge" | "mustMergeOverwrite" => (&[Map, Map], true),
        "pluck" => (&[Str, Map], true),
        "printf" => (&[Str, Any], true),
        _ => return None,
    })
}
