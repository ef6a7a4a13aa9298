//! Mail analysis on real and written mails: the Received-chain walk, URL and address
//! extraction (defanged forms, link text, attachments' names), ARF reports, findings, and the
//! errors for input that is not a mail. Fixtures are under tests/fixtures/mail (origins in
//! tests/fixtures/SOURCES.md).

use std::net::IpAddr;
use std::path::PathBuf;

use vigie::detect::{BrandSpec, Matcher};
use vigie::mail::{Confidence, HopRole, MailError, MailReport, MailSettings, UrlSource, analyze};

fn fixture(relative: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mail")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn paypal_matcher() -> Matcher {
    Matcher::compile(&[BrandSpec {
        id: "paypal".to_string(),
        brand: "PayPal".to_string(),
        keywords: Vec::new(),
        legitimate: vec!["paypal.com".to_string()],
        allow: Vec::new(),
    }])
    .expect("watchlist compiles")
}

fn no_brand() -> Matcher {
    Matcher::compile(&[]).expect("empty matcher")
}

fn settings(networks: &[&str], hosts: &[&str]) -> MailSettings {
    MailSettings::new(
        networks
            .iter()
            .map(|n| n.parse().expect("network"))
            .collect(),
        hosts.iter().map(|h| h.to_string()).collect(),
        vigie::mail::settings::BUILTIN_FREE_MAIL.iter().copied(),
    )
}

fn analyse(relative: &str, settings: &MailSettings) -> MailReport {
    analyze(&fixture(relative), &paypal_matcher(), settings).expect("mail analysed")
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("IP address")
}

fn roles(report: &MailReport) -> Vec<HopRole> {
    report.received.iter().map(|hop| hop.role).collect()
}

// --- Received chain ---------------------------------------------------------------------

#[test]
fn received_multi_hop_list_relay_with_own_hosts() {
    // A mailing-list message fetched over IMAP: the recipient's servers are
    // netnoteinc.com and slashnull.org; the list server xent.com received it first.
    let own = settings(&[], &["netnoteinc.com", "slashnull.org"]);
    let report = analyse("received/spamassassin-list-relay.eml", &own);

    let origin = report.origin_ip.as_ref().expect("origin found");
    assert_eq!(origin.ip, ip("64.161.22.236"));
    assert_eq!(origin.hop, Some(2));
    assert_eq!(origin.received_by.as_deref(), Some("dogma.slashnull.org"));
    assert_eq!(origin.confidence, Confidence::High, "{:?}", origin.reasons);
    assert_eq!(
        &roles(&report)[..3],
        &[HopRole::Internal, HopRole::Internal, HopRole::Origin]
    );
    assert!(
        report.received[3..]
            .iter()
            .all(|hop| hop.role == HopRole::Claimed)
    );
}

#[test]
fn received_walk_passes_internal_relays_of_own_hosts() {
    // With the list server counted as one of ours, the walk goes on through its loopback
    // relay to the host that handed the mail to it.
    let own = settings(&[], &["netnoteinc.com", "slashnull.org", "xent.com"]);
    let report = analyse("received/spamassassin-list-relay.eml", &own);

    let origin = report.origin_ip.as_ref().expect("origin found");
    assert_eq!(origin.ip, ip("165.154.140.23"));
    assert_eq!(report.received[3].role, HopRole::Internal);
    assert_eq!(report.received[2].role, HopRole::Own);
}

#[test]
fn received_forged_hops_below_origin() {
    // Spam whose lower hops are forged: invalid dates, a chain that does not follow. The
    // recipient's domain is forwarded by easyDNS, so its servers count as own.
    let own = settings(
        &[],
        &["spamassassin.taint.org", "webnote.net", "easydns.com"],
    );
    let report = analyse("received/spamassassin-forged-hops.eml", &own);

    let origin = report.origin_ip.as_ref().expect("origin found");
    assert_eq!(origin.ip, ip("210.19.113.130"));
    assert_eq!(origin.received_by.as_deref(), Some("smtp.easydns.com"));
    assert_eq!(origin.confidence, Confidence::High, "{:?}", origin.reasons);
    assert_eq!(report.received[1].role, HopRole::Own);
    assert_eq!(report.received[2].role, HopRole::Own);
    assert_eq!(origin.forged_hops, 4, "{:?}", report.received);
    let forged_dates = report
        .received
        .iter()
        .filter(|hop| hop.forged.iter().any(|f| f.contains("not a valid date")))
        .count();
    assert_eq!(forged_dates, 4);
    assert_eq!(report.received[4].follows_above, Some(false));
}

