//! AWS Signature Version 4 for the few POST requests Eddy sends (KMS `Decrypt`, STS
//! `AssumeRole`), as the AWS SDKs sign them: the canonical request over the method, path,
//! query, the signed headers (sorted, lower-case, values trimmed) and the payload's SHA-256;
//! the string to sign over the timestamp, the credential scope and the canonical request's
//! hash; the key derived by HMAC-SHA256 over date, region, service and `aws4_request`.
//!
//! Pure: the time is an argument. `tests/aws_kms.rs` checks the result against botocore's
//! signer.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::Credentials;

/// A request to sign: everything the signature covers.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// `POST`, `GET`, …
    pub method: &'a str,
    /// The host as sent in the `Host` header (with a port when not the scheme's default).
    pub host: &'a str,
    /// The absolute path, already URI-encoded (`/` for KMS and STS).
    pub path: &'a str,
    /// Extra headers to sign besides `host`, `x-amz-date` and `x-amz-security-token`:
    /// (name, value), any case.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub payload: &'a [u8],
    /// `us-east-1`, …
    pub region: &'a str,
    /// `kms`, `sts`, …
    pub service: &'a str,
    /// The signing time as `YYYYMMDD'T'HHMMSS'Z'`.
    pub amz_date: &'a str,
}

/// The headers to add to the request: `X-Amz-Date`, `X-Amz-Security-Token` (with temporary
/// credentials) and `Authorization`.
#[must_use]
pub fn sign(request: &Request<'_>, credentials: &Credentials) -> Vec<(&'static str, String)> {
    let date = &request.amz_date[..request.amz_date.len().min(8)];
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), trim_value(v)))
        .chain([("host".to_owned(), request.host.to_owned()), ("x-amz-date".to_owned(), request.amz_date.to_owned())])
        .collect();
    if !credentials.session_token.is_empty() {
        headers.push(("x-amz-security-token".to_owned(), credentials.session_token.clone()));
    }
    headers.sort();
    let signed_headers = headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let canonical_request = format!(
        "{}\n{}\n\n{canonical_headers}\n{signed_headers}\n{}",
        request.method,
        request.path,
        hex(&Sha256::digest(request.payload))
    );
    let scope = format!("{date}/{}/{}/aws4_request", request.region, request.service);
    let string_to_sign =
        format!("AWS4-HMAC-SHA256\n{}\n{scope}\n{}", request.amz_date, hex(&Sha256::digest(canonical_request)));
    let mut key = hmac(format!("AWS4{}", credentials.secret_access_key).as_bytes(), date.as_bytes());
    for part in [request.region, request.service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
    let mut out = vec![("X-Amz-Date", request.amz_date.to_owned())];
    if !credentials.session_token.is_empty() {
        out.push(("X-Amz-Security-Token", credentials.session_token.clone()));
    }
    out.push((
        "Authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key_id
        ),
    ));
    out
}

/// `YYYYMMDD'T'HHMMSS'Z'` of a Unix time (UTC).
#[must_use]
pub fn amz_date(unix_seconds: u64) -> String {
    let days = i64::try_from(unix_seconds / 86_400).unwrap_or(0);
    let secs = unix_seconds % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", secs / 3_600, secs % 3_600 / 60, secs % 60)
}

/// Header values as the canonical request has them: outer space trimmed, inner runs of
/// spaces collapsed to one.
fn trim_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: new_from_slice cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_amz_dates() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(1_709_251_199), "20240229T235959Z");
    }

    #[test]
    fn signs_aws_documented_example() {
        // The worked example of AWS's Signature Version 4 documentation (IAM ListUsers, GET,
        // 20150830T123600Z): its published signature.
        let credentials = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: String::new(),
        };
        let date = "20150830";
        let key = [date, "us-east-1", "iam", "aws4_request"]
            .iter()
            .skip(1)
            .fold(hmac(format!("AWS4{}", credentials.secret_access_key).as_bytes(), date.as_bytes()), |k, p| {
                hmac(&k, p.as_bytes())
            });
        assert_eq!(hex(&key), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
    }

    #[test]
    fn session_tokens_are_signed() {
        let mut credentials = Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
            session_token: String::new(),
        };
        let request = Request {
            method: "POST",
            host: "kms.eu-west-1.amazonaws.com",
            path: "/",
            headers: &[("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "TrentService.Decrypt")],
            payload: b"{}",
            region: "eu-west-1",
            service: "kms",
            amz_date: "20261207T101112Z",
        };
        let plain = sign(&request, &credentials);
        assert_eq!(plain.len(), 2);
        assert!(plain[1].1.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-target,"));
        assert!(plain[1].1.starts_with("AWS4-HMAC-SHA256 Credential=AKID/20261207/eu-west-1/kms/aws4_request, "));
        credentials.session_token = "token".into();
        let temporary = sign(&request, &credentials);
        assert_eq!(temporary[1], ("X-Amz-Security-Token", "token".to_owned()));
        assert!(temporary[2].1.contains("x-amz-date;x-amz-security-token;x-amz-target"));
        assert!(!temporary[2].1.contains("secret"));
    }
}
