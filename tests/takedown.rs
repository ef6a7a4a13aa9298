//! Takedown notices end to end: sent through a real Postfix into a real Dovecot mailbox and
//! read back over IMAP, a reminder alert after the deadline (clock moved, not slept),
//! follow-ups, the proposed escalation, and the answer time recorded for the contact.

mod support;

use std::time::Duration;

use mail_parser::MimeHeaders;
use support::imap::wait_for_header;
use support::mail::{MailServers, header, split_message};
use support::response::{Settings, T0, World, lookalike};
use vigie::alert::Dispatcher;
use vigie::case::takedown::{self, Mailer, Request};
use vigie::case::triage::{self, Opening, Verdict};
use vigie::case::{Actor, FixedClock};
use vigie::config::ContactRole;

const HEADERS: &str = "Received: from [203.0.113.77] by mx.example.test\r\n\
From: \"Example Test Bank\" <security@examp1e.test>\r\n\
Subject: Your card is blocked\r\n\
Message-ID: <scam-1@examp1e.test>\r\n";

/// A world whose SMTP sink is the test Postfix, with one confirmed lookalike in a case.
async fn setup(servers: &MailServers) -> (World, i64, i64) {
    let world = World::new(&Settings {
        smtp_port: Some(servers.smtp_port),
        ..Settings::default()
    });
    let mut finding = lookalike(
        "examp1e.test",
        &[("a", &["198.51.100.10"]), ("mx", &["mx.mailhost.test"])],
        T0,
    );
    finding.facts.insert(
        "ns".into(),
        ["ns1.examp1e.test".to_owned(), "ns2.parking.test".to_owned()].into(),
    );
    finding.evidence = serde_json::json!({ "mail": { "headers": HEADERS } });
    let finding = world.record(finding).await;
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
    triage::triage(
        &world.store,
        &actor,
        &finding.to_string(),
        &Verdict::Confirm { case: Some(case) },
    )
    .unwrap();
    (world, case, finding)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notice_reminder_followups_and_escalation() {
    let servers = MailServers::started();
    let (world, case, finding) = setup(&servers).await;
    let clock = FixedClock::new(T0 + time::Duration::hours(1));
    let actor = Actor {
        author: "alice",
        clock: &clock,
    };
    let mailer = Mailer::from_config(&world.config).unwrap();
    let request = Request {
        case_id: case,
        finding: finding.to_string(),
        ..Request::default()
    };

    // The hosting contact covers the lookalike's name server; it reads French.
    let (id, notice) = takedown::send(&world.store, &world.config, &actor, &mailer, &request)
        .await
        .unwrap();
    assert_eq!(notice.contact.contact.id, "parking-abuse");
    assert_eq!(notice.language, "fr");
    let raw = wait_for_header(
        servers.imap_port,
        "X-Vigie-Takedown",
        &notice.reference,
        Duration::from_secs(30),
    )
    .await;
    let parsed = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .unwrap();
    let stored = world.store.takedown(id).unwrap().unwrap();
    assert_eq!(parsed.message_id(), Some(stored.message_id.as_str()));
    assert!(stored.message_id.starts_with(&notice.reference));
    assert!(stored.message_id.ends_with("@example.test"));
    let subject = parsed.subject().unwrap();
    assert!(
        subject.starts_with(
            "Fraude usurpant Example Test Bank : demande de suppression de examp1e[.]test"
        ),
        "{subject}"
    );
    assert!(
        subject.ends_with(&format!("[{}]", notice.reference)),
        "{subject}"
    );
    let body = parsed.body_text(0).unwrap();
    assert!(body.contains("Il est hébergé sur votre réseau"), "{body}");
    assert!(
        body.contains("Serveurs de noms : ns1[.]examp1e[.]test, ns2[.]parking[.]test"),
        "{body}"
    );
    assert!(body.contains("homoglyph of example.test"), "{body}");
    let attachment = parsed.attachment(0).expect("the evidence is attached");
    assert_eq!(
        attachment.attachment_name(),
        Some("reported-mail-headers.txt")
    );
    assert!(
        String::from_utf8_lossy(attachment.contents())
            .contains("Message-ID: <scam-1@examp1e.test>")
    );
    assert_eq!(
        parsed.from().unwrap().first().unwrap().address(),
        Some("abuse-desk@example.test")
    );

    // Before the 48 h deadline nothing is reminded; after it, one alert, once.
    clock.set(T0 + time::Duration::hours(48));
    assert!(
        takedown::remind_overdue(&world.store, &world.config, &clock)
            .unwrap()
            .is_empty()
    );
    clock.set(T0 + time::Duration::hours(50));
    assert_eq!(
        takedown::remind_overdue(&world.store, &world.config, &clock).unwrap(),
        [id]
    );
    assert!(
        takedown::remind_overdue(&world.store, &world.config, &clock)
            .unwrap()
            .is_empty()
    );

    // The reminder goes out through the ordinary dispatcher and SMTP sink.
    let dispatcher = Dispatcher::from_config(world.store.clone(), &world.config).unwrap();
    // The finding's own alert was still queued: it goes out too.
    assert_eq!(dispatcher.deliver_due().await.unwrap(), 2);
    let key = format!("takedown-{id}-reminder-0");
    let reminder = servers
        .wait_for_message(&key, Duration::from_secs(30))
        .await;
    let (headers, body) = split_message(&reminder);
    assert!(
        header(&headers, "Subject")
            .unwrap()
            .contains("examp1e[.]test")
    );
    // The mail body is wrapped at 72 columns.
    let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(body.contains("got no answer since"), "{body}");
    assert!(
        body.contains(&format!("vigie takedown followup {id}")),
        "{body}"
    );

    // Two follow-ups, each a reply to the first notice; the second proposes the CERT.
    let first = takedown::followup(&world.store, &world.config, &actor, &mailer, id)
        .await
        .unwrap();
    assert_eq!(first.followups, 1);
    assert!(first.escalation.is_none());
    assert!(
        first.notice.subject.starts_with("Relance 1 : "),
        "{}",
        first.notice.subject
    );
    let raw = wait_for_header(
        servers.imap_port,
        "Message-ID",
        &format!("{}-f1@", notice.reference),
        Duration::from_secs(30),
    )
    .await;
    let parsed = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .unwrap();
    assert_eq!(
        parsed.in_reply_to().as_text(),
        Some(stored.message_id.as_str())
    );
    assert!(
        parsed
            .body_text(0)
            .unwrap()
            .contains("Nous vous avons écrit le 2026-03-02")
    );

    // A new round: the deadline moved with the follow-up, and the next reminder is new.
    assert!(
        takedown::remind_overdue(&world.store, &world.config, &clock)
            .unwrap()
            .is_empty()
    );
    clock.set(T0 + time::Duration::hours(99));
    assert_eq!(
        takedown::remind_overdue(&world.store, &world.config, &clock).unwrap(),
        [id]
    );

    let second = takedown::followup(&world.store, &world.config, &actor, &mailer, id)
        .await
        .unwrap();
    let escalation = second.escalation.expect("escalation after two follow-ups");
    assert_eq!(escalation.cert.unwrap().id, "cert-fr");
    assert!(
        escalation.text.contains("--contact cert-fr"),
        "{}",
        escalation.text
    );

    // The hoster answers and the site goes down: the answer time is measured.
    clock.set(T0 + time::Duration::hours(121));
    let done = takedown::record_outcome(
        &world.store,
        &actor,
        id,
        true,
        "Hoster suspended the account.",
    )
    .unwrap();
    assert_eq!(done.status, "down");
    let stats = vigie::case::contacts::answer_stats(&world.store).unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].contact, "parking-abuse");
    assert_eq!(stats[0].answered, 1);
    assert_eq!(stats[0].median_hours, Some(120.0));
    let error = takedown::followup(&world.store, &world.config, &actor, &mailer, id)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("already answered"), "{error}");

    let kinds: Vec<String> = world
        .store
        .case_events(case)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "opened",
            "finding-added",
            "confirmed",
            "takedown-sent",
            "takedown-reminder",
            "takedown-followup",
            "takedown-reminder",
            "takedown-followup",
            "escalation-proposed",
            "takedown-down"
        ]
    );
}

