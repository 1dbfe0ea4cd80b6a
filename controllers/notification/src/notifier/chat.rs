//! Chat providers: the payloads of notification-controller's `internal/notifier/slack.go`,
//! `discord.go`, `rocket.go`, `teams.go`, `google_chat.go`, `webex.go`, `telegram.go`,
//! `lark.go`, `matrix.go`, `zulip.go` (with `markdown.go`), `zoom.go`. Go iterates metadata maps in random order; Eddy sorts by key.

use eddy_controller_runtime::events::{FluxEvent, Severity};
use reqwest::Method;
use serde_json::{Value, json};
use sha1::{Digest as _, Sha1};

use super::{NotifierError, Planned, Validator, author, lower_kind, obj};
use crate::config::ProviderConfig;
use crate::event::{go_json_bytes, hex, to_go_json};
use crate::http::Request;

fn slack_fields(event: &FluxEvent) -> Vec<Value> {
    event.metadata.iter().map(|(k, v)| json!({"title": k, "value": v, "short": false})).collect()
}

/// `SlackPayload` with one attachment.
fn slack_payload(channel: &str, username: &str, attachment: &Value) -> Value {
    json!({"channel": channel, "username": username, "icon_url": "", "icon_emoji": "", "attachments": [attachment]})
}

/// `slack.go`: an attachment colored `good`/`danger`, a fallback of the first message line,
/// bearer token when set; `chat.postMessage` answers are checked for `ok`.
pub(super) fn slack(cfg: &ProviderConfig, event: &FluxEvent) -> Vec<Planned> {
    let username = if cfg.username.is_empty() { event.reporting_controller.as_str() } else { &cfg.username };
    let color = if event.severity == Severity::Error { "danger" } else { "good" };
    let author = author(event);
    let first = event.message.split('\n').next().unwrap_or_default();
    let attachment = json!({
        "fallback": format!("{author}: {first}"), "color": color, "author_name": author,
        "text": event.message, "mrkdwn_in": ["text"], "fields": slack_fields(event),
    });
    let mut req = Request::json(&cfg.url, &slack_payload(&cfg.channel, username, &attachment));
    if !cfg.token.is_empty() {
        req = req.header("Authorization", format!("Bearer {}", cfg.token));
    }
    let validator =
        if cfg.url == "https://slack.com/api/chat.postMessage" { Validator::SlackOk } else { Validator::Any2xx };
    vec![Planned { request: req, validator }]
}

