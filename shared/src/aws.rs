//! The AWS SDK configuration every function and the local stack load: the standard provider
//! chain (region, credentials, `AWS_ENDPOINT_URL*`) with timeouts on every call.
//!
//! Without them a call to a store that accepts the connection and never answers waits as long
//! as the socket does (a client of the local API once waited more than 90 s). The values are
//! layered under the functions' own limits (`template.yaml`: HTTP functions run at most 10 s):
//!
//! | limit | value | what it bounds |
//! |---|---|---|
//! | [`CONNECT_TIMEOUT`] | 2 s | opening a connection (the SDK's default is 3.1 s) |
//! | [`OPERATION_ATTEMPT_TIMEOUT`] | 3 s | one attempt, sending the request to the response; a timed-out attempt is retried |
//! | [`OPERATION_TIMEOUT`] | 6 s | the whole call, retries and backoff included: then a retryable error (503 `unavailable` on the API); 3 s below the request deadline, so that a stalled call is reported as what it is even on a busy host |
//! | [`crate::http::REQUEST_DEADLINE`] | 9 s | a whole HTTP request, however many calls it makes (503 `timeout`) |
//!
//! DynamoDB answers in milliseconds; 3 s per attempt only cuts off a stall. Uploads of export
//! files and the mail carrying them take longer when large: they override the timeouts with
//! [`transfer_timeouts`] for that call only. Streamed response bodies (sync reading a delivery)
//! are not covered by the operation timeout, only the wait for the response is.

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use std::time::Duration;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub const OPERATION_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(6);

/// The timeouts of every SDK call (see the module's table).
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(OPERATION_ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// How many transfers one export makes, one after another: the CSV and the XLSX uploaded, then
/// the mail.
pub const EXPORT_TRANSFERS: u32 = 3;

/// For uploading an export file or mailing it (at most megabytes, within the region): the same
/// connect timeout, 30 s per attempt, a minute in all. The worker's timeout (`template.yaml`)
/// leaves room for [`EXPORT_TRANSFERS`] of them after the files are made, so a stalled transfer
/// fails the attempt (the job goes back to the queue) rather than Lambda cutting the worker off
/// while it sends (the job would end `unconfirmed`).
pub fn transfer_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(Duration::from_secs(30))
        .operation_timeout(Duration::from_secs(60))
        .build()
}

/// The loader with the latest behaviour version and [`timeouts`]; the local stack adds its
/// region, dummy credentials and endpoints to it.
pub fn loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts())
}

/// The configuration a function's `main` builds its clients from, once, at init.
pub async fn sdk_config() -> SdkConfig {
    loader().load().await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layers nest: an attempt fits in the call, the call in the request's deadline.
    #[test]
    fn the_limits_nest() {
        let t = timeouts();
        assert_eq!(t.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!(
            t.operation_attempt_timeout(),
            Some(OPERATION_ATTEMPT_TIMEOUT)
        );
        assert_eq!(t.operation_timeout(), Some(OPERATION_TIMEOUT));
        assert!(CONNECT_TIMEOUT < OPERATION_ATTEMPT_TIMEOUT);
        assert!(OPERATION_ATTEMPT_TIMEOUT < OPERATION_TIMEOUT);
        assert!(OPERATION_TIMEOUT < crate::http::REQUEST_DEADLINE);
    }
}