#[tokio::test]
async fn drafts_pick_role_language_and_refuse_what_cannot_be_sent() {
    let servers = MailServers::new();
    let (world, case, finding) = setup(&servers).await;
    let request = |role, language: Option<&str>| Request {
        case_id: case,
        finding: finding.to_string(),
        role,
        language: language.map(str::to_owned),
        ..Request::default()
    };

    let mail = takedown::draft(
        &world.store,
        &world.config,
        &request(Some(ContactRole::Registry), None),
    )
    .unwrap();
    assert_eq!(mail.contact.contact.id, "registry-test");
    assert_eq!(mail.language, "es");
    assert!(
        mail.subject
            .starts_with("Fraude que suplanta a Example Test Bank"),
        "{}",
        mail.subject
    );
    assert!(
        mail.body
            .contains("El dominio pertenece a una zona que ustedes gestionan"),
        "{}",
        mail.body
    );

    for (language, phrase) in [
        ("en", "The security team of Example Test Bank"),
        ("de", "Mit freundlichen Grüßen"),
    ] {
        let notice =
            takedown::draft(&world.store, &world.config, &request(None, Some(language))).unwrap();
        assert!(notice.body.contains(phrase), "{language}: {}", notice.body);
        assert!(notice.body.contains("abuse-desk@example.test"));
    }
    let error =
        takedown::draft(&world.store, &world.config, &request(None, Some("it"))).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("no takedown template for language \"it\""),
        "{error}"
    );

    // The registry takes reports only through its web form: sending says so.
    let mailer = Mailer::from_config(&world.config).unwrap();
    let clock = FixedClock::new(T0);
    let actor = Actor {
        author: "alice",
        clock: &clock,
    };
    let error = takedown::send(
        &world.store,
        &world.config,
        &actor,
        &mailer,
        &request(Some(ContactRole::Registry), None),
    )
    .await
    .unwrap_err();
    assert!(
        error.to_string().contains("https://registry.test/abuse"),
        "{error}"
    );
    assert!(
        world.store.takedowns(None).unwrap().is_empty(),
        "nothing recorded"
    );

    let mut config = world.config.clone();
    config.response.sender = None;
    let error = Mailer::from_config(&config).err().unwrap();
    assert!(error.to_string().contains("[response] sender"), "{error}");

    // Without evidence headers, the finding's evidence goes as JSON.
    let other = world.record(lookalike("exarnple.test", &[], T0)).await;
    let stored = world.store.finding(other).unwrap().unwrap();
    let evidence = takedown::evidence(&stored);
    assert_eq!(evidence.file_name, format!("evidence-finding-{other}.json"));
    let json: serde_json::Value = serde_json::from_slice(&evidence.bytes).unwrap();
    assert_eq!(json["subject"], "exarnple.test");
    let error = takedown::draft(
        &world.store,
        &world.config,
        &Request {
            case_id: case,
            finding: other.to_string(),
            ..Request::default()
        },
    )
    .unwrap_err();
    assert!(error.to_string().contains("is not in case"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_sends_lists_and_measures() {
    let servers = MailServers::started();
    let (world, case, finding) = setup(&servers).await;
    let (case, finding) = (case.to_string(), finding.to_string());
    let (ok, out, err) = support::response::vigie(
        &world,
        &[
            "takedown",
            "draft",
            "--case",
            &case,
            "--finding",
            &finding,
            "--role",
            "mail-provider",
        ],
        &[],
    );
    assert!(ok, "{err}");
    assert!(
        out.starts_with("To: Mailhost abuse <soc@example.test>\n"),
        "{out}"
    );
    assert!(
        out.contains("Why this contact: mail server mx.mailhost.test"),
        "{out}"
    );
    assert!(out.contains("Mit freundlichen Grüßen"), "{out}");

    let (ok, out, err) = support::response::vigie(
        &world,
        &[
            "takedown",
            "send",
            "--case",
            &case,
            "--finding",
            &finding,
            "--lang",
            "en",
        ],
        &[("VIGIE_AUTHOR", "dave")],
    );
    assert!(ok, "{err}");
    let reference = out.trim().rsplit(' ').next().unwrap().to_owned();
    let raw = wait_for_header(
        servers.imap_port,
        "X-Vigie-Takedown",
        &reference,
        Duration::from_secs(30),
    )
    .await;
    assert!(raw.contains("Fraud imitating Example Test Bank"), "{raw}");

    let (ok, out, err) =
        support::response::vigie(&world, &["takedown", "status", "1", "--answered"], &[]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "takedown 1 is now answered");
    let (ok, out, err) = support::response::vigie(&world, &["takedown", "contacts"], &[]);
    assert!(ok, "{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("parking-abuse"))
        .unwrap();
    assert!(line.contains("1 notice(s), 1 answered, median "), "{line}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("cert-fr") && l.contains("no notice yet")),
        "{out}"
    );
}
