//! DynamoDB behind the domain's own functions. Capability modules say *what* to read or write
//! (keys come from [`crate::keys`]); this module says *how*: serde_dynamo (de)serialisation,
//! conditional writes, transactions, pagination with opaque cursors, and error mapping.

mod expression;

pub use expression::{Applied, Condition, ItemUpdate, Value, delete_when, put_when};

use crate::keys;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, TransactWriteItem, WriteRequest};
use base64::Engine;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write found the item in another state than required.
    #[error("the item changed or does not exist in the expected state")]
    ConditionFailed,
    /// DynamoDB asked to slow down (throttling) or failed on its side: trying again after a
    /// backoff may succeed.
    #[error("DynamoDB request failed (retryable): {0}")]
    Request(String, #[source] Box<dyn std::error::Error + Send + Sync>),
    /// No answer in time, or no connection, after the SDK's own retries: trying again later may
    /// succeed, but not at once (the SDK already did).
    #[error("DynamoDB did not answer (retryable later): {0}")]
    Unreachable(String, #[source] Box<dyn std::error::Error + Send + Sync>),
    /// DynamoDB refused the request itself (validation, missing table): retrying will not help.
    #[error("DynamoDB refused the request: {0}")]
    Rejected(String, #[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("item (de)serialisation failed: {0}")]
    Serde(#[from] serde_dynamo::Error),
    #[error("malformed item: {0}")]
    Malformed(String),
    /// DynamoDB kept refusing part of a batch (throttling); the caller may retry later.
    #[error("{0} items stayed unprocessed after every retry")]
    Unprocessed(usize),
}

impl StoreError {
    /// Whether retrying the same request later may succeed (throttling, timeouts, 5xx).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Request(..) | Self::Unreachable(..) | Self::Unprocessed(_)
        )
    }

    /// Whether to retry at once, after a backoff: DynamoDB answered "slow down" or failed on its
    /// side. A call that timed out is not retried again here: the SDK retried it within its
    /// operation timeout, and retrying once more would multiply the wait of a request whose
    /// deadline is seconds away.
    pub fn is_worth_an_immediate_retry(&self) -> bool {
        matches!(self, Self::Request(..) | Self::Unprocessed(_))
    }
}

/// Error codes DynamoDB uses for "slow down or try again".
const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
];

fn request_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let message = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::ServiceError(service)
            if service
                .err()
                .code()
                .is_some_and(|c| RETRYABLE_CODES.contains(&c)) =>
        {
            StoreError::Request(message, Box::new(err))
        }
        SdkError::ServiceError(_) | SdkError::ConstructionFailure(_) => {
            StoreError::Rejected(message, Box::new(err))
        }
        _ => StoreError::Unreachable(message, Box::new(err)),
    }
}

/// A cancellation reason that means the item is no longer as the transaction required.
fn moved_under_us(code: Option<&str>) -> bool {
    matches!(code, Some("ConditionalCheckFailed" | "TransactionConflict"))
}

/// A transaction DynamoDB cancelled (nothing of it was written) because some parts failed their
/// condition or met another transaction in flight: their positions in the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    pub parts: Vec<usize>,
}

/// Where a segment of a parallel Scan goes on: the key of the last item read (every key here is
/// made of strings), as a job saves it between pages.
pub type ScanPosition = std::collections::BTreeMap<String, String>;

/// What a Scan page holds of each item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanProjection {
    /// Its key and TTL (the sunset: all it changes).
    KeysAndTtl,
    /// All of it (the re-key: it rewrites items).
    Whole,
}

/// One page of a query: items and the opaque cursor to the next page (if any).
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// What to query: the table or an index, a partition, an optional sort-key prefix.
#[derive(Debug, Clone)]
pub struct QuerySpec {
    pub index: Option<keys::Index>,
    pub partition_attr: &'static str,
    pub partition: String,
    pub sort_attr: &'static str,
    pub sort_prefix: Option<String>,
    /// Only items whose sort key is `<=` this (e.g. "due by now").
    pub sort_upto: Option<String>,
    /// Only items whose sort key is `>=` this (e.g. "due after now").
    pub sort_from: Option<String>,
    pub newest_first: bool,
    pub limit: i32,
}