/// `discord.go`: Slack formatting on the hook URL with `/slack` appended.
pub(super) fn discord(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Vec<Planned>, NotifierError> {
    let mut url = url::Url::parse(&cfg.url).map_err(|_| NotifierError::InvalidUrl("Discord hook"))?;
    if !cfg.url.ends_with("/slack") {
        let path = format!("{}/slack", url.path().trim_end_matches('/'));
        url.set_path(&path);
    }
    let username = if cfg.username.is_empty() { event.reporting_controller.as_str() } else { &cfg.username };
    let color = if event.severity == Severity::Error { "danger" } else { "good" };
    let attachment = json!({
        "fallback": "", "color": color, "author_name": author(event),
        "text": event.message, "mrkdwn_in": ["text"], "fields": slack_fields(event),
    });
    // Discord's payload has no channel even when one is set (upstream leaves it empty).
    Ok(vec![Planned::any(Request::json(url.as_str(), &slack_payload("", username, &attachment)))])
}

/// `rocket.go`: Slack format with Rocket's colors, channel and username as given.
pub(super) fn rocket(cfg: &ProviderConfig, event: &FluxEvent) -> Vec<Planned> {
    let color = if event.severity == Severity::Error { "#FF0000" } else { "#0076D7" };
    let attachment = json!({
        "fallback": "", "color": color, "author_name": author(event),
        "text": event.message, "mrkdwn_in": ["text"], "fields": slack_fields(event),
    });
    vec![Planned::any(Request::json(&cfg.url, &slack_payload(&cfg.channel, &cfg.username, &attachment)))]
}

/// `teams.go`: an Adaptive Card (1.4), or the deprecated MessageCard for
/// `*.webhook.office.com` hosts.
pub(super) fn msteams(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Vec<Planned>, NotifierError> {
    let url = url::Url::parse(&cfg.url).map_err(|_| NotifierError::InvalidUrl("MS Teams webhook"))?;
    let name = author(event);
    let legacy = url.host_str().is_some_and(|h| h.ends_with(".webhook.office.com"));
    let payload = if legacy {
        let facts: Vec<Value> = event.metadata.iter().map(|(k, v)| json!({"name": k, "value": v})).collect();
        let color = if event.severity == Severity::Error { "FF0000" } else { "0076D7" };
        json!({
            "@type": "MessageCard", "@context": "http://schema.org/extensions", "themeColor": color,
            "summary": name,
            "sections": [{"activityTitle": event.message, "activitySubtitle": name, "facts": facts}],
        })
    } else {
        let mut facts = Vec::new();
        if let Some(s) = event.metadata.get("summary") {
            facts.push(json!({"title": "summary", "value": s}));
        }
        facts.extend(
            event.metadata.iter().filter(|(k, _)| *k != "summary").map(|(k, v)| json!({"title": k, "value": v})),
        );
        let mut message = serde_json::Map::new();
        message.insert("type".into(), "TextBlock".into());
        message.insert("text".into(), event.message.clone().into());
        if event.severity == Severity::Error {
            message.insert("color".into(), "attention".into());
        }
        message.insert("wrap".into(), true.into());
        let mut fact_set = json!({"type": "FactSet"});
        if !facts.is_empty() {
            fact_set["facts"] = Value::Array(facts);
        }
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard", "version": "1.4",
                    "body": [{"type": "Container", "items": [
                        {"type": "TextBlock", "text": name, "size": "large", "weight": "bolder", "wrap": true},
                        Value::Object(message),
                        fact_set,
                    ]}],
                    "msteams": {"width": "Full"},
                },
            }],
        })
    };
    Ok(vec![Planned::any(Request::json(&cfg.url, &payload))])
}

/// `google_chat.go`: a card with the object as title, the controller as subtitle, the message
/// (red for errors) and one key/value widget per metadata entry.
pub(super) fn googlechat(cfg: &ProviderConfig, event: &FluxEvent) -> Vec<Planned> {
    let text = if event.severity == Severity::Error {
        format!("<font color=\"#ff0000\">{}</font>", event.message)
    } else {
        event.message.clone()
    };
    let mut sections = vec![json!({"header": "", "widgets": [{"textParagraph": {"text": text}, "keyValue": null}]})];
    if !event.metadata.is_empty() {
        let widgets: Vec<Value> = event
            .metadata
            .iter()
            .map(|(k, v)| {
                json!({"textParagraph": null, "keyValue": {"topLabel": k, "content": v, "contentMultiline": false, "bottomLabel": null, "icon": null}})
            })
            .collect();
        sections.push(json!({"header": "", "widgets": widgets}));
    }
    let payload = json!({"cards": [{
        "header": {"title": author(event), "subtitle": event.reporting_controller, "imageUrl": null, "imageStyle": null},
        "sections": sections,
    }]});
    vec![Planned::any(Request::json(&cfg.url, &payload))]
}

/// `webex.go`: Markdown with an emoji per severity, bearer token.
pub(super) fn webex(cfg: &ProviderConfig, event: &FluxEvent) -> Vec<Planned> {
    let emoji = if event.severity == Severity::Error { "💣" } else { "✅" };
    let mut md = format!("{emoji} **{}**\n{}\n", author(event), event.message);
    for (k, v) in &event.metadata {
        md.push_str(&format!(">**{k}**: {v}\n"));
    }
    let mut payload = serde_json::Map::new();
    if !cfg.channel.is_empty() {
        payload.insert("roomId".into(), cfg.channel.clone().into());
    }
    payload.insert("markdown".into(), md.into());
    let req = Request::json(&cfg.url, &Value::Object(payload)).header("Authorization", format!("Bearer {}", cfg.token));
    vec![Planned::any(req)]
}

