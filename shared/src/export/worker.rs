//! The export worker: one queue message names one job. It takes a lease on the job (so two
//! deliveries of the same message never both work on it), streams the rows page by page into a
//! CSV and an XLSX file on local disk (memory bounded whatever the row count: the XLSX sheet is
//! written in constant-memory mode), uploads both to S3, mails them, and marks the job sent with
//! an audit record — the last step conditional on still holding the lease.

use super::mail::{self, Attachment, Mail};
use super::repo::ExportJobs;
use super::{Delivery, ExportFile, ExportJob, ExportMail, JobMessage, JobStatus, ListKind};
use crate::audit::{ActorRole, AuditAction, AuditEntry};
use crate::freshness;
use crate::keys;
use crate::roster::{Membership, Source};
use crate::store::{self, Applied, StoreError};
use chrono::{DateTime, Duration, Utc};
use sha2::Digest;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Rows read per DynamoDB page.
const PAGE_ROWS: usize = 1_000;

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Mailed now.
    Sent { rows: u64 },
    /// Already sent or failed (a redelivered message), or no such job.
    AlreadyDone,
    /// Another worker holds the lease: try again later.
    Busy,
    /// This attempt failed and the job goes back to the queue.
    Retry(String),
    /// The last attempt failed: the job is marked failed with the reason.
    Failed(String),
    /// Handing the mail to SES ended without an answer, or its worker stopped meanwhile: it may
    /// have gone out, and is not sent again.
    Unconfirmed(String),
}

impl Outcome {
    /// Whether the queue should deliver the message again.
    pub fn redeliver(&self) -> bool {
        matches!(self, Self::Busy | Self::Retry(_))
    }
}

/// Processes one queue message.
pub async fn process(
    state: &crate::app::Core,
    services: &ExportMail,
    message: &JobMessage,
) -> Result<Outcome, StoreError> {
    let store = &state.store;
    let now = state.clock.now();
    let Some(job) = ExportJobs::claim(store, message, now).await? else {
        let current = store
            .get::<ExportJob>(
                &keys::enterprise(&message.uscc),
                &keys::export_job(&message.job_id),
            )
            .await?;
        return Ok(match current {
            Some(job) if job.status == JobStatus::Running => Outcome::Busy,
            // Its worker stopped while handing the mail to SES (once the lease has run out).
            Some(job) if job.status == JobStatus::Sending => {
                let reason =
                    "the worker stopped while handing the mail over: it may have been sent";
                match unconfirmed(state, &job, reason, true).await? {
                    true => Outcome::Unconfirmed(reason.into()),
                    false => Outcome::Busy,
                }
            }
            _ => {
                tracing::info!(job = %message.job_id, "export message for a job already done: nothing to do");
                Outcome::AlreadyDone
            }
        });
    };
    let produced = match produce(state, services, &job).await {
        Ok(produced) => produced,
        Err(reason) => return give_back(state, services, &job, reason).await,
    };
    // Handing a mail to SES can be neither undone nor safely repeated: the job says it is being
    // sent first, so a worker that stops from here on leaves a job nobody mails twice.
    match ExportJobs::mark_sending(store, &job).await {
        Ok(Applied::Yes) => {}
        // The lease ran out and another worker took over: it sends its own mail.
        Ok(Applied::ConditionFailed) => return Ok(Outcome::AlreadyDone),
        // Marked or not, nothing was sent: the attempt goes back.
        Err(e) => {
            let reason = format!("recording the sending failed: {e}");
            return give_back(state, services, &job, reason).await;
        }
    }
    match send(services, &job, produced.mail).await {
        Ok(()) => {
            let Produced {
                rows,
                delivery,
                files,
                ..
            } = produced;
            let finished = state.clock.now();
            let mark_sent = ExportJobs::mark_sent(&job, rows, delivery, &files, finished)
                .into_transact(store.table())?;
            let hashes: Vec<String> = files
                .iter()
                .map(|f| format!("{} sha256 {}", f.name, f.sha256))
                .collect();
            let detail = format!(
                "job {}: {}; {rows} rows; {}; to {}",
                job.job_id,
                job.spec.describe(),
                hashes.join(", "),
                job.email.masked()
            );
            let audit = audit(state, &job, AuditAction::ExportSent, detail, finished)?;
            match store
                .transact(vec![mark_sent, store::put_new(store.table(), audit)?])
                .await
            {
                Ok(()) => Ok(Outcome::Sent { rows }),
                // Marked meanwhile by a worker that took the job over after the lease ran out.
                Err(StoreError::ConditionFailed) => Ok(Outcome::AlreadyDone),
                Err(e) => Err(e),
            }
        }
        Err(SendFailure::Refused(reason)) => give_back(state, services, &job, reason).await,
        Err(SendFailure::NoAnswer(reason)) => {
            unconfirmed(state, &job, &reason, false).await?;
            Ok(Outcome::Unconfirmed(reason))
        }
    }
}