impl QuerySpec {
    /// A query on the table's own key.
    pub fn table(partition: String) -> Self {
        Self {
            index: None,
            partition_attr: keys::PK,
            partition,
            sort_attr: keys::SK,
            sort_prefix: None,
            sort_upto: None,
            sort_from: None,
            newest_first: false,
            limit: 50,
        }
    }

    /// A query on one of the global secondary indexes.
    pub fn index(index: keys::Index, partition: String) -> Self {
        let (partition_attr, sort_attr) = index.key_attributes();
        Self {
            index: Some(index),
            partition_attr,
            sort_attr,
            ..Self::table(partition)
        }
    }

    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.sort_prefix = Some(prefix.into());
        self
    }

    pub fn upto(mut self, upto: impl Into<String>) -> Self {
        self.sort_upto = Some(upto.into());
        self
    }

    pub fn from(mut self, from: impl Into<String>) -> Self {
        self.sort_from = Some(from.into());
        self
    }

    pub fn newest_first(mut self) -> Self {
        self.newest_first = true;
        self
    }

    pub fn limit(mut self, limit: i32) -> Self {
        self.limit = limit;
        self
    }
}

/// Cursors are the DynamoDB `LastEvaluatedKey` (string attributes only in this design), as
/// base64url JSON. They are opaque to clients; a tampered cursor is a 400, never a 500.
pub fn encode_cursor(key: &Item) -> String {
    let map: std::collections::BTreeMap<&str, &str> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.as_str(), s.as_str())))
        .collect();
    let json = serde_json::to_vec(&map).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

#[derive(Debug, thiserror::Error)]
#[error("the cursor is not one this API issued")]
pub struct BadCursor;