#[test]
fn received_without_own_hosts_takes_first_public_address() {
    let report = analyse(
        "received/spamassassin-forged-hops.eml",
        &MailSettings::default(),
    );

    let origin = report.origin_ip.as_ref().expect("origin found");
    // The fetchmail retrieval from the mailbox server is passed over; the mailbox
    // server's own relay is then the first public address.
    assert_eq!(origin.ip, ip("205.210.42.30"));
    assert_eq!(report.received[1].role, HopRole::Retrieval);
    assert_eq!(origin.confidence, Confidence::Medium);
    assert!(origin.reasons[0].contains("no own mail servers are configured"));
}

#[test]
fn received_ipv6_hops_through_hosted_mailbox() {
    let own = settings(&[], &["outlook.com", "office365.com"]);
    let report = analyse("received/ipv6-hosted-mailbox.eml", &own);

    let origin = report.origin_ip.as_ref().expect("origin found");
    assert_eq!(origin.ip, ip("2a05:d014:9f4:1a00::25"));
    assert_eq!(origin.host.as_deref(), Some("mail.paypa1-secure.com"));
    assert_eq!(origin.confidence, Confidence::High, "{:?}", origin.reasons);
    assert_eq!(origin.broken_hops, 0, "{:?}", report.received);
    assert_eq!(origin.agreeing_hops, 3);
    assert_eq!(
        roles(&report),
        vec![
            HopRole::Own,
            HopRole::Own,
            HopRole::Own,
            HopRole::Origin,
            HopRole::Claimed
        ]
    );
    // The hop below the origin is the sender's submission, and it follows.
    assert_eq!(report.received[4].follows_above, Some(true));
    assert_eq!(report.received[4].from_ip, Some(ip("185.220.101.33")));
}

#[test]
fn received_ipv6_without_config_stops_at_provider() {
    // Without own hosts, the provider's first public IPv6 address is taken.
    let report = analyse("received/ipv6-hosted-mailbox.eml", &MailSettings::default());
    let origin = report.origin_ip.as_ref().expect("origin found");
    assert_eq!(origin.ip, ip("2603:10a6:208:12::17"));
    assert_eq!(origin.hop, Some(0));
    assert_eq!(origin.confidence, Confidence::Medium);
}

#[test]
fn received_forged_own_relay_below_origin() {
    let own = settings(&["185.112.156.0/24"], &["northwind-traders.fr"]);
    let report = analyse("received/forged-own-relay.eml", &own);

    let origin = report.origin_ip.as_ref().expect("origin found");
    assert_eq!(origin.ip, ip("91.215.85.147"));
    assert_eq!(origin.confidence, Confidence::High, "{:?}", origin.reasons);
    let below = &report.received[2];
    assert_eq!(below.role, HopRole::Claimed);
    assert_eq!(below.follows_above, Some(false));
    assert!(
        below
            .forged
            .iter()
            .any(|f| f.contains("after the hop above")),
        "{:?}",
        below.forged
    );
    assert_eq!(origin.forged_hops, 1);
}

#[test]
fn received_own_helo_from_outside_address_is_origin() {
    // The sender greets with the name of the company's own relay; its address is outside
    // the own networks, so the hop is still the origin.
    let raw = String::from_utf8(fixture("received/forged-own-relay.eml")).unwrap();
    let raw = raw.replace(
        "from smtp.northwind-invoices.com (smtp.northwind-invoices.com [91.215.85.147])",
        "from mx1.northwind-traders.fr (unknown [91.215.85.147])",
    );
    let own = settings(&["185.112.156.0/24"], &["northwind-traders.fr"]);
    let report = analyze(raw.as_bytes(), &no_brand(), &own).expect("analysed");

    let origin = report.origin_ip.as_ref().expect("origin found");
    assert_eq!(origin.ip, ip("91.215.85.147"));
    assert_eq!(origin.host.as_deref(), Some("mx1.northwind-traders.fr"));
}

