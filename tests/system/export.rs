//! Exports end to end: the request, the queue, the worker, S3, SES — and the mail read back from
//! the local SES endpoint, its attachments checked against the data.

use crate::queries::{EMPLOYEES, synced_app};
use axum::http::StatusCode;
use local::demo;
use serde_json::{Value, json};
use system_tests::TestApp;

fn path() -> String {
    format!("/export/enterprises/{}/exports", demo::demo_uscc())
}

fn recipient() -> String {
    format!(
        "hr-{}@example.cn",
        ulid::Ulid::new().to_string().to_lowercase()
    )
}

async fn request(app: &TestApp, body: Value) -> system_tests::Reply {
    app.post(&path(), &app.cast.agent, body).await
}

async fn job(app: &TestApp, id: &str) -> Value {
    let r = app.get(&format!("{}/{id}", path()), &app.cast.agent).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body
}

/// The CSV attachment's rows (without the byte-order mark), header first.
fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes)
        .unwrap()
        .trim_start_matches('\u{feff}');
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn both_lists_are_mailed_with_rows_that_match_the_data() {
    let app = synced_app().await;
    let c = &app.cast;
    let to = recipient();
    let asked = request(
        &app,
        json!({"list": "nucleic", "group": "24h", "email": to, "idempotency_key": "k1"}),
    )
    .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{asked:?}");
    assert_eq!(asked.body["status"], "queued");
    let id = asked.body["job_id"].as_str().unwrap().to_string();
    let vaccine = request(
        &app,
        json!({"list": "vaccine", "group": "unvaccinated", "email": to, "idempotency_key": "k2"}),
    )
    .await;
    assert_eq!(vaccine.status, StatusCode::ACCEPTED, "{vaccine:?}");

    assert_eq!(app.run_export_worker().await, 2);
    let done = job(&app, &id).await;
    assert_eq!(
        (
            done["status"].as_str(),
            done["rows"].as_u64(),
            done["delivery"].as_str()
        ),
        (Some("sent"), Some(2), Some("attached")),
        "{done}"
    );
    let mails = app.mails_to(&to).await;
    assert_eq!(mails.len(), 2, "one mail per job");
    let mail = mails
        .iter()
        .find(|m| m.subject.contains("核酸检测名单"))
        .expect("the PCR list mail");
    assert!(mail.subject.contains(demo::DEMO_ENTERPRISE_NAME));
    assert!(mail.text.contains("仅供疫情防控参考"), "{}", mail.text);
    assert!(mail.text.contains("共 2 人"), "{}", mail.text);
    assert!(
        mail.text.contains("2022-04-01 10:00"),
        "as of the relabel, in Shenzhen time: {}",
        mail.text
    );
    assert_eq!(mail.attachments.len(), 2);
    let csv = mail
        .attachments
        .iter()
        .find(|a| a.name.ends_with(".csv"))
        .unwrap();
    let rows = csv_rows(&csv.bytes);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let mut names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    names.sort();
    let mut expected = vec![c.agent.name.as_str(), c.employee.name.as_str()];
    expected.sort();
    assert_eq!(names, expected);
    let raw = String::from_utf8_lossy(&csv.bytes);
    assert!(
        !raw.contains(&c.employee.id_number) && !raw.contains(&c.agent.id_number),
        "masked IDs only"
    );
    assert!(rows.iter().all(|r| r[1].contains('*')));
    let xlsx = mail
        .attachments
        .iter()
        .find(|a| a.name.ends_with(".xlsx"))
        .unwrap();
    assert!(xlsx.bytes.starts_with(b"PK"), "an XLSX is a zip");
    // The file hash in the job is the hash of what was mailed.
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(&csv.bytes));
    assert!(
        done["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["sha256"] == sha.as_str())
    );

    let vaccine_mail = mails
        .iter()
        .find(|m| m.subject.contains("疫苗接种名单"))
        .unwrap();
    let csv = vaccine_mail
        .attachments
        .iter()
        .find(|a| a.name.ends_with(".csv"))
        .unwrap();
    assert_eq!(csv_rows(&csv.bytes).len(), EMPLOYEES - 2);

    // The audit trail: who asked, and what was sent (rows, hash, masked recipient).
    let audit = app
        .get(
            &format!("/authorize/enterprises/{}/audit", demo::demo_uscc()),
            &c.legal_rep,
        )
        .await;
    let text = audit.text();
    assert!(
        text.contains("export_requested") && text.contains("export_sent"),
        "{text}"
    );
    assert!(text.contains(&sha), "the file hash is audited");
    assert!(
        !text.contains(&to),
        "the recipient is masked in the audit trail"
    );
}