pub fn decode_cursor(cursor: &str, spec: &QuerySpec) -> Result<Item, BadCursor> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| BadCursor)?;
    let map: HashMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| BadCursor)?;
    // A cursor must point into the partition being queried: one from another enterprise or
    // another list is refused rather than silently answering something else.
    if map.get(spec.partition_attr) != Some(&spec.partition) {
        return Err(BadCursor);
    }
    let sort = map.get(spec.sort_attr).ok_or(BadCursor)?;
    // DynamoDB refuses a start key outside the key condition: refuse it here, as a bad cursor.
    if spec
        .sort_prefix
        .as_ref()
        .is_some_and(|prefix| !sort.starts_with(prefix.as_str()))
        || spec.sort_upto.as_ref().is_some_and(|upto| sort > upto)
    {
        return Err(BadCursor);
    }
    // Exactly the attributes DynamoDB returns as LastEvaluatedKey: the index key plus, for an
    // index, the table key. Anything else would be a ValidationException (a 500) downstream.
    let mut expected = vec![spec.partition_attr, spec.sort_attr];
    if spec.index.is_some() {
        expected.extend([keys::PK, keys::SK]);
    }
    if map.len() != expected.len()
        || !expected
            .iter()
            .all(|a| map.get(*a).is_some_and(|v| !v.is_empty()))
    {
        return Err(BadCursor);
    }
    Ok(map
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    /// Shared, so cloning a store (every request clones its state) allocates nothing.
    table: std::sync::Arc<str>,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into().into(),
        }
    }

    /// The table `TABLE_NAME` names, over a client of `aws`: what a function's init opens.
    pub fn from_env(
        aws: &aws_config::SdkConfig,
        env: &dyn crate::config::Vars,
    ) -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(
            Client::new(aws),
            crate::config::required(env, "TABLE_NAME")?,
        ))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Opens the connection to DynamoDB during a function's init: one GetItem of
    /// [`keys::WARM_UP`], which no item has, so the first request finds the connection (TCP and,
    /// deployed, TLS) and the SDK's first-call set-up already done. The HTTP functions run it
    /// beside their other init reads (docs/build.md has the measurements); a failure only loses
    /// the head start.
    pub async fn warm_up(&self) {
        let read = self
            .client
            .get_item()
            .table_name(&*self.table)
            .set_key(Some(Self::key(keys::WARM_UP, keys::WARM_UP)))
            .send()
            .await;
        if let Err(e) = read {
            tracing::debug!(error = %DisplayErrorContext(&e), "DynamoDB warm-up read failed");
        }
    }

    pub fn key(pk: &str, sk: &str) -> Item {
        HashMap::from([
            (keys::PK.to_string(), AttributeValue::S(pk.to_string())),
            (keys::SK.to_string(), AttributeValue::S(sk.to_string())),
        ])
    }

    pub fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
        Ok(serde_dynamo::to_item(value)?)
    }

    pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
        Ok(serde_dynamo::from_item(item)?)
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
    ) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.table())
            .set_key(Some(Self::key(pk, sk)))
            // Reads feed conditional writes (version checks): read the latest.
            .consistent_read(true)
            .send()
            .await
            .map_err(request_error)?;
        out.item.map(Self::from_item).transpose()
    }

    /// Reads the items at `keys` (consistently), 100 keys a BatchGetItem (see [`batch_get`]).
    /// Returns them keyed by (PK, SK); missing items are simply absent.
    pub async fn get_many(
        &self,
        keys_: Vec<Item>,
    ) -> Result<HashMap<(String, String), Item>, StoreError> {
        Ok(batch_get(self, self.table(), keys_).await?.0)
    }

    /// One page of one segment of a parallel Scan of the whole table (the sunset and re-key
    /// jobs, the only readers of everything), starting after `start_after`. Answers the items
    /// and where the next page starts (`None`: the segment is done).
    pub async fn scan_page(
        &self,
        segment: u32,
        total_segments: u32,
        start_after: Option<&ScanPosition>,
        limit: i32,
        projection: ScanProjection,
    ) -> Result<(Vec<Item>, Option<ScanPosition>), StoreError> {
        let start_after = start_after.map(|key| {
            key.iter()
                .map(|(k, v)| (k.clone(), AttributeValue::S(v.clone())))
                .collect::<Item>()
        });
        let mut scan = self
            .client
            .scan()
            .table_name(self.table())
            .segment(segment as i32)
            .total_segments(total_segments as i32)
            .set_exclusive_start_key(start_after)
            .limit(limit);
        if projection == ScanProjection::KeysAndTtl {
            scan = scan
                .projection_expression("#pk, #sk, #ttl")
                .expression_attribute_names("#pk", keys::PK)
                .expression_attribute_names("#sk", keys::SK)
                .expression_attribute_names("#ttl", keys::TTL);
        }
        let out = scan.send().await.map_err(request_error)?;
        let next = out.last_evaluated_key.map(|key| {
            key.into_iter()
                .filter_map(|(k, v)| v.as_s().ok().map(|s| (k, s.clone())))
                .collect()
        });
        Ok((out.items.unwrap_or_default(), next))
    }

    pub async fn put<T: Serialize>(&self, value: &T) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(self.table())
            .set_item(Some(Self::to_item(value)?))
            .send()
            .await
            .map_err(request_error)?;
        Ok(())
    }

    /// Puts `value` only if the stored item still has `read_version` (0: only if it does not
    /// exist). One PutItem; a lost race is [`StoreError::ConditionFailed`].
    pub async fn put_versioned<T: Serialize>(
        &self,
        value: &T,
        read_version: u64,
    ) -> Result<(), StoreError> {
        let condition = Condition::version((read_version > 0).then_some(read_version));
        self.put_item_when(Self::to_item(value)?, condition).await
    }

    /// Runs a transaction; a failed condition in any part is [`StoreError::ConditionFailed`].
    pub async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        self.transact_or_cancelled(items)
            .await?
            .map_err(|_| StoreError::ConditionFailed)
    }

    /// Runs a transaction and, when DynamoDB cancels it because parts failed their condition or
    /// met a concurrent transaction, says which parts ([`Cancelled`]): a caller writing many
    /// independent things at once can drop those and send the rest again.
    pub async fn transact_or_cancelled(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Cancelled>, StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        // A transaction is cancelled as a whole; its per-item reasons say why. A failed
        // condition or a conflicting concurrent transaction means the item moved under us (409);
        // throttling is worth a retry (503).
        match result {
            Ok(_) => Ok(Ok(())),
            Err(err) => match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e))
                    if e.cancellation_reasons().iter().any(|r| moved_under_us(r.code())) =>
                {
                    let parts = e
                        .cancellation_reasons()
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| moved_under_us(r.code()))
                        .map(|(i, _)| i)
                        .collect();
                    Ok(Err(Cancelled { parts }))
                }
                _ => Err(request_error(err)),
            },
        }
    }

    pub async fn query<T: DeserializeOwned>(
        &self,
        spec: &QuerySpec,
        cursor: Option<&str>,
    ) -> Result<Page<T>, BadCursorOr> {
        let start = cursor.map(|c| decode_cursor(c, spec)).transpose()?;
        // A range that starts at "now" has moved on since the previous page: the next page still
        // goes on from where that one stopped (the items passed over since come with it).
        let mut spec = std::borrow::Cow::Borrowed(spec);
        if let (Some(from), Some(at)) = (
            spec.sort_from.clone(),
            start
                .as_ref()
                .and_then(|key| key.get(spec.sort_attr))
                .and_then(|v| v.as_s().ok()),
        ) && at.as_str() < from.as_str()
        {
            spec.to_mut().sort_from = Some(at.clone());
        }
        let (items, last_key) = self.query_items(&spec, start, None).await?;
        let items = items
            .into_iter()
            .map(Self::from_item)
            .collect::<Result<Vec<T>, _>>()?;
        Ok(Page {
            items,
            next_cursor: last_key.as_ref().map(encode_cursor),
        })
    }

    /// One Query request: up to `spec.limit` items read from `start` on (`filter` then drops
    /// some of them), and DynamoDB's `LastEvaluatedKey` if there may be more.
    pub async fn query_items(
        &self,
        spec: &QuerySpec,
        start: Option<Item>,
        filter: Option<&Condition>,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let mut request = self
            .client
            .query()
            .table_name(self.table())
            .set_index_name(spec.index.map(|index| index.name().to_string()))
            .expression_attribute_names("#p", spec.partition_attr)
            .expression_attribute_values(":p", AttributeValue::S(spec.partition.clone()))
            .scan_index_forward(!spec.newest_first)
            .limit(spec.limit)
            .set_exclusive_start_key(start);
        request = match (&spec.sort_prefix, &spec.sort_upto, &spec.sort_from) {
            (Some(prefix), _, _) => request
                .key_condition_expression("#p = :p AND begins_with(#s, :s)")
                .expression_attribute_names("#s", spec.sort_attr)
                .expression_attribute_values(":s", AttributeValue::S(prefix.clone())),
            (None, Some(upto), None) => request
                .key_condition_expression("#p = :p AND #s <= :s")
                .expression_attribute_names("#s", spec.sort_attr)
                .expression_attribute_values(":s", AttributeValue::S(upto.clone())),
            (None, None, Some(from)) => request
                .key_condition_expression("#p = :p AND #s >= :s")
                .expression_attribute_names("#s", spec.sort_attr)
                .expression_attribute_values(":s", AttributeValue::S(from.clone())),
            (None, Some(upto), Some(from)) => request
                .key_condition_expression("#p = :p AND #s BETWEEN :f AND :s")
                .expression_attribute_names("#s", spec.sort_attr)
                .expression_attribute_values(":f", AttributeValue::S(from.clone()))
                .expression_attribute_values(":s", AttributeValue::S(upto.clone())),
            (None, None, None) => request.key_condition_expression("#p = :p"),
        };
        // A filter is applied by DynamoDB after the read: it saves bytes on the wire, not read
        // units. Its placeholders (`#n0`, `:v0`) never clash with the key condition's.
        if let Some(filter) = filter {
            let (expression, bound) = expression::render_filter(filter)?;
            request = request.filter_expression(expression);
            for (name, attr) in bound.names.unwrap_or_default() {
                request = request.expression_attribute_names(name, attr);
            }
            for (name, value) in bound.values.unwrap_or_default() {
                request = request.expression_attribute_values(name, value);
            }
        }
        let out = request.send().await.map_err(request_error)?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
    }
}