#[test]
fn received_local_qmail_hops_are_internal() {
    let report = analyse(
        "received/spamassassin-qmail-local-hops.eml",
        &MailSettings::default(),
    );
    let origin = report.origin_ip.as_ref().expect("origin found");
    assert_eq!(origin.ip, ip("64.41.120.21"));
    assert_eq!(
        &roles(&report)[..4],
        &[HopRole::Internal; 4],
        "{:?}",
        report.received
    );
    assert_eq!(
        origin.confidence,
        Confidence::Medium,
        "{:?}",
        origin.reasons
    );
}

#[test]
fn received_chain_only_private_gives_no_origin() {
    let raw = b"Received: from app1.internal (app1.internal [10.1.2.3])\r\n\tby mx.internal (Postfix) with ESMTP id 1; Mon, 1 Jan 2024 00:00:00 +0000\r\nFrom: app@corp.example\r\nSubject: internal\r\n\r\nbody\r\n";
    let report = analyze(raw, &no_brand(), &MailSettings::default()).expect("analysed");
    assert!(report.origin_ip.is_none());
    assert_eq!(report.received[0].role, HopRole::Internal);
}

// --- URLs, addresses, attachments ---------------------------------------------------------

#[test]
fn urls_defanged_text_is_refanged() {
    let report = analyse("urls/defanged-and-links.eml", &MailSettings::default());
    let text_urls: Vec<(&str, bool)> = report
        .urls
        .iter()
        .filter(|u| u.source == UrlSource::Text)
        .map(|u| (u.url.as_str(), u.defanged))
        .collect();
    assert!(
        text_urls.contains(&("https://paypa1-secure.com/pay?ref=7731", true)),
        "{text_urls:?}"
    );
    assert!(
        text_urls.contains(&("http://185.220.101.33/", true)),
        "{text_urls:?}"
    );
    assert!(
        text_urls.contains(&("http://www.paypal-help-center.com/start", false)),
        "{text_urls:?}"
    );
    assert!(
        report
            .domains
            .contains(&"cdn.paypa1-secure.com".to_string())
    );
    assert!(
        report
            .addresses
            .contains(&"billing@paypa1-secure.com".to_string())
    );
}

#[test]
fn urls_link_target_differs_from_visible_text() {
    let report = analyse("urls/defanged-and-links.eml", &MailSettings::default());
    let button = report
        .urls
        .iter()
        .find(|u| u.url == "https://paypa1-secure.com/pay?ref=7731&u=marc")
        .expect("link target listed");
    assert_eq!(button.source, UrlSource::Html);
    assert_eq!(
        button.shown_as.as_deref(),
        Some("https://www.paypal.com/pay")
    );

    let help = report
        .urls
        .iter()
        .find(|u| u.url == "https://www.paypal.com/help")
        .expect("honest link listed");
    assert_eq!(help.shown_as, None);

    for attribute_url in [
        "https://cdn.paypa1-secure.com/logo.png",
        "https://collect.paypa1-secure.com/submit",
    ] {
        assert!(
            report.urls.iter().any(|u| u.url == attribute_url),
            "{attribute_url} missing"
        );
    }
    assert!(!report.urls.iter().any(|u| u.url.contains("script-only")));
}

#[test]
fn attachments_hashed_and_names_scanned_not_opened() {
    let report = analyse("urls/defanged-and-links.eml", &MailSettings::default());
    assert_eq!(report.attachments.len(), 1);
    let attachment = &report.attachments[0];
    assert_eq!(
        attachment.name.as_deref(),
        Some("invoice-paypa1-secure[.]com.html")
    );
    assert_eq!(attachment.content_type, "application/octet-stream");
    assert_eq!(attachment.size, 91);
    assert_eq!(
        attachment.sha256,
        "2d6e7efe65a6cbdc1e3c04564f3e49b7158ad782dfb0debe17abfe97bfc651e3"
    );
    // The domain in the file name is listed; the URL inside the attachment is not.
    assert!(
        report
            .domains
            .contains(&"invoice-paypa1-secure.com".to_string())
    );
    assert!(
        !report
            .urls
            .iter()
            .any(|u| u.url.contains("hidden-in-attachment"))
    );
}

