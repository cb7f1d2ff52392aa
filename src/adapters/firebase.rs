//! Firebase Auth ID tokens: RS256 JWTs checked against Google's published keys (JWKS), cached
//! for as long as their `Cache-Control: max-age` allows; `aud` = the Firebase project,
//! `iss` = `https://securetoken.google.com/<project>`, `exp`, `iat` and `auth_time` checked,
//! `sub` present. Anything but RS256 is refused before a key is even looked at (so `alg: none`
//! and HS256-with-the-public-key cannot pass).
//!
//! Keys rotate, so a token naming an unknown `kid` refetches them — at most once a minute and
//! one fetch at a time, whatever arrives: otherwise anyone could make the server call Google at
//! will. Meanwhile such tokens are refused (401).

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
use serde::Deserialize;
use tokio::sync::RwLock;

use crate::ports::identity::{Identity, VerifiedUser};

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    auth_time: Option<i64>,
    email: Option<String>,
    #[serde(default)]
    email_verified: bool,
    blueberry_role: Option<String>,
}

/// Clock skew tolerated on `exp`, `iat` and `auth_time`.
const LEEWAY_SECS: i64 = 60;
/// The least time between two fetches that unknown `kid`s cause.
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(60);

pub struct FirebaseVerifier {
    http: reqwest::Client,
    jwks_url: String,
    project: String,
    keys: RwLock<Option<(JwkSet, Instant)>>,
    /// Held while fetching (one fetch at a time); when the last fetch started.
    fetching: tokio::sync::Mutex<Option<Instant>>,
}

impl FirebaseVerifier {
    pub fn new(project: &str, jwks_url: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            http,
            jwks_url: jwks_url.to_owned(),
            project: project.to_owned(),
            keys: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(None),
        })
    }

    async fn fetch(&self) -> Result<JwkSet, String> {
        let resp = self
            .http
            .get(&self.jwks_url)
            .send()
            .await
            .map_err(|e| format!("fetching Firebase keys: {}", e.without_url()))?;
        if !resp.status().is_success() {
            return Err(format!("fetching Firebase keys: {}", resp.status()));
        }
        let max_age = resp
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split(',')
                    .find_map(|d| d.trim().strip_prefix("max-age=")?.parse::<u64>().ok())
            })
            .unwrap_or(300);
        let set: JwkSet = resp
            .json()
            .await
            .map_err(|e| format!("Firebase keys: {e}"))?;
        *self.keys.write().await =
            Some((set.clone(), Instant::now() + Duration::from_secs(max_age)));
        Ok(set)
    }

    /// What the cache says of `kid`: its key, or None when the cache is fresh but does not
    /// know it; outer None when there is no fresh cache.
    async fn cached(&self, kid: &str) -> Option<Option<jsonwebtoken::jwk::Jwk>> {
        match &*self.keys.read().await {
            Some((set, until)) if Instant::now() < *until => Some(set.find(kid).cloned()),
            _ => None,
        }
    }

    /// The key for `kid`: from the cache while fresh; refetched when the cache is stale, or
    /// when `kid` is unknown and the last fetch is a minute old (keys rotate).
    async fn key(&self, kid: &str) -> Result<Option<DecodingKey>, String> {
        let decode = |jwk: Option<jsonwebtoken::jwk::Jwk>| {
            jwk.as_ref()
                .map(DecodingKey::from_jwk)
                .transpose()
                .map_err(|e| e.to_string())
        };
        if let Some(Some(jwk)) = self.cached(kid).await {
            return decode(Some(jwk));
        }
        // One fetch at a time: whoever waited here finds the keys it would have fetched.
        let mut last = self.fetching.lock().await;
        let recent = last.is_some_and(|at| at.elapsed() < REFETCH_AT_MOST_EVERY);
        match self.cached(kid).await {
            Some(Some(jwk)) => return decode(Some(jwk)),
            // Fresh keys that do not know it, fetched less than a minute ago: refused.
            Some(None) if recent => return Ok(None),
            _ => {}
        }
        *last = Some(Instant::now());
        let set = self.fetch().await?;
        decode(set.find(kid).cloned())
    }

    async fn check(&self, token: &str, now: i64) -> Result<Option<VerifiedUser>, String> {
        let Ok(header) = decode_header(token) else {
            return Ok(None);
        };
        if header.alg != Algorithm::RS256 {
            return Ok(None);
        }
        let Some(kid) = header.kid else {
            return Ok(None);
        };
        let Some(key) = self.key(&kid).await? else {
            return Ok(None);
        };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&self.project]);
        validation.set_issuer(&[format!("https://securetoken.google.com/{}", self.project)]);
        validation.set_required_spec_claims(&["exp", "iat", "aud", "iss", "sub"]);
        validation.leeway = LEEWAY_SECS as u64;
        let Ok(data) = decode::<Claims>(token, &key, &validation) else {
            return Ok(None);
        };
        let c = data.claims;
        let in_past = |t: i64| t <= now + LEEWAY_SECS;
        if c.sub.is_empty() || !in_past(c.iat) || !c.auth_time.is_some_and(in_past) {
            return Ok(None);
        }
        Ok(Some(VerifiedUser {
            uid: c.sub,
            email: c.email,
            email_verified: c.email_verified,
            role_claim: c.blueberry_role,
        }))
    }
}

#[async_trait::async_trait]
impl Identity for FirebaseVerifier {
    /// `Ok(None)`: not a valid ID token for this project; `Err`: the keys could not be fetched.
    async fn verify(&self, token: &str, now: i64) -> Result<Option<VerifiedUser>, String> {
        self.check(token, now).await
    }
}
