//! Credentials for the transports, built from a GitRepository's Secret as Flux builds them.
//!
//! [`AuthOptions::from_secret`] follows `fluxcd/pkg/git` `NewAuthOptions` and `Validate`:
//!
//! - the transport is the URL's scheme (`http`, `https`, `ssh`; `file` is accepted as an Eddy
//!   extension for local repositories and carries no credentials);
//! - `ssh`: `identity` (private key, OpenSSH or PEM), `known_hosts` (required: host keys are
//!   always checked), `password` (the key's passphrase); the user is the URL's, else `git`;
//!   `identity.pub` is not needed (OpenSSH derives the public key) and is ignored;
//! - `http`/`https`: with a `bearerToken` key, that token; otherwise `username` and `password`;
//!   both with `ca.crt` (or the legacy `caFile`) as extra trusted roots and `tls.crt`/`tls.key`
//!   as a client certificate; a username or password missing from the Secret is taken from the
//!   URL;
//! - errors: a password without a username, an ssh URL without `identity` or `known_hosts`, an
//!   unknown scheme; and, as source-controller checks, an encrypted `identity` without `password`.
//!
//! Basic credentials and a bearer token together are refused when connecting (go-git's
//! "basic auth and bearer token cannot be set at the same time"). Credentials are sent over plain
//! `http` too, as source-controller allows (`WithInsecureCredentialsOverHTTP`).
//!
//! The [`Debug`](std::fmt::Debug) output never shows a password, token, key or passphrase.

use std::collections::BTreeMap;
use std::fmt;

/// The Secret key holding an SSH private key.
pub const KEY_IDENTITY: &str = "identity";
/// The Secret key holding the SSH `known_hosts` lines.
pub const KEY_KNOWN_HOSTS: &str = "known_hosts";
/// The Secret key holding an HTTP username.
pub const KEY_USERNAME: &str = "username";
/// The Secret key holding an HTTP password or the SSH key passphrase.
pub const KEY_PASSWORD: &str = "password";
/// The Secret key holding an HTTP bearer token.
pub const KEY_BEARER_TOKEN: &str = "bearerToken";
/// The Secret key holding a TLS client certificate (PEM).
pub const KEY_TLS_CERT: &str = "tls.crt";
/// The Secret key holding a TLS client key (PEM).
pub const KEY_TLS_KEY: &str = "tls.key";
/// The Secret key holding extra CA certificates (PEM).
pub const KEY_CA_CERT: &str = "ca.crt";
/// The legacy Secret key for extra CA certificates, read when `ca.crt` is absent or empty.
pub const KEY_CA_FILE: &str = "caFile";
/// The SSH user when the URL names none (Flux's `DefaultPublicKeyAuthUser`).
pub const DEFAULT_SSH_USER: &str = "git";

/// Which transport a URL uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
    /// OpenSSH.
    Ssh,
    /// A local repository (Eddy extension, for tests and local mirrors).
    File,
}

impl Transport {
    /// The URL scheme.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::Ssh => "ssh",
            Self::File => "file",
        }
    }

    /// Whether this is `http` or `https`.
    #[must_use]
    pub fn is_http(self) -> bool {
        matches!(self, Self::Http | Self::Https)
    }
}

/// Invalid authentication options.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The URL has no scheme.
    #[error("no transport type set")]
    NoTransport,
    /// The URL's scheme is not a Git transport.
    #[error("unknown transport '{0}'")]
    UnknownTransport(String),
    /// A password was given without a username.
    #[error("invalid '{0}' auth option: 'password' requires 'username' to be set")]
    PasswordWithoutUsername(&'static str),
    /// A required option is missing (`host`, `identity`, `known_hosts` for ssh).
    #[error("invalid '{transport}' auth option: '{option}' is required")]
    Required {
        /// The transport.
        transport: &'static str,
        /// The missing option.
        option: &'static str,
    },
    /// Basic credentials and a bearer token are both set.
    #[error("basic auth and bearer token cannot be set at the same time")]
    BasicAndBearer,
    /// The SSH key is encrypted and no passphrase was given.
    #[error("SSH identity key is encrypted but no 'password' field was provided")]
    PassphraseMissing,
    /// The passphrase does not decrypt the SSH key.
    #[error("x509: decryption password incorrect")]
    PassphraseIncorrect,
    /// The SSH key cannot be read.
    #[error("invalid SSH identity: {0}")]
    InvalidIdentity(String),
    /// The TLS material (CA, client certificate or key) cannot be read.
    #[error("invalid TLS configuration: {0}")]
    InvalidTls(String),
}

