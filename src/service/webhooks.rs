//! Receiving a GitLab webhook delivery: authenticate it, parse it once, decide from the payload
//! alone whether it matters, and record it in one transaction (delivery id, the merge request's
//! newest event, the job). Nothing here calls GitLab or Kubernetes.
//!
//! Long on purpose: the whole ingest path (authenticate, parse once, decide, record in one
//! transaction) reads top to bottom in one place.

use std::sync::Arc;

use chrono::Duration;
use serde::Deserialize;

use super::{
    Ports, ServiceError, Settings,
    writes::{Writer, new_job},
};
use crate::{
    domain::{
        EnvironmentId, EnvironmentName, LifecycleJob, Repository, commands,
        feedback::is_own_note,
        gitlab::{CommandEvent, MergeRequestEvent, MergeRequestHook, NoteHook},
        webhook::{token_matches, verify_signature},
    },
    ports::{IngestOutcome, MergeRequestMark, WebhookIngest},
};

/// How long a delivery id is remembered to drop redeliveries.
const DEDUPE_HOURS: i64 = 48;

/// A Standard Webhooks signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
#[derive(Debug, Clone, Copy)]
pub struct Signature<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: &'a str,
}

/// One delivery as the HTTP layer received it.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// `X-Gitlab-Event`, e.g. `Merge Request Hook`.
    pub event: Option<&'a str>,
    pub token: Option<&'a str>,
    pub signature: Option<Signature<'a>>,
    /// `Idempotency-Key`, else `X-Gitlab-Event-UUID`, else `webhook-id`.
    pub delivery_id: Option<&'a str>,
    pub body: &'a [u8],
}

/// What was done with a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded, and this job queued.
    Accepted(&'static str),
    /// Authentic but irrelevant; why.
    Ignored(String),
    /// This delivery id was received before.
    Duplicate,
    /// Its merge request has a newer event already.
    Stale,
}

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    Unauthorized(String),
    /// Not JSON (`malformed-json`) or not the event it says (`malformed-event`).
    #[error("{1}")]
    Malformed(&'static str, String),
    /// The repository's deliveries are over the rate limit; how long until the next is let in.
    #[error("rate limited")]
    RateLimited(std::time::Duration),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Deliveries per repository: a token bucket each (`--webhook-rate` per second, bursts of ten
/// seconds' worth), so a leaked webhook secret cannot enqueue work at full speed.
type Limiter = governor::DefaultKeyedRateLimiter<String>;

fn limiter(per_second: u32) -> Option<Arc<Limiter>> {
    let rate = std::num::NonZeroU32::new(per_second)?;
    let burst = rate.saturating_mul(std::num::NonZeroU32::new(10).expect("10 is not 0"));
    Some(Arc::new(governor::RateLimiter::keyed(
        governor::Quota::per_second(rate).allow_burst(burst),
    )))
}

/// Just enough of any event to find its project.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    object_kind: Option<String>,
    #[serde(default)]
    project: Option<ProjectRef>,
    #[serde(default, deserialize_with = "crate::domain::whole::optional")]
    project_id: Option<u64>,
}

#[derive(Deserialize)]
struct ProjectRef {
    #[serde(deserialize_with = "crate::domain::whole::integer")]
    id: u64,
}

/// An event, parsed once into the type its header (or, without one, its `object_kind`) names.
enum Parsed {
    MergeRequest(Box<MergeRequestHook>),
    Note(Box<NoteHook>),
    Other {
        kind: String,
        project_id: Option<u64>,
    },
}

impl Parsed {
    fn project_id(&self) -> Option<u64> {
        match self {
            Parsed::MergeRequest(h) => Some(h.project.id),
            Parsed::Note(h) => Some(h.project.id),
            Parsed::Other { project_id, .. } => *project_id,
        }
    }
}

fn malformed_event(what: &str, e: serde_json::Error) -> WebhookError {
    WebhookError::Malformed("malformed-event", format!("not a GitLab {what} event: {e}"))
}

fn parse(event: Option<&str>, body: &[u8]) -> Result<Parsed, WebhookError> {
    let typed = |kind: &str, body: &[u8]| -> Result<Parsed, WebhookError> {
        match kind {
            "merge_request" => serde_json::from_slice(body)
                .map(|h| Parsed::MergeRequest(Box::new(h)))
                .map_err(|e| malformed_event("merge request", e)),
            _ => serde_json::from_slice(body)
                .map(|h| Parsed::Note(Box::new(h)))
                .map_err(|e| malformed_event("comment", e)),
        }
    };
    let not_json = |e: serde_json::Error| {
        WebhookError::Malformed("malformed-json", format!("the body is not valid JSON: {e}"))
    };
    match event {
        Some("Merge Request Hook") => {
            // Syntax errors are JSON errors; shape errors are event errors.
            typed("merge_request", body).map_err(|e| {
                match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                    Err(j) => not_json(j),
                    Ok(_) => e,
                }
            })
        }
        Some("Note Hook") => typed("note", body).map_err(|e| {
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Err(j) => not_json(j),
                Ok(_) => e,
            }
        }),
        _ => {
            let env: Envelope = serde_json::from_slice(body).map_err(not_json)?;
            match env.object_kind.as_deref() {
                Some(k @ ("merge_request" | "note")) if event.is_none() => typed(k, body),
                kind => Ok(Parsed::Other {
                    kind: kind.unwrap_or("unknown").to_owned(),
                    project_id: env.project.map(|p| p.id).or(env.project_id),
                }),
            }
        }
    }
}

