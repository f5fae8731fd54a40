//! Mail delivery: the default file outbox is covered by every flow test; here SMTP, with a
//! small SMTP receiver as the real peer, and a mail server that is down at first.

use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::TestApp;

/// Accepts SMTP sessions on `listener` and sends each received message (the DATA) to `tx`.
async fn smtp_receiver(listener: TcpListener, tx: mpsc::UnboundedSender<String>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        let tx = tx.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            write.write_all(b"220 test-smtp ready\r\n").await.unwrap();
            while let Ok(Some(line)) = lines.next_line().await {
                let upper = line.to_ascii_uppercase();
                if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                    write.write_all(b"250-test-smtp\r\n250 8BITMIME\r\n").await.unwrap();
                } else if upper.starts_with("MAIL FROM")
                    || upper.starts_with("RCPT TO")
                    || upper.starts_with("RSET")
                    || upper.starts_with("NOOP")
                {
                    write.write_all(b"250 OK\r\n").await.unwrap();
                } else if upper == "DATA" {
                    write.write_all(b"354 go ahead\r\n").await.unwrap();
                    let mut message = String::new();
                    while let Ok(Some(l)) = lines.next_line().await {
                        if l == "." {
                            break;
                        }
                        message.push_str(&l);
                        message.push('\n');
                    }
                    let _ = tx.send(message);
                    write.write_all(b"250 queued\r\n").await.unwrap();
                } else if upper == "QUIT" {
                    write.write_all(b"221 bye\r\n").await.unwrap();
                    return;
                } else {
                    write.write_all(b"502 not implemented\r\n").await.unwrap();
                }
            }
        });
    }
}

#[tokio::test]
async fn a_mail_server_that_is_down_delays_mail_but_loses_neither_the_action_nor_the_mail() {
    // A port with nothing behind it yet.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = TestApp::with(|c| {
        c.mail.smtp_host = Some("127.0.0.1".into());
        c.mail.smtp_port = Some(port);
        c.mail.smtp_tls = servicekonto::config::SmtpTls::None;
    })
    .await;
    app.account("erika@example.de", false).await;
    let (status, _) = app.browser().submit("/password/forgot", &[("email", "erika@example.de")]).await;
    assert_eq!(status, StatusCode::OK, "the page answers although mail is down");
    // The worker tried, failed, and kept the mail with the reason.
    let mut tried = false;
    for _ in 0..50 {
        let due = app.state.store.due_mail(servicekonto::clock::now() + 3600, 10).await.unwrap();
        if due.first().is_some_and(|m| m.attempts >= 1) {
            tried = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(tried, "a failed attempt is counted");
    assert_eq!(app.state.store.mail_backlog().await.unwrap(), 1);

    // The server comes up; the retry delivers.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(smtp_receiver(listener, tx));
    let delivered = app.state.mailer.deliver_due(servicekonto::clock::now() + 3600).await.unwrap();
    assert_eq!(delivered, 1);
    let message = rx.recv().await.unwrap();
    assert!(message.contains("To: erika@example.de"));
    assert!(message.contains(&format!("{}/password/reset?token=", app.issuer)));
    assert!(message.contains("Content-Transfer-Encoding: 8bit"));
    assert_eq!(app.state.store.mail_backlog().await.unwrap(), 0);
    // The link from the retried mail works.
    let start = message.find("/password/reset?token=").unwrap() + "/password/reset?token=".len();
    let token = &message[start..start + 43];
    let (status, _) = app
        .browser()
        .submit(
            "/password/reset",
            &[("token", token), ("password", "Neu-Pass-123"), ("password_repeat", "Neu-Pass-123")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.browser().login("erika@example.de", "Neu-Pass-123").await;
}
