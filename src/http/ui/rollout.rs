//! What the status page shows of a rollout: Argo CD's managed resources grouped by sync wave
//! with a progress line, the cause of a failure in Argo CD's words, and a timeline whose
//! repeats and unsent-GitLab notices are folded.

use crate::domain::{EnvironmentEvent, argo::ObservedResource};

pub struct ResourceRow {
    pub kind: String,
    pub name: String,
    /// `Healthy`, `Progressing`, `Degraded`, `Missing`…, or `—` for kinds without health.
    pub health: String,
    pub sync: String,
    /// For the colour: `ok`, `go`, `bad` or `off`.
    pub tone: &'static str,
    pub message: Option<String>,
}

pub struct WaveView {
    /// `Wave 1 · backend`.
    pub title: String,
    /// `done`, `active`, `waiting` or `failed`.
    pub state: &'static str,
    pub resources: Vec<ResourceRow>,
}

/// The resources by wave, and a line saying how far the rollout is.
pub struct RolloutView {
    pub waves: Vec<WaveView>,
    pub progress: String,
}

/// What the environment chart's waves hold (helm/environment).
fn wave_name(wave: i64) -> Option<&'static str> {
    match wave {
        0 => Some("basics"),
        1 => Some("backend"),
        2 => Some("frontends"),
        3 => Some("ingresses"),
        _ => None,
    }
}

fn done(r: &ObservedResource) -> bool {
    r.sync == "Synced" && r.health.as_deref().is_none_or(|h| h == "Healthy")
}

fn row(r: &ObservedResource) -> ResourceRow {
    let tone = match r.health.as_deref() {
        Some("Healthy") => "ok",
        Some("Degraded") => "bad",
        Some("Progressing") => "go",
        None if r.sync == "Synced" => "ok",
        _ => "off",
    };
    ResourceRow {
        kind: r.kind.clone(),
        name: r.name.clone(),
        health: r.health.clone().unwrap_or_else(|| "—".into()),
        sync: r.sync.clone(),
        tone,
        message: r.message.clone().filter(|m| !m.is_empty()),
    }
}

/// The rollout as people think of it; None before Argo CD reported any resource.
pub fn rollout(resources: &[ObservedResource]) -> Option<RolloutView> {
    if resources.is_empty() {
        return None;
    }
    let mut numbers: Vec<i64> = resources.iter().map(|r| r.wave).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let mut active_seen = false;
    let mut active_index = None;
    let waves: Vec<WaveView> = numbers
        .iter()
        .enumerate()
        .map(|(i, &wave)| {
            let members: Vec<&ObservedResource> =
                resources.iter().filter(|r| r.wave == wave).collect();
            let state = if members
                .iter()
                .any(|r| r.health.as_deref() == Some("Degraded"))
            {
                active_seen = true;
                active_index.get_or_insert(i);
                "failed"
            } else if members.iter().all(|r| done(r)) && !active_seen {
                "done"
            } else if !active_seen {
                active_seen = true;
                active_index = Some(i);
                "active"
            } else {
                "waiting"
            };
            WaveView {
                title: match wave_name(wave) {
                    Some(name) => format!("Wave {wave} · {name}"),
                    None => format!("Wave {wave}"),
                },
                state,
                resources: members.into_iter().map(row).collect(),
            }
        })
        .collect();
    let healthy = resources.iter().filter(|r| done(r)).count();
    let total = resources.len();
    let progress = match active_index {
        Some(i) => format!(
            "wave {} of {} · {healthy} of {total} resources healthy",
            i + 1,
            waves.len()
        ),
        None => format!(
            "all {} waves done · {total} of {total} resources healthy",
            waves.len()
        ),
    };
    Some(RolloutView { waves, progress })
}

/// One line of the timeline; `times` > 1 when the same step repeated.
pub struct TimelineRow {
    pub event: EnvironmentEvent,
    pub times: usize,
}

