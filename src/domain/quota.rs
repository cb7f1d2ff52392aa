//! Quotas with a visible queue: at most `max_environments` running environments per repository
//! (and `--max-environments` for the platform). A new environment over a cap waits, `pending`,
//! in line; environments start in the order they asked (oldest first) as slots free up. Only
//! admission waits: redeploys, extends and teardowns of admitted environments never do.
//! Pure: the service lists the line and the slots, this decides.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which cap holds an environment back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuotaScope {
    /// Its repository's `max_environments`.
    Repository,
    /// The platform's `--max-environments`.
    Platform,
}

/// Where a waiting environment stands, as last worked out by the controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// When it got in line (its create); the line is in this order.
    pub since: DateTime<Utc>,
    /// 1 for next in line; 0 until the controller has placed it.
    pub position: u32,
    /// Environments running under the cap that holds it, and the cap.
    pub running: u32,
    pub cap: u32,
    pub scope: QuotaScope,
}

impl Waiting {
    /// Just in line, not placed yet.
    pub fn new(since: DateTime<Utc>) -> Self {
        Self {
            since,
            position: 0,
            running: 0,
            cap: 0,
            scope: QuotaScope::Repository,
        }
    }

    /// "waiting: 3rd in line, 5 of 5 running in this repository".
    pub fn describe(&self) -> String {
        if self.position == 0 {
            return "waiting for a free slot (quota)".into();
        }
        format!(
            "waiting: {} in line, {}",
            ordinal(self.position),
            self.load()
        )
    }

    /// How full the cap that holds it is: "5 of 5 running in this repository".
    pub fn load(&self) -> String {
        let scope = match self.scope {
            QuotaScope::Repository => "in this repository",
            QuotaScope::Platform => "on the platform",
        };
        format!("{} of {} running {scope}", self.running, self.cap)
    }
}

/// 1st, 2nd, 3rd, 4th, 11th, 21st…
pub fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// An environment in line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InLine {
    pub id: String,
    pub repository_id: String,
    pub since: DateTime<Utc>,
}

/// The caps: per repository (absent: none) and for the platform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caps {
    pub repositories: HashMap<String, u32>,
    pub platform: Option<u32>,
}

/// The verdict for one environment in line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// A slot is free and nobody before it wants it: start it.
    Admit,
    /// Still waiting: where it stands.
    Wait {
        position: u32,
        running: u32,
        cap: u32,
        scope: QuotaScope,
    },
    /// It is not in line (admitted or gone meanwhile).
    NotInLine,
}

