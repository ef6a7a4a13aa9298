//! Abuse reports of a case's scam mails: ARF (RFC 5965) and X-ARF, parsed back with
//! mail-parser, and one sent through the test Postfix and read back from Dovecot.

mod support;

use std::time::Duration;

use mail_parser::{MessageParser, MimeHeaders, PartType};
use support::imap::wait_for_header;
use support::mail::MailServers;
use support::response::{Settings, T0, World, lookalike, vigie};
use vigie::case::triage::{self, Opening, Verdict};
use vigie::case::{Actor, FixedClock};
use vigie::model::{Indicator, IndicatorKind};

/// A scam mail as the inbox source would keep it (written for this test).
const SCAM: &str = "Return-Path: <alerts@examp1e.test>\n\
Received: from mail.examp1e.test (mail.examp1e.test [203.0.113.77])\n\tby mx.example.test with ESMTP id 4Q1; Mon, 2 Mar 2026 08:55:01 +0000\n\
From: \"Example Test Bank\" <alerts@examp1e.test>\n\
To: customer@example.net\n\
Subject: Your card has been blocked\n\
Date: Mon, 2 Mar 2026 08:54:58 +0000\n\
Message-ID: <4Q1-scam@examp1e.test>\n\
MIME-Version: 1.0\n\
Content-Type: text/plain; charset=utf-8\n\
\n\
Dear customer, your card is blocked. Confirm your details at\n\
https://examp1e.test/unblock within 24 hours.\n";

async fn case_with_mails(settings: &Settings, with_partial: bool) -> (World, i64) {
    let world = World::new(settings);
    let mut full = lookalike("examp1e.test", &[("a", &["198.51.100.10"])], T0);
    full.indicators.push(Indicator::new(
        IndicatorKind::Url,
        "https://examp1e.test/unblock",
    ));
    full.evidence = serde_json::json!({ "mail": { "raw": SCAM, "source_ip": "203.0.113.77" } });
    let headers_only = SCAM
        .split("\n\n")
        .next()
        .unwrap()
        .replace("examp1e", "exarnple");
    let mut partial = lookalike("exarnple.test", &[], T0);
    partial.evidence = serde_json::json!({ "mail": { "headers": headers_only } });
    let mut ids = vec![world.record(full).await];
    if with_partial {
        ids.push(world.record(partial).await);
    }
    let clock = FixedClock::new(T0);
    let actor = Actor {
        author: "alice",
        clock: &clock,
    };
    let opening = Opening {
        title: "Card phishing".into(),
        ..Opening::default()
    };
    let case = triage::open(&world.store, &actor, &opening, &[]).unwrap();
    for id in ids {
        triage::triage(
            &world.store,
            &actor,
            &id.to_string(),
            &Verdict::Confirm { case: Some(case) },
        )
        .unwrap();
    }
    (world, case)
}

/// Returns the (type/subtype, part) of every leaf part of a parsed message.
fn leaves<'a>(
    message: &'a mail_parser::Message<'a>,
) -> Vec<(String, &'a mail_parser::MessagePart<'a>)> {
    message
        .parts
        .iter()
        .filter(|part| !matches!(part.body, PartType::Multipart(_)))
        .map(|part| {
            let kind = part
                .content_type()
                .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()))
                .unwrap_or_default();
            (kind, part)
        })
        .collect()
}

fn check_arf(raw: &str) {
    let message = MessageParser::default()
        .parse(raw.as_bytes())
        .expect("the report parses");
    let top = message.content_type().unwrap();
    assert_eq!((top.ctype(), top.subtype()), ("multipart", Some("report")));
    assert_eq!(top.attribute("report-type"), Some("feedback-report"));
    assert_eq!(
        message.subject(),
        Some("Abuse report: fraud imitating example.test")
    );
    let parts = leaves(&message);
    let kinds: Vec<&str> = parts.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["text/plain", "message/feedback-report", "message/rfc822"],
        "{raw}"
    );
    let human = parts[0].1.text_contents().unwrap();
    assert!(
        human.contains("fraudulent mail that imitates example.test"),
        "{human}"
    );
    let feedback = String::from_utf8_lossy(parts[1].1.contents()).into_owned();
    for field in [
        "Feedback-Type: fraud",
        "Version: 1",
        "User-Agent: vigie/",
        "Source-IP: 203.0.113.77",
        "Reported-Domain: examp1e.test",
        "Reported-Uri: https://examp1e.test/unblock",
        "Arrival-Date: Mon, 02 Mar 2026 09:00:00 +0000",
    ] {
        assert!(feedback.contains(field), "{field} missing:\n{feedback}");
    }
    let PartType::Message(original) = &parts[2].1.body else {
        panic!("the third part is not a message: {:?}", parts[2].1.body);
    };
    assert_eq!(original.subject(), Some("Your card has been blocked"));
    assert_eq!(original.message_id(), Some("4Q1-scam@examp1e.test"));
}

