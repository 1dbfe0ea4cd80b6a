//! Comments of a YAML document as sops sees them, recovered from the text.
//!
//! serde_norway drops comments, so they are found by a line scan of the document and woven
//! into the tree where sops' loader (`stores/yaml`) would put them: comment lines before an
//! entry (its head comments), a comment after a scalar value on its line (an inline comment),
//! and comments after the last entry of a mapping or sequence (its foot). The scan understands
//! the block style go-yaml writes — which is what every sops-encrypted file is — document by
//! document, and gives up on anything else (flow collections over several lines, anchors,
//! nested sequences on one line, a comment next to a sequence item): the tree is then left
//! without comments, which only affects the output's comment lines (comments are outside the
//! MAC).

use std::collections::HashMap;

use crate::tree::{Branch, Item, Key, Value};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Slot {
    BeforeKey(String),
    BeforeItem(usize),
    End,
}

#[derive(Debug, Clone)]
struct Note {
    slot: Slot,
    text: String,
    inline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Map,
    Seq,
}

struct Frame {
    indent: usize,
    path: Vec<Seg>,
    kind: Kind,
    next_index: usize,
}

/// Weaves the comments of `text` into `branches` (its documents); leaves them untouched and
/// returns false when the text is not in a shape the scan understands.
pub(crate) fn weave(text: &[u8], branches: &mut [Branch]) -> bool {
    let Ok(text) = std::str::from_utf8(text) else { return false };
    let mut docs: Vec<String> = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else if let Some(doc) = docs.last_mut() {
            doc.push_str(line);
            doc.push('\n');
        }
    }
    if docs.len() > 1 && docs[0].trim().is_empty() && docs.len() == branches.len() + 1 {
        docs.remove(0);
    }
    if docs.len() != branches.len() {
        return false;
    }
    let mut woven = Vec::with_capacity(branches.len());
    for (doc, branch) in docs.iter().zip(branches.iter()) {
        let Some(b) = weave_one(doc, branch) else { return false };
        woven.push(b);
    }
    for (branch, b) in branches.iter_mut().zip(woven) {
        *branch = b;
    }
    true
}

fn weave_one(text: &str, branch: &Branch) -> Option<Branch> {
    let plan = scan(text)?;
    let mut copy = Value::Map(branch.clone());
    for (path, notes) in &plan {
        if !apply(find(&mut copy, path)?, notes) {
            return None;
        }
    }
    match copy {
        Value::Map(items) => Some(items),
        _ => None,
    }
}

fn find<'a>(value: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    let Some((first, rest)) = path.split_first() else { return Some(value) };
    match (value, first) {
        (Value::Map(items), Seg::Key(k)) => {
            let item = items.iter_mut().find(|i| matches!(&i.key, Key::Str(s) if s == k))?;
            find(&mut item.value, rest)
        }
        (Value::Seq(values), Seg::Index(i)) => {
            let v = values.iter_mut().filter(|v| !matches!(v, Value::Comment(_))).nth(*i)?;
            find(v, rest)
        }
        _ => None,
    }
}

fn apply(container: &mut Value, notes: &[Note]) -> bool {
    match container {
        Value::Map(items) => {
            let mut out = Vec::with_capacity(items.len() + notes.len());
            for item in items.drain(..) {
                if let Key::Str(k) = &item.key {
                    for n in notes.iter().filter(|n| n.slot == Slot::BeforeKey(k.clone())) {
                        out.push(comment_item(n));
                    }
                }
                out.push(item);
            }
            out.extend(notes.iter().filter(|n| n.slot == Slot::End).map(comment_item));
            let placed = notes.iter().all(|n| match &n.slot {
                Slot::BeforeKey(k) => out.iter().any(|i| matches!(&i.key, Key::Str(s) if s == k)),
                Slot::End => true,
                Slot::BeforeItem(_) => false,
            });
            *items = out;
            placed
        }
        Value::Seq(values) => {
            if notes.iter().any(|n| n.inline || matches!(n.slot, Slot::BeforeKey(_))) {
                return false;
            }
            let count = values.len();
            let mut out = Vec::with_capacity(count + notes.len());
            for (i, v) in values.drain(..).enumerate() {
                out.extend(
                    notes.iter().filter(|n| n.slot == Slot::BeforeItem(i)).map(|n| Value::Comment(n.text.clone())),
                );
                out.push(v);
            }
            out.extend(notes.iter().filter(|n| n.slot == Slot::End).map(|n| Value::Comment(n.text.clone())));
            *values = out;
            notes.iter().all(|n| !matches!(n.slot, Slot::BeforeItem(i) if i >= count))
        }
        _ => false,
    }
}

