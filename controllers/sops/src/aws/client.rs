//! The KMS and STS calls: `TrentService.Decrypt` (JSON 1.1 protocol) and `AssumeRole`
//! (query protocol), over one blocking HTTP client shared by the process.
//!
//! Errors are worded as the AWS SDK for Go v2 words them, after sops' prefix: `failed to
//! decrypt sops data key with AWS KMS: operation error KMS: Decrypt, https response error
//! StatusCode: 400, RequestID: …, InvalidCiphertextException: …`. Calls are retried up to
//! three times on throttling, 5xx answers and connection errors, as the SDK's standard
//! retryer does.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::sigv4::{self, Request};
use super::{Credentials, KmsKey};

/// Attempts per call (the SDK's standard retryer: 3).
const ATTEMPTS: u32 = 3;

/// How Eddy reaches AWS KMS: endpoint overrides and the controller's own credentials, read
/// once from the environment. Cheap to clone.
#[derive(Clone, Default)]
pub struct AwsKms {
    kms_endpoint: Option<String>,
    sts_endpoint: Option<String>,
    ambient: Option<Credentials>,
}

impl std::fmt::Debug for AwsKms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsKms")
            .field("kms_endpoint", &self.kms_endpoint)
            .field("sts_endpoint", &self.sts_endpoint)
            .field("ambient_credentials", &self.ambient.is_some())
            .finish()
    }
}

impl AwsKms {
    /// From the process environment: `AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL_STS`,
    /// `AWS_ENDPOINT_URL`, and the static credentials `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    #[must_use]
    pub fn from_env() -> Self {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// As [`AwsKms::from_env`], from any variable lookup.
    #[must_use]
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let endpoint = |service: &str| {
            var(&format!("AWS_ENDPOINT_URL_{service}")).or_else(|| var("AWS_ENDPOINT_URL")).filter(|v| !v.is_empty())
        };
        AwsKms { kms_endpoint: endpoint("KMS"), sts_endpoint: endpoint("STS"), ambient: Credentials::from_env(&var) }
    }

    /// Decrypts a data key; `secret` are the decryption Secret's credentials, if any (they
    /// take precedence over the environment's).
    ///
    /// # Errors
    /// A message for the key's failure entry, never containing key material.
    pub fn decrypt(&self, key: &KmsKey, secret: Option<&Credentials>) -> Result<Zeroizing<Vec<u8>>, String> {
        let ciphertext =
            STANDARD.decode(key.enc.trim()).map_err(|e| format!("error base64-decoding encrypted data key: {e}"))?;
        let region = key.region().ok_or_else(|| format!("no valid ARN found in '{}'", key.arn))?;
        if !key.aws_profile.is_empty() {
            return Err(format!(
                "could not load AWS config: aws_profile '{}' is not supported by Eddy (no shared config files)",
                key.aws_profile
            ));
        }
        let base = secret.or(self.ambient.as_ref()).ok_or_else(|| {
            "failed to decrypt sops data key with AWS KMS: no AWS credentials (the decryption Secret has no \
             'sops.aws-kms' entry and Eddy's environment sets no AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
                .to_owned()
        })?;
        let assumed;
        let credentials = if key.role.is_empty() {
            base
        } else {
            assumed = self.assume_role(region, &key.role, base)?;
            &assumed
        };
        let mut body = serde_json::Map::new();
        body.insert("CiphertextBlob".into(), STANDARD.encode(&ciphertext).into());
        if !key.context.is_empty() {
            body.insert("EncryptionContext".into(), serde_json::to_value(&key.context).unwrap_or_default());
        }
        body.insert("KeyId".into(), key.arn.clone().into());
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let url = self.kms_endpoint.clone().unwrap_or_else(|| default_endpoint("kms", region));
        let headers = [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "TrentService.Decrypt")];
        let answer = call(&url, "kms", region, &headers, &body, credentials)
            .map_err(|e| format!("failed to decrypt sops data key with AWS KMS: operation error KMS: Decrypt, {e}"))?;
        #[derive(serde::Deserialize)]
        struct Decrypted {
            #[serde(rename = "Plaintext")]
            plaintext: String,
        }
        let decoded: Decrypted = serde_json::from_slice(&answer).map_err(|_| {
            "failed to decrypt sops data key with AWS KMS: operation error KMS: Decrypt, deserialization failed: \
             the answer has no Plaintext"
                .to_owned()
        })?;
        let plaintext = Zeroizing::new(decoded.plaintext);
        STANDARD.decode(plaintext.as_bytes()).map(Zeroizing::new).map_err(|_| {
            "failed to decrypt sops data key with AWS KMS: operation error KMS: Decrypt, deserialization failed: \
             Plaintext is not base64"
                .to_owned()
        })
    }

    /// STS `AssumeRole` with session name `sops@<hostname>` (sanitised, at most 64
    /// characters), as sops' `createSTSConfig`.
    fn assume_role(&self, region: &str, role: &str, base: &Credentials) -> Result<Credentials, String> {
        let failed = |e: String| format!("failed to assume role '{role}': operation error STS: AssumeRole, {e}");
        let body = form(&[
            ("Action", "AssumeRole"),
            ("RoleArn", role),
            ("RoleSessionName", &session_name()),
            ("Version", "2011-06-15"),
        ]);
        let url = self.sts_endpoint.clone().unwrap_or_else(|| default_endpoint("sts", region));
        let headers = [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")];
        let answer = call(&url, "sts", region, &headers, body.as_bytes(), base).map_err(failed)?;
        let text = String::from_utf8_lossy(&answer);
        let field = |name: &str| xml_text(&text, name).map(str::to_owned);
        match (field("AccessKeyId"), field("SecretAccessKey"), field("SessionToken")) {
            (Some(access_key_id), Some(secret_access_key), Some(session_token)) => {
                Ok(Credentials { access_key_id, secret_access_key, session_token })
            }
            _ => Err(failed("deserialization failed: the answer has no Credentials".into())),
        }
    }
}

