//! The `--token` check: `Authorization: Bearer TOKEN`, or the cookie a browser gets by opening
//! any page with `?token=TOKEN` once.

use std::collections::HashMap;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};

use super::Shared;

const COOKIE: &str = "argus_token";

/// Lets a request through when the server has no token or the request carries it; 401
/// otherwise.
pub(super) async fn check(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let Some(token) = state.token.as_deref() else {
        return next.run(request).await;
    };
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|given| same(given.trim().as_bytes(), token.as_bytes()));
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .any(|given| same(given.as_bytes(), token.as_bytes()));
    if bearer || cookie {
        return next.run(request).await;
    }
    let query = Query::<HashMap<String, String>>::try_from_uri(request.uri())
        .ok()
        .and_then(|Query(query)| query.get("token").cloned());
    if query.is_some_and(|given| same(given.as_bytes(), token.as_bytes())) {
        let mut response = next.run(request).await;
        // Only a token a cookie can carry as is; others keep using the query or the header.
        if let Ok(value) = HeaderValue::from_str(&format!(
            "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
        )) {
            if token
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b";,\"\\".contains(&b))
            {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        return response;
    }
    let mut response = super::openai::error(
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
        "this server needs `Authorization: Bearer TOKEN` (its --token)",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Compares in time that depends on the lengths only, not on where the bytes differ.
fn same(given: &[u8], expected: &[u8]) -> bool {
    let mut difference = u8::from(given.len() != expected.len());
    for (index, byte) in expected.iter().enumerate() {
        difference |= byte ^ given.get(index).copied().unwrap_or(!byte);
    }
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn tokens_compare_exactly() {
        assert!(same(b"s3cret", b"s3cret"));
        assert!(!same(b"s3cre", b"s3cret"));
        assert!(!same(b"s3cret!", b"s3cret"));
        assert!(!same(b"S3cret", b"s3cret"));
        assert!(!same(b"", b"s3cret"));
    }
}