fn comment_item(n: &Note) -> Item {
    Item {
        key: if n.inline { Key::LineComment(n.text.clone()) } else { Key::Comment(n.text.clone()) },
        value: Value::Null,
    }
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Scans the document; `None` when its shape is not understood.
fn scan(text: &str) -> Option<HashMap<Vec<Seg>, Vec<Note>>> {
    let mut plan: HashMap<Vec<Seg>, Vec<Note>> = HashMap::new();
    let mut stack = vec![Frame { indent: 0, path: Vec::new(), kind: Kind::Map, next_index: 0 }];
    let mut pending: Vec<(usize, String)> = Vec::new();
    let mut expect_child: Option<(Vec<Seg>, usize)> = None;
    let mut block_scalar: Option<usize> = None;
    let mut in_sops = false;
    for raw in text.lines() {
        if raw.trim().is_empty() || raw.starts_with("---") || raw == "..." {
            if raw.starts_with("---") && raw.trim_end() != "---" {
                return None;
            }
            continue;
        }
        if raw.contains('\t') && raw.trim_start().starts_with('\t') {
            return None;
        }
        let n = indent_of(raw);
        if let Some(parent) = block_scalar {
            if n > parent {
                continue;
            }
            block_scalar = None;
        }
        if in_sops {
            if n > 0 {
                continue;
            }
            in_sops = false;
        }
        let line = &raw[n..];
        if let Some(comment) = line.strip_prefix('#') {
            pending.push((n, comment.to_owned()));
            continue;
        }
        // Open the container announced by `key:` or `-` on the previous line.
        if let Some((path, parent_indent)) = expect_child.take()
            && (n > parent_indent || (n == parent_indent && line.starts_with('-')))
        {
            let kind = if line.starts_with('-') { Kind::Seq } else { Kind::Map };
            if n == parent_indent && stack.last().is_some_and(|f| f.kind == Kind::Seq && f.indent == n) {
                return None;
            }
            // Comments deeper than this line close containers first.
            settle_pending(&mut pending, &stack, n, &mut plan, None)?;
            stack.push(Frame { indent: n, path, kind, next_index: 0 });
        }
        settle_pending(&mut pending, &stack, n, &mut plan, None)?;
        while stack.last().is_some_and(|f| f.indent > n) {
            stack.pop();
        }
        let frame = stack.last_mut()?;
        if frame.indent != n {
            return None;
        }
        let outcome = match frame.kind {
            Kind::Map => map_line(line, n, frame, &mut pending, &mut plan)?,
            Kind::Seq => seq_line(line, n, frame, &mut pending, &mut plan)?,
        };
        match outcome {
            LineEnd::Scalar => {}
            LineEnd::Child(path, indent) => expect_child = Some((path, indent)),
            LineEnd::Block => block_scalar = Some(n),
            LineEnd::Sops => in_sops = true,
            LineEnd::MapInSeq(path, indent, rest) => {
                stack.push(Frame { indent, path, kind: Kind::Map, next_index: 0 });
                let frame = stack.last_mut()?;
                match map_line(&rest, indent, frame, &mut pending, &mut plan)? {
                    LineEnd::Scalar => {}
                    LineEnd::Child(path, i) => expect_child = Some((path, i)),
                    LineEnd::Block => block_scalar = Some(indent),
                    LineEnd::Sops | LineEnd::MapInSeq(..) => return None,
                }
            }
        }
    }
    settle_pending(&mut pending, &stack, 0, &mut plan, Some(()))?;
    Some(plan)
}

/// Pending comments deeper than `n` are the foot of the container at their indent (at the
/// end of the text, all of them are feet).
fn settle_pending(
    pending: &mut Vec<(usize, String)>,
    stack: &[Frame],
    n: usize,
    plan: &mut HashMap<Vec<Seg>, Vec<Note>>,
    at_end: Option<()>,
) -> Option<()> {
    let mut keep = Vec::new();
    for (c, text) in pending.drain(..) {
        if c > n || at_end.is_some() {
            let frame = stack.iter().rev().find(|f| f.indent == c)?;
            plan.entry(frame.path.clone()).or_default().push(Note { slot: Slot::End, text, inline: false });
        } else if c == n {
            keep.push((c, text));
        } else {
            return None;
        }
    }
    *pending = keep;
    Some(())
}

enum LineEnd {
    Scalar,
    Child(Vec<Seg>, usize),
    Block,
    Sops,
    MapInSeq(Vec<Seg>, usize, String),
}

fn map_line(
    line: &str,
    n: usize,
    frame: &mut Frame,
    pending: &mut Vec<(usize, String)>,
    plan: &mut HashMap<Vec<Seg>, Vec<Note>>,
) -> Option<LineEnd> {
    let (key, rest) = split_key(line)?;
    if frame.path.is_empty() && key == "sops" {
        // sops' own entry is dropped from the tree: comments before it end the document.
        for (_, text) in pending.drain(..) {
            plan.entry(Vec::new()).or_default().push(Note { slot: Slot::End, text, inline: false });
        }
        return Some(LineEnd::Sops);
    }
    let notes = plan.entry(frame.path.clone()).or_default();
    for (_, text) in pending.drain(..) {
        notes.push(Note { slot: Slot::BeforeKey(key.clone()), text, inline: false });
    }
    let (value, comment) = split_value(rest)?;
    let mut path = frame.path.clone();
    path.push(Seg::Key(key.clone()));
    let end = classify(value, path, n)?;
    if let Some(text) = comment {
        let inline = matches!(end, LineEnd::Scalar);
        notes.push(Note { slot: Slot::BeforeKey(key), text, inline });
    }
    Some(end)
}

fn seq_line(
    line: &str,
    n: usize,
    frame: &mut Frame,
    pending: &mut Vec<(usize, String)>,
    plan: &mut HashMap<Vec<Seg>, Vec<Note>>,
) -> Option<LineEnd> {
    let rest = if line == "-" { "" } else { line.strip_prefix("- ")? };
    let index = frame.next_index;
    frame.next_index += 1;
    let notes = plan.entry(frame.path.clone()).or_default();
    for (_, text) in pending.drain(..) {
        notes.push(Note { slot: Slot::BeforeItem(index), text, inline: false });
    }
    let mut path = frame.path.clone();
    path.push(Seg::Index(index));
    let inner = indent_of(rest);
    let rest_trim = &rest[inner..];
    if rest_trim.starts_with('-') || rest_trim.starts_with(['&', '*', '!', '[', '{']) {
        return None;
    }
    if !rest_trim.is_empty() && !rest_trim.starts_with(['"', '\'', '|', '>', '#']) && split_key(rest_trim).is_some() {
        return Some(LineEnd::MapInSeq(path, n + 2 + inner, rest_trim.to_owned()));
    }
    let (value, comment) = split_value(rest)?;
    if comment.is_some() {
        // Inline comments on sequence items are not supported by the scan.
        return None;
    }
    classify(value, path, n)
}

/// What a value opens: nothing (a scalar), a nested container, or a block scalar.
fn classify(value: &str, path: Vec<Seg>, n: usize) -> Option<LineEnd> {
    if value.is_empty() {
        return Some(LineEnd::Child(path, n));
    }
    if value.starts_with(['&', '*', '!']) {
        return None;
    }
    if value.starts_with(['|', '>']) {
        return Some(LineEnd::Block);
    }
    if (value.starts_with('[') && !value.ends_with(']')) || (value.starts_with('{') && !value.ends_with('}')) {
        return None;
    }
    Some(LineEnd::Scalar)
}

/// A `key:` at the start of a mapping line; the key read as YAML reads it.
fn split_key(line: &str) -> Option<(String, &str)> {
    if line.starts_with(['"', '\'']) {
        let end = quoted_end(line)?;
        let key: String = serde_norway::from_str(&line[..end]).ok()?;
        let rest = line[end..].strip_prefix(':')?;
        return (rest.is_empty() || rest.starts_with(' ')).then_some((key, rest));
    }
    if line.starts_with(['?', '&', '*', '!', '[', '{', '-']) {
        return None;
    }
    let pos = line
        .match_indices(':')
        .map(|(i, _)| i)
        .find(|&i| line[i + 1..].is_empty() || line[i + 1..].starts_with(' '))?;
    Some((line[..pos].to_owned(), &line[pos + 1..]))
}

/// The value after `key:` or `- ` and the comment that follows it on the line.
fn split_value(rest: &str) -> Option<(&str, Option<String>)> {
    let value = rest.trim_start_matches(' ');
    if let Some(comment) = value.strip_prefix('#') {
        return Some(("", Some(comment.to_owned())));
    }
    let end = if value.starts_with(['"', '\'']) { quoted_end(value)? } else { value.find(" #").unwrap_or(value.len()) };
    let (v, tail) = value.split_at(end);
    let tail = tail.trim_start_matches(' ');
    if tail.is_empty() {
        return Some((v.trim_end(), None));
    }
    let comment = tail.strip_prefix('#')?;
    Some((v.trim_end(), Some(comment.to_owned())))
}

/// The byte index just after the closing quote of a quoted scalar on one line.
fn quoted_end(s: &str) -> Option<usize> {
    let quote = s.as_bytes()[0];
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b if b == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weaves_heads_inline_and_feet() {
        let text =
            "# head\na: 1 # inline\nb:\n    # inner\n    c: x\n    # foot of b\nl:\n    # item\n    - one\n# end\n";
        let mut branches = crate::format::yaml::load(text.as_bytes()).unwrap();
        weave(text.as_bytes(), &mut branches);
        let b = &branches[0];
        assert_eq!(b[0], Item::comment(" head"));
        assert_eq!(b[1].key, Key::LineComment(" inline".into()));
        assert_eq!(b[2].key, Key::Str("a".into()));
        let Value::Map(inner) = &b[3].value else { panic!("b is a mapping") };
        assert_eq!(inner[0], Item::comment(" inner"));
        assert_eq!(inner[2], Item::comment(" foot of b"));
        let Value::Seq(list) = &b[4].value else { panic!("l is a sequence") };
        assert_eq!(list[0], Value::Comment(" item".into()));
        assert_eq!(b[5], Item::comment(" end"));
    }

    #[test]
    fn unknown_shapes_leave_the_tree_alone() {
        let text = "a: &x 1\nb: *x # c\n";
        let mut branches = crate::format::yaml::load(text.as_bytes()).unwrap();
        let before = branches.clone();
        weave(text.as_bytes(), &mut branches);
        assert_eq!(branches, before);
    }
}
