//! Splitting raw Git commit and tag objects into (signature, signed payload).
//!
//! A signature covers the object as Git wrote it *before* signing, so the payload is the raw
//! object with the signature cut out, byte for byte. Git has two places for a signature:
//!
//! - **Commits** carry it in a header: `gpgsig` in a SHA-1 repository, `gpgsig-sha256` in a
//!   SHA-256 one. The header value continues over the following lines that start with one
//!   space. The payload is the object without that header; a signature header made for the
//!   *other* object format (any header line starting `gpgsig`) is left out of the payload
//!   too, because Git signs a commit before adding the other format's signature. This is
//!   `parse_buffer_signed_by_header` in Git's `commit.c`, which `git verify-commit` and
//!   go-git (and so Flux) use.
//! - **Tags** carry it after the message: the signature starts at the *last* line that begins
//!   with a known armour (`-----BEGIN PGP SIGNATURE-----`, `-----BEGIN PGP MESSAGE-----`,
//!   `-----BEGIN SIGNED MESSAGE-----` for X.509, `-----BEGIN SSH SIGNATURE-----`) and runs to
//!   the end. From the payload before it, `gpgsig`/`gpgsig-sha256` headers (signatures over
//!   the other object format) are removed as well. This is `parse_signature` and
//!   `remove_signature` in Git's `gpg-interface.c` and `commit.c`, used by `git verify-tag`.
//!
//! The functions here work on the object's content only (what `git cat-file commit HEAD`
//! prints), never on a loose object's `commit <size>\0` header. They never fail: an object
//! without a signature yields an empty signature and the whole object as payload.

/// The object format (hash function) of the repository an object comes from.
///
/// It decides which commit header holds the signature: Git reads `gpgsig` in SHA-1
/// repositories and `gpgsig-sha256` in SHA-256 ones. Flux (go-git v5) supports SHA-1
/// repositories only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ObjectFormat {
    /// A SHA-1 repository (Git's default); the signature is in the `gpgsig` header.
    #[default]
    Sha1,
    /// A SHA-256 repository; the signature is in the `gpgsig-sha256` header.
    Sha256,
}

impl ObjectFormat {
    /// The commit header that carries this format's signature.
    #[must_use]
    pub fn signature_header(self) -> &'static str {
        match self {
            Self::Sha1 => "gpgsig",
            Self::Sha256 => "gpgsig-sha256",
        }
    }
}

/// A Git object split into its signature and the bytes that signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedObject {
    /// The armoured signature, with the header indentation removed (for commits) and the
    /// trailing newline kept, as Git hands it to gpg or ssh-keygen. Empty when the object
    /// is not signed. Bytes that are not UTF-8 (never part of a valid armour) are replaced
    /// by U+FFFD, which makes such a signature fail to parse.
    pub signature: String,
    /// The signed payload: the object without its signature.
    pub payload: Vec<u8>,
}

impl SignedObject {
    /// Whether the object carries a signature at all.
    #[must_use]
    pub fn is_signed(&self) -> bool {
        !self.signature.is_empty()
    }
}

/// The armour lines that start a signature, as Git's `gpg-interface.c` lists them.
const SIGNATURE_ARMOURS: [&[u8]; 4] = [
    b"-----BEGIN PGP SIGNATURE-----",
    b"-----BEGIN PGP MESSAGE-----",
    b"-----BEGIN SIGNED MESSAGE-----",
    b"-----BEGIN SSH SIGNATURE-----",
];

/// Every signature header Git knows, one per object format.
const SIGNATURE_HEADERS: [&[u8]; 2] = [b"gpgsig", b"gpgsig-sha256"];

/// Splits a raw commit from a SHA-1 repository (signature in the `gpgsig` header).
#[must_use]
pub fn split_commit(raw: &[u8]) -> SignedObject {
    split_commit_as(raw, ObjectFormat::Sha1)
}

