//! Artifact digests in the opencontainers `algorithm:hex` form Flux records in
//! `status.artifact.digest`.
//!
//! The algorithm used for new artifacts comes from source-controller's
//! `--artifact-digest-algo` flag ([`DigestAlgorithm`], default sha256). A stored digest is
//! always verified with the algorithm *it* names, so changing the flag never invalidates
//! existing artifacts. Parsing follows go-digest's `Digest.Validate` (the version fluxcd/pkg
//! pins), including its error texts.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::Digest as _;

/// A hash algorithm artifacts can be digested with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DigestAlgorithm {
    /// SHA-256, Flux's default (`sha256`).
    #[default]
    Sha256,
    /// SHA-384 (`sha384`).
    Sha384,
    /// SHA-512 (`sha512`).
    Sha512,
    /// BLAKE3 with 256-bit output (`blake3`).
    Blake3,
}

impl DigestAlgorithm {
    /// Every supported algorithm.
    pub const ALL: [Self; 4] = [Self::Sha256, Self::Sha384, Self::Sha512, Self::Blake3];

    /// The name used in digests and in the `--artifact-digest-algo` flag.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
            Self::Blake3 => "blake3",
        }
    }

    /// The length of the hex encoding of a digest.
    pub const fn hex_len(self) -> usize {
        match self {
            Self::Sha256 | Self::Blake3 => 64,
            Self::Sha384 => 96,
            Self::Sha512 => 128,
        }
    }

    /// A fresh hasher for this algorithm.
    pub fn digester(self) -> Digester {
        Digester::new(self)
    }

    /// Digests everything `reader` yields.
    ///
    /// # Errors
    ///
    /// Any error reading from `reader`.
    pub fn digest_reader<R: Read>(self, mut reader: R) -> io::Result<Digest> {
        let mut digester = self.digester();
        io::copy(&mut reader, &mut digester)?;
        Ok(digester.finish())
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An algorithm name Eddy cannot compute (Flux: `unsupported digest algorithm: <name>`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported digest algorithm: {0}")]
pub struct UnsupportedAlgorithm(pub String);

impl FromStr for DigestAlgorithm {
    type Err = UnsupportedAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| UnsupportedAlgorithm(s.to_owned()))
    }
}

/// Why a digest string was rejected (go-digest's errors and texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// Not `algorithm:encoded` with a well-formed algorithm and lower-case hex.
    #[error("invalid checksum digest format")]
    InvalidFormat,
    /// The hex part has the wrong length for its algorithm.
    #[error("invalid checksum digest length")]
    InvalidLength,
    /// Well-formed, but the algorithm is not one Eddy computes.
    #[error("unsupported digest algorithm")]
    Unsupported,
}

/// A parsed digest: an algorithm and the lower-case hex of the hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: DigestAlgorithm,
    hex: String,
}

impl Digest {
    /// Parses and validates `algorithm:hex`.
    ///
    /// # Errors
    ///
    /// [`DigestError`] as go-digest's `Parse` would return it.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let Some((algorithm, encoded)) = s.split_once(':') else {
            return Err(DigestError::InvalidFormat);
        };
        if algorithm.is_empty() || encoded.is_empty() {
            return Err(DigestError::InvalidFormat);
        }
        let Ok(algorithm) = algorithm.parse::<DigestAlgorithm>() else {
            return Err(if is_well_formed(algorithm, encoded) {
                DigestError::Unsupported
            } else {
                DigestError::InvalidFormat
            });
        };
        if encoded.len() != algorithm.hex_len() {
            return Err(DigestError::InvalidLength);
        }
        if !encoded.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(DigestError::InvalidFormat);
        }
        Ok(Self { algorithm, hex: encoded.to_owned() })
    }

    /// The algorithm the digest names.
    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    /// The lower-case hex of the hash.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Whether `reader` yields content with this digest, hashed with this digest's algorithm.
    ///
    /// # Errors
    ///
    /// Any error reading from `reader`.
    pub fn verify_reader<R: Read>(&self, reader: R) -> io::Result<bool> {
        Ok(self.algorithm.digest_reader(reader)? == *self)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// go-digest's `DigestRegexpAnchored`: `[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`.
fn is_well_formed(algorithm: &str, encoded: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let algorithm_ok = algorithm.split(['.', '+', '_', '-']).all(|part| !part.is_empty() && part.bytes().all(alnum));
    let encoded_ok = encoded.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'));
    algorithm_ok && encoded_ok
}

enum Hasher {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
    Blake3(Box<blake3::Hasher>),
}

/// An incremental hasher; also an [`io::Write`] sink.
pub struct Digester {
    algorithm: DigestAlgorithm,
    hasher: Hasher,
}

impl fmt::Debug for Digester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Digester").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

impl Digester {
    /// A fresh hasher for `algorithm`.
    pub fn new(algorithm: DigestAlgorithm) -> Self {
        let hasher = match algorithm {
            DigestAlgorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            DigestAlgorithm::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            DigestAlgorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
            DigestAlgorithm::Blake3 => Hasher::Blake3(Box::default()),
        };
        Self { algorithm, hasher }
    }

    /// Feeds `data` to the hash.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.hasher {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
            Hasher::Blake3(h) => {
                h.update(data);
            }
        }
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Digest {
        let hex = match self.hasher {
            Hasher::Sha256(h) => to_hex(&h.finalize()),
            Hasher::Sha384(h) => to_hex(&h.finalize()),
            Hasher::Sha512(h) => to_hex(&h.finalize()),
            Hasher::Blake3(h) => h.finalize().to_hex().to_string(),
        };
        Digest { algorithm: self.algorithm, hex }
    }
}