#[tokio::test]
async fn a_double_tap_and_a_redelivered_message_give_one_job_and_one_mail() {
    let app = synced_app().await;
    let to = recipient();
    let body = json!({"list": "nucleic", "group": "never", "filter": {"name": "王"}, "email": to, "idempotency_key": "tap"});
    let first = request(&app, body.clone()).await;
    let second = request(&app, body).await;
    assert_eq!(
        (first.status, second.status),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED)
    );
    assert_eq!(first.body["job_id"], second.body["job_id"]);
    let services = app.exports();
    let received = services
        .queue
        .sqs
        .receive_message()
        .queue_url(&services.queue.queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let messages = received.messages.unwrap_or_default();
    assert_eq!(messages.len(), 1, "one message for one job");
    // The same message delivered twice (SQS is at-least-once).
    let event = local::exports::sqs_event(
        messages[0].message_id().unwrap(),
        messages[0].receipt_handle().unwrap(),
        messages[0].body().unwrap(),
    );
    let worker = app.state.worker_state();
    for _ in 0..2 {
        let batch = local::exports::parse_sqs_event(event.clone()).unwrap();
        let out = fangyitong::export::lambda::handle_batch(&worker, batch).await;
        assert!(out.batch_item_failures.is_empty(), "{out:?}");
    }
    assert_eq!(app.mails_to(&to).await.len(), 1);
}

#[tokio::test]
async fn an_empty_result_is_still_a_valid_answer_and_says_so() {
    let app = synced_app().await;
    let to = recipient();
    let r = request(&app, json!({"list": "nucleic", "group": "over_72h", "filter": {"status": "left"}, "email": to, "idempotency_key": "empty"})).await;
    app.run_export_worker().await;
    assert_eq!(
        job(&app, r.body["job_id"].as_str().unwrap()).await["rows"],
        0
    );
    let mails = app.mails_to(&to).await;
    assert!(
        mails[0].text.contains("没有符合筛选条件的员工"),
        "{}",
        mails[0].text
    );
    let csv = mails[0]
        .attachments
        .iter()
        .find(|a| a.name.ends_with(".csv"))
        .unwrap();
    let text = String::from_utf8_lossy(&csv.bytes);
    assert_eq!(
        text.trim_start_matches('\u{feff}').lines().count(),
        1,
        "the header only"
    );
}

#[tokio::test]
async fn a_failing_send_is_retried_then_marked_failed_with_the_reason() {
    let app = synced_app().await;
    // A sender SES has not verified: every send is rejected.
    let mut services = app.exports();
    services.mail.sender = "unverified@elsewhere.example.cn".into();
    let app = app.with_export_services(services);
    let to = recipient();
    let r = request(
        &app,
        json!({"list": "nucleic", "group": "24h", "email": to, "idempotency_key": "ses"}),
    )
    .await;
    let id = r.body["job_id"].as_str().unwrap().to_string();
    app.run_export_worker().await;
    let after_one = job(&app, &id).await;
    assert_eq!(
        (after_one["status"].as_str(), after_one["attempts"].as_u64()),
        (Some("queued"), Some(1)),
        "{after_one}"
    );
    assert!(
        after_one["reason"]
            .as_str()
            .unwrap()
            .contains("could not be sent")
    );
    app.run_export_worker().await;
    app.run_export_worker().await;
    let failed = job(&app, &id).await;
    assert_eq!(
        (failed["status"].as_str(), failed["attempts"].as_u64()),
        (Some("failed"), Some(3)),
        "{failed}"
    );
    assert!(failed["finished_at"].is_string());
    // Acknowledged: nothing left to retry, and no mail went out.
    assert_eq!(app.run_export_worker().await, 0);
    assert!(app.mails_to(&to).await.is_empty());
}