/// `https://<service>.<region>.amazonaws.com` (`.amazonaws.com.cn` in `cn-*` regions).
fn default_endpoint(service: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    format!("https://{service}.{region}.{suffix}")
}

/// The process's shared client (built on first use, never dropped: a blocking client must
/// not be dropped inside an async runtime).
fn http() -> Result<&'static reqwest::blocking::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::blocking::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let mut roots = rustls::RootCertStore::empty();
            let _ = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            let tls = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
            reqwest::blocking::Client::builder()
                .use_preconfigured_tls(tls)
                .timeout(Duration::from_secs(30))
                .connect_timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| format!("cannot build an HTTP client: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// One signed POST with retries; the body of a 2xx answer, else the SDK-style error text.
fn call(
    url: &str,
    service: &str,
    region: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    credentials: &Credentials,
) -> Result<Vec<u8>, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("invalid endpoint '{url}': {e}"))?;
    let host = match (parsed.host_str(), parsed.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => return Err(format!("invalid endpoint '{url}': no host")),
    };
    let path = if parsed.path().is_empty() { "/" } else { parsed.path() };
    let client = http()?;
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(200 << attempt));
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let amz_date = sigv4::amz_date(now);
        let request =
            Request { method: "POST", host: &host, path, headers, payload: body, region, service, amz_date: &amz_date };
        let mut builder = client.post(parsed.clone()).body(body.to_vec());
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        for (k, v) in sigv4::sign(&request, credentials) {
            let mut value = reqwest::header::HeaderValue::from_str(&v)
                .map_err(|_| "credentials contain characters not allowed in an HTTP header".to_owned())?;
            value.set_sensitive(true);
            builder = builder.header(k, value);
        }
        let response = match builder.send() {
            Ok(r) => r,
            Err(e) => {
                last = format!("https response error: {}", transport_error(e));
                continue;
            }
        };
        let status = response.status();
        let request_id = ["x-amzn-requestid", "x-amz-request-id"]
            .iter()
            .find_map(|h| response.headers().get(*h).and_then(|v| v.to_str().ok()).map(str::to_owned))
            .unwrap_or_default();
        let bytes = response.bytes().map_err(|e| format!("https response error: {}", transport_error(e)))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let (code, message) = service_error(&bytes);
        last =
            format!("https response error StatusCode: {}, RequestID: {request_id}, {code}: {message}", status.as_u16());
        let retryable = status.is_server_error()
            || status.as_u16() == 429
            || code.contains("Throttl")
            || code == "RequestLimitExceeded"
            || code == "TooManyRequestsException";
        if !retryable {
            break;
        }
    }
    Err(last)
}

