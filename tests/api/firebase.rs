//! Firebase ID tokens: signed with a test RSA key whose JWKS wiremock serves.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::path};

use crate::helpers::{TestApp, client_with};

pub const PROJECT: &str = "blueberry-test";

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/fixtures/firebase/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub fn claims(email: &str, adjust: impl FnOnce(&mut Value)) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut c = json!({
        "iss": format!("https://securetoken.google.com/{PROJECT}"), "aud": PROJECT, "sub": "uid-123",
        "iat": now - 10, "exp": now + 3600, "auth_time": now - 20, "email": email, "email_verified": true
    });
    adjust(&mut c);
    c
}

fn sign_with(key_file: &str, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(fixture(key_file).as_bytes()).unwrap(),
    )
    .unwrap()
}

pub fn sign(claims: &Value) -> String {
    sign_with("test-signing-key.pem", "test-key-1", claims)
}

async fn app() -> (TestApp, MockServer) {
    let google = MockServer::start().await;
    Mock::given(path("/jwks"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("cache-control", "public, max-age=3600")
                .set_body_raw(fixture("jwks.json"), "application/json"),
        )
        .mount(&google)
        .await;
    let url = format!("{}/jwks", google.uri());
    let app = TestApp::spawn_with(|c| {
        c.firebase_project = Some(PROJECT.into());
        c.firebase_jwks_url = url;
        c.firebase_admins = vec!["boss@example.com".into()];
        c.firebase_developers = vec!["@example.com".into()];
    })
    .await;
    (app, google)
}

async fn me(app: &TestApp, jwt: &str) -> (StatusCode, Value) {
    let r = client_with(jwt)
        .get(format!("{}/api/me", app.url))
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn valid_id_tokens_get_roles_from_claims_and_allowlists() {
    let (app, google) = app().await;
    assert_eq!(
        me(&app, &sign(&claims("boss@example.com", |_| {}))).await,
        (
            StatusCode::OK,
            json!({"name": "boss@example.com", "role": "admin"})
        )
    );
    assert_eq!(
        me(&app, &sign(&claims("dev@example.com", |_| {}))).await.1["role"],
        "developer"
    );
    let claimed = sign(&claims("someone@else.org", |c| {
        c["blueberry_role"] = json!("viewer")
    }));
    assert_eq!(me(&app, &claimed).await.1["role"], "viewer");
    let (status, _) = me(&app, &sign(&claims("stranger@else.org", |_| {}))).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "unknown users get nothing by default"
    );
    let jwks_fetches = google.received_requests().await.unwrap().len();
    assert_eq!(jwks_fetches, 1, "keys are cached per Cache-Control");
}

#[tokio::test]
async fn forged_expired_and_foreign_tokens_are_refused() {
    let (app, _google) = app().await;
    let now = chrono::Utc::now().timestamp();
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let good = claims("boss@example.com", |_| {});
    let cases: Vec<(&str, String)> = vec![
        (
            "expired",
            sign(&claims("boss@example.com", |c| {
                c["exp"] = json!(now - 3600)
            })),
        ),
        (
            "wrong audience",
            sign(&claims("boss@example.com", |c| {
                c["aud"] = json!("another-project")
            })),
        ),
        (
            "wrong issuer",
            sign(&claims("boss@example.com", |c| {
                c["iss"] = json!("https://securetoken.google.com/another-project")
            })),
        ),
        (
            "issued in the future",
            sign(&claims("boss@example.com", |c| {
                c["iat"] = json!(now + 3600)
            })),
        ),
        (
            "no auth_time",
            sign(&claims("boss@example.com", |c| {
                c.as_object_mut().unwrap().remove("auth_time");
            })),
        ),
        (
            "empty subject",
            sign(&claims("boss@example.com", |c| c["sub"] = json!(""))),
        ),
        (
            "bad signature",
            sign_with("other-key.pem", "test-key-1", &good),
        ),
        (
            "unknown kid",
            sign_with("test-signing-key.pem", "no-such-key", &good),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "kid": "test-key-1", "typ": "JWT"})),
                b64(&good)
            ),
        ),
        ("HS256 with the public key as secret", {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("test-key-1".into());
            encode(
                &header,
                &good,
                &EncodingKey::from_secret(fixture("test-signing-key.pub.pem").as_bytes()),
            )
            .unwrap()
        }),
        ("garbage", "not.a.jwt".into()),
    ];
    for (what, jwt) in cases {
        let (status, body) = me(&app, &jwt).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    }
    assert_eq!(
        me(&app, &sign(&good)).await.0,
        StatusCode::OK,
        "the genuine token still works"
    );
}

