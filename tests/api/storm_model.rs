//! The storm's script and its expected outcome. A seeded generator writes each merge request's
//! history (open, pushes, label-only updates, close, reopen, merge, `/blueberry` commands), then
//! delivers it as GitLab would: interleaved across merge requests, some deliveries repeated
//! with the same `X-Gitlab-Event-UUID`, some delayed past later events. The model replays the
//! deliveries in order with Blueberry's rules and says what each environment must end as.

use std::collections::{BTreeMap, HashSet};

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::Value;

use crate::hooks::{DEVELOPER, label_update_event, merge_request_event, note_event, sha};

/// What a delivery is, for the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A merge request event at logical time `at` (its order), with head `head`.
    MergeRequest {
        action: &'static str,
        at: u64,
        head: String,
    },
    /// A command in comment `note`.
    Command { note: u64, text: &'static str },
}

/// One delivery: which merge request, its body, its delivery id, what it is.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub iid: u64,
    pub uuid: String,
    pub payload: Value,
    pub kind: Kind,
}

/// The script: deliveries in the order they are sent.
pub fn script(merge_requests: u64, events: usize, seed: u64) -> Vec<Delivery> {
    let mut rng = StdRng::seed_from_u64(seed);
    // Histories a little longer than needed (merges end some early); trimmed below.
    let per_mr = events as u64 / merge_requests + 4;
    let mut histories: Vec<Vec<Delivery>> = Vec::new();
    let mut next_sha = 1_000u64;
    let mut next_note = 10_000u64;
    for iid in 1..=merge_requests {
        let mut h = Vec::new();
        let mut at = 10u64;
        let (mut open, mut merged) = (true, false);
        next_sha += 1;
        let mut head = sha(next_sha);
        let push =
            |h: &mut Vec<Delivery>, action: &'static str, head: &str, at: u64, label_only: bool| {
                let payload = if label_only {
                    label_update_event(iid, head, at)
                } else {
                    merge_request_event(action, iid, head, at)
                };
                h.push(Delivery {
                    iid,
                    uuid: format!("mr-{iid}-{at}"),
                    payload,
                    kind: Kind::MergeRequest {
                        action,
                        at,
                        head: head.to_owned(),
                    },
                });
            };
        push(&mut h, "open", &head, at, false);
        while (h.len() as u64) < per_mr && !merged {
            at += 10;
            let roll: f64 = rng.random();
            if !open {
                if roll < 0.6 {
                    push(&mut h, "reopen", &head, at, false);
                    open = true;
                } else {
                    next_note += 1;
                    h.push(command(iid, next_note, "/blueberry status"));
                }
                continue;
            }
            match roll {
                r if r < 0.35 => {
                    next_sha += 1;
                    head = sha(next_sha);
                    push(&mut h, "update", &head, at, false);
                }
                r if r < 0.50 => push(&mut h, "update", &head, at, true),
                r if r < 0.62 => {
                    next_note += 1;
                    h.push(command(iid, next_note, "/blueberry extend 2"));
                }
                r if r < 0.72 => {
                    next_note += 1;
                    h.push(command(iid, next_note, "/blueberry redeploy"));
                }
                r if r < 0.77 => {
                    next_note += 1;
                    h.push(command(iid, next_note, "/blueberry destroy"));
                }
                r if r < 0.88 => {
                    push(&mut h, "close", &head, at, false);
                    open = false;
                }
                // Merged only towards the end, so histories have the length asked for.
                r if r < 0.91 && h.len() as u64 * 5 >= per_mr * 4 => {
                    push(&mut h, "merge", &head, at, false);
                    merged = true;
                }
                _ => {
                    next_note += 1;
                    h.push(command(iid, next_note, "/blueberry status"));
                }
            }
        }
        histories.push(h);
    }
    // Interleave the histories, each in its own order, as merge requests live side by side.
    let mut cursors = vec![0usize; histories.len()];
    let mut out = Vec::new();
    while out.len() < histories.iter().map(Vec::len).sum::<usize>() {
        let i = rng.random_range(0..histories.len());
        if let Some(d) = histories[i].get(cursors[i]) {
            out.push(d.clone());
            cursors[i] += 1;
        }
    }
    // Every merge request's history is a prefix of what was written: still a valid history.
    out.truncate(events);
    // 5 % delivered late: moved past up to 40 later deliveries (often of their own MR).
    let n = out.len();
    for _ in 0..n / 20 {
        let from = rng.random_range(0..n - 1);
        let to = (from + rng.random_range(1..40)).min(n - 1);
        let d = out.remove(from);
        out.insert(to, d);
    }
    // 10 % delivered again later with the same delivery id (GitLab's retries).
    for _ in 0..n / 10 {
        let from = rng.random_range(0..out.len());
        let to = (from + rng.random_range(1..60)).min(out.len());
        let again = out[from].clone();
        out.insert(to, again);
    }
    out
}

fn command(iid: u64, note: u64, text: &'static str) -> Delivery {
    Delivery {
        iid,
        uuid: format!("note-{note}"),
        payload: note_event(iid, note, text, DEVELOPER),
        kind: Kind::Command { note, text },
    }
}

/// What a merge request's environment must end as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// Ready at this commit.
    Ready(String),
    Terminated,
}

/// Replays the deliveries with Blueberry's rules: a delivery id counts once; a merge request
/// event older than the newest one received changes nothing; the newest event says whether
/// the environment exists and at which commit; commands act in delivery order.
pub fn expected(deliveries: &[Delivery]) -> BTreeMap<u64, Expected> {
    let mut seen = HashSet::new();
    let mut newest: BTreeMap<u64, u64> = BTreeMap::new();
    let mut state: BTreeMap<u64, Expected> = BTreeMap::new();
    for d in deliveries {
        if !seen.insert(d.uuid.clone()) {
            continue;
        }
        let s = state.entry(d.iid).or_insert(Expected::Terminated);
        match &d.kind {
            Kind::MergeRequest { action, at, head } => {
                if newest.get(&d.iid).is_some_and(|n| n > at) {
                    continue;
                }
                newest.insert(d.iid, *at);
                *s = match *action {
                    "close" | "merge" => Expected::Terminated,
                    _ => Expected::Ready(head.clone()),
                };
            }
            Kind::Command { text, .. } if *text == "/blueberry destroy" => {
                *s = Expected::Terminated;
            }
            Kind::Command { .. } => {}
        }
    }
    state
}

/// The command notes delivered, per merge request.
pub fn commands(deliveries: &[Delivery]) -> BTreeMap<u64, HashSet<u64>> {
    let mut out: BTreeMap<u64, HashSet<u64>> = BTreeMap::new();
    for d in deliveries {
        if let Kind::Command { note, .. } = d.kind {
            out.entry(d.iid).or_default().insert(note);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_has_what_the_storm_asks_for() {
        let s = script(100, 2000, 7);
        assert!(s.len() >= 2000, "{}", s.len());
        let uuids: HashSet<_> = s.iter().map(|d| d.uuid.as_str()).collect();
        assert!(s.len() - uuids.len() >= 150, "redeliveries");
        let exp = expected(&s);
        assert_eq!(exp.len(), 100);
        assert!(exp.values().any(|e| *e == Expected::Terminated));
        assert!(exp.values().any(|e| matches!(e, Expected::Ready(_))));
    }
}