/// Credentials and TLS material for one remote.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthOptions {
    /// The transport, from the URL's scheme.
    pub transport: Transport,
    /// The URL's host (with port, as Go's `url.Host`).
    pub host: String,
    /// HTTP basic-auth user, or the SSH user.
    pub username: String,
    /// HTTP basic-auth password, or the SSH key passphrase.
    pub password: String,
    /// HTTP bearer token.
    pub bearer_token: String,
    /// SSH private key (OpenSSH or PEM).
    pub identity: Vec<u8>,
    /// SSH `known_hosts` lines.
    pub known_hosts: Vec<u8>,
    /// TLS client certificate chain (PEM).
    pub client_cert: Vec<u8>,
    /// TLS client key (PEM).
    pub client_key: Vec<u8>,
    /// Extra trusted CA certificates (PEM), added to the system roots.
    pub ca: Vec<u8>,
}

impl AuthOptions {
    /// Options without credentials for `url` (anonymous HTTP(S), a local path). For `ssh` URLs
    /// these fail validation, as in Flux: an identity and `known_hosts` are required.
    ///
    /// # Errors
    ///
    /// [`AuthError`] when the URL's scheme is not a Git transport or the options are incomplete.
    pub fn anonymous(url: &str) -> Result<Self, AuthError> {
        Self::from_secret(url, &BTreeMap::new())
    }

    /// Builds the options for `url` from a Secret's data, as Flux's `NewAuthOptions`, and
    /// validates them.
    ///
    /// # Errors
    ///
    /// [`AuthError`] as listed in the module documentation.
    pub fn from_secret(url: &str, data: &BTreeMap<String, Vec<u8>>) -> Result<Self, AuthError> {
        let parts = UrlParts::parse(url);
        let transport = match parts.scheme.as_str() {
            "" => return Err(AuthError::NoTransport),
            "http" => Transport::Http,
            "https" => Transport::Https,
            "ssh" => Transport::Ssh,
            "file" => Transport::File,
            other => return Err(AuthError::UnknownTransport(other.to_owned())),
        };
        let mut opts = Self::empty(transport, parts.host.clone());
        let text = |key: &str| data.get(key).map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default();
        let bytes = |key: &str| data.get(key).cloned().unwrap_or_default();
        if !data.is_empty() {
            let ca = match data.get(KEY_CA_CERT) {
                Some(v) if !v.is_empty() => v.clone(),
                _ => bytes(KEY_CA_FILE),
            };
            if transport == Transport::Ssh {
                opts.identity = bytes(KEY_IDENTITY);
                opts.known_hosts = bytes(KEY_KNOWN_HOSTS);
                opts.password = text(KEY_PASSWORD);
            } else {
                opts.client_cert = bytes(KEY_TLS_CERT);
                opts.client_key = bytes(KEY_TLS_KEY);
                opts.ca = ca;
                if data.contains_key(KEY_BEARER_TOKEN) {
                    opts.bearer_token = text(KEY_BEARER_TOKEN);
                } else {
                    opts.username = text(KEY_USERNAME);
                    opts.password = text(KEY_PASSWORD);
                }
            }
        }
        if transport == Transport::Ssh {
            opts.username = parts.username.clone().unwrap_or_default();
            if opts.username.is_empty() {
                opts.username = DEFAULT_SSH_USER.to_owned();
            }
        } else {
            if opts.username.is_empty() {
                opts.username = parts.username.clone().unwrap_or_default();
            }
            if opts.password.is_empty() {
                opts.password = parts.password.clone().unwrap_or_default();
            }
        }
        opts.validate()?;
        if transport == Transport::Ssh && opts.password.is_empty() && crate::ssh::identity_is_encrypted(&opts.identity)
        {
            return Err(AuthError::PassphraseMissing);
        }
        Ok(opts)
    }

    /// Options for `transport` and `host` with nothing set.
    #[must_use]
    pub fn empty(transport: Transport, host: String) -> Self {
        Self {
            transport,
            host,
            username: String::new(),
            password: String::new(),
            bearer_token: String::new(),
            identity: Vec::new(),
            known_hosts: Vec::new(),
            client_cert: Vec::new(),
            client_key: Vec::new(),
            ca: Vec::new(),
        }
    }

    /// Flux's `AuthOptions.Validate`.
    ///
    /// # Errors
    ///
    /// [`AuthError`] for a password without a user (HTTP), or a missing host, identity or
    /// `known_hosts` (SSH).
    pub fn validate(&self) -> Result<(), AuthError> {
        match self.transport {
            Transport::Http | Transport::Https => {
                if self.username.is_empty() && !self.password.is_empty() {
                    return Err(AuthError::PasswordWithoutUsername(self.transport.as_str()));
                }
            }
            Transport::Ssh => {
                for (option, missing) in [
                    ("host", self.host.is_empty()),
                    ("identity", self.identity.is_empty()),
                    ("known_hosts", self.known_hosts.is_empty()),
                ] {
                    if missing {
                        return Err(AuthError::Required { transport: "ssh", option });
                    }
                }
            }
            Transport::File => {}
        }
        Ok(())
    }

