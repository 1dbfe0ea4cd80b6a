//! Proxies for reaching the Git server (`spec.proxySecretRef`).
//!
//! The Secret holds `address` (required), `username` and `password` (optional), read as
//! `fluxcd/pkg/runtime/secrets.ProxyURLFromSecret` does: the address must be an `http`, `https`
//! or `socks5` URL of at most 2048 bytes, and the credentials become the proxy URL's user
//! information. For `http`/`https` Git URLs every proxy kind works. For `ssh` Git URLs Flux
//! (go-git with `golang.org/x/net/proxy`) supports only `socks5` proxies; Eddy does the same,
//! relaying OpenSSH's connection through the SOCKS5 proxy (see [`crate::ssh`]).

use std::collections::BTreeMap;
use std::fmt;

/// The Secret key holding the proxy URL.
pub const KEY_ADDRESS: &str = "address";
/// The Secret key holding the proxy user.
pub const KEY_USERNAME: &str = "username";
/// The Secret key holding the proxy password.
pub const KEY_PASSWORD: &str = "password";

const MAX_PROXY_URL_LEN: usize = 2048;
const SUPPORTED_SCHEMES: [&str; 3] = ["http", "https", "socks5"];

/// Invalid proxy settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// The Secret has no `address`.
    #[error("key '{KEY_ADDRESS}' not found")]
    AddressMissing,
    /// `address` is empty.
    #[error("proxy address is empty")]
    AddressEmpty,
    /// `address` is too long.
    #[error("proxy URL exceeds maximum length of {MAX_PROXY_URL_LEN} characters")]
    TooLong,
    /// `address` is not a URL with a host.
    #[error("failed to parse proxy address '{0}'")]
    Unparsable(String),
    /// The scheme is not `http`, `https` or `socks5`.
    #[error("proxy URL must use one of the supported schemes (http, https, socks5), got '{0}'")]
    UnsupportedScheme(String),
    /// An `http(s)` proxy for an `ssh` URL (Flux: `proxy: unknown scheme`).
    #[error("proxy: unknown scheme: {0} (only socks5 proxies carry ssh connections)")]
    UnsupportedForSsh(String),
}

/// Which kind of proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyScheme {
    /// An HTTP proxy (CONNECT for `https` targets).
    Http,
    /// An HTTP proxy reached over TLS.
    Https,
    /// A SOCKS5 proxy.
    Socks5,
}

/// A proxy and its optional credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyOptions {
    /// The kind of proxy.
    pub scheme: ProxyScheme,
    /// `host:port` of the proxy.
    pub host_port: String,
    /// The proxy user, if any.
    pub username: Option<String>,
    /// The proxy password, if any (only with a user).
    pub password: Option<String>,
}

impl ProxyOptions {
    /// Parses a proxy address (`http://host:port`, `socks5://host:port`); user information in
    /// the address is kept as credentials.
    ///
    /// # Errors
    ///
    /// [`ProxyError`] for an empty, too long, unparsable or unsupported address.
    pub fn parse(address: &str) -> Result<Self, ProxyError> {
        if address.is_empty() {
            return Err(ProxyError::AddressEmpty);
        }
        if address.len() > MAX_PROXY_URL_LEN {
            return Err(ProxyError::TooLong);
        }
        let redacted = crate::error::redact_url(address);
        let parts = crate::auth::UrlParts::parse(address);
        if parts.scheme.is_empty() {
            return Err(ProxyError::Unparsable(redacted));
        }
        let scheme = match parts.scheme.as_str() {
            "http" => ProxyScheme::Http,
            "https" => ProxyScheme::Https,
            "socks5" => ProxyScheme::Socks5,
            other => return Err(ProxyError::UnsupportedScheme(other.to_owned())),
        };
        debug_assert!(SUPPORTED_SCHEMES.contains(&parts.scheme.as_str()));
        if parts.host.is_empty() {
            return Err(ProxyError::Unparsable(redacted));
        }
        let default_port = match scheme {
            ProxyScheme::Http => 80,
            ProxyScheme::Https => 443,
            ProxyScheme::Socks5 => 1080,
        };
        let host_port = if has_port(&parts.host) { parts.host } else { format!("{}:{default_port}", parts.host) };
        Ok(Self { scheme, host_port, username: parts.username, password: parts.password })
    }

    /// Reads `address`, `username` and `password` from a proxy Secret's data.
    ///
    /// # Errors
    ///
    /// [`ProxyError`] as [`ProxyOptions::parse`], or when `address` is missing.
    pub fn from_secret(data: &BTreeMap<String, Vec<u8>>) -> Result<Self, ProxyError> {
        let address = data.get(KEY_ADDRESS).ok_or(ProxyError::AddressMissing)?;
        let mut opts = Self::parse(&String::from_utf8_lossy(address))?;
        let text = |k: &str| data.get(k).map(|v| String::from_utf8_lossy(v).into_owned());
        match (text(KEY_USERNAME), text(KEY_PASSWORD)) {
            (Some(user), Some(pass)) => {
                opts.username = Some(user);
                opts.password = Some(pass);
            }
            (Some(user), None) => {
                opts.username = Some(user);
                opts.password = None;
            }
            _ => {}
        }
        Ok(opts)
    }

    /// The proxy URL without credentials (`socks5://host:port`).
    #[must_use]
    pub fn url(&self) -> String {
        let scheme = match self.scheme {
            ProxyScheme::Http => "http",
            ProxyScheme::Https => "https",
            ProxyScheme::Socks5 => "socks5",
        };
        format!("{scheme}://{}", self.host_port)
    }
}

fn has_port(host: &str) -> bool {
    match host.rfind(':') {
        Some(i) => !host.ends_with(']') && host[i + 1..].bytes().all(|b| b.is_ascii_digit()) && i + 1 < host.len(),
        None => false,
    }
}

impl fmt::Debug for ProxyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyOptions")
            .field("url", &self.url())
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_fields_as_flux_reads_them() {
        let d: BTreeMap<String, Vec<u8>> = [
            ("address".to_owned(), b"http://proxy.local:3128".to_vec()),
            ("username".to_owned(), b"u".to_vec()),
            ("password".to_owned(), b"pw-secret".to_vec()),
        ]
        .into();
        let p = ProxyOptions::from_secret(&d).unwrap();
        assert_eq!(p.url(), "http://proxy.local:3128");
        assert_eq!(p.username.as_deref(), Some("u"));
        assert!(!format!("{p:?}").contains("pw-secret"));
        assert_eq!(ProxyOptions::from_secret(&BTreeMap::new()), Err(ProxyError::AddressMissing));
        assert_eq!(ProxyOptions::parse("ftp://x:1"), Err(ProxyError::UnsupportedScheme("ftp".into())));
        assert_eq!(ProxyOptions::parse("socks5://h").unwrap().host_port, "h:1080");
    }
}