impl Store {
    /// Every page of a query, up to `max_items` (then stops: a guard, not a pagination).
    pub async fn query_all<T: DeserializeOwned>(
        &self,
        spec: &QuerySpec,
        max_items: usize,
    ) -> Result<Vec<T>, StoreError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .query::<T>(spec, cursor.as_deref())
                .await
                .map_err(|e| match e {
                    BadCursorOr::Store(e) => e,
                    BadCursorOr::Cursor(_) => {
                        StoreError::Malformed("a cursor this store issued was rejected".into())
                    }
                })?;
            items.extend(page.items);
            match page.next_cursor {
                Some(next) if items.len() < max_items => cursor = Some(next),
                _ => break,
            }
        }
        items.truncate(max_items);
        Ok(items)
    }

    /// The first page of a query (no client cursor involved, so only store errors).
    pub async fn first_page<T: DeserializeOwned>(
        &self,
        spec: &QuerySpec,
    ) -> Result<Page<T>, StoreError> {
        self.query(spec, None).await.map_err(|e| match e {
            BadCursorOr::Store(e) => e,
            BadCursorOr::Cursor(_) => {
                StoreError::Malformed("a cursor was rejected where none was given".into())
            }
        })
    }
}

/// BatchWriteItem's limit.
pub const BATCH_WRITE_MAX: usize = 25;
/// BatchGetItem's limit.
pub const BATCH_GET_MAX: usize = 100;
/// TransactWriteItems' limit.
pub const TRANSACTION_MAX: usize = 100;
/// How often unprocessed items or keys, or throttling, are retried before a batch fails
/// (retryably).
pub const BATCH_WRITE_ATTEMPTS: u32 = 8;

