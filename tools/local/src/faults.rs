//! Injected DynamoDB faults, for the tests that prove nothing is lost or doubled when the store
//! fails: an SDK interceptor that, after the request *has reached the engine*, replaces some
//! responses with DynamoDB's own error answers (`InternalServerError` 500, `ThrottlingException`
//! 400). So the writer cannot know whether its write happened, the hardest case: the SDK retries
//! (its standard three attempts), and a burst longer than that reaches the code under test.
//! Like the request counter, it lives here because no deployed function uses it.

use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextMut;
use aws_smithy_types::body::SdkBody;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which responses fail, alternately as a 500 and as throttling: every `isolated`-th response
/// alone (the SDK retries it, and a write that happened is sent again), and of every `every`
/// responses the first `burst` (`burst` ≥ 3 defeats the SDK's own retries of a request sent
/// alone, so the failure reaches the code under test). Deterministic, so a failing test fails the
/// same way again.
#[derive(Debug, Clone)]
pub struct FaultInjector {
    isolated: u64,
    every: u64,
    burst: u64,
    seen: Arc<AtomicU64>,
    injected: Arc<AtomicU64>,
    /// Off while a test sets up or checks, on while the code under test runs.
    armed: Arc<std::sync::atomic::AtomicBool>,
}

impl FaultInjector {
    pub fn new(isolated: u64, every: u64, burst: u64) -> Self {
        assert!(
            every > burst && isolated > 1,
            "some responses must get through"
        );
        Self {
            isolated,
            every,
            burst,
            seen: Arc::default(),
            injected: Arc::default(),
            armed: Arc::new(true.into()),
        }
    }

    /// A DynamoDB client over `sdk` whose responses this injector spoils.
    pub fn client(&self, sdk: &aws_config::SdkConfig) -> Client {
        let config = aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(self.clone())
            .build();
        Client::from_conf(config)
    }

    /// How many responses were replaced by an error so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    pub fn arm(&self, armed: bool) {
        self.armed.store(armed, Ordering::Relaxed);
    }
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for FaultInjector {
    fn name(&self) -> &'static str {
        "FaultInjector"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if !self.armed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        if n % self.every >= self.burst && n % self.isolated != self.isolated - 1 {
            return Ok(());
        }
        let injected = self.injected.fetch_add(1, Ordering::Relaxed);
        let (status, kind) = if injected.is_multiple_of(2) {
            (500, "InternalServerError")
        } else {
            (400, "ThrottlingException")
        };
        let body = format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"injected by the test"}}"#
        );
        let mut response = aws_smithy_runtime_api::http::Response::new(
            status.try_into().expect("a status code"),
            SdkBody::from(body),
        );
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        *context.response_mut() = response;
        Ok(())
    }
}

/// Cuts the bodies of the first `times` S3 GetObject responses after `after` bytes with a broken
/// connection, as a network failing half-way through a delivery's stream does.
#[derive(Debug, Clone)]
pub struct S3StreamCut {
    after: u64,
    times: u64,
    /// GetObject responses seen.
    seen: Arc<AtomicU64>,
}

impl S3StreamCut {
    pub fn new(after: u64, times: u64) -> Self {
        Self {
            after,
            times,
            seen: Arc::default(),
        }
    }

    /// An S3 client over `sdk` (path-style, as the local stack's) whose streams this cuts.
    pub fn client(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .interceptor(self.clone())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// How many streams were cut so far.
    pub fn cuts(&self) -> u64 {
        self.seen.load(Ordering::Relaxed).min(self.times)
    }
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for S3StreamCut {
    fn name(&self) -> &'static str {
        "S3StreamCut"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let operation = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map(|metadata| metadata.name());
        if operation != Some("GetObject") || !context.response().status().is_success() {
            return Ok(());
        }
        if self.seen.fetch_add(1, Ordering::Relaxed) >= self.times {
            return Ok(());
        }
        let body = context.response_mut().take_body();
        *context.response_mut().body_mut() = SdkBody::from_body_1_x(CutBody {
            inner: body,
            left: self.after,
        });
        Ok(())
    }
}

/// A body that ends in a broken connection after `left` more bytes.
struct CutBody {
    inner: SdkBody,
    left: u64,
}

impl http_body::Body for CutBody {
    type Data = bytes::Bytes;
    type Error = aws_smithy_runtime_api::box_error::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        if self.left == 0 {
            let broken = std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "the connection broke (cut by the test)",
            );
            return Poll::Ready(Some(Err(broken.into())));
        }
        match std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    let keep = data.len().min(self.left as usize);
                    data.truncate(keep);
                    self.left -= keep as u64;
                    Poll::Ready(Some(Ok(http_body::Frame::data(data))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            other => other,
        }
    }
}
