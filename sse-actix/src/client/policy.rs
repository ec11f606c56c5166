//! When to reconnect: after which ends of a response, and after which
//! refused responses (with the delay the server asked for).

use std::time::{Duration, SystemTime};

use awc::http::StatusCode;
use awc::http::header::{HeaderMap, HttpDate, RETRY_AFTER};

/// Which losses the client reconnects after, set with
/// [`ClientBuilder::reconnect_policy`](super::ClientBuilder::reconnect_policy).
///
/// The default depends on the request: [`Always`](Self::Always) for a `GET`
/// without a body (the WHATWG rules), [`UntilAccepted`](Self::UntilAccepted)
/// for any other method or a request with a body. Reconnecting resends the
/// request, and a repeated `POST` is a second request to the server: for an
/// LLM API, a second paid completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconnectPolicy {
    /// Reconnect after every loss: a clean end, a network error, an idle
    /// timeout, a retried status (per the spec).
    Always,
    /// Reconnect only while no response has been accepted (connection
    /// errors, retried statuses). Once one has, its end is the end of the
    /// subscription: a clean end stops it successfully
    /// ([`StopReason::Completed`](super::StopReason::Completed)), an error
    /// stops it with that error.
    UntilAccepted,
}

/// What the client does with a response it cannot read as an event
/// stream: a non-2xx status, a `Content-Type` other than
/// `text/event-stream`, a close-delimited body, or a validator's refusal.
/// `204 No Content` always stops the client, successfully.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HttpErrorPolicy {
    /// Retry the statuses that say "later": any 5xx, `408 Request Timeout`
    /// and `429 Too Many Requests`, after the server's `Retry-After` when
    /// it sent one (and the backoff otherwise); stop on anything else (a
    /// 401 or a 404 will not get better by asking again). The default.
    #[default]
    RetryTransient,
    /// Stop on every unacceptable response (the spec's "fail the
    /// connection").
    Stop,
    /// Retry every unacceptable response, as after a network error (what
    /// long-running clients such as LaunchDarkly's SDKs do).
    Retry,
}

impl HttpErrorPolicy {
    /// Whether a response with `status` (not 2xx) is retried.
    pub(crate) fn retries_status(self, status: StatusCode) -> bool {
        match self {
            HttpErrorPolicy::RetryTransient => {
                status.is_server_error()
                    || status == StatusCode::REQUEST_TIMEOUT
                    || status == StatusCode::TOO_MANY_REQUESTS
            }
            HttpErrorPolicy::Stop => false,
            HttpErrorPolicy::Retry => true,
        }
    }

    /// Whether a 2xx response that is no event stream is retried.
    pub(crate) fn retries_other(self) -> bool {
        self == HttpErrorPolicy::Retry
    }
}

/// The delay a `Retry-After` header asks for: whole seconds, or an HTTP
/// date (relative to `now`; a date in the past asks for no delay).
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date: SystemTime = value.parse::<HttpDate>().ok()?.into();
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use awc::http::header::HeaderValue;

    use super::*;

    fn after(value: &'static str, now: SystemTime) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static(value));
        retry_after(&headers, now)
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(after("120", now), Some(Duration::from_secs(120)));
        // RFC 9110's example date is 784111777 seconds after the epoch.
        assert_eq!(
            after(
                "Sun, 06 Nov 1994 08:49:37 GMT",
                now - Duration::from_secs(5)
            ),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            after(
                "Sun, 06 Nov 1994 08:49:37 GMT",
                now + Duration::from_secs(5)
            ),
            Some(Duration::ZERO)
        );
        assert_eq!(after("soon", now), None);
        assert_eq!(after("-1", now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn transient_statuses_are_retried_and_client_errors_are_not() {
        let policy = HttpErrorPolicy::default();
        for code in [500, 502, 503, 504, 408, 429] {
            assert!(
                policy.retries_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 410, 301] {
            assert!(
                !policy.retries_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
        assert!(HttpErrorPolicy::Retry.retries_status(StatusCode::NOT_FOUND));
        assert!(!HttpErrorPolicy::Stop.retries_status(StatusCode::SERVICE_UNAVAILABLE));
    }
}
