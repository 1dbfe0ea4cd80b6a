//! Providers: turning an event into the requests upstream's notifier for the Provider's type
//! sends (`internal/notifier/*.go`, `factory.go`), and sending them.
//!
//! Each provider is a pure function from the resolved [`ProviderConfig`] and the event to
//! the planned requests, so payloads can be checked without a network; [`Notifier::post`]
//! sends them in order with upstream's retry policy, bounded by the provider's timeout.

mod alerting;
mod chat;
mod comment;
mod eventhub;
mod forge;
mod git;
mod nats;
mod otel;
mod pubsub;
mod sentry;

use eddy_controller_runtime::events::FluxEvent;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::config::ProviderConfig;
use crate::event::{hex, to_go_json};
use crate::http::{self, HttpError, Request, RetryPolicy};

pub use self::alerting::describe_reason;
pub use self::git::{commit_status_key, parse_git_address};

/// The header naming the sending controller (`NotificationHeader`).
pub const NOTIFICATION_HEADER: &str = "gotk-component";

/// The provider types Eddy delivers to: every type of the Provider CRD's enum. Any other
/// type fails with [`NotifierError::Unsupported`].
pub const SUPPORTED: &[&str] = &[
    "generic",
    "generic-hmac",
    "slack",
    "discord",
    "rocket",
    "msteams",
    "googlechat",
    "webex",
    "telegram",
    "lark",
    "matrix",
    "zulip",
    "zoom",
    "opsgenie",
    "alertmanager",
    "grafana",
    "pagerduty",
    "datadog",
    "nats",
    "github",
    "gitlab",
    "gitea",
    "githubdispatch",
    "bitbucket",
    "bitbucketserver",
    "azuredevops",
    "sentry",
    "incident.io",
    "googlepubsub",
    "otel",
    "azureeventhub",
    "githubpullrequestcomment",
    "gitlabmergerequestcomment",
    "giteapullrequestcomment",
];

/// Why a notification could not be built or delivered. Never holds a token or an address.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    /// The provider type is not one Flux knows (the CRD's enum keeps these out of the API).
    #[error("provider {0} not supported")]
    Unsupported(String),
    /// The address is not a valid URL.
    #[error("invalid {0} URL")]
    InvalidUrl(&'static str),
    /// The Provider lacks something its type needs.
    #[error("{0}")]
    Config(String),
    /// The event lacks something the provider needs (commit-status providers).
    #[error("{0}")]
    Event(String),
    /// Delivery failed.
    #[error("postMessage failed: request failed: {0}")]
    Http(#[from] HttpError),
    /// The provider's timeout elapsed.
    #[error("postMessage failed: context deadline exceeded after {0:?}")]
    Timeout(std::time::Duration),
}

/// How a 2xx answer is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validator {
    /// Any 2xx is success.
    Any2xx,
    /// Slack's `chat.postMessage`: the JSON answer must say `"ok": true`.
    SlackOk,
}

/// One request a provider sends.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub(crate) request: Request,
    pub(crate) validator: Validator,
}

impl Planned {
    fn any(request: Request) -> Self {
        Self { request, validator: Validator::Any2xx }
    }
}

/// `Option<String>` field of an object reference, or empty.
fn obj(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or_default()
}

/// The involved object's kind, lower case.
fn lower_kind(event: &FluxEvent) -> String {
    obj(&event.involved_object.kind).to_lowercase()
}

/// `kind/name.namespace` with the kind in lower case, as most chat providers title a message.
fn author(event: &FluxEvent) -> String {
    let o = &event.involved_object;
    format!("{}/{}.{}", lower_kind(event), obj(&o.name), obj(&o.namespace))
}

/// `forwarder.go`: the event as JSON, `gotk-component`, the secret's headers, and for
/// `generic-hmac` an `X-Signature: sha256=<hex HMAC of the body>` keyed by the token.
fn generic(cfg: &ProviderConfig, event: &FluxEvent, hmac_key: Option<&str>) -> Result<Vec<Planned>, NotifierError> {
    url::Url::parse(&cfg.url).map_err(|_| NotifierError::InvalidUrl("hook"))?;
    let mut req =
        Request::json(&cfg.url, &to_go_json(event)).header(NOTIFICATION_HEADER, event.reporting_controller.clone());
    for (k, v) in &cfg.headers {
        req = req.header(k, v.clone());
    }
    if let Some(key) = hmac_key {
        if key.is_empty() {
            return Err(NotifierError::Config("HMAC key is empty".into()));
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
            .map_err(|_| NotifierError::Config("HMAC key is empty".into()))?;
        mac.update(&req.body);
        req = req.header("X-Signature", format!("sha256={}", hex(&mac.finalize().into_bytes())));
    }
    Ok(vec![Planned::any(req)])
}

/// What a provider does for an event.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    /// Nothing (e.g. a `Progressing` event for a commit status).
    Skip,
    /// Plain requests, in order.
    Requests(Vec<Planned>),
    /// A commit status: list, then create unless identical.
    Status(Box<git::StatusPlan>),
    /// A NATS publication.
    Nats(Box<nats::NatsPlan>),
    /// A Pub/Sub publication (with its token exchange).
    PubSub(Box<pubsub::PubSubPlan>),
    /// A change-request comment: find ours by its marker, then edit or create it.
    Comment(Box<comment::CommentPlan>),
}

/// A notifier for one Provider.
#[derive(Debug, Clone)]
pub struct Notifier {
    config: ProviderConfig,
    policy: RetryPolicy,
}