/// Gives a failed attempt back to the queue (or fails the job on its last attempt).
async fn give_back(
    state: &crate::app::Core,
    services: &ExportMail,
    job: &ExportJob,
    reason: String,
) -> Result<Outcome, StoreError> {
    tracing::warn!(job = %job.job_id, attempt = job.attempts, %reason, "export attempt failed");
    let last = job.attempts >= services.max_attempts;
    ExportJobs::release(&state.store, job, &reason, last, state.clock.now()).await?;
    Ok(if last {
        Outcome::Failed(reason)
    } else {
        Outcome::Retry(reason)
    })
}

/// Marks a job whose mail may or may not have gone out, with an audit record saying so (the
/// health data may have left); `false` if it is not such a job (any more).
async fn unconfirmed(
    state: &crate::app::Core,
    job: &ExportJob,
    reason: &str,
    lease_ran_out: bool,
) -> Result<bool, StoreError> {
    let now = state.clock.now();
    let store = &state.store;
    let mark = ExportJobs::mark_unconfirmed(job, reason, lease_ran_out, now)
        .into_transact(store.table())?;
    let detail = format!("job {}: {reason}; to {}", job.job_id, job.email.masked());
    let audit = audit(state, job, AuditAction::ExportUnconfirmed, detail, now)?;
    match store
        .transact(vec![mark, store::put_new(store.table(), audit)?])
        .await
    {
        Ok(()) => {
            tracing::warn!(job = %job.job_id, %reason, "export mail unconfirmed: not sent again");
            Ok(true)
        }
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The audit record of what became of `job`'s mail, naming the requester as the job does (of
/// the job's key generation during a re-key).
fn audit(
    state: &crate::app::Core,
    job: &ExportJob,
    action: AuditAction,
    detail: String,
    at: DateTime<Utc>,
) -> Result<store::Item, StoreError> {
    let mut audit = AuditEntry {
        uscc: &job.uscc,
        actor: &job.requested_by_person,
        actor_name: &job.requested_by_name,
        actor_role: ActorRole::Agent,
        action,
        subject: None,
        subject_name: None,
        detail: Some(detail),
    }
    .into_item(at, state.settings.audit_retention)?;
    crate::rekey::rewrite::mark(&mut audit, job.key_generation);
    Ok(audit)
}

/// The columns of each list.
fn header(kind: ListKind) -> &'static [&'static str] {
    match kind {
        ListKind::Nucleic => &[
            "姓名",
            "证件号码（脱敏）",
            "手机号（脱敏）",
            "员工来源",
            "核酸检测标记",
            "最近采样时间",
            "结果待出",
            "在深",
            "离职时间",
        ],
        ListKind::Vaccine => &[
            "姓名",
            "证件号码（脱敏）",
            "手机号（脱敏）",
            "员工来源",
            "疫苗接种状态",
            "离职时间",
        ],
    }
}

fn source_names(sources: &std::collections::BTreeSet<Source>) -> String {
    sources
        .iter()
        .map(|s| s.label_zh())
        .collect::<Vec<_>>()
        .join("、")
}

fn local_time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| {
        crate::clock::business_time(t)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    })
    .unwrap_or_default()
}

