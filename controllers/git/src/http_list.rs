//! Listing an HTTP(S) remote's references with one GET over a shared, pooled client.
//!
//! The no-clone check of every reconcile lists the remote's references. Through gix's HTTP
//! transport that costs a new `reqwest` client (its own thread and runtime), a new TCP
//! connection and, over `https`, a full TLS handshake, every time. A listing is one request —
//! `GET <url>/info/refs?service=git-upload-pack`, answered with the reference advertisement —
//! so it is made here over a blocking `reqwest` client kept per connection configuration
//! (TLS roots and client certificate, proxy), whose connections are reused between listings.
//! Credentials are not part of a client: they go in each request's `Authorization` header, as
//! go-git sends them.
//!
//! Only a well-formed smart-HTTP advertisement with at least one reference is answered from
//! here. Anything else — an error status, a dumb server, an empty repository, a transport
//! failure — returns `None`, and the caller lists through gix as before, so failures keep their
//! established messages and classification.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use gix::bstr::ByteSlice;

use crate::auth::AuthOptions;
use crate::proxy::ProxyOptions;
use crate::remote::RemoteRef;
use crate::transport::{Target, authorization_header, tls_config};

/// At most this many distinct configurations keep a client; past it the cache starts over (a
/// client is cheap to rebuild, and the common case is a handful of configurations).
const MAX_CLIENTS: usize = 32;

/// An advertisement larger than this is not parsed here (gix handles it).
const MAX_ADVERTISEMENT: usize = 16 << 20;

/// What distinguishes one client from another: everything that shapes the connection.
#[derive(PartialEq, Eq, Hash)]
struct ClientKey {
    ca: Vec<u8>,
    client_cert: Vec<u8>,
    client_key: Vec<u8>,
    proxy: Option<(String, Option<String>, Option<String>)>,
}

impl ClientKey {
    fn new(auth: &AuthOptions, proxy: Option<&ProxyOptions>) -> Self {
        Self {
            ca: auth.ca.clone(),
            client_cert: auth.client_cert.clone(),
            client_key: auth.client_key.clone(),
            proxy: proxy.map(|p| (p.url(), p.username.clone(), p.password.clone())),
        }
    }
}

type Clients = Mutex<HashMap<ClientKey, Arc<reqwest::blocking::Client>>>;

fn clients() -> &'static Clients {
    static CLIENTS: OnceLock<Clients> = OnceLock::new();
    CLIENTS.get_or_init(Clients::default)
}

/// The shared client for the target's configuration, built on first use.
fn client_for(target: &Target<'_>) -> Option<Arc<reqwest::blocking::Client>> {
    let key = ClientKey::new(target.auth, target.proxy);
    if let Some(c) = clients().lock().ok()?.get(&key) {
        return Some(c.clone());
    }
    let tls = tls_config(target.auth).ok()?;
    let mut builder = reqwest::blocking::Client::builder()
        .use_preconfigured_tls(tls)
        .user_agent(crate::transport::USER_AGENT)
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(4)
        .timeout(None);
    if let Some(p) = target.proxy {
        let mut rp = reqwest::Proxy::all(p.url()).ok()?;
        if let Some(user) = &p.username {
            rp = rp.basic_auth(user, p.password.as_deref().unwrap_or_default());
        }
        builder = builder.proxy(rp);
    } else {
        builder = builder.no_proxy();
    }
    let client = Arc::new(builder.build().ok()?);
    let mut map = clients().lock().ok()?;
    if map.len() >= MAX_CLIENTS {
        map.clear();
    }
    Some(map.entry(key).or_insert(client).clone())
}