#[tokio::test]
async fn arf_and_xarf_reports_parse_back() {
    let (world, case) = case_with_mails(&Settings::default(), true).await;
    let folder = world.dir.path().join("reports");
    std::fs::create_dir_all(&folder).unwrap();
    let case_arg = case.to_string();
    for format in ["arf", "xarf"] {
        let (ok, out, err) = vigie(
            &world,
            &[
                "report",
                "spam",
                "--case",
                &case_arg,
                "--format",
                format,
                "--to",
                "reports@spam.test",
                "-o",
                folder.to_str().unwrap(),
            ],
            &[],
        );
        assert!(ok, "{err}");
        assert_eq!(out.lines().count(), 2, "{out}");
    }
    check_arf(&std::fs::read_to_string(folder.join("finding-1.arf.eml")).unwrap());

    // Headers only: the third part is text/rfc822-headers.
    let partial = std::fs::read_to_string(folder.join("finding-2.arf.eml")).unwrap();
    let message = MessageParser::default().parse(partial.as_bytes()).unwrap();
    let kinds: Vec<String> = leaves(&message).into_iter().map(|(kind, _)| kind).collect();
    assert_eq!(kinds[2], "text/rfc822-headers");
    assert!(
        !partial.contains("Source-IP"),
        "no IP in the evidence, none invented"
    );

    let xarf = std::fs::read_to_string(folder.join("finding-1.xarf.eml")).unwrap();
    let message = MessageParser::default().parse(xarf.as_bytes()).unwrap();
    assert_eq!(message.header_raw("X-ARF").map(str::trim), Some("YES"));
    let parts = leaves(&message);
    let report = parts[1].1.text_contents().unwrap();
    for field in [
        "Category: fraud",
        "Report-Type: phishing",
        "Source-Type: ip-address",
        "Source: 203.0.113.77",
        "Version: 0.2",
    ] {
        assert!(report.contains(field), "{field} missing:\n{report}");
    }
    assert_eq!(parts[1].1.attachment_name(), Some("report.txt"));
    let PartType::Message(original) = &parts[2].1.body else {
        panic!("the evidence part is not a message");
    };
    assert_eq!(original.subject(), Some("Your card has been blocked"));

    let events = world.store.case_events(case).unwrap();
    assert_eq!(
        events.iter().filter(|e| e.kind == "spam-reported").count(),
        2
    );
}

#[tokio::test]
async fn case_without_reported_mail_is_refused() {
    let world = World::new(&Settings::default());
    let id = world.record(lookalike("examp1e.test", &[], T0)).await;
    let clock = FixedClock::new(T0);
    let actor = Actor {
        author: "alice",
        clock: &clock,
    };
    let opening = Opening {
        title: "No mail".into(),
        ..Opening::default()
    };
    let case = triage::open(&world.store, &actor, &opening, &[id.to_string()]).unwrap();
    let (ok, _, err) = vigie(
        &world,
        &[
            "report",
            "spam",
            "--case",
            &case.to_string(),
            "--to",
            "r@spam.test",
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        err.contains("no confirmed finding with a reported mail"),
        "{err}"
    );
    let (ok, _, err) = vigie(
        &world,
        &[
            "report",
            "spam",
            "--case",
            &case.to_string(),
            "--to",
            "not an address",
        ],
        &[],
    );
    assert!(!ok);
    assert!(err.contains("is not a mail address"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arf_report_is_delivered_and_parses_back() {
    let servers = MailServers::started();
    let settings = Settings {
        smtp_port: Some(servers.smtp_port),
        ..Settings::default()
    };
    let (world, case) = case_with_mails(&settings, false).await;
    let (ok, out, err) = vigie(
        &world,
        &[
            "report",
            "spam",
            "--case",
            &case.to_string(),
            "--to",
            "soc@example.test",
            "--send",
        ],
        &[],
    );
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    let raw = wait_for_header(
        servers.imap_port,
        "Subject",
        "Abuse report",
        Duration::from_secs(30),
    )
    .await;
    check_arf(&raw);
}
