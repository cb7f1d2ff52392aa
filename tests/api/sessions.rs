//! Browser sessions: tokens never travel in URLs, one-time login links work once, and an admin
//! can end anyone's sessions.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, client_with};

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `bb_session=…` pair a login answer sets.
pub fn session_of(answer: &reqwest::Response) -> String {
    answer.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

async fn me(app: &TestApp, cookie: &str) -> (StatusCode, Value) {
    let r = browser()
        .get(format!("{}/api/me", app.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn login_with(app: &TestApp, field: &str, value: &str) -> reqwest::Response {
    browser()
        .post(format!("{}/login", app.url))
        .form(&[(field, value), ("next", "/environments")])
        .send()
        .await
        .unwrap()
}

/// The id of the token named `name` (the admin sees every token).
async fn token_id(app: &TestApp, name: &str) -> String {
    let tokens: Value = app.get("/api/tokens").await.json().await.unwrap();
    tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no token {name}: {tokens}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn api_tokens_in_a_url_are_refused_and_start_no_session() {
    let app = TestApp::spawn().await;
    let r = browser()
        .get(format!(
            "{}/login?token={}&next=/tokens",
            app.url,
            crate::helpers::ADMIN_TOKEN
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("set-cookie").is_none(), "no session");
    let page = r.text().await.unwrap();
    assert!(page.contains("not accepted in links"), "{page}");
    assert!(
        !page.contains(crate::helpers::ADMIN_TOKEN),
        "the page echoes no token"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_login_link_starts_one_session_within_its_minutes_and_is_gone() {
    let app = TestApp::spawn().await;
    app.token("developer").await;
    let id = token_id(&app, "developer-token").await;

    let code = app.ctx.sessions.login_code(&id).await.unwrap();
    let page = browser()
        .get(format!("{}/login?code={code}&next=/environments", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert!(
        page.headers().get("set-cookie").is_none(),
        "a GET starts nothing"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"id="login-link""#) && html.contains(&code));

    let first = login_with(&app, "code", &code).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(first.headers()["location"], "/environments");
    let cookie = session_of(&first);
    let (status, who) = me(&app, &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        who,
        json!({"name": "token:developer-token", "role": "developer"})
    );

    let again = login_with(&app, "code", &code).await;
    assert_eq!(
        again.status(),
        StatusCode::UNAUTHORIZED,
        "a code works once"
    );
    assert!(again.headers().get("set-cookie").is_none());
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("already used or has expired")
    );

    let late = app.ctx.sessions.login_code(&id).await.unwrap();
    app.clock.advance(chrono::Duration::minutes(16));
    let r = login_with(&app, "code", &late).await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "an expired code is refused"
    );

    // A code for a token revoked meanwhile starts nothing.
    let revoked = app.ctx.sessions.login_code(&id).await.unwrap();
    assert_eq!(
        app.delete(&format!("/api/tokens/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    let r = login_with(&app, "code", &revoked).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = me(&app, &cookie).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "revoking the token ended the session it made"
    );
    app.stop().await;
}

/// Two browsers racing with the same code: one session, not two.
#[tokio::test]
async fn a_login_code_presented_twice_at_once_starts_one_session() {
    let app = TestApp::spawn().await;
    let id = token_id(&app, "bootstrap").await;
    for _ in 0..5 {
        let code = app.ctx.sessions.login_code(&id).await.unwrap();
        let answers =
            futures::future::join_all((0..8).map(|_| login_with(&app, "code", &code))).await;
        let started = answers
            .iter()
            .filter(|a| a.status() == StatusCode::SEE_OTHER)
            .count();
        assert_eq!(started, 1);
    }
    app.stop().await;
}

#[tokio::test]
async fn an_admin_ends_a_users_sessions_and_they_can_log_in_again() {
    let app = TestApp::spawn().await;
    let developer = app.token("developer").await;
    let cookie = session_of(&login_with(&app, "token", &developer).await);
    let other = session_of(&login_with(&app, "token", crate::helpers::ADMIN_TOKEN).await);
    assert_eq!(me(&app, &cookie).await.0, StatusCode::OK);

    // Only admins end sessions; a bad body is named.
    let r = client_with(&developer)
        .post(format!("{}/api/sessions/end", app.url))
        .json(&json!({"user": "token:developer-token"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_problem(
        app.post("/api/sessions/end", &json!({"user": " "})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "user",
    )
    .await;

    let r = app
        .post(
            "/api/sessions/end",
            &json!({"user": "token:developer-token"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let ended: Value = r.json().await.unwrap();
    assert_eq!(ended["user"], "token:developer-token");
    assert!(ended["ended_at"].is_string());

    let (status, _) = me(&app, &cookie).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the session ended at once"
    );
    let page = browser()
        .get(format!("{}/environments", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        StatusCode::SEE_OTHER,
        "pages send them to log in"
    );
    assert_eq!(
        me(&app, &other).await.0,
        StatusCode::OK,
        "others keep theirs"
    );
    assert_eq!(
        client_with(&developer)
            .get(format!("{}/api/me", app.url))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "the token itself still works"
    );
    // A later login (the test clock moves instead of waiting).
    app.clock.advance(chrono::Duration::seconds(1));
    let fresh = session_of(&login_with(&app, "token", &developer).await);
    assert_eq!(
        me(&app, &fresh).await.0,
        StatusCode::OK,
        "a new login works"
    );

    let audit = app.ctx.ports.audit.list_audit(10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "sessions.end" && a.target == "token:developer-token"),
        "the end is audited"
    );
    app.stop().await;
}
