//! A merge request comment → the `/blueberry` command in it → what `extend` would do with it.
//! Nothing may panic; what is found is found again from its own line.

#![no_main]

use blueberry::domain::{
    commands::{Command, parse},
    ttl::{TtlHours, extended_expiry},
};
use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(note) = std::str::from_utf8(data) else {
        return;
    };
    let Some(command) = parse(note) else {
        return;
    };
    let now = Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap();
    match &command {
        Command::Extend { hours } => {
            if let Ok(h) = TtlHours::new(*hours) {
                let until = extended_expiry(now, now, h);
                assert!(until > now && until <= now + chrono::Duration::hours(168));
            }
        }
        Command::Unknown { text } => {
            assert!(note.contains(text.as_str()), "the text is the note's own");
            assert_eq!(parse(text), Some(command.clone()), "found again from its line");
        }
        _ => {}
    }
    let json = serde_json::to_string(&command).expect("commands serialize");
    let back: Command = serde_json::from_str(&json).expect("the worker reads the command back");
    assert_eq!(back, command);
});