/// The one call a batch write makes; a seam so tests can inject `UnprocessedItems` and
/// throttling, which moto never produces by itself.
pub trait BatchWriter: Send + Sync {
    fn write(
        &self,
        table: &str,
        requests: Vec<aws_sdk_dynamodb::types::WriteRequest>,
    ) -> impl Future<Output = Result<Vec<aws_sdk_dynamodb::types::WriteRequest>, StoreError>> + Send;
}

impl BatchWriter for Store {
    /// Sends one BatchWriteItem and returns what DynamoDB left unprocessed.
    async fn write(
        &self,
        table: &str,
        requests: Vec<aws_sdk_dynamodb::types::WriteRequest>,
    ) -> Result<Vec<aws_sdk_dynamodb::types::WriteRequest>, StoreError> {
        let out = self
            .client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .map_err(request_error)?;
        Ok(out
            .unprocessed_items
            .and_then(|mut u| u.remove(table))
            .unwrap_or_default())
    }
}

/// The one call a batch read makes; the same seam for `UnprocessedKeys` and throttling.
pub trait BatchReader: Send + Sync {
    /// Reads the items at `keys`: (the items found, the keys left unprocessed).
    fn read(
        &self,
        table: &str,
        keys: Vec<Item>,
    ) -> impl Future<Output = Result<(Vec<Item>, Vec<Item>), StoreError>> + Send;
}

impl BatchReader for Store {
    /// Sends one BatchGetItem (consistent: reads feed conditional writes).
    async fn read(
        &self,
        table: &str,
        keys: Vec<Item>,
    ) -> Result<(Vec<Item>, Vec<Item>), StoreError> {
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Malformed(e.to_string()))?;
        let out = self
            .client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(request_error)?;
        let found = out
            .responses
            .and_then(|mut r| r.remove(table))
            .unwrap_or_default();
        let unprocessed = out
            .unprocessed_keys
            .and_then(|mut u| u.remove(table))
            .map(|k| k.keys)
            .unwrap_or_default();
        Ok((found, unprocessed))
    }
}

