//! Campaign grouping in the store and the campaign finding: which mails share a campaign,
//! merges, duplicates, the compressed raw mail, and which campaign changes alert.

mod support;

use std::sync::Arc;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use vigie::campaign::{self, Fallback, MailFacts, MailMatch};
use vigie::config::Config;
use vigie::model::Severity;
use vigie::pipeline::{Pipeline, Submitted};
use vigie::store::{NewMail, Recorded, RecordedMail, Store};

struct Harness {
    _dir: tempfile::TempDir,
    config: Config,
    pipeline: Pipeline,
    store: Arc<Store>,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    // The sink only receives outbox rows: no dispatcher runs in these tests.
    let sink = "[sinks.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/alerts\"\n";
    let config = support::inbox::load_config(dir.path(), sink, &[]);
    let (pipeline, store, _tx) = support::inbox::pipeline(dir.path(), config.clone());
    Harness {
        _dir: dir,
        config,
        pipeline,
        store,
    }
}

/// Facts of a mail whose raw text is `raw`.
fn facts(raw: &str) -> MailFacts {
    MailFacts {
        sha256: hex::encode(Sha256::digest(raw.as_bytes())),
        subject: Some(format!("subject of {raw}")),
        ..MailFacts::default()
    }
}

impl Harness {
    fn record(&self, raw: &str, facts: &MailFacts) -> RecordedMail {
        let input = campaign::campaign_input(
            facts,
            &self.config.watchlists,
            Some(Fallback {
                watchlist: "example",
                severity: Severity::Medium,
            }),
        );
        let mail = NewMail {
            sha256: facts.sha256.clone(),
            source: "test".to_string(),
            origin: "test".to_string(),
            folder: None,
            uidvalidity: None,
            uid: None,
            received_at: OffsetDateTime::now_utc(),
            message_id: None,
            subject: facts.subject.clone(),
            sender: None,
            origin_ip: facts.origin_ip.map(|ip| ip.to_string()),
            raw: raw.as_bytes().to_vec(),
            analysis: serde_json::json!({}),
            attachments: Vec::new(),
            campaign: input,
        };
        self.store.record_mail(&mail).expect("record the mail")
    }

    /// Records a mail and submits its campaign finding; returns the outcome of the submit.
    async fn submit(&self, raw: &str, facts: &MailFacts) -> (RecordedMail, Submitted) {
        let recorded = self.record(raw, facts);
        let state = recorded
            .campaign
            .as_ref()
            .expect("the mail joins a campaign");
        let finding = campaign::finding(state, facts, "test", OffsetDateTime::now_utc());
        let submitted = self.pipeline.submit(finding).await.expect("submit");
        (recorded, submitted)
    }
}

fn campaign_id(recorded: &RecordedMail) -> i64 {
    recorded.campaign.as_ref().unwrap().id
}

#[tokio::test]
async fn same_reply_to_groups_and_alerts_once() {
    let h = harness();
    let mut first = facts("mail one");
    first.reply_to = vec!["seko@spin.example".to_string()];
    first.origin_ip = Some("198.51.100.7".parse().unwrap());
    let mut second = facts("mail two");
    second.reply_to = first.reply_to.clone();
    second.origin_ip = first.origin_ip;

    let (a, submitted_a) = h.submit("mail one", &first).await;
    let (b, submitted_b) = h.submit("mail two", &second).await;

    assert_eq!(campaign_id(&a), campaign_id(&b));
    assert_eq!(b.campaign.as_ref().unwrap().mail_count, 2);
    assert!(matches!(
        submitted_a,
        Submitted::Recorded {
            recorded: Recorded::New { .. },
            alerted: true
        }
    ));
    assert!(matches!(
        submitted_b,
        Submitted::Recorded {
            recorded: Recorded::Unchanged { .. },
            alerted: false
        }
    ));
    let stored = h.store.findings().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].kind, "mail-campaign");
    assert_eq!(stored[0].subject, "seko@spin.example");
    assert_eq!(stored[0].evidence["mails"], 2);
    assert_eq!(stored[0].evidence["origin"]["class"], "one-machine");
}