/// A text cell as it goes into either file. A spreadsheet reads a cell that starts with `=`, `+`,
/// `-` or `@` as a formula (`=HYPERLINK(...)` in a name would be a live link in the agent's
/// Excel), and a leading tab or carriage return can hide one; OWASP's advice on CSV injection is
/// to prefix such a cell with `'`, which spreadsheets take as "this is text". The full-width
/// forms are included: some spreadsheet programs normalise them in CJK locales. Every cell of
/// both files passes here, whatever its column: names come from people and upstream feeds.
pub fn spreadsheet_text(cell: String) -> String {
    const TRIGGERS: &[char] = &[
        '=', '+', '-', '@', '\t', '\r', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
    ];
    if cell.starts_with(TRIGGERS) {
        format!("'{cell}")
    } else {
        cell
    }
}

fn row(kind: ListKind, m: &Membership) -> Vec<String> {
    let mut cells = vec![
        m.name().to_string(),
        m.masked_id.clone(),
        m.masked_phone.clone().unwrap_or_default(),
        source_names(&m.sources),
    ];
    let d = m.derived();
    match kind {
        ListKind::Nucleic => {
            cells.push(d.map(|d| d.label.as_str().to_string()).unwrap_or_default());
            cells.push(local_time(d.and_then(|d| d.sampled_at)));
            cells.push(
                if d.is_some_and(|d| d.result_pending) {
                    "是"
                } else {
                    ""
                }
                .into(),
            );
            cells.push(
                if d.is_some_and(|d| d.in_shenzhen) {
                    "是"
                } else {
                    "否"
                }
                .into(),
            );
        }
        ListKind::Vaccine => cells.push(d.map(|d| d.vax.as_str().to_string()).unwrap_or_default()),
    }
    cells.push(local_time(m.left_at()));
    cells.into_iter().map(spreadsheet_text).collect()
}