/// The timeline, newest first: runs of the same step with the same words become one row, and
/// the notices of GitLab updates not sent (GitLab is not configured) are set apart, counted.
pub fn timeline(events: &[EnvironmentEvent]) -> (Vec<TimelineRow>, Vec<EnvironmentEvent>) {
    let (unsent, shown): (Vec<_>, Vec<_>) = events
        .iter()
        .rev()
        .cloned()
        .partition(|e| e.message.starts_with("GitLab is not configured"));
    let mut rows: Vec<TimelineRow> = Vec::new();
    for event in shown {
        match rows.last_mut() {
            Some(last) if last.event.kind == event.kind && last.event.message == event.message => {
                last.times += 1;
            }
            _ => rows.push(TimelineRow { event, times: 1 }),
        }
    }
    (rows, unsent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(wave: i64, kind: &str, health: Option<&str>, sync: &str) -> ObservedResource {
        ObservedResource {
            kind: kind.into(),
            name: format!("{kind}-{wave}").to_lowercase(),
            wave,
            sync: sync.into(),
            health: health.map(Into::into),
            message: None,
        }
    }

    #[test]
    fn waves_read_in_order_with_the_first_unfinished_one_active() {
        let r = [
            res(0, "ConfigMap", None, "Synced"),
            res(1, "Deployment", Some("Healthy"), "Synced"),
            res(2, "Deployment", Some("Progressing"), "Synced"),
            res(2, "Service", Some("Healthy"), "Synced"),
            res(3, "Ingress", None, "OutOfSync"),
        ];
        let view = rollout(&r).unwrap();
        let states: Vec<_> = view
            .waves
            .iter()
            .map(|w| (w.title.as_str(), w.state))
            .collect();
        assert_eq!(
            states,
            [
                ("Wave 0 · basics", "done"),
                ("Wave 1 · backend", "done"),
                ("Wave 2 · frontends", "active"),
                ("Wave 3 · ingresses", "waiting"),
            ]
        );
        assert_eq!(view.progress, "wave 3 of 4 · 3 of 5 resources healthy");
    }

    #[test]
    fn a_degraded_resource_fails_its_wave_and_a_finished_rollout_says_so() {
        let mut r = vec![
            res(0, "ConfigMap", None, "Synced"),
            res(1, "Deployment", Some("Degraded"), "Synced"),
        ];
        let view = rollout(&r).unwrap();
        assert_eq!(view.waves[1].state, "failed");
        assert_eq!(view.waves[1].resources[0].tone, "bad");
        assert_eq!(view.progress, "wave 2 of 2 · 1 of 2 resources healthy");
        r[1].health = Some("Healthy".into());
        assert_eq!(
            rollout(&r).unwrap().progress,
            "all 2 waves done · 2 of 2 resources healthy"
        );
        assert!(rollout(&[]).is_none());
    }

    #[test]
    fn repeats_fold_and_unsent_gitlab_notices_are_set_apart() {
        use crate::domain::EventKind;
        let at = chrono::Utc::now();
        let ev = |kind, message: &str| EnvironmentEvent {
            seq: 0,
            environment_id: crate::domain::EnvironmentId::parse("pr-1-shop").unwrap(),
            at,
            kind,
            actor: "worker".into(),
            message: message.into(),
        };
        let events = [
            ev(EventKind::Created, "created"),
            ev(EventKind::Progressing, "health Progressing, sync OutOfSync"),
            ev(EventKind::Progressing, "health Progressing, sync OutOfSync"),
            ev(
                EventKind::Progressing,
                "GitLab is not configured; would have sent a note",
            ),
            ev(EventKind::Healthy, "Healthy and Synced"),
        ];
        let (rows, unsent) = timeline(&events);
        let shown: Vec<_> = rows.iter().map(|r| (r.event.kind, r.times)).collect();
        assert_eq!(
            shown,
            [
                (EventKind::Healthy, 1),
                (EventKind::Progressing, 2),
                (EventKind::Created, 1)
            ]
        );
        assert_eq!(unsent.len(), 1);
    }
}