#[tokio::test]
async fn unrelated_mails_make_two_campaigns() {
    let h = harness();
    let mut first = facts("one");
    first.reply_to = vec!["a@one.example".to_string()];
    let mut second = facts("two");
    second.reply_to = vec!["b@two.example".to_string()];

    let (a, _) = h.submit("one", &first).await;
    let (b, _) = h.submit("two", &second).await;

    assert_ne!(campaign_id(&a), campaign_id(&b));
    assert_eq!(h.store.findings().unwrap().len(), 2);
}

#[tokio::test]
async fn one_weak_key_is_not_enough() {
    let h = harness();
    let mut first = facts("one");
    first.url_domains = vec!["www.linux.example".to_string()];
    first.origin_ip = Some("192.0.2.10".parse().unwrap());
    let mut only_domain = facts("two");
    only_domain.url_domains = first.url_domains.clone();
    let mut domain_and_network = facts("three");
    domain_and_network.url_domains = first.url_domains.clone();
    domain_and_network.origin_ip = Some("192.0.2.99".parse().unwrap());

    let a = h.record("one", &first);
    let b = h.record("two", &only_domain);
    let c = h.record("three", &domain_and_network);

    assert_ne!(
        campaign_id(&a),
        campaign_id(&b),
        "a shared footer domain alone groups"
    );
    assert_eq!(
        campaign_id(&a),
        campaign_id(&c),
        "domain and network together group"
    );
    let state = c.campaign.unwrap();
    assert_eq!(state.values("ip").len(), 2);
    assert_eq!(state.values("network").len(), 1);
}

#[tokio::test]
async fn flagged_url_domain_is_strong() {
    let h = harness();
    let flagged = |raw: &str| {
        let mut mail = facts(raw);
        mail.url_domains = vec!["examp1e-login.test".to_string()];
        mail.matches = vec![MailMatch {
            watchlist: "example".to_string(),
            subject: "examp1e-login.test".to_string(),
            role: "url".to_string(),
            score: 85,
            severity: Severity::High,
            reasons: vec!["homoglyph of example.test".to_string()],
        }];
        mail
    };
    let a = h.record("one", &flagged("one"));
    let b = h.record("two", &flagged("two"));

    assert_eq!(campaign_id(&a), campaign_id(&b));
    let state = b.campaign.unwrap();
    assert_eq!(state.severity, Severity::High);
    assert_eq!(state.score, 85);
    assert_eq!(state.label, "examp1e-login.test");
}

#[tokio::test]
async fn legitimate_url_domain_is_no_key() {
    let h = harness();
    let mut first = facts("one");
    first.url_domains = vec!["www.example.test".to_string()];
    first.origin_ip = Some("192.0.2.1".parse().unwrap());
    let mut second = facts("two");
    second.url_domains = first.url_domains.clone();
    second.origin_ip = Some("192.0.2.2".parse().unwrap());

    let a = h.record("one", &first);
    let b = h.record("two", &second);

    assert_ne!(campaign_id(&a), campaign_id(&b));
    assert!(a.campaign.unwrap().values("url-domain").is_empty());
}

