//! Settings parsing and validation.

use super::*;
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    config: Config,
}

#[test]
fn defaults_match_the_documentation() {
    let c = Config::default();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.data_dir, PathBuf::from(".blueberry"));
    assert_eq!(c.default_ttl_hours.hours(), 72);
    assert_eq!(c.workers, 4);
    assert!(c.kubeconfig.is_none());
}

/// `"--a b --c d"` as arguments.
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[test]
fn incomplete_adapter_choices_are_refused_with_the_missing_setting() {
    let parse = |args: &[&str]| {
        let mut all = words("x");
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap().config
    };
    for (args, named) in [
        (words("--store firestore"), "--gcp-project"),
        (words("--queue pubsub"), "--gcp-project"),
        (words("--bus redis"), "--redis-url"),
        (words("--cache redis"), "--redis-url"),
        (words("--role api"), "--store firestore and --queue pubsub"),
        (
            words("--role worker --store firestore --queue pubsub --gcp-project p"),
            "--bus redis",
        ),
        (
            words(
                "--role api --store firestore --queue pubsub --gcp-project p --bus redis --redis-url redis://h",
            ),
            "--session-key",
        ),
        (
            words(
                "--role api --store firestore --queue pubsub --gcp-project p --bus redis --redis-url redis://h --session-key session-key-session-key-session-key-0123",
            ),
            "--kubeconfig",
        ),
        (
            words("--store firestore --gcp-project p"),
            "--store firestore needs --bus redis",
        ),
        (words("--namespace-prefix Kube-"), "--namespace-prefix"),
        (vec!["--namespace-prefix", ""], "--namespace-prefix"),
    ] {
        let err = parse(&args).validate().unwrap_err().to_string();
        assert!(err.contains(named), "{args:?}: {err}");
    }
    assert!(parse(&[]).validate().is_ok());
    assert!(
        parse(&words(
            "--store firestore --queue pubsub --gcp-project p --bus redis --redis-url redis://h"
        ))
        .validate()
        .is_ok()
    );
}

#[test]
fn the_redis_url_is_kept_out_of_debug_output() {
    let c = Cli::try_parse_from(["x", "--redis-url", "redis://:hunter2@h:6379"])
        .unwrap()
        .config;
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn bad_settings_are_named_in_the_error() {
    for (args, named) in [
        (vec!["x", "--listen", "nowhere"], "--listen"),
        (
            vec!["x", "--default-ttl-hours", "500"],
            "--default-ttl-hours",
        ),
        (vec!["x", "--base-domain", "Not A Domain"], "--base-domain"),
        (vec!["x", "--workers", "0"], "--workers"),
    ] {
        let err = Cli::try_parse_from(&args)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains(named), "{err}");
    }
}
