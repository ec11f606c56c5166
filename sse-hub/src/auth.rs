//! Bearer-token checks for publishing and subscribing.

use actix_web::HttpRequest;
use actix_web::http::header;
use subtle::ConstantTimeEq as _;

/// Where a request presented a token, if anywhere.
pub(crate) fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Whether `req` carries `expected` in its `Authorization` header or, when
/// `query_param` is given, in that query parameter. `None` means no token is
/// required.
pub(crate) fn authorized(
    req: &HttpRequest,
    expected: Option<&str>,
    query_param: Option<&str>,
) -> bool {
    let Some(expected) = expected else {
        return true;
    };
    if bearer_token(req).is_some_and(|token| same_secret(token, expected)) {
        return true;
    }
    let Some(param) = query_param else {
        return false;
    };
    matches!(sse_actix::server::query_param(req, param), Ok(Some(token)) if same_secret(&token, expected))
}

/// Compares in constant time, so response timing does not reveal how much
/// of a guessed token was right (only its length, which a token's format
/// discloses anyway).
fn same_secret(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn bearer_header_or_query_parameter() {
        let header = TestRequest::get()
            .insert_header(("authorization", "bearer s3cret"))
            .to_http_request();
        assert!(authorized(&header, Some("s3cret"), None));
        assert!(!authorized(&header, Some("s3cre"), None));
        let query = TestRequest::get()
            .uri("/events?token=s3cret")
            .to_http_request();
        assert!(authorized(&query, Some("s3cret"), Some("token")));
        assert!(
            !authorized(&query, Some("s3cret"), None),
            "only where allowed"
        );
        let basic = TestRequest::get()
            .insert_header(("authorization", "Basic s3cret"))
            .to_http_request();
        assert!(!authorized(&basic, Some("s3cret"), None));
        assert!(authorized(&basic, None, None), "no token configured");
    }
}
