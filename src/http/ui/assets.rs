//! Static files, embedded in the binary at build time: nothing is read from disk or fetched at
//! run time. Vendored files carry their version in the name and are cached for a year; the
//! project's own stylesheet and script are revalidated with an ETag.

use std::sync::LazyLock;

use axum::{
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

struct Asset {
    path: &'static str,
    body: &'static [u8],
    content_type: &'static str,
    /// The name carries the version, so the content never changes under it.
    immutable: bool,
}

macro_rules! asset {
    ($path:literal, $type:expr, $immutable:literal) => {
        Asset {
            path: $path,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/static/", $path)),
            content_type: $type,
            immutable: $immutable,
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("app.css", CSS, false),
    asset!("app.js", JS, false),
    asset!("vendor/htmx-2.0.11.min.js", JS, true),
    asset!("vendor/htmx-ext-sse-2.2.4.min.js", JS, true),
    asset!("vendor/alpinejs-csp-3.17.4.min.js", JS, true),
    asset!("vendor/licenses/htmx.org.txt", TEXT, false),
    asset!("vendor/licenses/htmx-ext-sse.txt", TEXT, false),
    asset!("vendor/licenses/alpinejs.txt", TEXT, false),
];

/// Strong ETags of the embedded files, computed once.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| format!("\"{}\"", &hex::encode(Sha256::digest(a.body))[..16]))
        .collect()
});

/// `GET /static/{*path}`
pub async fn serve(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.path == path) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, TEXT)],
            "no such static file",
        )
            .into_response();
    };
    let (asset, etag) = (&ASSETS[i], &ETAGS[i]);
    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, no-cache"
    };
    let etag_value = HeaderValue::from_str(etag).expect("hex is a valid header");
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let common = [
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (header::ETAG, etag_value),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        )],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_embedded_with_a_type() {
        for a in ASSETS {
            assert!(!a.body.is_empty(), "{} is empty", a.path);
            assert!([JS, CSS, TEXT].contains(&a.content_type));
        }
        assert!(
            ASSETS
                .iter()
                .filter(|a| a.immutable)
                .all(|a| a.path.starts_with("vendor/"))
        );
    }
}
