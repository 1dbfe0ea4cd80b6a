//! Request counters, so tests can prove what a client did (or did not) ask for.
//!
//! A smart-HTTP exchange is: `GET …/info/refs?service=git-upload-pack` (the advertisement),
//! then `POST …/git-upload-pack` requests. With protocol v2 the POSTs carry a command: the
//! reference listing (`command=ls-refs`) or the pack negotiation (`command=fetch`); with
//! protocol v0/v1 every POST is part of a fetch (it starts with `want` lines). The server
//! reads the first pkt-line of each upload-pack POST (inflating it when the client gzipped
//! the body) to tell them apart, so "no fetch happened" is `fetches == 0`.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::write::GzDecoder;

/// A snapshot of an [`HttpGitServer`](crate::HttpGitServer)'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestCounts {
    /// Accepted TCP connections (also counted in hang mode).
    pub connections: u64,
    /// HTTP requests read (any path, before authentication).
    pub requests: u64,
    /// Requests refused with 401 (missing or wrong credentials).
    pub unauthorized: u64,
    /// `GET …/info/refs?service=git-upload-pack`.
    pub upload_pack_info_refs: u64,
    /// `POST …/git-upload-pack` (all commands).
    pub upload_pack_posts: u64,
    /// Upload-pack POSTs that negotiate a pack: v2 `command=fetch`, or v0/v1 `want` lines.
    pub fetches: u64,
    /// Upload-pack POSTs with the v2 `command=ls-refs`.
    pub ls_refs: u64,
    /// `GET …/info/refs?service=git-receive-pack`.
    pub receive_pack_info_refs: u64,
    /// `POST …/git-receive-pack` (pushes).
    pub receive_pack_posts: u64,
    /// Requests with a `Git-Protocol: version=2` header.
    pub protocol_v2: u64,
    /// Requests with a `Content-Encoding: gzip` body.
    pub gzip_requests: u64,
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connections: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) unauthorized: AtomicU64,
    pub(crate) upload_pack_info_refs: AtomicU64,
    pub(crate) upload_pack_posts: AtomicU64,
    pub(crate) fetches: AtomicU64,
    pub(crate) ls_refs: AtomicU64,
    pub(crate) receive_pack_info_refs: AtomicU64,
    pub(crate) receive_pack_posts: AtomicU64,
    pub(crate) protocol_v2: AtomicU64,
    pub(crate) gzip_requests: AtomicU64,
}

