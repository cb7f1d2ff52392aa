//! `/blueberry` comment commands on merge requests.

use serde::{Deserialize, Serialize};

/// A command found in a note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Redeploy,
    Destroy,
    /// Hours to add; 24 when not given.
    Extend {
        hours: i64,
    },
    Status,
    /// Pin against expiry / let it expire again.
    Keep,
    Unkeep,
    /// Deploy a fork merge request at its head (Maintainer access).
    Approve,
    /// Scale to zero until woken / scale up again.
    Sleep,
    Wake,
    Help,
    /// Anything else after `/blueberry`: answered with the help.
    Unknown {
        text: String,
    },
}

impl Command {
    /// Whether the command changes anything (and so needs Developer access).
    pub fn changes_something(&self) -> bool {
        matches!(
            self,
            Command::Redeploy
                | Command::Destroy
                | Command::Extend { .. }
                | Command::Keep
                | Command::Unkeep
                | Command::Approve
                | Command::Sleep
                | Command::Wake
        )
    }

    /// Whether the command needs Maintainer access (it lets a fork's code run).
    pub fn needs_maintainer(&self) -> bool {
        matches!(self, Command::Approve)
    }
}

/// Default extension for `/blueberry extend` without a number.
pub const DEFAULT_EXTEND_HOURS: i64 = 24;

/// Finds the first line starting with `/blueberry` (case-insensitive) and parses it.
pub fn parse(note: &str) -> Option<Command> {
    let line = note.lines().map(str::trim).find(|l| {
        l.get(..10)
            .is_some_and(|p| p.eq_ignore_ascii_case("/blueberry"))
            && l[10..].chars().next().is_none_or(char::is_whitespace)
    })?;
    let mut words = line[10..].split_whitespace();
    let verb = words.next().map(str::to_ascii_lowercase);
    let rest: Vec<&str> = words.collect();
    Some(match (verb.as_deref(), rest.as_slice()) {
        (None | Some("help"), _) => Command::Help,
        (Some("redeploy"), []) => Command::Redeploy,
        (Some("destroy"), []) => Command::Destroy,
        (Some("status"), []) => Command::Status,
        (Some("keep"), []) => Command::Keep,
        (Some("unkeep"), []) => Command::Unkeep,
        (Some("approve"), []) => Command::Approve,
        (Some("sleep"), []) => Command::Sleep,
        (Some("wake"), []) => Command::Wake,
        (Some("extend"), []) => Command::Extend {
            hours: DEFAULT_EXTEND_HOURS,
        },
        (Some("extend"), [n]) => match n.trim_end_matches(['h', 'H']).parse() {
            Ok(hours) => Command::Extend { hours },
            Err(_) => Command::Unknown {
                text: line.to_owned(),
            },
        },
        _ => Command::Unknown {
            text: line.to_owned(),
        },
    })
}

/// The help text every reply can include.
pub const HELP: &str = "\
**Blueberry commands** (one per comment line):

| command | what it does |
|---|---|
| `/blueberry redeploy` | deploy the merge request's head commit again |
| `/blueberry destroy` | tear the environment down now |
| `/blueberry extend [hours]` | keep it longer (default 24 h, at most one week from now) |
| `/blueberry keep` | never let it expire (closing or merging still tears it down) |
| `/blueberry unkeep` | let it expire again |
| `/blueberry sleep` | scale it to zero until woken (visiting it wakes it) |
| `/blueberry wake` | scale it up again |
| `/blueberry approve` | deploy a merge request from a fork at its current head (Maintainer) |
| `/blueberry status` | show where the environment is |
| `/blueberry help` | show this help |

Commands that change the environment need at least Developer access to the project; `approve`
needs Maintainer.";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn commands_are_found_on_any_line_in_any_case() {
        assert_eq!(parse("/blueberry redeploy"), Some(Command::Redeploy));
        assert_eq!(
            parse("LGTM\n  /BlueBerry Destroy  \nthanks"),
            Some(Command::Destroy)
        );
        assert_eq!(
            parse("/blueberry extend 24"),
            Some(Command::Extend { hours: 24 })
        );
        assert_eq!(
            parse("/blueberry extend 12h"),
            Some(Command::Extend { hours: 12 })
        );
        assert_eq!(
            parse("/blueberry extend"),
            Some(Command::Extend { hours: 24 })
        );
        assert_eq!(parse("/blueberry status"), Some(Command::Status));
        assert_eq!(parse("/blueberry Approve"), Some(Command::Approve));
        assert_eq!(parse("/blueberry sleep"), Some(Command::Sleep));
        assert_eq!(parse("/blueberry WAKE"), Some(Command::Wake));
        assert_eq!(parse("/blueberry"), Some(Command::Help));
        assert_eq!(parse("/blueberry help me"), Some(Command::Help));
    }

    #[test]
    fn unknown_commands_are_kept_for_the_help_reply() {
        assert_eq!(
            parse("/blueberry launch"),
            Some(Command::Unknown {
                text: "/blueberry launch".into()
            })
        );
        assert_eq!(
            parse("/blueberry extend soon"),
            Some(Command::Unknown {
                text: "/blueberry extend soon".into()
            })
        );
    }

    #[test]
    fn other_text_is_not_a_command() {
        for note in [
            "looks good",
            "see /blueberry redeploy above",
            "/blueberryish",
            "/blue berry",
        ] {
            assert_eq!(parse(note), None, "{note}");
        }
    }

    #[test]
    fn only_changing_commands_need_access() {
        assert!(Command::Redeploy.changes_something());
        assert!(Command::Extend { hours: 1 }.changes_something());
        assert!(!Command::Status.changes_something());
        assert!(!Command::Help.changes_something());
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,200}") {
            let _ = parse(&s);
        }
    }
}
