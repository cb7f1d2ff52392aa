//! The README's tour and its merge-request flow, run literally with bash and curl against the
//! real binary (only `localhost:8080` becomes the test server's address, and `TOKEN` is set).

use std::process::{Command, Stdio};

use crate::helpers::{ADMIN_TOKEN, ProcessGroup, free_port, wait_http};

/// The first ```sh block after `heading`.
fn sh_block(readme: &str, heading: &str) -> String {
    let from = readme
        .find(heading)
        .unwrap_or_else(|| panic!("the README has no {heading:?}"));
    let start = readme[from..].find("```sh\n").unwrap() + from + "```sh\n".len();
    let end = readme[start..].find("```").unwrap() + start;
    readme[start..end].to_owned()
}

#[tokio::test]
async fn the_readme_tour_and_merge_request_flow_run_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let tour = sh_block(&readme, "## A short tour");
    let flow = sh_block(&readme, "### Try the merge-request flow locally");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = ProcessGroup::spawn(
        Command::new(env!("CARGO_BIN_EXE_blueberry"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(dir.path())
            .env("BLUEBERRY_BOOTSTRAP_TOKEN", ADMIN_TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .unwrap();
    wait_http(&format!("http://127.0.0.1:{port}/healthz")).await;
    let script = format!("set -eu\n{tour}\n{flow}")
        .replace("localhost:8080", &format!("127.0.0.1:{port}"))
        .replace("export TOKEN=bb_…", &format!("export TOKEN={ADMIN_TOKEN}"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<&str> = stdout.lines().collect();
    let said = |needle: &str| answers.iter().any(|l| l.contains(needle));
    assert!(said(r#""webhook_secret""#), "the project was connected");
    assert!(
        said(r#""id":"demo-shop""#) && said(r#""status":"ready""#),
        "the tour's environment turned ready: {stdout}"
    );
    assert_eq!(
        answers
            .iter()
            .filter(|l| l.contains(r#""status":"accepted""#))
            .count(),
        2,
        "both webhook deliveries were accepted: {stdout}"
    );
    let pr: Vec<&&str> = answers
        .iter()
        .filter(|l| l.contains(r#""id":"pr-42-shop""#))
        .collect();
    assert_eq!(pr.len(), 2, "the flow reads pr-42-shop twice: {stdout}");
    assert!(pr[0].contains(r#""status":"ready""#), "{}", pr[0]);
    assert!(
        pr[1].contains(r#""status":"terminated""#) || pr[1].contains(r#""status":"deleting""#),
        "{}",
        pr[1]
    );
}
