//! INI documents (sops `stores/ini`, over go-ini's parser and writer): every section is a
//! mapping (keys before the first header are in `DEFAULT`), a comment above a section or key is
//! kept with it; the metadata is the `[sops]` section, flattened.
//!
//! The parser covers what sops writes and common hand-written files: `key = value` and
//! `key: value`, `;`/`#` comment lines, unquoted values cut at an inline `;`/`#` (go-ini's
//! default), values quoted with `"`, `` ` `` or `"""`. The writer is go-ini's pretty format.

use crate::error::DocumentError;
use crate::format::dotenv::value_to_string;
use crate::tree::{Branch, Item, Key, Value};

/// Parses an INI document into one branch of sections.
pub(crate) fn load(data: &[u8]) -> Result<Vec<Branch>, DocumentError> {
    let text = std::str::from_utf8(data).map_err(|_| DocumentError::Syntax("INI input is not UTF-8".into()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut sections: Vec<(String, Vec<Item>)> = vec![("DEFAULT".into(), Vec::new())];
    let mut pending_comment = String::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, raw)) = lines.next() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with(';') || line.starts_with('#') {
            if !pending_comment.is_empty() {
                pending_comment.push('\n');
            }
            pending_comment.push_str(line);
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest
                .find(']')
                .map(|end| rest[..end].trim().to_owned())
                .ok_or_else(|| DocumentError::Syntax(format!("unclosed section on line {}", n + 1)))?;
            let mut items = Vec::new();
            if !pending_comment.is_empty() {
                items.push(Item::comment(strip_comment_char(&std::mem::take(&mut pending_comment))));
            }
            if name == "DEFAULT" && sections.len() == 1 && sections[0].1.is_empty() {
                sections[0].1 = items;
            } else {
                sections.push((name, items));
            }
            continue;
        }
        let pos = line
            .find(['=', ':'])
            .ok_or_else(|| DocumentError::Syntax(format!("key-value delimiter not found on line {}", n + 1)))?;
        let key = line[..pos].trim().trim_matches('`').to_owned();
        let mut value = line[pos + 1..].trim().to_owned();
        let mut inline_comment = String::new();
        if let Some(body) = value.strip_prefix("\"\"\"") {
            let mut body = body.to_owned();
            while !body.ends_with("\"\"\"") {
                let (_, next) = lines
                    .next()
                    .ok_or_else(|| DocumentError::Syntax(format!("unterminated \"\"\" value on line {}", n + 1)))?;
                body.push('\n');
                body.push_str(next);
            }
            value = body[..body.len() - 3].to_owned();
        } else if value.len() >= 2
            && ((value.starts_with('"') && value.ends_with('"')) || (value.starts_with('`') && value.ends_with('`')))
        {
            value = value[1..value.len() - 1].to_owned();
        } else if let Some(i) = value.find(['#', ';']) {
            inline_comment = value[i..].to_owned();
            value = value[..i].trim().to_owned();
        }
        let comment = if inline_comment.is_empty() {
            std::mem::take(&mut pending_comment)
        } else {
            pending_comment.clear();
            inline_comment
        };
        let items =
            &mut sections.last_mut().map(|s| &mut s.1).ok_or_else(|| DocumentError::Syntax("no section".into()))?;
        if let Some(existing) = items.iter_mut().find(|i| matches!(&i.key, Key::Str(k) if *k == key)) {
            existing.value = Value::Str(value);
        } else {
            items.push(Item::new(key, Value::Str(value)));
            if !comment.is_empty() {
                items.push(Item::comment(strip_comment_char(&comment)));
            }
        }
    }
    Ok(vec![sections.into_iter().map(|(name, items)| Item::new(name, Value::Map(items))).collect()])
}

