//! A JSON reader for schema documents that keeps numbers as their literal text, as Go's
//! `json.Decoder.UseNumber` does (an `enum` of `2.50` is printed `2.50` in messages).

/// How deeply arrays and objects may nest (Go's decoder allows 10,000 on its growable stacks;
/// no schema comes near this).
const MAX_DEPTH: usize = 500;

/// A JSON value from a schema document.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written.
    Num(String),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, in document order (a repeated key keeps its last value, as in Go).
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Why a schema document is not JSON.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct JsonSyntaxError {
    message: String,
}

/// Parses a whole JSON document.
pub fn parse(text: &[u8]) -> Result<Json, JsonSyntaxError> {
    let mut p = Parser { s: text, i: 0, depth: 0 };
    p.ws();
    if p.i == p.s.len() {
        return Err(JsonSyntaxError { message: "EOF".into() });
    }
    let v = p.value()?;
    p.ws();
    if p.i < p.s.len() {
        return Err(JsonSyntaxError { message: "invalid character after top-level value".into() });
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    /// Go's scanner error for the byte at the cursor in `context`, or `unexpected EOF`.
    fn err(&self, context: &str) -> JsonSyntaxError {
        let message = match self.s.get(self.i) {
            None => "unexpected EOF".to_string(),
            Some(&c) => {
                let ch =
                    std::str::from_utf8(&self.s[self.i..]).ok().and_then(|r| r.chars().next()).unwrap_or(c as char);
                let q = match ch {
                    '\'' => "'\\''".to_string(),
                    '"' => "'\"'".to_string(),
                    _ => {
                        let q = crate::template::format::go_quote(&ch.to_string());
                        format!("'{}'", &q[1..q.len() - 1])
                    }
                };
                format!("invalid character {q} {context}")
            }
        };
        JsonSyntaxError { message }
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    fn lit(&mut self, word: &str, v: Json) -> Result<Json, JsonSyntaxError> {
        for (k, expected) in word.bytes().enumerate() {
            if self.s.get(self.i) != Some(&expected) {
                return Err(self.err(&format!("in literal {word} (expecting '{}')", expected as char)));
            }
            if k + 1 < word.len() {
                self.i += 1;
            }
        }
        self.i += 1;
        Ok(v)
    }
    fn value(&mut self) -> Result<Json, JsonSyntaxError> {
        if self.depth > MAX_DEPTH {
            return Err(self.err("exceeded max depth"));
        }
        match self.s.get(self.i) {
            None => Err(self.err("")),
            Some(b'n') => self.lit("null", Json::Null),
            Some(b't') => self.lit("true", Json::Bool(true)),
            Some(b'f') => self.lit("false", Json::Bool(false)),
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b'[') => {
                self.i += 1;
                self.depth += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    self.ws();
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            self.depth -= 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return Err(self.err("after array element")),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                self.depth += 1;
                let mut members = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(Json::Obj(members));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return Err(self.err("looking for beginning of object key string"));
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.s.get(self.i) != Some(&b':') {
                        return Err(self.err("after object key"));
                    }
                    self.i += 1;
                    self.ws();
                    let v = self.value()?;
                    members.retain(|(key, _): &(String, Json)| key != &k);
                    members.push((k, v));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            self.depth -= 1;
                            return Ok(Json::Obj(members));
                        }
                        _ => return Err(self.err("after object key:value pair")),
                    }
                }
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                while self.i < self.s.len() && matches!(self.s[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    self.i += 1;
                }
                let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                if text.parse::<f64>().is_err() {
                    self.i = start + text.len().saturating_sub(1).max(1);
                    return Err(self.err("in numeric literal"));
                }
                Ok(Json::Num(text))
            }
            Some(_) => Err(self.err("looking for beginning of value")),
        }
    }
    fn string(&mut self) -> Result<String, JsonSyntaxError> {
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.i) else {
                return Err(self.err(""));
            };
            self.i += 1;
            match c {
                b'"' => return Ok(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        return Err(self.err(""));
                    };
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            if (0xD800..0xDC00).contains(&hi) && self.s[self.i..].starts_with(b"\\u") {
                                self.i += 2;
                                let lo = self.hex4()?;
                                let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF);
                                char::from_u32(cp).unwrap_or('\u{FFFD}')
                            } else {
                                char::from_u32(hi).unwrap_or('\u{FFFD}')
                            }
                        }
                        _ => {
                            self.i -= 1;
                            return Err(self.err("in string escape code"));
                        }
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => {
                    self.i -= 1;
                    return Err(self.err("in string literal"));
                }
                c => out.push(c),
            }
        }
    }
    fn hex4(&mut self) -> Result<u32, JsonSyntaxError> {
        let h = self.s.get(self.i..self.i + 4).ok_or_else(|| self.err(""))?;
        let v = std::str::from_utf8(h)
            .ok()
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err("in \\u hexadecimal character escape"))?;
        self.i += 4;
        Ok(v)
    }
}