impl Notifier {
    /// A notifier for `config` (its `provider_type` decides the payload).
    ///
    /// # Errors
    /// [`NotifierError::Unsupported`] for a type Eddy does not deliver to.
    pub fn new(config: ProviderConfig, policy: RetryPolicy) -> Result<Self, NotifierError> {
        if !SUPPORTED.contains(&config.provider_type.as_str()) {
            return Err(NotifierError::Unsupported(config.provider_type));
        }
        Ok(Self { config, policy })
    }

    /// The requests this notifier sends for `event` (empty: nothing to send).
    ///
    /// # Errors
    /// [`NotifierError`] when the Provider or the event lacks what the type needs.
    pub(crate) fn plan(&self, event: &FluxEvent) -> Result<Plan, NotifierError> {
        let cfg = &self.config;
        let needs_url =
            |name: &'static str| url::Url::parse(&cfg.url).map(|_| ()).map_err(|_| NotifierError::InvalidUrl(name));
        let requests = match cfg.provider_type.as_str() {
            "generic" => generic(cfg, event, None)?,
            "generic-hmac" => generic(cfg, event, Some(&cfg.token))?,
            "slack" => {
                needs_url("Slack hook")?;
                chat::slack(cfg, event)
            }
            "discord" => chat::discord(cfg, event)?,
            "rocket" => {
                needs_url("Rocket hook")?;
                chat::rocket(cfg, event)
            }
            "msteams" => chat::msteams(cfg, event)?,
            "googlechat" => {
                needs_url("Google Chat hook")?;
                chat::googlechat(cfg, event)
            }
            "webex" => {
                needs_url("Webex hook")?;
                chat::webex(cfg, event)
            }
            "telegram" => chat::telegram(cfg, event)?,
            "lark" => {
                needs_url("Lark hook")?;
                chat::lark(cfg, event)
            }
            "matrix" => {
                needs_url("Matrix homeserver")?;
                chat::matrix(cfg, event)
            }
            "zulip" => chat::zulip(cfg, event)?,
            "zoom" => chat::zoom(cfg, event)?,
            "opsgenie" => {
                needs_url("Opsgenie hook")?;
                alerting::opsgenie(cfg, event)?
            }
            "alertmanager" => {
                needs_url("Alertmanager")?;
                alerting::alertmanager(cfg, event)
            }
            "grafana" => {
                needs_url("Grafana")?;
                alerting::grafana(cfg, event)
            }
            "pagerduty" => alerting::pagerduty(cfg, event)?,
            "datadog" => alerting::datadog(cfg, event)?,
            "incident.io" => alerting::incidentio(cfg, event)?,
            "sentry" => sentry::sentry(cfg, event)?,
            "otel" => otel::otel(cfg, event)?,
            "azureeventhub" => eventhub::eventhub(cfg, event)?,
            "googlepubsub" => {
                let payload = crate::event::go_json_bytes(&to_go_json(event));
                return Ok(Plan::PubSub(Box::new(pubsub::plan(cfg, &payload)?)));
            }
            "nats" => {
                let payload = crate::event::go_json_bytes(&to_go_json(event));
                return Ok(Plan::Nats(Box::new(nats::plan(cfg, payload)?)));
            }
            other => return git::plan(other, cfg, event),
        };
        Ok(Plan::Requests(requests))
    }

    /// Sends `event`, retrying as upstream, within the provider's timeout.
    ///
    /// # Errors
    /// [`NotifierError`].
    pub async fn post(&self, event: &FluxEvent) -> Result<(), NotifierError> {
        let plan = self.plan(event)?;
        if let Plan::Nats(p) = &plan {
            return nats::publish(p, self.config.timeout).await;
        }
        let client = http::client(&self.config.transport)?;
        let timeout = self.config.timeout;
        let work = async {
            match plan {
                Plan::Skip | Plan::Nats(_) => {}
                Plan::Requests(planned) => {
                    for p in &planned {
                        let resp = http::send(&client, &p.request, self.policy).await?;
                        if p.validator == Validator::SlackOk {
                            check_slack(&resp.body)?;
                        }
                    }
                }
                Plan::Status(status) => {
                    let list = match http::send(&client, &status.list, self.policy).await {
                        Ok(listed) => serde_json::from_slice(&listed.body).unwrap_or_default(),
                        Err(HttpError::Status { status: 404, .. }) if status.missing_ok => serde_json::Value::Null,
                        Err(e) => return Err(NotifierError::Event(format!("{}: {e}", status.list_error))),
                    };
                    if !(status.duplicate)(&list, &status.ours) {
                        http::send(&client, &status.create, self.policy)
                            .await
                            .map_err(|e| NotifierError::Event(format!("{}: {e}", status.create_error)))?;
                    }
                }
                Plan::Comment(c) => comment::post(&client, &c, self.policy).await?,
                Plan::PubSub(p) => pubsub::publish(&client, &p, self.policy).await?,
            }
            Ok::<(), NotifierError>(())
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(NotifierError::Timeout(timeout)),
        }
    }
}

fn check_slack(body: &[u8]) -> Result<(), NotifierError> {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        ok: bool,
        #[serde(default)]
        error: String,
    }
    let a: Answer = serde_json::from_slice(body)
        .map_err(|e| HttpError::Response(format!("unable to unmarshal response body: {e}")))?;
    if a.ok { Ok(()) } else { Err(HttpError::Response(format!("Slack responded with error: {}", a.error)).into()) }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_forge;
#[cfg(test)]
mod tests_telemetry;
#[cfg(test)]
mod tests_transport;