/// Puts `items` in batches of 25 (see [`batch_write`]). Returns the number of BatchWriteItem
/// requests sent.
pub async fn batch_put<W: BatchWriter>(
    writer: &W,
    table: &str,
    items: Vec<Item>,
) -> Result<usize, StoreError> {
    let requests = items
        .into_iter()
        .map(|item| {
            let put = aws_sdk_dynamodb::types::PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| StoreError::Malformed(e.to_string()))?;
            Ok(WriteRequest::builder().put_request(put).build())
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    batch_write(writer, table, requests).await
}

/// Deletes the items at `keys` in batches of 25 (see [`batch_write`]).
pub async fn batch_delete<W: BatchWriter>(
    writer: &W,
    table: &str,
    keys: Vec<Item>,
) -> Result<usize, StoreError> {
    let requests = keys
        .into_iter()
        .map(|key| {
            let delete = aws_sdk_dynamodb::types::DeleteRequest::builder()
                .set_key(Some(key))
                .build()
                .map_err(|e| StoreError::Malformed(e.to_string()))?;
            Ok(WriteRequest::builder().delete_request(delete).build())
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    batch_write(writer, table, requests).await
}

/// Sends write requests in batches of 25 (see [`in_batches`]). Returns the number of
/// BatchWriteItem requests sent.
async fn batch_write<W: BatchWriter>(
    writer: &W,
    table: &str,
    requests: Vec<WriteRequest>,
) -> Result<usize, StoreError> {
    let (_, sent) = in_batches(requests, BATCH_WRITE_MAX, |batch| async move {
        Ok((Vec::<()>::new(), writer.write(table, batch).await?))
    })
    .await?;
    Ok(sent)
}

/// Reads the items at `keys` in batches of 100 (see [`in_batches`]), consistently. Returns them
/// keyed by (PK, SK) — missing items are simply absent — and the number of BatchGetItem
/// requests sent.
pub async fn batch_get<R: BatchReader>(
    reader: &R,
    table: &str,
    keys: Vec<Item>,
) -> Result<(HashMap<(String, String), Item>, usize), StoreError> {
    let (items, sent) = in_batches(keys, BATCH_GET_MAX, |batch| reader.read(table, batch)).await?;
    let key_of = |item: &Item, attr: &str| {
        item.get(attr)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let found = items
        .into_iter()
        .map(|item| ((key_of(&item, keys::PK), key_of(&item, keys::SK)), item))
        .collect();
    Ok((found, sent))
}

/// Sends `requests` in batches of `max`, each through `send` until DynamoDB left nothing of it
/// unprocessed, retrying what it left and throttling with capped, jittered backoff. Returns what
/// the batches answered and the number of requests sent. Batch reads and writes share it.
async fn in_batches<T, O, Fut>(
    requests: Vec<T>,
    max: usize,
    send: impl Fn(Vec<T>) -> Fut,
) -> Result<(Vec<O>, usize), StoreError>
where
    T: Clone,
    Fut: Future<Output = Result<(Vec<O>, Vec<T>), StoreError>>,
{
    let mut answered = Vec::new();
    let mut requests_sent = 0;
    let mut rest = requests.into_iter();
    loop {
        let mut batch: Vec<_> = rest.by_ref().take(max).collect();
        if batch.is_empty() {
            return Ok((answered, requests_sent));
        }
        let mut attempt = 0;
        while !batch.is_empty() {
            requests_sent += 1;
            match send(batch.clone()).await {
                Ok((out, unprocessed)) => {
                    answered.extend(out);
                    batch = unprocessed;
                }
                Err(e) if e.is_worth_an_immediate_retry() && attempt + 1 < BATCH_WRITE_ATTEMPTS => {
                }
                Err(e) => return Err(e),
            }
            if !batch.is_empty() {
                attempt += 1;
                if attempt >= BATCH_WRITE_ATTEMPTS {
                    return Err(StoreError::Unprocessed(batch.len()));
                }
                backoff(attempt).await;
            }
        }
    }
}

/// A query fails either because the caller's cursor is bad (4xx) or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum BadCursorOr {
    #[error(transparent)]
    Cursor(#[from] BadCursor),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<serde_dynamo::Error> for BadCursorOr {
    fn from(value: serde_dynamo::Error) -> Self {
        Self::Store(value.into())
    }
}

/// Capped exponential backoff with full jitter: 25 ms · 2^attempt, at most 2 s.
pub async fn backoff(attempt: u32) {
    let cap_ms = 25u64.saturating_mul(1 << attempt.min(7)).min(2_000);
    let wait = rand::random_range(0..=cap_ms);
    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
}

/// A conditional-put transaction part: insert `item` only if no item has its key yet.
pub fn put_new(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    put_when(table, item, Condition::ItemAbsent)
}

/// A put transaction part for a versioned item: only if the stored item still has
/// `read_version` (optimistic concurrency), or, with `None`, only if there is none yet.
pub fn put_if_version<T: Serialize>(
    table: &str,
    value: &T,
    read_version: Option<u64>,
) -> Result<TransactWriteItem, StoreError> {
    put_when(
        table,
        Store::to_item(value)?,
        Condition::version(read_version),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_scoped() {
        let spec = QuerySpec::table("ENT#A".into()).prefix("AGENT#");
        let key = Store::key("ENT#A", "AGENT#x");
        let cursor = encode_cursor(&key);
        assert_eq!(decode_cursor(&cursor, &spec).unwrap(), key);
        let other = QuerySpec::table("ENT#B".into()).prefix("AGENT#");
        assert!(decode_cursor(&cursor, &other).is_err());
        let other_list = QuerySpec::table("ENT#A".into()).prefix("AUDIT#");
        assert!(decode_cursor(&cursor, &other_list).is_err());
        assert!(decode_cursor("!!not-base64", &spec).is_err());
        assert!(decode_cursor("e30", &spec).is_err());
    }
}
