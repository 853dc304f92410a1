//! Counting DynamoDB requests, for the benchmarks and the tests that assert a request count:
//! an SDK interceptor, so it sees every request whatever code path made it. It lives here, not in
//! the domain crate, because no deployed function uses it.

use aws_sdk_dynamodb::Client;

/// Counts DynamoDB requests by operation, as sent (retries included), and the time spent waiting
/// for them.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, u64>>>,
    /// Nanoseconds spent waiting for DynamoDB (transmit to response), summed over requests.
    waited_nanos: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// When the current attempt was sent (kept in the request's config bag).
#[derive(Debug, Clone, Copy)]
struct SentAt(std::time::Instant);

impl aws_smithy_types::config_bag::Storable for SentAt {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl RequestCounter {
    /// A DynamoDB client over `sdk` whose requests this counter counts.
    pub fn client(&self, sdk: &aws_config::SdkConfig) -> Client {
        let config = aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(self.clone())
            .build();
        Client::from_conf(config)
    }

    pub fn snapshot(&self) -> std::collections::BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }

    /// Time spent waiting for DynamoDB since the last reset (so a caller's own time is its
    /// wall time minus this).
    pub fn waited(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(
            self.waited_nanos.load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    pub fn reset(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.waited_nanos
            .store(0, std::sync::atomic::Ordering::Relaxed);
    }
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_attempt(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let operation = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map_or("unknown", |m| m.name())
            .to_string();
        *self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(operation)
            .or_default() += 1;
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        cfg.interceptor_state()
            .store_put(SentAt(std::time::Instant::now()));
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let Some(SentAt(at)) = cfg.load::<SentAt>() {
            let nanos = u64::try_from(at.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.waited_nanos
                .fetch_add(nanos, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }
}