#[tokio::test]
async fn bad_requests_get_a_clear_4xx_and_the_daily_limit_holds() {
    let app = synced_app().await;
    let before = app.item_count().await;
    for (body, status, code) in [
        (
            json!({"list": "nucleic", "group": "24h", "email": "not-an-address", "idempotency_key": "a"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_email",
        ),
        (
            json!({"list": "nucleic", "group": "96h", "email": "hr@example.cn", "idempotency_key": "a"}),
            StatusCode::BAD_REQUEST,
            "invalid_label",
        ),
        (
            json!({"list": "vaccine", "group": "boosted", "filter": {"in_shenzhen": true}, "email": "hr@example.cn", "idempotency_key": "a"}),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            json!({"list": "vaccine", "group": "boosted", "email": "hr@example.cn", "idempotency_key": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_idempotency_key",
        ),
    ] {
        let r = request(&app, body).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (status, Some(code)),
            "{r:?}"
        );
    }
    let r = request(
        &app,
        json!({"list": "payroll", "group": "x", "email": "hr@example.cn", "idempotency_key": "a"}),
    )
    .await;
    assert!(r.status.is_client_error());
    assert_eq!(app.item_count().await, before, "nothing written");
    let r = app
        .get(&format!("{}/not-a-job", path()), &app.cast.agent)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let mut services = app.exports();
    services.queue.daily_limit = 2;
    let app = app.with_export_services(services);
    for key in ["d1", "d2"] {
        let r = request(&app, json!({"list": "nucleic", "group": "24h", "email": "hr@example.cn", "idempotency_key": key})).await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
    let r = request(&app, json!({"list": "nucleic", "group": "24h", "email": "hr@example.cn", "idempotency_key": "d3"})).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("daily_export_limit"))
    );
    // A repeat of an accepted request is still answered (it is the same job).
    let r = request(&app, json!({"list": "nucleic", "group": "24h", "email": "hr@example.cn", "idempotency_key": "d1"})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let listed = app.get(&path(), &app.cast.agent).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
}

/// A valid resident ID (GB 11643) with the sequence `seq` (three digits).
fn resident_id(seq: u32) -> String {
    let first17 = format!("44030519900101{seq:03}");
    let check = fangyitong::ids::resident_id_check_char(first17.as_bytes()).unwrap();
    format!("{first17}{check}")
}

/// The text of every cell of the XLSX's first sheet (inline or shared strings), unescaped, and
/// whether the sheet holds any formula.
fn xlsx_cells(bytes: &[u8]) -> (Vec<String>, bool) {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("an XLSX is a zip");
    let mut read = |name: &str| {
        let mut text = String::new();
        if let Ok(mut file) = archive.by_name(name) {
            file.read_to_string(&mut text).unwrap();
        }
        text
    };
    let sheet = read("xl/worksheets/sheet1.xml");
    let shared = read("xl/sharedStrings.xml");
    assert!(!sheet.is_empty(), "the sheet is there");
    let mut cells = Vec::new();
    for xml in [&sheet, &shared] {
        for piece in xml.split("<t").skip(1) {
            let Some((_, rest)) = piece.split_once('>') else {
                continue;
            };
            let Some((text, _)) = rest.split_once("</t>") else {
                continue;
            };
            cells.push(
                text.replace("&quot;", "\"")
                    .replace("&apos;", "'")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&"),
            );
        }
    }
    (cells, sheet.contains("<f>") || sheet.contains("<f "))
}

/// Names that a spreadsheet would run as formulas arrive in both files as text: a `'` before
/// them, no formula in the sheet.
#[tokio::test]
async fn names_that_look_like_formulas_are_exported_as_text() {
    let app = synced_app().await;
    let names = [
        "=HYPERLINK(\"http://x.cn\",\"点\")",
        "+86 张三",
        "-2+3",
        "@SUM(A1)",
    ];
    for (seq, name) in names.iter().enumerate() {
        let reply = app
            .post(
                &format!("/invite/enterprises/{}/employees", demo::demo_uscc()),
                &app.cast.agent,
                json!({"name": name, "id_type": "resident_id", "id_number": resident_id(900 + seq as u32), "phone": "13800138000"}),
            )
            .await;
        assert!(reply.status.is_success(), "{name}: {reply:?}");
    }
    let to = recipient();
    let asked = request(
        &app,
        json!({"list": "nucleic", "group": "never", "email": to, "idempotency_key": "formulas"}),
    )
    .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{asked:?}");
    app.run_export_worker().await;
    let mails = app.mails_to(&to).await;
    assert_eq!(mails.len(), 1);
    let attachment = |suffix: &str| {
        mails[0]
            .attachments
            .iter()
            .find(|a| a.name.ends_with(suffix))
            .unwrap()
            .bytes
            .clone()
    };
    let csv_names: Vec<String> = csv_rows(&attachment(".csv"))
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let (xlsx_text, has_formula) = xlsx_cells(&attachment(".xlsx"));
    assert!(!has_formula, "no formula in the sheet");
    for name in names {
        let text = format!("'{name}");
        assert!(csv_names.contains(&text), "{text} in {csv_names:?}");
        assert!(!csv_names.iter().any(|n| n == name), "{name} left as is");
        assert!(xlsx_text.contains(&text), "{text} in {xlsx_text:?}");
        assert!(!xlsx_text.iter().any(|n| n == name), "{name} left as is");
    }
}

/// A worker that stopped while handing the mail to SES (its Lambda timed out, say) leaves the
/// job sending. Whether the mail went out is unknown, so once the lease runs out the next
/// delivery of the message marks it unconfirmed, with an audit record, and sends nothing: the
/// agent sees "发送结果未知" and may ask again. Never two mails of the same health data.
#[tokio::test]
async fn a_job_left_sending_is_never_mailed_again() {
    use fangyitong::clock::Clock;
    use fangyitong::export::JobMessage;
    use fangyitong::export::repo::ExportJobs;
    use fangyitong::export::worker::{self, Outcome};
    let app = synced_app().await;
    let to = recipient();
    let r = request(
        &app,
        json!({"list": "nucleic", "group": "never", "email": to, "idempotency_key": "cut"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
    let message = JobMessage {
        uscc: demo::demo_uscc(),
        job_id: r.body["job_id"].as_str().unwrap().to_string(),
    };
    // The stopped worker's steps, as far as it got: it claimed the job and said it was sending.
    let store = &app.state.core.store;
    let claimed = ExportJobs::claim(store, &message, app.clock.now())
        .await
        .unwrap()
        .expect("claimed");
    ExportJobs::mark_sending(store, &claimed).await.unwrap();
    let services = app.exports();
    let again = worker::process(&app.state.core, &services.mail, &message)
        .await
        .unwrap();
    assert_eq!(again, Outcome::Busy, "while its lease runs");
    app.clock.advance(chrono::Duration::seconds(
        fangyitong::export::repo::LEASE + 1,
    ));
    let settled = worker::process(&app.state.core, &services.mail, &message)
        .await
        .unwrap();
    assert!(matches!(settled, Outcome::Unconfirmed(_)), "{settled:?}");
    assert!(!settled.redeliver());
    let view = job(&app, &message.job_id).await;
    assert_eq!(view["status"], "unconfirmed", "{view}");
    assert!(view["finished_at"].is_string());
    assert!(app.mails_to(&to).await.is_empty(), "not sent again");
    // Done for good: another delivery does nothing.
    let later = worker::process(&app.state.core, &services.mail, &message)
        .await
        .unwrap();
    assert_eq!(later, Outcome::AlreadyDone);
    let audit = app
        .get(
            &format!("/authorize/enterprises/{}/audit", demo::demo_uscc()),
            &app.cast.legal_rep,
        )
        .await;
    assert!(
        audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "export_unconfirmed"),
        "{:?}",
        audit.body
    );
}
