//! Archives: a terminated environment's record, history and last Application status written as
//! one JSON object, to files on the embedded default and to Cloud Storage (fake-gcs-server);
//! after `--retain-terminated-days` it leaves the store and is still shown, from its archive.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::{emulators, helpers::TestApp};

const BUCKET: &str = "blueberry-archive";

/// Reads an object of the archive, wherever this app keeps it.
type ReadObject = Box<dyn Fn(String) -> futures::future::BoxFuture<'static, Option<Vec<u8>>>>;

fn files(app: &TestApp) -> ReadObject {
    let root = app.config.data_dir.join("archive");
    Box::new(move |name| {
        let path = root.join(name);
        Box::pin(async move { tokio::fs::read(path).await.ok() })
    })
}

fn bucket(url: &'static str) -> ReadObject {
    Box::new(move |name| {
        Box::pin(async move {
            let object: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
            let r = reqwest::get(format!("{url}/storage/v1/b/{BUCKET}/o/{object}?alt=media"))
                .await
                .ok()?;
            if r.status() != StatusCode::OK {
                return None;
            }
            r.bytes().await.ok().map(|b| b.to_vec())
        })
    })
}

async fn wait_for_object(read: &ReadObject, name: &str) -> Vec<u8> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(bytes) = read(name.to_owned()).await {
            return bytes;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} was never written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates an environment, tears it down, checks its archive, then lets the retention pass and
/// checks it is still shown — from the archive — once the store has let it go.
async fn an_environment_outlives_the_store_in_its_archive(app: TestApp, read: ReadObject) {
    let repo = app.seed().await;
    let created = app.create_environment("gone", &repo).await;
    let id = created["id"].as_str().unwrap().to_owned();
    app.wait_for_status(&id, "ready", Duration::from_secs(10))
        .await;
    assert_eq!(
        app.delete(&format!("/api/environments/{id}"))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let ended = app
        .wait_for_status(&id, "terminated", Duration::from_secs(10))
        .await;

    // Written when it was terminated: the pointer names `environments/{id}/{terminated_at}.json`.
    let pointer = wait_for_object(&read, &format!("environments/{id}/latest")).await;
    let name = String::from_utf8(pointer).unwrap();
    let terminated_at: chrono::DateTime<chrono::Utc> =
        ended["terminated_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        name,
        format!(
            "environments/{id}/{}.json",
            terminated_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        )
    );
    let archive: Value = serde_json::from_slice(&wait_for_object(&read, &name).await).unwrap();
    assert_eq!(archive["environment"]["id"], id);
    assert_eq!(archive["environment"]["status"], "terminated");
    let kinds: Vec<&str> = archive["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"created") && kinds.contains(&"terminated"),
        "{kinds:?}"
    );
    assert!(archive["last_application_status"].is_object(), "{archive}");

    // Still in the store within the retention.
    assert_eq!(app.environment(&id).await["archived"], false);

    // Eight days on, the next resync archives it again and the store lets it go.
    app.clock.advance(chrono::Duration::days(8));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let shown = loop {
        let env = app.environment(&id).await;
        if env["archived"] == true {
            break env;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never archived: {env}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(shown["status"], "terminated");
    let listed = app.get("/api/environments?status=terminated").await;
    let listed: Value = listed.json().await.unwrap();
    assert!(
        !listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == id),
        "the store no longer lists it"
    );
    let events = app.events(&id).await;
    assert!(
        events.iter().any(|e| e["kind"] == "terminated"),
        "{events:?}"
    );
    let page = app.get(&format!("/environments/{id}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("id=\"env-archived\""),
        "the status page says archived"
    );
    assert!(html.contains(&id));
    // Nothing can be done to an archive.
    let redeploy = app
        .post(&format!("/api/environments/{id}/redeploy"), &Value::Null)
        .await;
    assert_eq!(redeploy.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn on_the_embedded_default_archives_are_files_under_the_data_directory() {
    let app = TestApp::spawn_with(|c| c.resync_secs = 1).await;
    let read = files(&app);
    an_environment_outlives_the_store_in_its_archive(app, read).await;
}

#[tokio::test]
async fn with_a_bucket_archives_are_objects_in_cloud_storage() {
    let url = emulators::gcs();
    let app = TestApp::spawn_with(|c| {
        c.resync_secs = 1;
        c.archive_bucket = Some(BUCKET.into());
        c.gcs_endpoint = Some(url.into());
    })
    .await;
    an_environment_outlives_the_store_in_its_archive(app, bucket(url)).await;
}

#[tokio::test]
async fn an_archive_that_cannot_be_written_keeps_the_environment_in_the_store() {
    let app = TestApp::spawn_with(|c| c.resync_secs = 1).await;
    // A file where the archive directory should be: every write fails.
    let blocked = app.config.data_dir.join("archive");
    std::fs::write(&blocked, b"not a directory").unwrap();
    let repo = app.seed().await;
    let id = app.create_environment("kept", &repo).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_status(&id, "ready", Duration::from_secs(10))
        .await;
    app.delete(&format!("/api/environments/{id}")).await;
    app.wait_for_status(&id, "terminated", Duration::from_secs(10))
        .await;
    app.clock.advance(chrono::Duration::days(8));
    // Several sweeps run (one a second) and fail; the record stays where it is.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let env = app.environment(&id).await;
    assert_eq!(env["archived"], false, "{env}");
    assert_eq!(env["status"], "terminated");
    // Once the archive can be written, the next sweep moves it.
    std::fs::remove_file(&blocked).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while app.environment(&id).await["archived"] != true {
        assert!(tokio::time::Instant::now() < deadline, "never archived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A merge request whose environment expired (the merge request still open) is not given a new
/// one when its record leaves the store: the resync that creates environments whose first job
/// was lost must tell "never had one" from "archived".
#[tokio::test]
async fn an_expired_merge_request_environment_is_not_revived_once_archived() {
    use crate::hooks::{Project, merge_request_event, sha};
    let p = Project::start(|c| c.resync_secs = 1).await;
    p.accept(&merge_request_event("open", 5, &sha(1), 10), "mr-5-open")
        .await;
    p.wait_at("pr-5-shop", "ready", &sha(1), Duration::from_secs(15))
        .await;
    // Past its TTL: the reaper tears it down; the merge request stays open.
    let ttl = p.app.environment("pr-5-shop").await["ttl_hours"]
        .as_i64()
        .unwrap();
    p.app.clock.advance(chrono::Duration::hours(ttl + 1));
    p.app
        .wait_for_status("pr-5-shop", "terminated", Duration::from_secs(15))
        .await;
    p.app.clock.advance(chrono::Duration::days(8));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while p.app.environment("pr-5-shop").await["archived"] != true {
        assert!(tokio::time::Instant::now() < deadline, "never archived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Resyncs run every second; give a few of them the chance to (wrongly) recreate it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let env = p.app.environment("pr-5-shop").await;
    assert_eq!(env["archived"], true, "revived: {env}");
    assert_eq!(env["status"], "terminated");
}