/// Lists the references of an HTTP(S) target with one GET; `None` when the answer is not a
/// usable advertisement (the caller then lists through gix).
pub(crate) fn list(target: &Target<'_>) -> Option<Vec<RemoteRef>> {
    let client = client_for(target)?;
    let url = format!("{}/info/refs?service=git-upload-pack", target.url.trim_end_matches('/'));
    let timeout = target.watchdog.remaining();
    if timeout.is_zero() {
        return None;
    }
    // A little past the deadline, so that a listing that timed out finds the operation's
    // deadline passed and the caller reports a timeout, not a failure of its own.
    let mut request = client.get(&url).timeout(timeout + Duration::from_millis(10));
    if let Ok(Some(value)) = authorization_header(target.auth) {
        request = request.header(reqwest::header::AUTHORIZATION, value);
    }
    let response = match request.send() {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(url = %target.display, error = %crate::error::scrub(&e.to_string(), &target.auth.secrets()), "pooled listing failed");
            return None;
        }
    };
    if !response.status().is_success() {
        return None;
    }
    let content_type = response.headers().get(reqwest::header::CONTENT_TYPE)?.to_str().ok()?;
    if !content_type.starts_with("application/x-git-upload-pack-advertisement") {
        return None;
    }
    if response.content_length().is_some_and(|n| n > MAX_ADVERTISEMENT as u64) {
        return None;
    }
    let body = response.bytes().ok()?;
    if body.len() > MAX_ADVERTISEMENT {
        return None;
    }
    let refs = parse_advertisement(&body)?;
    (!refs.is_empty()).then_some(refs)
}

/// Splits pkt-lines: `Some(None)` for a flush packet, `Some(Some(payload))` for data.
struct PktLines<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for PktLines<'a> {
    type Item = Result<Option<&'a [u8]>, ()>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let parsed = (|| {
            let len_hex = self.rest.get(..4).ok_or(())?;
            let len = usize::from_str_radix(std::str::from_utf8(len_hex).map_err(|_| ())?, 16).map_err(|_| ())?;
            if len == 0 {
                self.rest = &self.rest[4..];
                return Ok(None);
            }
            if len < 4 {
                return Err(());
            }
            let payload = self.rest.get(4..len).ok_or(())?;
            self.rest = &self.rest[len..];
            Ok(Some(payload))
        })();
        if parsed.is_err() {
            self.rest = &[];
        }
        Some(parsed)
    }
}

