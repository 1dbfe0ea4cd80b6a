//! Azure Event Hubs (`internal/notifier/azure_eventhub.go`): the event as JSON is the body of
//! one event sent to the hub. With a connection string as address (it contains
//! `SharedAccessKey`) the request is signed with a shared access signature; otherwise the
//! address is the hub's name, the channel its namespace (`<ns>` gets `.servicebus.windows.net`,
//! or the sovereign cloud's suffix from `AZURE_AUTHORITY_HOST`) and the token a JWT.
//!
//! Upstream sends over AMQP with the Azure SDK; Eddy uses the Event Hubs REST API's "send
//! event" (`POST https://<namespace>/<hub>/messages`), which delivers the same event body.
//! Without a token upstream falls back to Azure workload identity, which Eddy does not
//! implement.

use base64::Engine as _;
use eddy_controller_runtime::events::FluxEvent;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use super::{NotifierError, Planned};
use crate::config::ProviderConfig;
use crate::event::{go_json_bytes, to_go_json};
use crate::http::Request;

/// How long a shared access signature Eddy makes stays valid (seconds).
const SAS_TTL: i64 = 3600;

fn bad(why: &str) -> NotifierError {
    NotifierError::Config(format!("invalid authentication options: {why}"))
}

/// The parts of an Event Hubs connection string Eddy needs.
struct ConnectionString {
    host: String,
    key_name: String,
    key: String,
    hub: String,
}

fn parse_connection_string(s: &str) -> Result<ConnectionString, NotifierError> {
    let fail = |why: &str| NotifierError::Config(format!("failed to create a eventhub using SAS: {why}"));
    let mut endpoint = None;
    let (mut key_name, mut key, mut hub) = (None, None, None);
    for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = part.split_once('=') else { continue };
        match k.to_ascii_lowercase().as_str() {
            "endpoint" => endpoint = Some(v.to_owned()),
            "sharedaccesskeyname" => key_name = Some(v.to_owned()),
            "sharedaccesskey" => key = Some(v.to_owned()),
            "entitypath" => hub = Some(v.to_owned()),
            _ => {}
        }
    }
    let endpoint = endpoint.ok_or_else(|| fail("connection string has no Endpoint"))?;
    let host = url::Url::parse(&endpoint)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.to_owned() + &u.port().map(|p| format!(":{p}")).unwrap_or_default()))
        .ok_or_else(|| fail("the connection string's Endpoint is not a URL"))?;
    Ok(ConnectionString {
        host,
        key_name: key_name.ok_or_else(|| fail("connection string has no SharedAccessKeyName"))?,
        key: key.ok_or_else(|| fail("connection string has no SharedAccessKey"))?,
        hub: hub.ok_or_else(|| fail("connection string has no EntityPath"))?,
    })
}

fn query_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A shared access signature for `resource` valid until `expiry` (Unix seconds).
fn sas_token(resource: &str, key_name: &str, key: &str, expiry: i64) -> Result<String, NotifierError> {
    let sr = query_escape(resource);
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
        .map_err(|_| NotifierError::Config("failed to create a eventhub using SAS: unusable SharedAccessKey".into()))?;
    mac.update(format!("{sr}\n{expiry}").as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    Ok(format!("SharedAccessSignature sr={sr}&sig={}&se={expiry}&skn={}", query_escape(&sig), query_escape(key_name)))
}

/// `ensureFullyQualifiedNamespace`.
fn fully_qualified(namespace: &str) -> String {
    if namespace.contains(".servicebus.") {
        return namespace.to_owned();
    }
    let authority = std::env::var("AZURE_AUTHORITY_HOST").unwrap_or_default();
    let suffix = if authority.contains("chinacloudapi.cn") {
        ".servicebus.chinacloudapi.cn"
    } else if authority.contains("microsoftonline.us") {
        ".servicebus.usgovcloudapi.net"
    } else {
        ".servicebus.windows.net"
    };
    format!("{namespace}{suffix}")
}

/// The send request for `event`.
pub(super) fn eventhub(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Vec<Planned>, NotifierError> {
    if cfg.url.is_empty() {
        return Err(bad("endpoint URL cannot be empty"));
    }
    let (host, hub, auth) = if cfg.url.contains("SharedAccessKey") {
        if !cfg.token.is_empty() {
            return Err(bad("jwt token and SAS authentication cannot be set at the same time"));
        }
        let cs = parse_connection_string(&cfg.url)?;
        let expiry = k8s_openapi::jiff::Timestamp::now().as_second() + SAS_TTL;
        let resource = format!("https://{}/{}", cs.host, cs.hub);
        let auth = sas_token(&resource, &cs.key_name, &cs.key, expiry)?;
        (cs.host, cs.hub, auth)
    } else {
        if cfg.token.is_empty() {
            return Err(NotifierError::Config(
                "failed to create a eventhub using managed identity: Azure workload identity is not supported; set 'token'"
                    .into(),
            ));
        }
        (fully_qualified(&cfg.channel), cfg.url.clone(), format!("Bearer {}", cfg.token))
    };
    let base = if cfg.eventhub_base.is_empty() { format!("https://{host}") } else { cfg.eventhub_base.clone() };
    let mut req =
        Request::json(&format!("{base}/{hub}/messages?timeout=60&api-version=2014-01"), &serde_json::Value::Null)
            .header("Content-Type", "application/atom+xml;type=entry;charset=utf-8")
            .header("Authorization", auth);
    req.body = go_json_bytes(&to_go_json(event));
    Ok(vec![Planned::any(req)])
}

#[cfg(test)]
mod tests {
    use super::*;

    // The signature Azure documents for Service Bus / Event Hubs SAS tokens:
    // HMAC-SHA256 over "<url-encoded resource>\n<expiry>", base64, url-encoded.
    #[test]
    fn shared_access_signature() {
        let t = sas_token("https://ns.servicebus.windows.net/hub", "send", "c2VjcmV0", 1_700_000_000).unwrap();
        assert!(t.starts_with("SharedAccessSignature sr=https%3A%2F%2Fns.servicebus.windows.net%2Fhub&sig="), "{t}");
        assert!(t.ends_with("&se=1700000000&skn=send"), "{t}");
        let sig = t.split("&sig=").nth(1).unwrap().split('&').next().unwrap();
        let sig: String = url::form_urlencoded::parse(format!("s={sig}").as_bytes()).next().unwrap().1.into_owned();
        let mut mac = Hmac::<Sha256>::new_from_slice(b"c2VjcmV0").unwrap();
        mac.update(b"https%3A%2F%2Fns.servicebus.windows.net%2Fhub\n1700000000");
        mac.verify_slice(&base64::engine::general_purpose::STANDARD.decode(sig).unwrap()).unwrap();
        assert_eq!(fully_qualified("myns"), "myns.servicebus.windows.net");
        assert_eq!(fully_qualified("myns.servicebus.usgovcloudapi.net"), "myns.servicebus.usgovcloudapi.net");
    }
}
