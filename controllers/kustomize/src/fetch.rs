//! Downloading a source's artifact and unpacking it (fluxcd/pkg `http/fetch`'s
//! `ArchiveFetcher`): retried on transport errors and 5xx, a 404 is
//! [`FetchError::NotFound`] (the source is about to publish a new one), the digest is checked
//! before anything is extracted, and extraction is confined and size-limited.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use eddy_artifact::archive::{ExtractLimits, extract};
use eddy_artifact::digest::{Digest, Digester};

/// How many times a download is retried (as the fetcher's default).
pub const RETRIES: u32 = 9;

/// Why fetching failed. Texts follow the fetcher's.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered 404.
    #[error("artifact not found")]
    NotFound,
    /// The request failed after the retries.
    #[error("failed to download archive, error: {0}")]
    Download(String),
    /// The server answered another non-200 status.
    #[error("failed to download archive from {url}, status: {status}")]
    Status {
        /// The artifact URL.
        url: String,
        /// The status line.
        status: String,
    },
    /// The digest of the artifact is not what the source published.
    #[error("failed to verify artifact: computed digest doesn't match '{0}'")]
    Digest(String),
    /// The published digest cannot be parsed.
    #[error("failed to verify artifact: {0}")]
    InvalidDigest(String),
    /// The archive could not be extracted.
    #[error("failed to extract archive (check whether file size exceeds max download size) error: {0}")]
    Extract(String),
    /// The temporary file could not be written.
    #[error("failed to write archive: {0}")]
    Io(#[from] std::io::Error),
}

/// Downloads `url` into `dir` (a temporary file next to it), verifies `digest`, and extracts
/// the tarball into `dir`.
///
/// # Errors
/// [`FetchError`].
pub async fn fetch(
    client: &reqwest::Client,
    url: &str,
    digest: &str,
    dir: &Path,
    limits: ExtractLimits,
) -> Result<(), FetchError> {
    let expected = Digest::parse(digest).map_err(|e| FetchError::InvalidDigest(e.to_string()))?;
    let file = tempfile::NamedTempFile::new_in(dir.parent().unwrap_or(dir))?;
    let mut attempt = 0u32;
    let computed = loop {
        match download(client, url, &file, expected.algorithm()).await {
            Ok(d) => break d,
            Err(Retry::No(e)) => return Err(e),
            Err(Retry::Yes(e)) if attempt >= RETRIES => return Err(e),
            Err(Retry::Yes(e)) => {
                tracing::debug!(url, attempt, error = %e, "artifact download failed, retrying");
                // retryablehttp's default backoff: 1 s doubling, at most 30 s.
                let delay = Duration::from_secs(1u64 << attempt.min(5)).min(Duration::from_secs(30));
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
        }
    };
    if computed.hex() != expected.hex() {
        return Err(FetchError::Digest(digest.to_owned()));
    }
    let (path, dest) = (file.path().to_path_buf(), dir.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&path)?;
        extract(std::io::BufReader::new(f), &dest, &limits).map_err(|e| FetchError::Extract(e.to_string()))?;
        Ok::<_, FetchError>(())
    })
    .await
    .map_err(|e| FetchError::Extract(e.to_string()))??;
    drop(file);
    Ok(())
}

enum Retry {
    Yes(FetchError),
    No(FetchError),
}

async fn download(
    client: &reqwest::Client,
    url: &str,
    file: &tempfile::NamedTempFile,
    algorithm: eddy_artifact::digest::DigestAlgorithm,
) -> Result<Digest, Retry> {
    let mut resp = client.get(url).send().await.map_err(|e| Retry::Yes(FetchError::Download(e.to_string())))?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(Retry::No(FetchError::NotFound));
    }
    if !status.is_success() {
        let e = FetchError::Status { url: url.to_owned(), status: status.to_string() };
        return Err(if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            Retry::Yes(e)
        } else {
            Retry::No(e)
        });
    }
    let mut out = file.reopen().map_err(|e| Retry::No(e.into()))?;
    out.set_len(0).map_err(|e| Retry::No(e.into()))?;
    let mut digester = Digester::new(algorithm);
    while let Some(chunk) = resp.chunk().await.map_err(|e| Retry::Yes(FetchError::Download(e.to_string())))? {
        digester.update(&chunk);
        out.write_all(&chunk).map_err(|e| Retry::No(e.into()))?;
    }
    out.flush().map_err(|e| Retry::No(e.into()))?;
    Ok(digester.finish())
}