// --- ARF ---------------------------------------------------------------------------------

#[test]
fn arf_fraud_report_is_unwrapped() {
    let report = analyse("arf/fraud-report.eml", &MailSettings::default());
    let arf = report.arf.as_ref().expect("ARF fields");
    assert_eq!(arf.feedback_type.as_deref(), Some("fraud"));
    assert_eq!(arf.reporter.as_deref(), Some("fbl@mailbox-provider.net"));
    assert_eq!(arf.source_ip, Some(ip("45.141.84.120")));
    assert_eq!(arf.reported_domains, vec!["paypa1-secure.com"]);
    assert_eq!(arf.reported_message.as_deref(), Some("message/rfc822"));

    // The analysed fields describe the reported message, not the report.
    assert_eq!(
        report.subject.as_deref(),
        Some("Action required: verify your account")
    );
    let origin = report.origin_ip.as_ref().expect("origin");
    assert_eq!(origin.ip, ip("45.141.84.120"));
    assert!(
        origin
            .reasons
            .iter()
            .any(|r| r.contains("Source-IP names the same"))
    );
    assert!(
        report
            .urls
            .iter()
            .any(|u| u.url == "https://paypa1-secure.com/verify")
    );
    assert!(!report.domains.contains(&"mailbox-provider.net".to_string()));
}

#[test]
fn arf_reported_message_findings() {
    let report = analyse("arf/fraud-report.eml", &MailSettings::default());
    let roles: Vec<(&str, &str)> = report
        .findings
        .iter()
        .map(|f| (f.role.as_str(), f.subject.as_str()))
        .collect();
    assert!(roles.contains(&("from", "paypa1-secure.com")), "{roles:?}");
    assert!(
        roles.contains(&("display-name", "security@paypa1-secure.com")),
        "{roles:?}"
    );
    let from = report.findings.iter().find(|f| f.role == "from").unwrap();
    assert_eq!(from.watchlist, "paypal");
    assert!(from.score >= 80, "{from:?}");
}