/// Decides for `candidate`, given the running environments per repository, the line (any
/// order) and the caps. Goes down the line oldest first, giving each a slot while both its
/// repository and the platform have one; one whose repository is full lets those behind it from
/// other repositories pass (a repository's cap never holds another repository back).
pub fn admission(
    candidate: &str,
    running: &HashMap<String, u32>,
    line: &[InLine],
    caps: &Caps,
) -> Admission {
    let mut line: Vec<&InLine> = line.iter().collect();
    line.sort_by(|a, b| (a.since, &a.id).cmp(&(b.since, &b.id)));
    let mut per_repo = running.clone();
    let mut total: u32 = running.values().sum();
    // Those held before the candidate: by their repository, and by the platform.
    let mut held_in_repo: HashMap<&str, u32> = HashMap::new();
    let mut held_on_platform = 0u32;
    for w in line {
        let in_repo = per_repo.get(&w.repository_id).copied().unwrap_or(0);
        let repo_cap = caps.repositories.get(&w.repository_id).copied();
        let repo_full = repo_cap.is_some_and(|c| in_repo >= c);
        let platform_full = caps.platform.is_some_and(|c| total >= c);
        if !repo_full && !platform_full {
            if w.id == candidate {
                return Admission::Admit;
            }
            *per_repo.entry(w.repository_id.clone()).or_default() += 1;
            total += 1;
            continue;
        }
        let ahead_in_repo = held_in_repo.entry(&w.repository_id).or_default();
        if w.id == candidate {
            return if repo_full {
                Admission::Wait {
                    position: *ahead_in_repo + 1,
                    running: in_repo,
                    cap: repo_cap.unwrap_or_default(),
                    scope: QuotaScope::Repository,
                }
            } else {
                Admission::Wait {
                    position: held_on_platform + 1,
                    running: total,
                    cap: caps.platform.unwrap_or_default(),
                    scope: QuotaScope::Platform,
                }
            };
        }
        *ahead_in_repo += 1;
        if !repo_full {
            held_on_platform += 1;
        }
    }
    Admission::NotInLine
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + i64::from(minute) * 60, 0).unwrap()
    }

    fn w(id: &str, repo: &str, minute: u32) -> InLine {
        InLine {
            id: id.into(),
            repository_id: repo.into(),
            since: at(minute),
        }
    }

    fn running(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
        pairs.iter().map(|(r, n)| ((*r).to_owned(), *n)).collect()
    }

    fn repo_cap(repo: &str, cap: u32) -> Caps {
        Caps {
            repositories: [(repo.to_owned(), cap)].into(),
            platform: None,
        }
    }

    #[test]
    fn a_free_slot_goes_to_the_oldest_in_line() {
        let line = [w("c", "shop", 3), w("b", "shop", 2)];
        let caps = repo_cap("shop", 3);
        let running = running(&[("shop", 2)]);
        assert_eq!(admission("b", &running, &line, &caps), Admission::Admit);
        assert_eq!(
            admission("c", &running, &line, &caps),
            Admission::Wait {
                position: 1,
                running: 3,
                cap: 3,
                scope: QuotaScope::Repository
            },
            "b takes the last slot first: c is next in line with the repository still full"
        );
    }

    #[test]
    fn positions_count_those_ahead_in_the_same_line() {
        let line = [w("a", "shop", 1), w("b", "shop", 2), w("c", "shop", 3)];
        let caps = repo_cap("shop", 5);
        let running = running(&[("shop", 5)]);
        let positions: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|id| match admission(id, &running, &line, &caps) {
                Admission::Wait { position, .. } => position,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(positions, [1, 2, 3]);
        let Admission::Wait { position, .. } = admission("c", &running, &line, &caps) else {
            unreachable!()
        };
        assert_eq!(
            Waiting {
                since: at(3),
                position,
                running: 5,
                cap: 5,
                scope: QuotaScope::Repository
            }
            .describe(),
            "waiting: 3rd in line, 5 of 5 running in this repository"
        );
    }

    #[test]
    fn a_full_repository_never_holds_another_back() {
        let line = [w("a", "shop", 1), w("x", "blog", 2)];
        let caps = repo_cap("shop", 1);
        let running = running(&[("shop", 1)]);
        assert_eq!(admission("x", &running, &line, &caps), Admission::Admit);
        assert!(matches!(
            admission("a", &running, &line, &caps),
            Admission::Wait { position: 1, .. }
        ));
    }

    #[test]
    fn the_platform_cap_holds_every_repository_in_one_line() {
        let line = [w("a", "shop", 1), w("x", "blog", 2), w("b", "shop", 3)];
        let caps = Caps {
            repositories: HashMap::new(),
            platform: Some(4),
        };
        let running = running(&[("shop", 2), ("blog", 1)]);
        assert_eq!(admission("a", &running, &line, &caps), Admission::Admit);
        assert_eq!(
            admission("x", &running, &line, &caps),
            Admission::Wait {
                position: 1,
                running: 4,
                cap: 4,
                scope: QuotaScope::Platform
            }
        );
        assert!(matches!(
            admission("b", &running, &line, &caps),
            Admission::Wait { position: 2, .. }
        ));
    }

    #[test]
    fn ties_in_time_go_by_id_and_strangers_are_not_in_line() {
        let line = [w("b", "shop", 1), w("a", "shop", 1)];
        let caps = repo_cap("shop", 1);
        let none = HashMap::new();
        assert_eq!(admission("a", &none, &line, &caps), Admission::Admit);
        assert!(matches!(
            admission("b", &none, &line, &caps),
            Admission::Wait { position: 1, .. }
        ));
        assert_eq!(admission("zz", &none, &line, &caps), Admission::NotInLine);
    }

    #[test]
    fn ordinals() {
        let got: Vec<_> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "111th"
            ]
        );
    }
}