fn sha256_of(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// Removes the job's working directory however the attempt ends.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What an attempt made before sending: the files (uploaded) and the mail.
struct Produced {
    rows: u64,
    delivery: Delivery,
    files: Vec<ExportFile>,
    /// The raw MIME message.
    mail: Vec<u8>,
}

/// Writes the files, uploads them and composes the mail. Errors are reasons a person can read.
async fn produce(
    state: &crate::app::Core,
    services: &ExportMail,
    job: &ExportJob,
) -> Result<Produced, String> {
    let list = job
        .spec
        .employee_list(&job.uscc)
        .map_err(|e| format!("the filter is no longer valid: {e:?}"))?;
    let work =
        WorkDir(std::env::temp_dir().join(format!("export-{}-{}", job.job_id, job.attempts)));
    std::fs::create_dir_all(&work.0).map_err(|e| format!("no working space: {e}"))?;
    let stem = format!(
        "{}-{}-{}",
        match job.spec.list {
            ListKind::Nucleic => "nucleic",
            ListKind::Vaccine => "vaccine",
        },
        job.spec.group,
        crate::clock::business_time(job.requested_at).format("%Y%m%d-%H%M")
    );
    let csv_path = work.0.join(format!("{stem}.csv"));
    let xlsx_path = work.0.join(format!("{stem}.xlsx"));

    let rows = write_files(state, job, &list, &csv_path, &xlsx_path).await?;
    let mut files = Vec::new();
    for (path, content_type) in [
        (&csv_path, "text/csv; charset=UTF-8"),
        (
            &xlsx_path,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ] {
        let (sha256, bytes) =
            sha256_of(path).map_err(|e| format!("reading the file back failed: {e}"))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let key = format!("exports/{}/{}/{name}", job.uscc, job.job_id);
        let body = aws_sdk_s3::primitives::ByteStream::from_path(path)
            .await
            .map_err(|e| format!("reading the file failed: {e}"))?;
        services
            .s3
            .put_object()
            .bucket(&services.bucket)
            .key(&key)
            .content_type(content_type)
            .body(body)
            .customize()
            .config_override(
                aws_sdk_s3::config::Builder::default()
                    .timeout_config(crate::aws::transfer_timeouts()),
            )
            .send()
            .await
            .map_err(|e| {
                format!(
                    "storing the file failed: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })?;
        files.push(ExportFile {
            name,
            key,
            bytes,
            sha256,
        });
    }

    let total: u64 = files.iter().map(|f| f.bytes).sum();
    let delivery = if total <= services.attach_limit_bytes {
        Delivery::Attached
    } else {
        Delivery::Link
    };
    let mut attachments = Vec::new();
    let mut links = Vec::new();
    for (file, path, content_type) in [
        (&files[0], &csv_path, "text/csv; charset=UTF-8"),
        (
            &files[1],
            &xlsx_path,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ] {
        match delivery {
            Delivery::Attached => attachments.push(Attachment {
                name: file.name.clone(),
                content_type,
                bytes: std::fs::read(path).map_err(|e| format!("reading the file failed: {e}"))?,
            }),
            Delivery::Link => {
                let ttl = services
                    .link_ttl
                    .to_std()
                    .unwrap_or(std::time::Duration::from_secs(3600));
                let presigned = services
                    .s3
                    .get_object()
                    .bucket(&services.bucket)
                    .key(&file.key)
                    .presigned(
                        aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl)
                            .map_err(|e| e.to_string())?,
                    )
                    .await
                    .map_err(|e| format!("making the download link failed: {e}"))?;
                links.push(format!("{}: {}", file.name, presigned.uri()));
            }
        }
    }
    let freshness = freshness::get(&state.store)
        .await
        .map_err(|e| format!("reading the data's freshness failed: {e}"))?;
    let body = mail_body(job, rows, &freshness, delivery, &links, services.link_ttl);
    let mail = mail::compose(&Mail {
        from: &services.sender,
        to: &job.email,
        subject: format!("【防疫通】{} {}", job.enterprise_name, job.spec.describe()),
        body,
        attachments,
        date: state.clock.now(),
    });
    Ok(Produced {
        rows,
        delivery,
        files,
        mail,
    })
}

/// Why SES did not take a mail.
enum SendFailure {
    /// SES answered no (or the request was never made): nothing went out; another attempt may.
    Refused(String),
    /// No answer came (a timeout, a broken connection): it may have gone out.
    NoAnswer(String),
}

/// Hands the mail to SES.
async fn send(services: &ExportMail, job: &ExportJob, raw: Vec<u8>) -> Result<(), SendFailure> {
    let message = aws_sdk_sesv2::types::RawMessage::builder()
        .data(aws_sdk_sesv2::primitives::Blob::new(raw))
        .build()
        .map_err(|e| SendFailure::Refused(e.to_string()))?;
    services
        .ses
        .send_email()
        .from_email_address(&services.sender)
        .destination(
            aws_sdk_sesv2::types::Destination::builder()
                .to_addresses(job.email.as_str())
                .build(),
        )
        .content(
            aws_sdk_sesv2::types::EmailContent::builder()
                .raw(message)
                .build(),
        )
        .customize()
        .config_override(
            aws_sdk_sesv2::config::Builder::default()
                .timeout_config(crate::aws::transfer_timeouts()),
        )
        .send()
        .await
        .map_err(|e| {
            use aws_sdk_sesv2::error::SdkError;
            let reason = format!(
                "the mail could not be sent: {}",
                aws_sdk_sesv2::error::DisplayErrorContext(&e)
            );
            match e {
                SdkError::ServiceError(_) | SdkError::ConstructionFailure(_) => {
                    SendFailure::Refused(reason)
                }
                _ => SendFailure::NoAnswer(reason),
            }
        })?;
    Ok(())
}

/// Streams the list into both files; returns the row count.
async fn write_files(
    state: &crate::app::Core,
    job: &ExportJob,
    list: &crate::listing::EmployeeList,
    csv_path: &Path,
    xlsx_path: &Path,
) -> Result<u64, String> {
    let io = |e: std::io::Error| format!("writing the file failed: {e}");
    let xlsx = |e: rust_xlsxwriter::XlsxError| format!("writing the spreadsheet failed: {e}");
    let mut csv_file = BufWriter::new(std::fs::File::create(csv_path).map_err(io)?);
    // A byte-order mark, so spreadsheet programs read the Chinese text as UTF-8.
    csv_file.write_all("\u{feff}".as_bytes()).map_err(io)?;
    let mut csv = csv::Writer::from_writer(csv_file);
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook
        .add_worksheet_with_constant_memory()
        .map_err(xlsx)?;
    sheet
        .set_name(match job.spec.list {
            ListKind::Nucleic => "核酸检测名单",
            ListKind::Vaccine => "疫苗接种名单",
        })
        .map_err(xlsx)?;
    let columns = header(job.spec.list);
    csv.write_record(columns)
        .map_err(|e| format!("writing the file failed: {e}"))?;
    for (c, title) in columns.iter().enumerate() {
        sheet.write_string(0, c as u16, *title).map_err(xlsx)?;
    }
    let mut rows = 0u64;
    let mut cursor: Option<String> = None;
    loop {
        let (members, next) = list
            .page(&state.store, cursor.as_deref(), PAGE_ROWS)
            .await
            .map_err(|e| format!("reading the list failed: {e:?}"))?;
        for m in &members {
            let cells = row(job.spec.list, m);
            csv.write_record(&cells)
                .map_err(|e| format!("writing the file failed: {e}"))?;
            rows += 1;
            for (c, cell) in cells.iter().enumerate() {
                sheet
                    .write_string(rows as u32, c as u16, cell)
                    .map_err(xlsx)?;
            }
        }
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    csv.flush().map_err(io)?;
    drop(csv);
    workbook.save(xlsx_path).map_err(xlsx)?;
    Ok(rows)
}

fn mail_body(
    job: &ExportJob,
    rows: u64,
    freshness: &freshness::Freshness,
    delivery: Delivery,
    links: &[String],
    ttl: Duration,
) -> String {
    let mut body = format!(
        "{}：\n\n您申请导出的{}已生成，共 {rows} 人。\n",
        job.enterprise_name,
        job.spec.describe()
    );
    body.push_str(&format!(
        "数据截至：核酸与疫苗状态 {}（北京时间），上游数据同步 {}。\n",
        freshness
            .labels_as_of
            .map_or("尚无".into(), |t| local_time(Some(t))),
        freshness
            .data_synced_at
            .map_or("尚无".into(), |t| local_time(Some(t)))
    ));
    if rows == 0 {
        body.push_str("没有符合筛选条件的员工：文件中只有表头，这本身就是查询结果。\n");
    }
    match delivery {
        Delivery::Attached => body.push_str("文件（CSV 与 Excel）见附件。\n"),
        Delivery::Link => {
            body.push_str(&format!(
                "文件较大，请在 {} 小时内下载：\n",
                ttl.num_hours()
            ));
            for link in links {
                body.push_str(&format!("  {link}\n"));
            }
        }
    }
    body.push_str(&format!(
        "\n申请人：{}，申请时间：{}（北京时间）。\n证件号码和手机号已脱敏。本数据仅供疫情防控参考，请勿用于其他用途。\n",
        job.requested_by_name,
        local_time(Some(job.requested_at))
    ));
    body.push_str("\n(The list you requested, as of the times above; for epidemic-prevention reference only.)\n");
    body
}

#[cfg(test)]
mod tests {
    use super::spreadsheet_text;

    #[test]
    fn cells_that_a_spreadsheet_would_evaluate_become_text() {
        for formula in [
            "=HYPERLINK(\"http://evil.example\",\"点我\")",
            "+86 138",
            "-2+3",
            "@SUM(A1)",
            "\t=1+1",
            "\r=1+1",
            "＝1+1",
            "＠SUM(A1)",
        ] {
            assert_eq!(spreadsheet_text(formula.to_string()), format!("'{formula}"));
        }
        for plain in [
            "王伟",
            "Anne-Marie",
            "4403**********2423",
            "2022-04-01 10:00",
            "",
            "a=b",
            "'quoted",
        ] {
            assert_eq!(spreadsheet_text(plain.to_string()), plain);
        }
    }
}