/// Splits a raw commit whose repository uses `format`.
#[must_use]
pub fn split_commit_as(raw: &[u8], format: ObjectFormat) -> SignedObject {
    let header = format.signature_header().as_bytes();
    let mut signature = Vec::new();
    let mut payload = Vec::with_capacity(raw.len());
    let (mut in_signature, mut other_signature) = (false, false);
    let mut rest = raw;
    while !rest.is_empty() {
        let (line, next) = split_line(rest);
        let sig = if in_signature && line.first() == Some(&b' ') {
            Some(&line[1..])
        } else if let Some(value) = header_value(line, header) {
            other_signature = false;
            Some(value)
        } else {
            if line.starts_with(b"gpgsig") {
                other_signature = true;
            } else if other_signature && line.first() != Some(&b' ') {
                other_signature = false;
            }
            None
        };
        if let Some(sig) = sig {
            signature.extend_from_slice(sig);
            in_signature = true;
            rest = next;
        } else if line.first() == Some(&b'\n') {
            // The blank line ends the headers: the message is copied whole.
            payload.extend_from_slice(rest);
            break;
        } else {
            if !other_signature {
                payload.extend_from_slice(line);
            }
            in_signature = false;
            rest = next;
        }
    }
    SignedObject { signature: String::from_utf8_lossy(&signature).into_owned(), payload }
}

/// Splits a raw annotated tag: the signature is appended after the message.
#[must_use]
pub fn split_tag(raw: &[u8]) -> SignedObject {
    let start = signature_start(raw);
    let Some(start) = start else {
        return SignedObject { signature: String::new(), payload: raw.to_vec() };
    };
    let (body, signature) = raw.split_at(start);
    SignedObject { signature: String::from_utf8_lossy(signature).into_owned(), payload: remove_signature_headers(body) }
}

/// The offset of the last line that starts with a signature armour (`parse_signed_buffer`).
fn signature_start(raw: &[u8]) -> Option<usize> {
    let mut found = None;
    let mut offset = 0;
    while offset < raw.len() {
        let line = &raw[offset..];
        if SIGNATURE_ARMOURS.iter().any(|armour| line.starts_with(armour)) {
            found = Some(offset);
        }
        offset += split_line(line).0.len();
    }
    found
}

/// Removes up to two signature headers (and their continuation lines) from the header block
/// of a tag payload, as Git's `remove_signature` does.
fn remove_signature_headers(body: &[u8]) -> Vec<u8> {
    let mut removed: Vec<(usize, usize)> = Vec::with_capacity(2);
    let mut current: Option<(usize, usize)> = None;
    let mut offset = 0;
    while offset < body.len() {
        let (line, _) = split_line(&body[offset..]);
        let end = offset + line.len();
        if let (Some(span), Some(b' ')) = (current.as_mut(), line.first()) {
            span.1 = end;
        } else if line.starts_with(b"gpgsig") {
            if SIGNATURE_HEADERS.iter().any(|header| header_value(line, header).is_some()) {
                // A second header directly after the first replaces it, as in Git.
                current = Some((offset, end));
            }
        } else {
            if let Some(span) = current.take()
                && removed.len() < 2
            {
                removed.push(span);
            }
            if line.first() == Some(&b'\n') {
                break;
            }
        }
        offset = end;
    }
    if let Some(span) = current
        && removed.len() < 2
    {
        removed.push(span);
    }
    let mut payload = body.to_vec();
    for (start, end) in removed.into_iter().rev() {
        payload.drain(start..end);
    }
    payload
}

/// The value of header `name` on `line` (`name SP value…`), including the line's newline.
fn header_value<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    line.strip_prefix(name)?.strip_prefix(b" ")
}