    /// Whether HTTP basic credentials are set.
    #[must_use]
    pub fn has_basic(&self) -> bool {
        self.transport.is_http() && (!self.username.is_empty() || !self.password.is_empty())
    }

    /// Whether an HTTP bearer token is set.
    #[must_use]
    pub fn has_bearer(&self) -> bool {
        self.transport.is_http() && !self.bearer_token.is_empty()
    }

    /// The secrets these options hold, for scrubbing quoted remote output.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        [self.password.as_str(), self.bearer_token.as_str()].into_iter().filter(|s| !s.is_empty()).collect()
    }
}

impl fmt::Debug for AuthOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn set(b: bool) -> &'static str {
            if b { "<redacted>" } else { "<unset>" }
        }
        f.debug_struct("AuthOptions")
            .field("transport", &self.transport)
            .field("host", &self.host)
            .field("username", &self.username)
            .field("password", &set(!self.password.is_empty()))
            .field("bearer_token", &set(!self.bearer_token.is_empty()))
            .field("identity", &set(!self.identity.is_empty()))
            .field("known_hosts_len", &self.known_hosts.len())
            .field("client_cert_len", &self.client_cert.len())
            .field("client_key", &set(!self.client_key.is_empty()))
            .field("ca_len", &self.ca.len())
            .finish()
    }
}

/// The parts of a URL that authentication needs, read as Go's `net/url` would.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UrlParts {
    pub(crate) scheme: String,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) host: String,
}

impl UrlParts {
    pub(crate) fn parse(url: &str) -> Self {
        let Some(scheme_end) = url.find("://") else { return Self::default() };
        let scheme = url[..scheme_end].to_ascii_lowercase();
        let rest = &url[scheme_end + 3..];
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        let (userinfo, host) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => (Some(percent_decode(user)), Some(percent_decode(pass))),
                None => (Some(percent_decode(u)), None),
            },
        };
        Self { scheme, username, password, host: host.to_owned() }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec())).collect()
    }

    #[test]
    fn https_basic_from_secret_and_url() {
        let o = AuthOptions::from_secret("https://example.com/repo", &data(&[("username", "u"), ("password", "p")]))
            .unwrap();
        assert_eq!((o.username.as_str(), o.password.as_str()), ("u", "p"));
        let o = AuthOptions::from_secret("https://us%40er:p%3Ass@example.com/repo", &BTreeMap::new()).unwrap();
        assert_eq!((o.username.as_str(), o.password.as_str()), ("us@er", "p:ss"));
        assert_eq!(o.host, "example.com");
        let e = AuthOptions::from_secret("https://example.com/repo", &data(&[("password", "p")])).unwrap_err();
        assert_eq!(e.to_string(), "invalid 'https' auth option: 'password' requires 'username' to be set");
    }

    #[test]
    fn bearer_key_wins_and_ca_falls_back_to_ca_file() {
        let o = AuthOptions::from_secret(
            "https://example.com/repo",
            &data(&[("bearerToken", "t"), ("username", "u"), ("caFile", "CA")]),
        )
        .unwrap();
        assert_eq!(o.bearer_token, "t");
        assert!(o.username.is_empty());
        assert_eq!(o.ca, b"CA");
        let o = AuthOptions::from_secret("https://h/r", &data(&[("ca.crt", "A"), ("caFile", "B")])).unwrap();
        assert_eq!(o.ca, b"A");
    }

    #[test]
    fn ssh_requires_identity_and_known_hosts() {
        let e = AuthOptions::anonymous("ssh://git@example.com/repo").unwrap_err();
        assert_eq!(e.to_string(), "invalid 'ssh' auth option: 'identity' is required");
        let e = AuthOptions::from_secret("ssh://example.com/repo", &data(&[("identity", "k")])).unwrap_err();
        assert_eq!(e.to_string(), "invalid 'ssh' auth option: 'known_hosts' is required");
        let o =
            AuthOptions::from_secret("ssh://example.com:2222/repo", &data(&[("identity", "k"), ("known_hosts", "h")]))
                .unwrap();
        assert_eq!((o.username.as_str(), o.host.as_str()), ("git", "example.com:2222"));
    }

    #[test]
    fn unknown_schemes_are_refused() {
        assert_eq!(AuthOptions::anonymous("ftp://h/r").unwrap_err(), AuthError::UnknownTransport("ftp".into()));
        assert_eq!(AuthOptions::anonymous("h/r").unwrap_err(), AuthError::NoTransport);
    }

    #[test]
    fn debug_hides_secrets() {
        let o = AuthOptions::from_secret(
            "https://example.com/repo",
            &data(&[("username", "u"), ("password", "hunter2-secret"), ("tls.key", "KEYDATA")]),
        )
        .unwrap();
        let s = format!("{o:?}");
        assert!(!s.contains("hunter2-secret") && !s.contains("KEYDATA"), "{s}");
        assert!(s.contains("<redacted>"));
    }
}