/// Checks `X-Gitlab-Token`, or a Standard Webhooks signature when the repository has a key.
fn authenticate(repo: &Repository, d: &Delivery<'_>, now: i64) -> Result<(), WebhookError> {
    let refuse = |m: &str| Err(WebhookError::Unauthorized(m.to_owned()));
    if let (Some(key), Some(sig)) = (&repo.webhook_signing_key, d.signature) {
        let Some(id) = sig.id else {
            return refuse("webhook-id header missing");
        };
        let Some(ts) = sig.timestamp else {
            return refuse("webhook-timestamp header missing");
        };
        return verify_signature(key.expose(), id, ts, d.body, sig.signature, now)
            .map_err(|e| WebhookError::Unauthorized(e.to_string()));
    }
    match d.token {
        Some(token) if token_matches(token, &repo.webhook_secret_hash) => Ok(()),
        Some(_) => refuse("X-Gitlab-Token does not match this project's webhook secret"),
        None => refuse("X-Gitlab-Token (or a webhook signature) is required"),
    }
}

#[derive(Clone)]
pub struct WebhookService {
    writer: Writer,
    settings: Arc<Settings>,
    directory: Arc<super::directory::ProjectDirectory>,
    limiter: Option<Arc<Limiter>>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl WebhookService {
    pub fn new(
        ports: Ports,
        settings: Arc<Settings>,
        directory: Arc<super::directory::ProjectDirectory>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        Self {
            writer: Writer::new(ports, settings.note_window),
            limiter: limiter(settings.webhook_rate),
            settings,
            directory,
            metrics,
        }
    }

    /// Receives one delivery; answers only once its job is durably recorded.
    pub async fn receive(&self, d: Delivery<'_>) -> Result<Outcome, WebhookError> {
        if d.body.len() > self.settings.webhook_body_limit {
            return Err(WebhookError::Malformed(
                "too-large",
                format!(
                    "the body is over the {} byte limit",
                    self.settings.webhook_body_limit
                ),
            ));
        }
        let parsed = parse(d.event, d.body)?;
        let Some(project_id) = parsed.project_id() else {
            return Err(WebhookError::Malformed(
                "malformed-event",
                "the event names no project (project.id)".into(),
            ));
        };
        let ports = &self.writer.ports;
        let repo = self
            .directory
            .find(ports.catalog.as_ref(), project_id)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| {
                WebhookError::Unauthorized("unknown project or bad credentials".into())
            })?;
        authenticate(&repo, &d, ports.clock.now().timestamp())?;
        if let Some(limiter) = &self.limiter
            && let Err(not_until) = limiter.check_key(&repo.id)
        {
            self.metrics.webhooks_rate_limited.inc();
            let now = governor::clock::Clock::now(&governor::clock::DefaultClock::default());
            return Err(WebhookError::RateLimited(not_until.wait_time_from(now)));
        }

        let (job, mark) = match intent(&repo, parsed) {
            Ok(x) => x,
            Err(reason) => return Ok(Outcome::Ignored(reason)),
        };
        let name = job.name();
        let ingest = WebhookIngest {
            delivery_key: d.delivery_id.map(|k| format!("{}:{k}", repo.id)),
            expires_at: ports.clock.now() + Duration::hours(DEDUPE_HOURS),
            merge_request: mark,
            job: new_job(&job, None),
        };
        let (outcome, outbox) = ports
            .deliveries
            .ingest_webhook(&ingest)
            .await
            .map_err(ServiceError::from)?;
        self.writer.publish(outbox).await;
        Ok(match outcome {
            IngestOutcome::Queued => Outcome::Accepted(name),
            IngestOutcome::Duplicate => Outcome::Duplicate,
            IngestOutcome::Stale => Outcome::Stale,
        })
    }
}