/// Splits `input` after its first newline: (line including `\n`, rest).
fn split_line(input: &[u8]) -> (&[u8], &[u8]) {
    match input.iter().position(|&b| b == b'\n') {
        Some(i) => input.split_at(i + 1),
        None => (input, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n";

    fn commit_with(header: &str) -> String {
        let indented = SIG.trim_end().replace('\n', "\n ");
        format!(
            "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n{header} {indented}\n\nmessage\n\nbody\n"
        )
    }

    const UNSIGNED_COMMIT: &str = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\nmessage\n\nbody\n";

    #[test]
    fn commit_signature_is_cut_out_of_the_headers() {
        let split = split_commit(commit_with("gpgsig").as_bytes());
        assert_eq!(split.signature, SIG);
        assert_eq!(split.payload, UNSIGNED_COMMIT.as_bytes());
        assert!(split.is_signed());
    }

    #[test]
    fn unsigned_commit_is_all_payload() {
        let split = split_commit(UNSIGNED_COMMIT.as_bytes());
        assert!(!split.is_signed());
        assert_eq!(split.payload, UNSIGNED_COMMIT.as_bytes());
    }

    #[test]
    fn the_other_formats_signature_is_dropped_from_the_payload() {
        // A SHA-1 repository reads `gpgsig` and drops `gpgsig-sha256`, and vice versa.
        let raw = commit_with("gpgsig-sha256");
        let sha1 = split_commit(raw.as_bytes());
        assert!(!sha1.is_signed());
        assert_eq!(sha1.payload, UNSIGNED_COMMIT.as_bytes());
        let sha256 = split_commit_as(raw.as_bytes(), ObjectFormat::Sha256);
        assert_eq!(sha256.signature, SIG);
        assert_eq!(sha256.payload, UNSIGNED_COMMIT.as_bytes());
    }

    #[test]
    fn indented_lines_in_the_message_are_not_signature() {
        let raw = format!("{}  indented line\n", commit_with("gpgsig"));
        let split = split_commit(raw.as_bytes());
        assert_eq!(split.signature, SIG);
        assert_eq!(split.payload, format!("{UNSIGNED_COMMIT}  indented line\n").as_bytes());
    }

    #[test]
    fn header_prefix_without_space_is_not_a_signature() {
        let raw = UNSIGNED_COMMIT.replacen("\n\n", "\ngpgsigx value\n\n", 1);
        let split = split_commit(raw.as_bytes());
        assert!(!split.is_signed());
        // Git drops any header starting with "gpgsig" from the payload.
        assert_eq!(split.payload, UNSIGNED_COMMIT.as_bytes());
    }

    #[test]
    fn tag_signature_is_the_tail_from_the_last_armour() {
        let body =
            "object 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ntype commit\ntag v1\ntagger A <a@x> 1 +0000\n\nrelease\n";
        let ssh = "-----BEGIN SSH SIGNATURE-----\nxyz\n-----END SSH SIGNATURE-----\n";
        let raw = format!("{body}{SIG}{ssh}");
        let split = split_tag(raw.as_bytes());
        assert_eq!(split.signature, ssh);
        assert_eq!(split.payload, format!("{body}{SIG}").as_bytes());

        let unsigned = split_tag(body.as_bytes());
        assert!(!unsigned.is_signed());
        assert_eq!(unsigned.payload, body.as_bytes());
    }

    #[test]
    fn tag_armour_must_start_a_line() {
        let raw = "object 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ntype commit\ntag v1\n\nsee -----BEGIN PGP SIGNATURE-----\n";
        assert!(!split_tag(raw.as_bytes()).is_signed());
    }

    #[test]
    fn tag_payload_loses_header_signatures() {
        let head = "object 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ntype commit\ntag v1\ntagger A <a@x> 1 +0000\n";
        let raw = format!("{head}gpgsig-sha256 line1\n line2\n\nmsg\n{SIG}");
        let split = split_tag(raw.as_bytes());
        assert_eq!(split.signature, SIG);
        assert_eq!(split.payload, format!("{head}\nmsg\n").as_bytes());
    }
}
