//! Exports on the local stack: the queue, the SES sender identity, a worker that feeds queued
//! messages through the export worker Lambda's own event handling, and the mails moto's SES
//! "sent".

use crate::functions::Functions;
use fangyitong::export::{self, ExportMail, ExportQueue};
use mail_parser::MimeHeaders;
use serde_json::{Value, json};

/// The sender the local stack verifies in SES.
pub const LOCAL_SENDER: &str = "noreply@fangyitong.example.cn";

/// What the two export functions use: the routes' queue and the worker's mail services.
#[derive(Debug, Clone)]
pub struct Exports {
    pub queue: ExportQueue,
    pub mail: ExportMail,
}

/// Creates a queue and verifies the sender; `bucket` must exist.
pub async fn setup(
    aws: &aws_config::SdkConfig,
    bucket: &str,
    queue_name: &str,
) -> Result<Exports, String> {
    let sqs = aws_sdk_sqs::Client::new(aws);
    let ses = aws_sdk_sesv2::Client::new(aws);
    let queue_url = sqs
        .create_queue()
        .queue_name(queue_name)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "30",
        )
        .send()
        .await
        .map_err(|e| {
            format!(
                "create the export queue: {}",
                aws_sdk_sqs::error::DisplayErrorContext(&e)
            )
        })?
        .queue_url
        .unwrap_or_default();
    match ses
        .create_email_identity()
        .email_identity(LOCAL_SENDER)
        .send()
        .await
    {
        Ok(_) => {}
        // Already verified by an earlier run against the same server.
        Err(e)
            if format!("{}", aws_sdk_sesv2::error::DisplayErrorContext(&e))
                .contains("AlreadyExists") => {}
        Err(e) => {
            return Err(format!(
                "verify the sender: {}",
                aws_sdk_sesv2::error::DisplayErrorContext(&e)
            ));
        }
    }
    Ok(Exports {
        queue: ExportQueue::new(sqs, queue_url),
        mail: ExportMail::new(
            crate::s3_client(aws),
            ses,
            bucket.to_string(),
            LOCAL_SENDER.to_string(),
        ),
    })
}

/// Receives what is on the queue and hands it to the export worker Lambda's handler as the SQS
/// event Lambda would deliver; deletes what succeeded and makes failures visible again at once (on
/// AWS they would come back after the visibility timeout). Returns how many were handled.
pub async fn drain(functions: &Functions) -> Result<usize, String> {
    let queue = &functions.exports.queue;
    let worker = functions.worker_state();
    let received = queue
        .sqs
        .receive_message()
        .queue_url(&queue.queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .map_err(|e| format!("receive: {}", aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
    let messages = received.messages.unwrap_or_default();
    for message in &messages {
        let event = sqs_event(
            message.message_id().unwrap_or_default(),
            message.receipt_handle().unwrap_or_default(),
            message.body().unwrap_or_default(),
        );
        let response = export::lambda::handle_batch(&worker, parse_sqs_event(event)?).await;
        let failed = !response.batch_item_failures.is_empty();
        let handle = message.receipt_handle().unwrap_or_default();
        if failed {
            let _ = queue
                .sqs
                .change_message_visibility()
                .queue_url(&queue.queue_url)
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await;
        } else {
            let _ = queue
                .sqs
                .delete_message()
                .queue_url(&queue.queue_url)
                .receipt_handle(handle)
                .send()
                .await;
        }
    }
    Ok(messages.len())
}

/// An SQS event's JSON read as the Lambda runtime reads it for the worker (`LambdaEvent<SqsEvent>`).
pub fn parse_sqs_event(event: Value) -> Result<aws_lambda_events::sqs::SqsEvent, String> {
    serde_json::from_value(event).map_err(|e| format!("not an SQS event: {e}"))
}

/// An SQS event for one message, shaped as Lambda's SQS integration delivers it.
pub fn sqs_event(message_id: &str, receipt_handle: &str, body: &str) -> Value {
    json!({"Records": [{
        "messageId": message_id,
        "receiptHandle": receipt_handle,
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1648778400000",
                       "SenderId": "AROAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1648778400001"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:fangyitong-exports",
        "awsRegion": "us-east-1"
    }]})
}

/// A mail as moto's SES kept it, parsed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SentMail {
    pub id: String,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub attachments: Vec<SentAttachment>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SentAttachment {
    pub name: String,
    pub content_type: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
    pub size: usize,
}

/// Every mail the SES endpoint "sent" (moto keeps them; `scripts/moto_server.py` lists them).
pub async fn sent_mails(endpoint: &str) -> Result<Vec<SentMail>, String> {
    let url = format!("{}/_local/sent-mails", endpoint.trim_end_matches('/'));
    let body = http_get(&url).await?;
    let raw: Vec<Value> = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    Ok(raw
        .iter()
        .filter_map(|m| {
            let id = m["id"].as_str()?.to_string();
            let parsed =
                mail_parser::MessageParser::default().parse(m["raw_data"].as_str()?.as_bytes())?;
            Some(SentMail {
                id,
                from: m["source"].as_str().unwrap_or_default().to_string(),
                // moto appends the message's To header to the given destinations, so the
                // same address comes twice; SES sends once per address.
                to: m["destinations"]
                    .as_array()
                    .map(|d| {
                        let mut to: Vec<String> = Vec::new();
                        for address in d.iter().filter_map(Value::as_str) {
                            if !to.iter().any(|t| t == address) {
                                to.push(address.to_string());
                            }
                        }
                        to
                    })
                    .unwrap_or_default(),
                subject: parsed.subject().unwrap_or_default().to_string(),
                text: parsed
                    .body_text(0)
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
                attachments: parsed
                    .attachments()
                    .map(|a| SentAttachment {
                        name: a.attachment_name().unwrap_or_default().to_string(),
                        content_type: a
                            .content_type()
                            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()))
                            .unwrap_or_default(),
                        bytes: a.contents().to_vec(),
                        size: a.contents().len(),
                    })
                    .collect(),
            })
        })
        .collect())
}

/// A plain HTTP GET on loopback (moto's own API is not an AWS API, so no SDK).
async fn http_get(url: &str) -> Result<Vec<u8>, String> {
    let without_scheme = url
        .strip_prefix("http://")
        .ok_or("only http:// on loopback")?;
    let (host, path) = without_scheme
        .split_once('/')
        .unwrap_or((without_scheme, ""));
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| e.to_string())?;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP header end")?;
    let head = String::from_utf8_lossy(&response[..split]).to_lowercase();
    let body = response[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        return Ok(dechunk(&body));
    }
    Ok(body)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&body[start..(start + size).min(body.len())]);
        body = &body[(start + size + 2).min(body.len())..];
    }
    out
}