#[tokio::test]
async fn mail_joining_two_campaigns_merges_them() {
    let h = harness();
    let mut first = facts("one");
    first.reply_to = vec!["a@one.example".to_string()];
    let mut second = facts("two");
    second.reply_to = vec!["b@two.example".to_string()];
    let mut bridge = facts("three");
    bridge.reply_to = vec!["a@one.example".to_string(), "b@two.example".to_string()];

    let a = h.record("one", &first);
    let b = h.record("two", &second);
    let c = h.record("three", &bridge);

    let merged = c.campaign.unwrap();
    assert_eq!(merged.id, campaign_id(&a), "the oldest campaign survives");
    assert_eq!(merged.absorbed, vec![campaign_id(&b)]);
    assert_eq!(merged.mail_count, 3);
    assert_eq!(merged.keys["reply-to"]["a@one.example"], 2);
    assert_eq!(merged.keys["reply-to"]["b@two.example"], 2);
    assert_eq!(h.store.campaigns().unwrap().len(), 1);
    assert_eq!(h.store.campaign_mail_ids(merged.id).unwrap().len(), 3);
    let followed = h.store.campaign(campaign_id(&b)).unwrap().unwrap();
    assert_eq!(
        followed.id, merged.id,
        "a merged campaign leads to its survivor"
    );
}

#[tokio::test]
async fn same_raw_mail_counts_once() {
    let h = harness();
    let mut mail = facts("same bytes");
    mail.reply_to = vec!["a@one.example".to_string()];

    let first = h.record("same bytes", &mail);
    let again = h.record("same bytes", &mail);

    assert!(!first.duplicate);
    assert!(again.duplicate);
    assert_eq!(again.mail_id, first.mail_id);
    assert_eq!(again.campaign.unwrap().mail_count, 1);
    assert_eq!(h.store.mails().unwrap().len(), 1);
}

#[tokio::test]
async fn raw_mail_is_kept_compressed() {
    let h = harness();
    let raw =
        "Received: from x\r\nSubject: test\r\n\r\n".to_string() + &"body line\r\n".repeat(500);
    let mail = facts(&raw);

    let recorded = h.record(&raw, &mail);

    let stored = h.store.mail(recorded.mail_id).unwrap().unwrap();
    assert_eq!(stored.size, raw.len() as u64);
    assert!(
        stored.stored_size < stored.size / 5,
        "{} bytes stored",
        stored.stored_size
    );
    assert_eq!(stored.sha256, mail.sha256);
    let back = h.store.mail_raw(recorded.mail_id).unwrap().unwrap();
    assert_eq!(back, raw.as_bytes());
    assert_eq!(hex::encode(Sha256::digest(&back)), stored.sha256);
}

#[tokio::test]
async fn new_url_domain_alerts_again() {
    let h = harness();
    let mut first = facts("one");
    first.reply_to = vec!["a@one.example".to_string()];
    first.url_domains = vec!["landing-one.example".to_string()];
    let mut second = facts("two");
    second.reply_to = first.reply_to.clone();
    second.url_domains = vec!["landing-two.example".to_string()];

    h.submit("one", &first).await;
    let (_, submitted) = h.submit("two", &second).await;

    let Submitted::Recorded {
        recorded: Recorded::Changed { changes, .. },
        alerted: true,
    } = submitted
    else {
        panic!("a new landing domain does not alert: {submitted:?}");
    };
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].fact, "url-domain");
    assert!(changes[0].added().contains("landing-two.example"));
}

#[tokio::test]
async fn turning_into_botnet_alerts_once() {
    let h = harness();
    let mail = |raw: &str, ip: &str| {
        let mut mail = facts(raw);
        mail.body_digest = Some("digest-of-the-same-body".to_string());
        mail.origin_ip = Some(ip.parse().unwrap());
        mail
    };

    let (_, first) = h.submit("one", &mail("one", "198.51.100.1")).await;
    let (_, same_network) = h.submit("two", &mail("two", "198.51.100.2")).await;
    let (_, other_network) = h.submit("three", &mail("three", "203.0.113.9")).await;
    let (_, more) = h.submit("four", &mail("four", "192.0.2.44")).await;

    let alerted =
        |outcome: &Submitted| matches!(outcome, Submitted::Recorded { alerted: true, .. });
    assert!(alerted(&first));
    assert!(alerted(&same_network), "one machine became one network");
    assert!(alerted(&other_network), "one network became many machines");
    assert!(
        !alerted(&more),
        "a further machine of a botnet alerts again"
    );
    let finding = &h.store.findings().unwrap()[0];
    assert_eq!(finding.evidence["origin"]["class"], "many-machines");
    assert_eq!(finding.evidence["origin"]["machines"], 4);
    assert_eq!(finding.evidence["origin"]["networks"], 3);
    assert_eq!(finding.evidence["mails"], 4);
}