impl Write for Digester {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn to_hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A writer that forwards to `inner` while hashing and counting what was written: the
/// artifact's digest and size come from the bytes that reached the file.
#[derive(Debug)]
pub struct DigestWriter<W> {
    inner: W,
    digester: Digester,
    written: u64,
}

impl<W: Write> DigestWriter<W> {
    /// Wraps `inner`, hashing with `algorithm`.
    pub fn new(inner: W, algorithm: DigestAlgorithm) -> Self {
        Self { inner, digester: Digester::new(algorithm), written: 0 }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The inner writer, the digest and the byte count.
    pub fn finish(self) -> (W, Digest, u64) {
        (self.inner, self.digester.finish(), self.written)
    }
}

impl<W: Write> Write for DigestWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.digester.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_round_trip_and_unknown_names_fail_like_flux() {
        for a in DigestAlgorithm::ALL {
            assert_eq!(a.name().parse::<DigestAlgorithm>(), Ok(a));
            assert_eq!(a.to_string(), a.name());
        }
        assert_eq!(DigestAlgorithm::default(), DigestAlgorithm::Sha256);
        let err = "md5".parse::<DigestAlgorithm>().unwrap_err();
        assert_eq!(err.to_string(), "unsupported digest algorithm: md5");
        assert!("SHA256".parse::<DigestAlgorithm>().is_err());
    }

    #[test]
    fn known_vectors() {
        let d = |a: DigestAlgorithm| a.digest_reader(&b"abc"[..]).unwrap().to_string();
        assert_eq!(
            d(DigestAlgorithm::Sha256),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            d(DigestAlgorithm::Sha384),
            "sha384:cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"
        );
        assert!(d(DigestAlgorithm::Sha512).starts_with("sha512:ddaf35a193617aba"));
        assert_eq!(d(DigestAlgorithm::Blake3), format!("blake3:{}", blake3::hash(b"abc").to_hex()));
    }

    #[test]
    fn parse_follows_go_digest() {
        let hex64 = "a".repeat(64);
        assert_eq!(Digest::parse(&format!("sha256:{hex64}")).unwrap().hex(), hex64);
        assert_eq!(Digest::parse(&format!("blake3:{hex64}")).unwrap().algorithm(), DigestAlgorithm::Blake3);
        assert_eq!(Digest::parse(&format!("sha512:{}", "0".repeat(128))).unwrap().algorithm(), DigestAlgorithm::Sha512);
        assert_eq!(Digest::parse(""), Err(DigestError::InvalidFormat));
        assert_eq!(Digest::parse("sha256"), Err(DigestError::InvalidFormat));
        assert_eq!(Digest::parse("sha256:"), Err(DigestError::InvalidFormat));
        assert_eq!(Digest::parse(&format!(":{hex64}")), Err(DigestError::InvalidFormat));
        assert_eq!(Digest::parse("sha256:abc"), Err(DigestError::InvalidLength));
        assert_eq!(Digest::parse(&format!("sha384:{hex64}")), Err(DigestError::InvalidLength));
        assert_eq!(Digest::parse(&format!("sha256:{}", "A".repeat(64))), Err(DigestError::InvalidFormat));
        assert_eq!(Digest::parse(&format!("sha256:{}", "g".repeat(64))), Err(DigestError::InvalidFormat));
        assert_eq!(Digest::parse("md5:d41d8cd98f00b204e9800998ecf8427e"), Err(DigestError::Unsupported));
        assert_eq!(Digest::parse("my.algo+x:ABC=_-"), Err(DigestError::Unsupported));
        assert_eq!(Digest::parse("MD5:abc"), Err(DigestError::InvalidFormat));
        assert_eq!(Digest::parse("md5:a b"), Err(DigestError::InvalidFormat));
        assert_eq!(Digest::parse("a..b:abc"), Err(DigestError::InvalidFormat));
        assert_eq!(DigestError::InvalidLength.to_string(), "invalid checksum digest length");
    }

    #[test]
    fn digest_writer_hashes_and_counts_what_reached_the_sink() {
        let mut w = DigestWriter::new(Vec::new(), DigestAlgorithm::Sha256);
        w.write_all(b"ab").unwrap();
        w.write_all(b"c").unwrap();
        assert_eq!(w.written(), 3);
        let (inner, digest, n) = w.finish();
        assert_eq!(inner, b"abc");
        assert_eq!(n, 3);
        assert!(digest.verify_reader(&b"abc"[..]).unwrap());
        assert!(!digest.verify_reader(&b"abd"[..]).unwrap());
    }
}