#[test]
fn arf_headers_only_report_from_mail_auth() {
    let report = analyse(
        "arf/mail-auth-004-headers-only.eml",
        &MailSettings::default(),
    );
    let arf = report.arf.as_ref().expect("ARF fields");
    assert_eq!(arf.feedback_type.as_deref(), Some("auth-failure"));
    assert_eq!(arf.source_ip, Some(ip("148.163.85.135")));
    assert_eq!(arf.reported_message.as_deref(), Some("text/rfc822-headers"));
    assert_eq!(report.subject.as_deref(), Some("Wir kaufen dein Auto!"));
    assert_eq!(report.auth.dkim[0].result, "fail");
    assert_eq!(
        report.auth.dkim[0].domain.as_deref(),
        Some("interpublication.org")
    );
    // The report's Source-IP and the reported chain disagree: the origin is doubtful.
    let origin = report.origin_ip.as_ref().expect("origin");
    assert_eq!(origin.ip, ip("188.99.80.29"));
    assert_eq!(origin.confidence, Confidence::Low);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[test]
fn arf_rfc5965_sample_from_mail_auth() {
    let report = analyse("arf/mail-auth-001.eml", &MailSettings::default());
    let arf = report.arf.as_ref().expect("ARF fields");
    assert_eq!(arf.feedback_type.as_deref(), Some("abuse"));
    assert_eq!(arf.user_agent.as_deref(), Some("SomeGenerator/1.0"));
    assert_eq!(report.subject.as_deref(), Some("Earn money"));
    assert_eq!(
        report.from.as_ref().and_then(|f| f.address.as_deref()),
        Some("somespammer@example.net")
    );
    // 192.0.2.1 is a documentation address: no origin.
    assert!(report.origin_ip.is_none());
}

// --- Findings ------------------------------------------------------------------------------

#[test]
fn findings_lookalike_from_and_reply_to() {
    let report = analyse("received/ipv6-hosted-mailbox.eml", &MailSettings::default());
    let from = report
        .findings
        .iter()
        .find(|f| f.role == "from")
        .expect("from finding");
    assert_eq!(from.subject, "paypa1-secure.com");
    assert_eq!(from.matched.matched, "paypal.com");
    assert!(report.findings.iter().any(|f| f.role == "reply-to"));
    assert!(report.findings.iter().any(|f| f.role == "url"));
    assert!(
        report
            .auth
            .spf
            .as_ref()
            .is_some_and(|spf| spf.result == "pass")
    );
}

#[test]
fn findings_brand_display_name_from_free_mail() {
    let report = analyse(
        "findings/freemail-display-name.eml",
        &MailSettings::default(),
    );
    let finding = report
        .findings
        .iter()
        .find(|f| f.role == "display-name")
        .expect("display-name finding");
    assert_eq!(finding.subject, "pp.customer.service.team@gmail.com");
    assert_eq!(finding.watchlist, "paypal");
    assert!(
        finding.reasons[0].contains("free-mail provider gmail.com"),
        "{:?}",
        finding.reasons
    );
    assert_eq!(finding.severity, vigie::model::Severity::High);
}

#[test]
fn findings_free_mail_list_override() {
    let settings = MailSettings::new(Vec::new(), Vec::new(), ["mail.example.org"]);
    let report = analyze(
        &fixture("findings/freemail-display-name.eml"),
        &paypal_matcher(),
        &settings,
    )
    .expect("analysed");
    let finding = report
        .findings
        .iter()
        .find(|f| f.role == "display-name")
        .expect("still a finding");
    // gmail.com is no longer free mail by this list: the weaker rule applies.
    assert_eq!(finding.severity, vigie::model::Severity::Medium);
}

#[test]
fn findings_none_for_legitimate_brand_sender() {
    let raw = b"From: \"PayPal\" <service@paypal.com>\r\nSubject: receipt\r\n\r\nSee https://www.paypal.com/activity\r\n";
    let report = analyze(raw, &paypal_matcher(), &MailSettings::default()).expect("analysed");
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

// --- Body digest ----------------------------------------------------------------------------

#[test]
fn body_digest_groups_copies_to_different_people() {
    let one = b"To: Alice Martin <alice.martin@corp.example>\r\nFrom: x@evil.example\r\nSubject: parcel\r\n\r\nDear Alice Martin, parcel 88213 is held. Pay 2.99 at https://track.evil.example/p?id=a1b2&r=alice\r\n";
    let two = b"To: Bob Stone <bob.stone@corp.example>\r\nFrom: x@evil.example\r\nSubject: parcel\r\n\r\nDear Bob Stone, parcel 10077 is held. Pay 3.49 at https://track.evil.example/p?id=ff09&r=bob\r\n";
    let other = b"To: Bob Stone <bob.stone@corp.example>\r\nFrom: x@evil.example\r\nSubject: invoice\r\n\r\nPlease find the invoice attached.\r\n";
    let digest = |raw: &[u8]| {
        analyze(raw, &no_brand(), &MailSettings::default())
            .expect("analysed")
            .body_digest
    };
    assert_eq!(digest(one), digest(two));
    assert_ne!(digest(one), digest(other));
}

// --- Input that is not a mail --------------------------------------------------------------

#[test]
fn bad_input_errors_name_the_reason() {
    let settings = MailSettings::default();
    let matcher = no_brand();

    assert_eq!(analyze(b"", &matcher, &settings), Err(MailError::Empty));

    let no_headers = analyze(&fixture("bad/no-headers.txt"), &matcher, &settings).unwrap_err();
    assert!(
        matches!(no_headers, MailError::NoHeaders { .. }),
        "{no_headers}"
    );
    assert!(no_headers.to_string().contains("This is a plain note"));

    // Deterministic pseudo-random bytes with a NUL in the first kilobyte.
    let mut garbage = Vec::with_capacity(4096);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..4096 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        garbage.push((state >> 24) as u8);
    }
    garbage[100] = 0;
    let binary = analyze(&garbage, &matcher, &settings).unwrap_err();
    assert!(
        matches!(
            binary,
            MailError::Binary { .. } | MailError::NoHeaders { .. }
        ),
        "{binary}"
    );

    let mut huge = b"Subject: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 100_000));
    huge.extend_from_slice(b"\r\nFrom: a@b.example\r\n\r\nbody\r\n");
    let long_line = analyze(&huge, &matcher, &settings).unwrap_err();
    assert_eq!(
        long_line,
        MailError::HeaderLineTooLong {
            line: 1,
            length: 100_010,
            max: 65_536
        }
    );

    let mut small = MailSettings::default();
    small.limits.max_bytes = 1000;
    let too_large = analyze(&fixture("urls/defanged-and-links.eml"), &matcher, &small).unwrap_err();
    assert!(
        matches!(too_large, MailError::TooLarge { max: 1000, .. }),
        "{too_large}"
    );
}

#[test]
fn bad_truncated_mail_is_analysed_with_a_problem() {
    let report = analyze(
        &fixture("bad/truncated.eml"),
        &no_brand(),
        &MailSettings::default(),
    )
    .expect("a truncated mail still gives what it has");
    assert!(
        report.problems.iter().any(|p| p.contains("truncated")),
        "{:?}",
        report.problems
    );
    assert_eq!(
        report.subject.as_deref(),
        Some("Fraud report: message imitating your brand")
    );
}

/// A mail found by the `mail` fuzz target: a link target with bytes that are not UTF-8 (read
/// as U+FFFD, three bytes each) where the scan looked for `mailto:` once made it slice
/// inside a character and panic.
#[test]
fn bad_fuzzed_mail_with_multibyte_link_target() {
    let raw = fixture("bad/fuzz-link-prefix-char-boundary.eml");
    assert!(
        raw.windows(7).any(|w| w == b"https:\xfe"),
        "the fixture keeps the link target with bytes that are not UTF-8 after the scheme"
    );
    let report = analyze(&raw, &no_brand(), &MailSettings::default());
    assert!(report.is_ok(), "{:?}", report.err());
}

/// A mail found by the `mail` fuzz target: a defanging bracket followed by a multi-byte
/// character once made the URL scan slice inside that character and panic.
#[test]
fn bad_fuzzed_mail_with_bracket_before_multibyte_character() {
    let raw = fixture("bad/fuzz-refang-char-boundary.eml");
    assert!(
        raw.windows(2).any(|w| w == b"[\xd2"),
        "the fixture keeps the bracket before a non-ASCII byte"
    );
    let report =
        analyze(&raw, &no_brand(), &MailSettings::default()).expect("the fuzzed mail is analysed");
    assert!(
        report
            .urls
            .iter()
            .any(|u| u.url.starts_with("http://185.220.101")),
        "{:?}",
        report.urls
    );
}

#[test]
fn bad_too_many_parts_rejected() {
    let mut raw = b"From: a@b.example\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n".to_vec();
    for _ in 0..1200 {
        raw.extend_from_slice(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n");
    }
    raw.extend_from_slice(b"--b--\r\n");
    let error = analyze(&raw, &no_brand(), &MailSettings::default()).unwrap_err();
    assert!(
        matches!(error, MailError::TooManyParts { max: 1000, .. }),
        "{error}"
    );
}

#[test]
fn hostile_bodies_stay_within_limits() {
    // Bodies built to slow a scanner down: unbalanced brackets at URL ends, endless tags,
    // thousands of `@` and `//`. Analysis must finish and cap what it lists.
    let mut body = String::new();
    for index in 0..3000 {
        body.push_str(&format!("http://h{index}.example.com/{} ", ")".repeat(200)));
    }
    body.push_str(&"@".repeat(200_000));
    body.push_str(&"x://".repeat(50_000));
    let mut html = String::from("<html><body>");
    html.push_str(&"<a href=\"https://evil.example/\"".repeat(20_000));
    html.push_str(&"<".repeat(100_000));
    let raw = format!(
        "From: a@evil.example\r\nSubject: hostile\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n{body}\r\n--b\r\nContent-Type: text/html\r\n\r\n{html}\r\n--b--\r\n"
    );

    let start = std::time::Instant::now();
    let report = analyze(raw.as_bytes(), &no_brand(), &MailSettings::default()).expect("analysed");
    let elapsed = start.elapsed();

    assert_eq!(report.urls.len(), 1000);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("more URLs were not listed")),
        "{:?}",
        report.problems
    );
    assert!(report.urls[0].url.ends_with('/'), "{}", report.urls[0].url);
    // A generous bound: a debug build on a loaded two-core machine took about 5 s.
    assert!(elapsed.as_secs() < 30, "took {elapsed:?}");
}