/// Telegram's MarkdownV2 escaping (`escapeString`).
fn telegram_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.-_[]()~>`#+=|{}!*".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `telegram.go`: `sendMessage` on the bot API with MarkdownV2, `chat:thread` channels.
/// The API base is fixed upstream; Eddy takes `spec.address` when one is given (tests).
pub(super) fn telegram(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Vec<Planned>, NotifierError> {
    if cfg.channel.is_empty() {
        return Err(NotifierError::Config("empty Telegram channel".into()));
    }
    if cfg.token.is_empty() {
        return Err(NotifierError::Config("empty Telegram token".into()));
    }
    let emoji = if event.severity == Severity::Error { "🚨" } else { "💫" };
    let o = &event.involved_object;
    let heading = format!("{emoji} {}/{}/{}", lower_kind(event), obj(&o.name), obj(&o.namespace));
    let mut metadata = String::new();
    for (k, v) in &event.metadata {
        metadata.push_str(&format!("\\- *{}*: {}\n", telegram_escape(k), telegram_escape(v)));
    }
    let text = format!("*{}*\n{}\n{}", telegram_escape(&heading), telegram_escape(&event.message), metadata);
    let (chat, thread) = match cfg.channel.split_once(':') {
        Some((c, t)) => (c, Some(t)),
        None => (cfg.channel.as_str(), None),
    };
    let mut payload = serde_json::Map::new();
    payload.insert("chat_id".into(), chat.into());
    if let Some(t) = thread.filter(|t| !t.is_empty()) {
        payload.insert("message_thread_id".into(), t.into());
    }
    payload.insert("text".into(), text.into());
    payload.insert("parse_mode".into(), "MarkdownV2".into());
    let base = if cfg.url.is_empty() {
        "https://api.telegram.org".to_owned()
    } else {
        cfg.url.trim_end_matches('/').to_owned()
    };
    let url = format!("{base}/bot{}/sendMessage", cfg.token);
    Ok(vec![Planned::any(Request::json(&url, &Value::Object(payload)))])
}

/// `lark.go`: an interactive card.
pub(super) fn lark(cfg: &ProviderConfig, event: &FluxEvent) -> Vec<Planned> {
    let (emoji, color) = if event.severity == Severity::Error { ("🚨", "red") } else { ("💫", "turquoise") };
    let mut message = format!("**{}**\n\n", event.message);
    for (k, v) in &event.metadata {
        message.push_str(&format!("{k}: {v}\n"));
    }
    let payload = json!({
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": true},
            "header": {"title": {"tag": "plain_text", "content": format!("{emoji} {}", author(event))}, "template": color},
            "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": message}}],
        },
    });
    vec![Planned::any(Request::json(&cfg.url, &payload))]
}

/// `matrix.go`: a PUT of an `m.text` message with the sha1 of the event's JSON as
/// transaction id, bearer token.
pub(super) fn matrix(cfg: &ProviderConfig, event: &FluxEvent) -> Vec<Planned> {
    let tx = hex(&Sha1::digest(go_json_bytes(&to_go_json(event))));
    let url = format!("{}/_matrix/client/r0/rooms/{}/send/m.room.message/{tx}", cfg.url, cfg.channel);
    let emoji = if event.severity == Severity::Error { "🚨" } else { "💫" };
    let mut metadata = String::new();
    for (k, v) in &event.metadata {
        metadata.push_str(&format!("- {k}: {v}\n"));
    }
    let body = format!("{emoji} {}\n{}\n{metadata}", author(event), event.message);
    let mut req = Request::json(&url, &json!({"body": body, "msgtype": "m.text"}))
        .header("Authorization", format!("Bearer {}", cfg.token));
    req.method = Method::PUT;
    vec![Planned::any(req)]
}

/// `markdown.go` `formatMarkdownPost`: a heading, the severity's emoji with
/// `Kind/namespace/name`, the message, and the metadata (without `change_request`) as a list
/// in key order.
pub(super) fn markdown_post(event: &FluxEvent) -> String {
    let emoji = if event.severity == Severity::Error { "⚠️" } else { "ℹ️" };
    let o = &event.involved_object;
    let mut metadata = String::new();
    for (k, v) in event.metadata.iter().filter(|(k, _)| k.as_str() != "change_request") {
        metadata.push_str(&format!("* `{k}`: {v}\n"));
    }
    format!(
        "## Flux Status\n\n{emoji} {}/{}/{}\n\n{}\n\nMetadata:\n{metadata}",
        obj(&o.kind),
        obj(&o.namespace),
        obj(&o.name),
        event.message
    )
}

/// Go's `url.QueryEscape`: unreserved bytes as they are, space as `+`, the rest `%XX`.
fn go_query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `zulip.go`: a stream message to `<address>/api/v1/messages` (the address's path replaced),
/// form-encoded as Go's `url.Values` (keys sorted), `channel` read as `<stream>/<topic>`, basic
/// auth with the Provider's username and password.
pub(super) fn zulip(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Vec<Planned>, NotifierError> {
    let mut url = url::Url::parse(&cfg.url).map_err(|_| NotifierError::InvalidUrl("Zulip endpoint"))?;
    url.set_path("/api/v1/messages");
    let (stream, topic) = match cfg.channel.split_once('/') {
        Some((stream, topic)) if !stream.is_empty() && !topic.is_empty() => (stream, topic),
        _ => {
            return Err(NotifierError::Config(format!(
                "invalid Zulip channel format, expected <channel>/<topic>, got '{}'",
                cfg.channel
            )));
        }
    };
    let fields = [
        ("content", markdown_post(event)),
        ("to", stream.to_owned()),
        ("topic", topic.to_owned()),
        ("type", "stream".to_owned()),
    ];
    let body = fields.iter().map(|(k, v)| format!("{k}={}", go_query_escape(v))).collect::<Vec<_>>().join("&");
    let mut req = Request {
        method: Method::POST,
        url: url.to_string(),
        headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())],
        basic_auth: None,
        body: body.into_bytes(),
    };
    if !cfg.username.is_empty() || !cfg.password.is_empty() {
        req.basic_auth = Some((cfg.username.clone(), cfg.password.clone()));
    }
    Ok(vec![Planned::any(req)])
}

/// `zoom.go`: Zoom Team Chat's incoming webhook in its rich format (`?format=full` added, the
/// query re-encoded as Go's `url.Values`, unless the URL pins a format): the object as head,
/// the severity as sub-head, the message and the metadata as fields; the verification token
/// as the raw `Authorization` header.
pub(super) fn zoom(cfg: &ProviderConfig, event: &FluxEvent) -> Result<Vec<Planned>, NotifierError> {
    let mut url = url::Url::parse(&cfg.url).map_err(|_| NotifierError::InvalidUrl("Zoom incoming webhook"))?;
    if cfg.token.is_empty() {
        return Err(NotifierError::Config("empty Zoom verification token".into()));
    }
    let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    if !pairs.iter().any(|(k, v)| k == "format" && !v.is_empty()) {
        pairs.retain(|(k, _)| k != "format");
        pairs.push(("format".into(), "full".into()));
        // Go's Values.Encode: keys sorted, a key's values in order.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let query = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", go_query_escape(k), go_query_escape(v)))
            .collect::<Vec<_>>()
            .join("&");
        url.set_query(Some(&query));
    }
    let mut body = vec![if event.message.is_empty() {
        json!({"type": "message"})
    } else {
        json!({"type": "message", "text": event.message})
    }];
    if !event.metadata.is_empty() {
        let items: Vec<Value> = event.metadata.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
        body.push(json!({"type": "fields", "items": items}));
    }
    let payload = json!({"content": {
        "head": {"text": author(event), "sub_head": {"text": event.severity.as_str()}},
        "body": body,
    }});
    let req = Request::json(url.as_str(), &payload).header("Authorization", cfg.token.clone());
    Ok(vec![Planned::any(req)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_escapes_markdown_v2() {
        assert_eq!(telegram_escape("a.b-c_d!"), "a\\.b\\-c\\_d\\!");
        assert_eq!(telegram_escape("x\\y"), "x\\\\y");
    }
}