/// What a delivery asks of `repo`, without I/O: the event parsed by its `X-Gitlab-Event`
/// header (or its `object_kind`), then the job it asks for with the merge request's ordering
/// mark, or why it is ignored. `receive` runs the same two steps around its reads and writes;
/// the fuzz target `webhook` drives this.
pub fn interpret(
    repo: &Repository,
    event: Option<&str>,
    body: &[u8],
) -> Result<Intent, WebhookError> {
    let parsed = parse(event, body)?;
    if parsed.project_id().is_none() {
        return Err(WebhookError::Malformed(
            "malformed-event",
            "the event names no project (project.id)".into(),
        ));
    }
    Ok(intent(repo, parsed))
}

/// The job an event asks for and, for merge request events, its ordering mark; or why it is
/// ignored.
pub type Intent = Result<(LifecycleJob, Option<MergeRequestMark>), String>;

/// The job an event asks for (and, for merge request events, its ordering mark), or why it
/// is ignored.
fn intent(
    repo: &Repository,
    parsed: Parsed,
) -> Result<(LifecycleJob, Option<MergeRequestMark>), String> {
    let env_id = |iid| EnvironmentId::derive(&EnvironmentName::for_merge_request(iid), &repo.name);
    match parsed {
        Parsed::MergeRequest(hook) => {
            let event = MergeRequestEvent::from(hook.as_ref());
            let mark = MergeRequestMark {
                key: format!("{}:{}", repo.id, event.iid),
                order: event.order(),
                event: serde_json::to_string(&event).expect("events serialize"),
            };
            Ok((
                LifecycleJob::MergeRequest {
                    environment_id: env_id(event.iid),
                    repository_id: repo.id.clone(),
                    iid: event.iid,
                },
                Some(mark),
            ))
        }
        Parsed::Note(hook) => {
            let note = &hook.object_attributes;
            let Some(mr) = hook
                .merge_request
                .as_ref()
                .filter(|_| note.noteable_type == "MergeRequest")
            else {
                return Err("only comments on merge requests carry commands".into());
            };
            if note.system {
                return Err("system notes are not commands".into());
            }
            if is_own_note(&note.note) {
                return Err("Blueberry's own note".into());
            }
            let Some(command) = commands::parse(&note.note) else {
                return Err("no /blueberry command in the comment".into());
            };
            let event = CommandEvent {
                project_id: hook.project.id,
                iid: mr.iid,
                note_id: note.id,
                user_id: hook.user.id,
                username: hook.user.username.clone(),
                command,
                head_sha: mr.head_sha(),
                head_at: mr.head_at(),
                from_fork: mr.from_fork(),
            };
            Ok((
                LifecycleJob::Command {
                    environment_id: env_id(mr.iid),
                    repository_id: repo.id.clone(),
                    event,
                },
                None,
            ))
        }
        Parsed::Other { kind, .. } => Err(format!("`{kind}` events do not affect environments")),
    }
}