/// A transport error without the URL's query or anything the request carried.
fn transport_error(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The error code and message of an AWS error answer: JSON 1.1 (`__type`, `message`) or
/// query-protocol XML (`<Code>`, `<Message>`).
fn service_error(body: &[u8]) -> (String, String) {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let code = v.get("__type").and_then(|t| t.as_str()).unwrap_or("UnknownError");
        let code = code.rsplit('#').next().unwrap_or(code).to_owned();
        let message = ["message", "Message"].iter().find_map(|k| v.get(*k).and_then(|m| m.as_str())).unwrap_or("");
        return (code, message.to_owned());
    }
    let text = String::from_utf8_lossy(body);
    (xml_text(&text, "Code").unwrap_or("UnknownError").to_owned(), xml_text(&text, "Message").unwrap_or("").to_owned())
}

/// The text of the first `<name>…</name>` element.
fn xml_text<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{name}>"))? + start;
    Some(text[start..end].trim())
}

/// `application/x-www-form-urlencoded` as the SDK's query protocol writes it.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `sops@<hostname>`, the hostname reduced to `[\w+=,.@-]` and the whole to 64 characters.
fn session_name() -> String {
    let host = rustix::system::uname().nodename().to_string_lossy().into_owned();
    let clean: String = host.chars().filter(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(*c)).collect();
    let mut name = format!("sops@{clean}");
    name.truncate(64);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_from_the_environment() {
        let vars = |k: &str| match k {
            "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:1".to_owned()),
            "AWS_ENDPOINT_URL_KMS" => Some("http://127.0.0.1:2".to_owned()),
            _ => None,
        };
        let kms = AwsKms::from_vars(vars);
        assert_eq!(kms.kms_endpoint.as_deref(), Some("http://127.0.0.1:2"));
        assert_eq!(kms.sts_endpoint.as_deref(), Some("http://127.0.0.1:1"));
        assert!(kms.ambient.is_none());
        assert_eq!(default_endpoint("kms", "eu-west-1"), "https://kms.eu-west-1.amazonaws.com");
        assert_eq!(default_endpoint("sts", "cn-north-1"), "https://sts.cn-north-1.amazonaws.com.cn");
    }

    #[test]
    fn reads_service_errors() {
        let json = br#"{"__type":"com.amazonaws.kms#InvalidCiphertextException","message":"bad"}"#;
        assert_eq!(service_error(json), ("InvalidCiphertextException".into(), "bad".into()));
        let xml = b"<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>";
        assert_eq!(service_error(xml), ("AccessDenied".into(), "no".into()));
    }

    #[test]
    fn session_names_are_sanitised() {
        let name = session_name();
        assert!(name.starts_with("sops@"));
        assert!(name.len() <= 64);
        assert_eq!(form(&[("RoleArn", "arn:aws:iam::1:role/a b")]), "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b");
    }

    #[test]
    fn missing_credentials_are_named() {
        let kms = AwsKms::default();
        let key = KmsKey { arn: "arn:aws:kms:us-east-1:1:key/x".into(), enc: "AAAA".into(), ..KmsKey::default() };
        let err = kms.decrypt(&key, None).unwrap_err();
        assert!(err.contains("no AWS credentials"), "{err}");
        let bad = KmsKey { arn: "nope".into(), ..key.clone() };
        assert_eq!(kms.decrypt(&bad, None).unwrap_err(), "no valid ARN found in 'nope'");
        let profile = KmsKey { aws_profile: "dev".into(), ..key };
        assert!(kms.decrypt(&profile, None).unwrap_err().contains("aws_profile 'dev'"));
    }
}
