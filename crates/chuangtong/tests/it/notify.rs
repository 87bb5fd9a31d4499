//! Notifications on both backends: a notice exists exactly when the step
//! that sent it committed; each person reads and marks only their own; the
//! inbox page and the header badge; e-mail copies are queued in the same
//! transaction and delivered by the `serve` process to an SMTP relay — here
//! a small SMTP sink started inside the test — with retries and a status.

use std::sync::{Arc, Mutex};

use chuangtong::auth::Role;
use chuangtong::notify::{self, mail, Notice, Recipient};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::both;
use crate::helpers::{csrf_of, field_codes, TestApp};

const B: &str = "/api/v1/bases/R08";

/// A mail the sink accepted.
#[derive(Clone, Debug)]
struct Received {
    rcpt: Vec<String>,
    data: String,
}

/// Speaks just enough SMTP (RFC 5321) to accept mail and keep it.
struct Sink {
    port: u16,
    mails: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sink {
    async fn start() -> Sink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails: Arc<Mutex<Vec<Received>>> = Arc::default();
        let kept = mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut lines = BufReader::new(r).lines();
                    w.write_all(b"220 sink ESMTP\r\n").await.ok();
                    let mut rcpt = Vec::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                            b"250 sink\r\n"
                        } else if upper.starts_with("MAIL FROM") {
                            rcpt.clear();
                            b"250 OK\r\n"
                        } else if upper.starts_with("RCPT TO") {
                            rcpt.push(line[8..].trim().trim_matches(|c| c == '<' || c == '>').to_string());
                            b"250 OK\r\n"
                        } else if upper == "DATA" {
                            w.write_all(b"354 end with .\r\n").await.ok();
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push('\n');
                            }
                            kept.lock().unwrap().push(Received {
                                rcpt: std::mem::take(&mut rcpt),
                                data,
                            });
                            b"250 queued\r\n"
                        } else if upper == "QUIT" {
                            w.write_all(b"221 bye\r\n").await.ok();
                            break;
                        } else {
                            b"250 OK\r\n"
                        };
                        if w.write_all(reply).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Sink { port, mails, task }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn mails(&self) -> Vec<Received> {
        self.mails.lock().unwrap().clone()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The Subject header, with RFC 2047 encoded words decoded.
fn subject_of(data: &str) -> String {
    use base64::Engine;
    let mut header = String::new();
    let mut inside = false;
    for line in data.lines() {
        if line.to_ascii_lowercase().starts_with("subject:") {
            inside = true;
            header.push_str(&line[8..]);
        } else if inside && (line.starts_with(' ') || line.starts_with('\t')) {
            header.push_str(line);
        } else if inside {
            break;
        }
    }
    let mut out = String::new();
    let mut bytes = Vec::new();
    for word in header.split_whitespace() {
        let lower = word.to_ascii_lowercase();
        if lower.starts_with("=?utf-8?b?") && word.ends_with("?=") {
            bytes.extend(
                base64::engine::general_purpose::STANDARD
                    .decode(&word[10..word.len() - 2])
                    .unwrap(),
            );
        } else {
            out.push_str(&String::from_utf8(std::mem::take(&mut bytes)).unwrap());
            out.push_str(word);
        }
    }
    out.push_str(&String::from_utf8(bytes).unwrap());
    out
}

async fn base_id(app: &TestApp) -> String {
    app.text("SELECT id FROM bases WHERE code = 'R08'").await
}

async fn user_id(app: &TestApp, username: &str) -> String {
    app.text(&format!("SELECT id FROM users WHERE username = '{username}'"))
        .await
}

async fn send(app: &TestApp, to: Recipient<'_>, kind: &'static str, title: &str, commit: bool) -> u64 {
    let base = base_id(app).await;
    let mut tx = app.state.db.begin().await.unwrap();
    let n = notify::send(
        &mut tx,
        &base,
        to,
        &Notice {
            kind,
            title: title.into(),
            body: format!("{title}的详细说明"),
            link: Some("/b/R08/programmes".into()),
        },
    )
    .await
    .unwrap();
    if commit {
        tx.commit().await.unwrap();
    } else {
        tx.rollback().await.unwrap();
    }
    n
}

async fn each_person_reads_only_their_own_notices(app: &TestApp) {
    app.add_member("nt-admin-2", Role::BaseAdmin, None).await;
    let admin = app.api_as("fz-admin").await;
    let admin2 = app.api_as("nt-admin-2").await;
    let steward = app.api_as("fz-steward").await;
    let enterprise_subject = app
        .text("SELECT m.subject_id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.username = 'fz-enterprise'")
        .await;
    // Empty inboxes to start from: the demo data leaves notices (the steward assignment).
    sqlx::query("DELETE FROM notifications")
        .execute(app.state.db.pool())
        .await
        .unwrap();

    // Recipients resolve inside the base: every base admin, one firm's accounts, one user.
    assert_eq!(
        send(app, Recipient::Role(Role::BaseAdmin), "test.role", "预算调整通知", true).await,
        2
    );
    assert_eq!(
        send(
            app,
            Recipient::Subject(&enterprise_subject),
            "test.subject",
            "申报退回补正",
            true
        )
        .await,
        1
    );
    let steward_id = user_id(app, "fz-steward").await;
    assert_eq!(
        send(app, Recipient::User(&steward_id), "test.user", "新工单待受理", true).await,
        1
    );
    // A rolled-back step leaves no notice.
    assert_eq!(
        send(app, Recipient::User(&steward_id), "test.user", "不应出现", false).await,
        1
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM notifications WHERE title = '不应出现'")
            .await,
        0
    );

    let inbox = steward.get_json(&format!("{B}/notifications")).await;
    assert_eq!(inbox["unread"], 1);
    let items = inbox["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["title"], "新工单待受理");
    let steward_notice = items[0]["id"].as_str().unwrap().to_string();
    let enterprise = app.api_as("fz-enterprise").await;
    let e = enterprise.get_json(&format!("{B}/notifications")).await;
    assert_eq!(e["items"][0]["kind"], "test.subject");

    // Each admin has their own copy and reading state.
    let a1 = admin.get_json(&format!("{B}/notifications")).await;
    let a1_id = a1["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(a1["unread"], 1);
    // Another person's notice is 404, also for an admin, and stays unread.
    assert_eq!(
        admin
            .post(&format!("{B}/notifications/{steward_notice}/read"), &json!({}))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(steward.get_json(&format!("{B}/notifications")).await["unread"], 1);
    let r = admin.post(&format!("{B}/notifications/{a1_id}/read"), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(admin.get_json(&format!("{B}/notifications")).await["unread"], 0);
    assert_eq!(admin2.get_json(&format!("{B}/notifications")).await["unread"], 1);
    assert_eq!(
        admin.get_json(&format!("{B}/notifications?unread=true")).await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // Another base sees none of it.
    let yp = app.api_as("yp-admin").await;
    assert_eq!(yp.get_json("/api/v1/bases/R04/notifications").await["unread"], 0);
    assert_eq!(
        yp.post(&format!("/api/v1/bases/R04/notifications/{a1_id}/read"), &json!({}))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        yp.get(&format!("{B}/notifications")).await.status(),
        StatusCode::FORBIDDEN
    );

    // Pages: the badge counts, the inbox lists, 查看 marks read and opens the link.
    let b = app.browser_as("fz-steward").await;
    let svg = b.get(app.url("/b/R08/notifications/badge.svg")).send().await.unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains(">1</text>"));
    let html = b
        .get(app.url("/b/R08/notifications"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("新工单待受理") && html.contains("未读 1"));
    assert!(html.contains("notifications/badge.svg"), "the header shows the badge");
    let r = b
        .post(app.url(&format!("/b/R08/notifications/{steward_notice}/read")))
        .form(&[("_csrf", csrf_of(&html).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/b/R08/programmes");
    let svg = b
        .get(app.url("/b/R08/notifications/badge.svg"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!svg.contains("<text"));
    // Without the CSRF token nothing happens.
    let r = b
        .post(app.url("/b/R08/notifications/read-all"))
        .form(&[("_csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Mark all read, with one audit entry.
    let marked: Value = admin2
        .post(&format!("{B}/notifications/read-all"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(marked["marked"], 1);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'notification.read_all'")
            .await,
        1
    );
}
both!(each_person_reads_only_their_own_notices);

async fn mail_copies_reach_the_smtp_relay(app: &TestApp) {
    let sink = Sink::start().await;
    let steward = app.api_as("fz-steward").await;
    let steward_id = user_id(app, "fz-steward").await;

    // The address is checked, then kept (masked in the audit log).
    let r = steward
        .post("/api/v1/me/email", &json!({ "email": "not-an-address" }))
        .await;
    assert_eq!(field_codes(r).await, vec![("email".into(), "email.invalid".into())]);
    let r = steward
        .post("/api/v1/me/email", &json!({ "email": "chen.guanjia@example.cn" }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        steward.get_json("/api/v1/me/email").await["email"],
        "chen.guanjia@example.cn"
    );
    let audit = app
        .text("SELECT after_json FROM audit_log WHERE action = 'user.email' ORDER BY seq DESC LIMIT 1")
        .await;
    assert!(
        audit.contains("c***@example.cn") && !audit.contains("chen.guanjia"),
        "{audit}"
    );

    // A notice to someone with an address queues one mail in the same transaction;
    // someone without gets only the inbox; a rolled-back step queues nothing.
    send(app, Recipient::User(&steward_id), "test.mail", "新工单待受理", true).await;
    send(app, Recipient::User(&steward_id), "test.mail", "回滚的通知", false).await;
    send(app, Recipient::Role(Role::BaseAdmin), "test.mail", "管理员通知", true).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM email_outbox").await, 1);
    assert_eq!(
        app.text("SELECT status FROM email_outbox").await,
        "pending",
        "nothing delivers without a relay"
    );

    // A `serve` process with a relay configured delivers it.
    let mut settings = crate::helpers::settings(&app.db);
    settings.smtp_url = Some(sink.url());
    settings.smtp_from = "创通平台 <noreply@chuangtong.example.cn>".into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = chuangtong::startup::Application::build_with_listener(settings, listener)
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let mut waited = 0;
    while sink.mails().is_empty() && waited < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    let mails = sink.mails();
    assert_eq!(mails.len(), 1, "one mail delivered");
    assert_eq!(mails[0].rcpt, vec!["chen.guanjia@example.cn".to_string()]);
    assert_eq!(subject_of(&mails[0].data), "【创通】新工单待受理");
    assert!(mails[0].data.contains("chen.guanjia@example.cn"));
    // The status is recorded after the relay accepted it.
    let mut status = String::new();
    for _ in 0..50 {
        status = app.text("SELECT status FROM email_outbox").await;
        if status == "sent" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "sent");
    assert_eq!(app.scalar("SELECT attempts FROM email_outbox").await, 1);
    let _ = stop.send(());
    handle.await.unwrap().unwrap();

    // A relay that is down: the mail waits for a retry, then is given up.
    send(app, Recipient::User(&steward_id), "test.mail", "中继故障时的通知", true).await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let relay = mail::Relay::new(&format!("smtp://127.0.0.1:{dead}"), "noreply@example.cn").unwrap();
    let sweep = mail::deliver_due(&app.state.db, &relay).await.unwrap();
    assert_eq!((sweep.sent, sweep.retrying, sweep.failed), (0, 1, 0));
    let row =
        sqlx::query("SELECT status, attempts, last_error, next_attempt_at FROM email_outbox WHERE status <> 'sent'")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert_eq!(row.get::<String, _>(0), "pending");
    assert_eq!(row.get::<i64, _>(1), 1);
    assert!(row.get::<Option<String>, _>(2).is_some());
    assert!(
        row.get::<String, _>(3) > chuangtong::storage::time::now_text(),
        "retry later"
    );
    // Not due yet: a second sweep leaves it alone.
    assert_eq!(
        mail::deliver_due(&app.state.db, &relay).await.unwrap(),
        mail::Sweep::default()
    );
    // After the last attempt it is marked failed.
    sqlx::query("UPDATE email_outbox SET attempts = $1, next_attempt_at = $2 WHERE status = 'pending'")
        .bind(mail::MAX_ATTEMPTS - 1)
        .bind(chuangtong::storage::time::now_text())
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let sweep = mail::deliver_due(&app.state.db, &relay).await.unwrap();
    assert_eq!(sweep.failed, 1);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM email_outbox WHERE status = 'failed'")
            .await,
        1
    );
    assert_eq!(sink.mails().len(), 1, "nothing more reached the sink");

    // Clearing the address stops the copies.
    let r = steward.post("/api/v1/me/email", &json!({ "email": "" })).await;
    assert_eq!(r.json::<Value>().await.unwrap()["email"], Value::Null);
    send(app, Recipient::User(&steward_id), "test.mail", "只在站内", true).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM email_outbox").await, 2);
}
both!(mail_copies_reach_the_smtp_relay);
