//! Tests of quota admission (kept apart so the code reads in one screen).

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
            "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"
        ]
    );
}
