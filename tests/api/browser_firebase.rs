//! Firebase email sign-in on the login page, in Chromium, against a wiremock Google.

use std::time::Duration;

use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_partial_json, method, path, query_param},
};

use crate::{
    browser::Browser,
    firebase,
    helpers::{TestApp, heavy_turn},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_sign_in_with_firebase_on_the_login_page() {
    let _turn = heavy_turn().await;
    // Google, played by wiremock: the JWKS that verifies ID tokens, and Firebase Auth's
    // signInWithPassword, answering the browser's cross-origin calls as Google does.
    let google = MockServer::start().await;
    Mock::given(path("/jwks"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(firebase::fixture("jwks.json"), "application/json"),
        )
        .mount(&google)
        .await;
    let sign_in = "/v1/accounts:signInWithPassword";
    let cors = |t: ResponseTemplate| {
        t.insert_header("access-control-allow-origin", "*")
            .insert_header("access-control-allow-headers", "content-type")
            .insert_header("access-control-allow-methods", "POST")
    };
    Mock::given(method("OPTIONS"))
        .and(path(sign_in))
        .respond_with(cors(ResponseTemplate::new(204)))
        .mount(&google)
        .await;
    let id_token = firebase::sign(&firebase::claims("dev@example.com", |_| {}));
    Mock::given(method("POST"))
        .and(path(sign_in))
        .and(query_param("key", "web-api-key"))
        .and(body_partial_json(
            json!({"email": "dev@example.com", "password": "right horse"}),
        ))
        .respond_with(cors(ResponseTemplate::new(200)).set_body_json(json!({"idToken": id_token})))
        .with_priority(1)
        .mount(&google)
        .await;
    Mock::given(method("POST"))
        .and(path(sign_in))
        .respond_with(
            cors(ResponseTemplate::new(400))
                .set_body_json(json!({"error": {"message": "INVALID_LOGIN_CREDENTIALS"}})),
        )
        .with_priority(10)
        .mount(&google)
        .await;
    let (jwks, auth) = (format!("{}/jwks", google.uri()), google.uri());
    let app = TestApp::spawn_with(|c| {
        c.firebase_project = Some(firebase::PROJECT.into());
        c.firebase_jwks_url = jwks;
        c.firebase_developers = vec!["@example.com".into()];
        c.firebase_api_key = Some("web-api-key".into());
        c.firebase_auth_url = auth;
    })
    .await;
    let csp = reqwest::get(format!("{}/login", app.url))
        .await
        .unwrap()
        .headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains(&format!("connect-src 'self' {}", google.uri())),
        "{csp}"
    );

    let browser = Browser::start().await;
    let b = &browser;
    b.client
        .goto(&format!("{}/login?next=/tokens", app.url))
        .await
        .unwrap();
    b.fill("#fb-email", "dev@example.com").await;
    b.fill("#fb-password", "wrong").await;
    b.find("#fb-submit").await.click().await.unwrap();

    b.wait_text(
        "#fb-error",
        "Wrong email or password",
        Duration::from_secs(5),
    )
    .await;
    b.fill("#fb-password", "right horse").await;
    b.find("#fb-submit").await.click().await.unwrap();
    b.wait_text("h1", "API tokens", Duration::from_secs(10))
        .await;
    let who = b.text("header .user").await;
    assert!(
        who.contains("dev@example.com") && who.contains("developer"),
        "{who}"
    );
    browser.client.close().await.unwrap();
    app.stop().await;
}