/// Parses a smart-HTTP upload-pack advertisement (protocol version 0 or 1) into references,
/// as gix's handshake presents them: a tag followed by its `^{}` line is one peeled reference,
/// and `HEAD` is symbolic when the capabilities carry `symref=HEAD:<target>`. `None` when the
/// body is not such an advertisement.
pub(crate) fn parse_advertisement(body: &[u8]) -> Option<Vec<RemoteRef>> {
    let mut lines = PktLines { rest: body };
    let first = lines.next()?.ok()??;
    if first.trim_end_with(|c| c == '\n') != b"# service=git-upload-pack" {
        return None;
    }
    if lines.next()?.ok()?.is_some() {
        return None;
    }
    let mut refs: Vec<RemoteRef> = Vec::new();
    let mut symrefs: Vec<(String, String)> = Vec::new();
    let mut first_ref = true;
    let mut ended = false;
    for line in lines.by_ref() {
        let Some(payload) = line.ok()? else {
            ended = true;
            break;
        };
        let payload = payload.strip_suffix(b"\n").unwrap_or(payload);
        if first_ref && payload == b"version 1" {
            continue;
        }
        let (payload, caps) = match payload.find_byte(0) {
            Some(i) => (&payload[..i], Some(&payload[i + 1..])),
            None => (payload, None),
        };
        if first_ref {
            first_ref = false;
            for cap in caps.unwrap_or_default().split(|b| *b == b' ') {
                if let Some(pair) = cap.strip_prefix(b"symref=")
                    && let Some((from, to)) = pair.split_once_str(b":")
                {
                    symrefs.push((from.to_str().ok()?.to_owned(), to.to_str().ok()?.to_owned()));
                }
            }
        }
        let (oid, name) = payload.split_once_str(b" ")?;
        let oid = oid.to_str().ok()?;
        if oid.len() != 40 || !oid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let name = name.to_str().ok()?;
        if name == "capabilities^{}" {
            continue;
        }
        if let Some(base) = name.strip_suffix("^{}") {
            let last = refs.last_mut().filter(|r| r.name == base && r.peeled.is_none())?;
            last.peeled = Some(oid.to_owned());
            continue;
        }
        refs.push(RemoteRef { name: name.to_owned(), target: oid.to_owned(), peeled: None, symbolic_target: None });
    }
    if !ended || lines.next().is_some() {
        return None;
    }
    for (from, to) in symrefs {
        if let Some(r) = refs.iter_mut().find(|r| r.name == from) {
            r.symbolic_target = Some(to);
        }
    }
    Some(refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(s: &str) -> String {
        format!("{:04x}{s}", s.len() + 4)
    }

    const C: &str = "1111111111111111111111111111111111111111";
    const T: &str = "2222222222222222222222222222222222222222";

    fn advertisement(lines: &[String]) -> Vec<u8> {
        let mut s = pkt("# service=git-upload-pack\n") + "0000";
        for l in lines {
            s += &pkt(l);
        }
        s += "0000";
        s.into_bytes()
    }

    #[test]
    fn parses_refs_peeled_tags_and_symbolic_head() {
        let body = advertisement(&[
            format!("{C} HEAD\0multi_ack symref=HEAD:refs/heads/main agent=git/2\n"),
            format!("{C} refs/heads/main\n"),
            format!("{T} refs/tags/v1\n"),
            format!("{C} refs/tags/v1^{{}}\n"),
            format!("{C} refs/tags/light\n"),
        ]);
        let refs = parse_advertisement(&body).unwrap();
        assert_eq!(refs.len(), 4);
        assert_eq!(refs[0].name, "HEAD");
        assert_eq!(refs[0].symbolic_target.as_deref(), Some("refs/heads/main"));
        assert_eq!(
            refs[1],
            RemoteRef { name: "refs/heads/main".into(), target: C.into(), peeled: None, symbolic_target: None }
        );
        assert_eq!(refs[2].target, T);
        assert_eq!(refs[2].peeled.as_deref(), Some(C));
        assert_eq!(refs[3].peeled, None);
        assert_eq!(crate::remote::resolve_remote_ref(&refs, "refs/tags/v1"), Some(format!("refs/tags/v1@sha1:{C}")));
    }

    #[test]
    fn version_1_line_is_skipped() {
        let body = advertisement(&["version 1\n".to_owned(), format!("{C} refs/heads/main\0agent=git/2\n")]);
        let refs = parse_advertisement(&body).unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].name, "refs/heads/main");
    }

    #[test]
    fn empty_repository_has_no_refs() {
        let zero = "0".repeat(40);
        let body = advertisement(&[format!("{zero} capabilities^{{}}\0agent=git/2\n")]);
        assert_eq!(parse_advertisement(&body).unwrap(), Vec::new());
    }

    #[test]
    fn malformed_answers_are_refused() {
        assert!(parse_advertisement(b"").is_none());
        assert!(parse_advertisement(b"not a pkt line").is_none());
        assert!(parse_advertisement(format!("{C}\trefs/heads/main\n").as_bytes()).is_none());
        // Truncated: no final flush.
        let mut body = advertisement(&[format!("{C} refs/heads/main\0agent\n")]);
        body.truncate(body.len() - 4);
        assert!(parse_advertisement(&body).is_none());
        // A bad object id.
        assert!(parse_advertisement(&advertisement(&["xyz refs/heads/main\0agent\n".to_owned()])).is_none());
        // A peeled line without its tag.
        assert!(parse_advertisement(&advertisement(&[format!("{C} refs/tags/v1^{{}}\0agent\n")])).is_none());
        // Bytes after the final flush.
        let mut body = advertisement(&[format!("{C} refs/heads/main\0agent\n")]);
        body.extend_from_slice(b"0000");
        assert!(parse_advertisement(&body).is_none());
    }
}