#[tokio::test]
async fn mail_without_watchlist_is_kept_without_campaign() {
    let h = harness();
    let mail = facts("no watchlist");
    let input = campaign::campaign_input(&mail, &h.config.watchlists, None);
    assert!(input.is_none());
}

#[tokio::test]
async fn two_footer_domains_do_not_group() {
    let h = harness();
    let footers = vec![
        "lists.sourceforge.example".to_string(),
        "www.thinkgeek.example".to_string(),
    ];
    let mut first = facts("one");
    first.url_domains = footers.clone();
    let mut second = facts("two");
    second.url_domains = footers;

    let a = h.record("one", &first);
    let b = h.record("two", &second);

    assert_ne!(
        campaign_id(&a),
        campaign_id(&b),
        "weak keys of one kind grouped"
    );
}

#[tokio::test]
async fn near_identical_bodies_group() {
    let h = harness();
    let body = |raw: &str, simhash: &str| {
        let mut mail = facts(raw);
        mail.body_digest = Some(format!("digest of {raw}"));
        mail.body_simhash = Some(simhash.to_string());
        mail
    };
    // 4 bits apart, all in the last band.
    let a = h.record("one", &body("one", "0123456789abcdef"));
    let b = h.record("two", &body("two", "0123456789abcd1f"));
    // Bits changed in five bands: 3 bands equal.
    let c = h.record("three", &body("three", "1133557799abcdef"));

    assert_eq!(campaign_id(&a), campaign_id(&b));
    assert_ne!(campaign_id(&a), campaign_id(&c));
}

#[tokio::test]
async fn bodies_sharing_bands_but_far_apart_stay_apart() {
    let h = harness();
    let body = |raw: &str, simhash: &str| {
        let mut mail = facts(raw);
        mail.body_digest = Some(format!("digest of {raw}"));
        mail.body_simhash = Some(simhash.to_string());
        mail
    };
    // Two SimHashes of different advance-fee letters in the fixtures: four bands equal,
    // 9 bits apart.
    let a = h.record("one", &body("one", "08f5690f3544f15c"));
    let b = h.record("two", &body("two", "08f55d07354cf1ac"));

    assert_ne!(campaign_id(&a), campaign_id(&b));
}

#[tokio::test]
async fn spoofed_brand_reply_to_is_no_key() {
    let h = harness();
    let spoofed = |raw: &str| {
        let mut mail = facts(raw);
        mail.reply_to = vec!["service@example.test".to_string()];
        mail
    };

    let a = h.record("one", &spoofed("one"));
    let b = h.record("two", &spoofed("two"));

    assert_ne!(campaign_id(&a), campaign_id(&b));
    assert!(a.campaign.unwrap().values("reply-to").is_empty());
}

#[tokio::test]
async fn medium_flagged_domain_stays_weak() {
    let h = harness();
    let tracked = |raw: &str| {
        let mut mail = facts(raw);
        mail.url_domains = vec!["example.tracker.test".to_string()];
        mail.matches = vec![MailMatch {
            watchlist: "example".to_string(),
            subject: "example.tracker.test".to_string(),
            role: "url".to_string(),
            score: 50,
            severity: Severity::Medium,
            reasons: vec!["brand in a subdomain label".to_string()],
        }];
        mail
    };

    let a = h.record("one", &tracked("one"));
    let b = h.record("two", &tracked("two"));

    assert_ne!(campaign_id(&a), campaign_id(&b));
}