impl Counters {
    /// Adds one to `counter`.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The current values.
    pub(crate) fn snapshot(&self) -> RequestCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RequestCounts {
            connections: get(&self.connections),
            requests: get(&self.requests),
            unauthorized: get(&self.unauthorized),
            upload_pack_info_refs: get(&self.upload_pack_info_refs),
            upload_pack_posts: get(&self.upload_pack_posts),
            fetches: get(&self.fetches),
            ls_refs: get(&self.ls_refs),
            receive_pack_info_refs: get(&self.receive_pack_info_refs),
            receive_pack_posts: get(&self.receive_pack_posts),
            protocol_v2: get(&self.protocol_v2),
            gzip_requests: get(&self.gzip_requests),
        }
    }

    /// Sets every counter back to zero.
    pub(crate) fn reset(&self) {
        for c in [
            &self.connections,
            &self.requests,
            &self.unauthorized,
            &self.upload_pack_info_refs,
            &self.upload_pack_posts,
            &self.fetches,
            &self.ls_refs,
            &self.receive_pack_info_refs,
            &self.receive_pack_posts,
            &self.protocol_v2,
            &self.gzip_requests,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// What an upload-pack POST asks for, from its first pkt-line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UploadPackCommand {
    /// A pack negotiation (v2 `command=fetch`, or v0/v1 `want`).
    Fetch,
    /// A v2 reference listing.
    LsRefs,
    /// Anything else (another v2 command, or an unreadable body).
    Other,
}

/// How many bytes of (inflated) body are enough to read the first pkt-line.
const SNIFF_BYTES: usize = 64;

/// Reads the beginning of a request body, inflating it when gzipped, until the first pkt-line
/// is known.
pub(crate) struct Sniffer {
    inner: SnifferInner,
}

enum SnifferInner {
    Plain(Vec<u8>),
    Gzip(Box<GzDecoder<Vec<u8>>>),
    Done,
}

impl Sniffer {
    /// A sniffer for a body with or without gzip encoding.
    pub(crate) fn new(gzip: bool) -> Self {
        let inner = if gzip {
            SnifferInner::Gzip(Box::new(GzDecoder::new(Vec::new())))
        } else {
            SnifferInner::Plain(Vec::new())
        };
        Self { inner }
    }

    /// Feeds a chunk; returns the command once it is known (then only once).
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Option<UploadPackCommand> {
        let enough = match &mut self.inner {
            SnifferInner::Plain(buf) => {
                buf.extend_from_slice(&chunk[..chunk.len().min(SNIFF_BYTES)]);
                buf.len() >= SNIFF_BYTES
            }
            SnifferInner::Gzip(dec) => {
                if dec.write_all(chunk).is_err() {
                    self.inner = SnifferInner::Done;
                    return Some(UploadPackCommand::Other);
                }
                dec.get_ref().len() >= SNIFF_BYTES
            }
            SnifferInner::Done => return None,
        };
        if enough { self.finish() } else { None }
    }

    /// The body ended: classifies what was seen (once).
    pub(crate) fn finish(&mut self) -> Option<UploadPackCommand> {
        let bytes = match std::mem::replace(&mut self.inner, SnifferInner::Done) {
            SnifferInner::Plain(buf) => buf,
            SnifferInner::Gzip(mut dec) => {
                let _ = dec.flush();
                std::mem::take(dec.get_mut())
            }
            SnifferInner::Done => return None,
        };
        Some(classify(&bytes))
    }
}

/// Classifies the first pkt-line of an upload-pack request.
pub(crate) fn classify(body: &[u8]) -> UploadPackCommand {
    let Some(len) =
        body.get(..4).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| usize::from_str_radix(h, 16).ok())
    else {
        return UploadPackCommand::Other;
    };
    let line = body.get(4..len.max(4).min(body.len())).unwrap_or_default();
    if line.starts_with(b"command=fetch") || line.starts_with(b"want ") {
        UploadPackCommand::Fetch
    } else if line.starts_with(b"command=ls-refs") {
        UploadPackCommand::LsRefs
    } else {
        UploadPackCommand::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;

    fn pkt(line: &str) -> Vec<u8> {
        format!("{:04x}{line}", line.len() + 4).into_bytes()
    }

    #[test]
    fn classifies_v2_commands_and_v0_wants() {
        assert_eq!(classify(&pkt("command=fetch\n")), UploadPackCommand::Fetch);
        assert_eq!(classify(&pkt("command=ls-refs\n")), UploadPackCommand::LsRefs);
        assert_eq!(
            classify(&pkt("want 0123456789012345678901234567890123456789 ofs-delta\n")),
            UploadPackCommand::Fetch
        );
        assert_eq!(classify(&pkt("command=object-info\n")), UploadPackCommand::Other);
        assert_eq!(classify(b"zz"), UploadPackCommand::Other);
        assert_eq!(classify(b""), UploadPackCommand::Other);
    }

    #[test]
    fn sniffs_gzip_bodies_fed_in_pieces() {
        let mut body = pkt("command=ls-refs\n");
        body.extend(pkt("agent=git/2.39\n"));
        body.extend(std::iter::repeat_n(b'0', 200));
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(&body).unwrap();
        let gz = enc.finish().unwrap();
        let mut sniffer = Sniffer::new(true);
        let mut seen = None;
        for chunk in gz.chunks(3) {
            if let Some(cmd) = sniffer.feed(chunk) {
                assert!(seen.is_none(), "classified twice");
                seen = Some(cmd);
            }
        }
        let seen = seen.or_else(|| sniffer.finish());
        assert_eq!(seen, Some(UploadPackCommand::LsRefs));
        assert_eq!(sniffer.finish(), None);
    }

    #[test]
    fn short_plain_bodies_are_classified_at_the_end() {
        let mut sniffer = Sniffer::new(false);
        assert_eq!(sniffer.feed(&pkt("command=fetch\n")), None);
        assert_eq!(sniffer.finish(), Some(UploadPackCommand::Fetch));
    }
}