/// sops' `stripCommentChar`.
fn strip_comment_char(comment: &str) -> String {
    if comment.starts_with(';') {
        comment.trim_start_matches([';', ' ']).to_owned()
    } else if comment.starts_with('#') {
        comment.trim_start_matches(['#', ' ']).to_owned()
    } else {
        comment.to_owned()
    }
}

/// Writes sections as go-ini's pretty format does.
pub(crate) fn emit(branches: &[Branch]) -> Result<Vec<u8>, String> {
    let mut out = String::new();
    let mut index = 0;
    for branch in branches {
        for section in branch {
            let Key::Str(name) = &section.key else { continue };
            let Value::Map(items) = &section.value else {
                return Err("Section values should always be TreeBranches".into());
            };
            let (section_comment, rest) = match items.first() {
                Some(Item { key: Key::Comment(c) | Key::LineComment(c), .. }) => (Some(c.as_str()), &items[1..]),
                _ => (None, &items[..]),
            };
            // Each key's comment is the comment item that follows it.
            let mut keys: Vec<(&str, String, Option<&str>)> = Vec::new();
            for item in rest {
                match &item.key {
                    Key::Comment(c) | Key::LineComment(c) => {
                        if let Some(last) = keys.last_mut() {
                            last.2 = Some(c);
                        }
                    }
                    Key::Str(k) => keys.push((k, value_to_string(&item.value), None)),
                }
            }
            if let Some(c) = section_comment {
                write_comment(&mut out, c);
            }
            if index > 0 || name != "DEFAULT" {
                out.push_str(&format!("[{name}]\n"));
            } else if keys.is_empty() {
                index += 1;
                continue;
            }
            let width = keys.iter().map(|(k, ..)| quote_key(k).chars().count()).max().unwrap_or(0);
            for (k, v, comment) in &keys {
                if let Some(c) = comment {
                    write_comment(&mut out, c);
                }
                let k = quote_key(k);
                out.push_str(&k);
                out.push_str(&" ".repeat(width - k.chars().count()));
                out.push_str(" = ");
                out.push_str(&quote_value(v));
                out.push('\n');
            }
            out.push('\n');
            index += 1;
        }
    }
    // go-ini separates sections with a blank line but ends without one.
    if out.ends_with("\n\n") {
        out.pop();
    }
    Ok(out.into_bytes())
}

fn write_comment(out: &mut String, comment: &str) {
    for line in comment.split('\n') {
        if line.starts_with('#') || line.starts_with(';') {
            out.push_str(&line[..1]);
            out.push(' ');
            out.push_str(line[1..].trim());
        } else {
            out.push_str("; ");
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn quote_key(k: &str) -> String {
    if k.contains('`') {
        format!("\"\"\"{k}\"\"\"")
    } else if k.contains(['=', ':', '"']) {
        format!("`{k}`")
    } else {
        k.to_owned()
    }
}

fn quote_value(v: &str) -> String {
    if v.contains(['\n', '`']) {
        format!("\"\"\"{v}\"\"\"")
    } else if v.contains(['#', ';']) {
        format!("`{v}`")
    } else if v.starts_with(' ') || v.ends_with(' ') {
        format!("\"{v}\"")
    } else {
        v.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_comments_and_values() {
        let src = "; top\n[db]\nuser = admin\n# the password\npassword: \"s p\"\n[app]\nurl = `http://x#y`\n";
        let branches = load(src.as_bytes()).unwrap();
        let b = &branches[0];
        assert_eq!(b.len(), 3);
        let Value::Map(db) = &b[1].value else { panic!("db is not a section") };
        assert_eq!(db[0], Item::comment("top"));
        assert_eq!(db[1], Item::new("user", Value::Str("admin".into())));
        assert_eq!(db[2], Item::new("password", Value::Str("s p".into())));
        let out = String::from_utf8(emit(&branches).unwrap()).unwrap();
        assert_eq!(out, "; top\n[db]\nuser     = admin\n; the password\npassword = s p\n\n[app]\nurl = `http://x#y`\n");
    }
}