#[tokio::test]
async fn an_id_token_can_be_exchanged_for_a_browser_session() {
    let (app, _google) = app().await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let jwt = sign(&claims("dev@example.com", |_| {}));
    let r = browser
        .post(format!("{}/login", app.url))
        .form(&[("id_token", jwt.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let me: Value = browser
        .get(format!("{}/api/me", app.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me, json!({"name": "dev@example.com", "role": "developer"}));
    let forged = sign_with(
        "other-key.pem",
        "test-key-1",
        &claims("boss@example.com", |_| {}),
    );
    let r = browser
        .post(format!("{}/login", app.url))
        .form(&[("id_token", forged.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// Tokens naming unknown `kid`s cannot make the server call Google at will: keys fetched less
/// than a minute ago are not fetched again for them (one fetch at a time), and they get 401.
#[tokio::test]
async fn unknown_key_ids_do_not_refetch_google_keys_on_every_request() {
    let (app, google) = app().await;
    let (status, _) = me(&app, &sign(&claims("boss@example.com", |_| {}))).await;
    assert_eq!(status, StatusCode::OK);
    let good = claims("boss@example.com", |_| {});
    let forged: Vec<String> = (0..20)
        .map(|n| sign_with("test-signing-key.pem", &format!("rotated-{n}"), &good))
        .collect();
    let answers = futures::future::join_all(forged.iter().map(|jwt| me(&app, jwt))).await;
    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::UNAUTHORIZED),
        "{answers:?}"
    );
    let fetches = google.received_requests().await.unwrap_or_default().len();
    assert_eq!(fetches, 1, "Google's keys were fetched {fetches} times");
}

/// A Firebase session's role is decided again on every request: someone taken off the admin
/// list is no admin any more, though their session cookie said so at login.
#[tokio::test]
async fn a_firebase_session_follows_the_role_lists_of_today() {
    let (app, google) = app().await;
    let key = "k".repeat(32);
    let mut config = app.config.clone();
    config.session_key = Some(key.clone().into());
    let dir = app.dir.clone();
    app.stop().await;
    let app = TestApp::start(config.clone(), dir.clone()).await;
    let jwt = sign(&claims("boss@example.com", |_| {}));
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/login", app.url))
        .form(&[("id_token", jwt.as_str())])
        .send()
        .await
        .unwrap();
    let cookie = crate::sessions::session_of(&r);
    let who = |app: &TestApp| {
        let (url, cookie) = (app.url.clone(), cookie.clone());
        async move {
            let r = reqwest::Client::new()
                .get(format!("{url}/api/me"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    assert_eq!(who(&app).await.1["role"], "admin");
    app.stop().await;

    // The operator takes boss off the admin list (they stay a developer through @example.com).
    config.firebase_admins = vec![];
    let app = TestApp::start(config.clone(), dir.clone()).await;
    assert_eq!(who(&app).await.1["role"], "developer");
    app.stop().await;

    // And off every list: the session no longer gets in.
    config.firebase_developers = vec![];
    let app = TestApp::start(config, dir).await;
    assert_eq!(who(&app).await.0, StatusCode::FORBIDDEN);
    app.stop().await;
    drop(google);
}
