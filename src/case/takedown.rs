//! Takedown notices: drafted from templates in the contact's language, sent through the
//! configured SMTP relay with a tracking Message-ID and the evidence attached, followed up,
//! and escalated to a CERT when they stay unanswered.
//!
//! A notice's reference (`vigie-CASE-RANDOM`) is in its subject and its Message-ID, so an
//! answer can be matched to it by hand or by a mail rule. When a notice got no answer by its
//! deadline, [`remind_overdue`] writes a reminder alert to the outbox (one per round of
//! follow-ups) in the transaction that records the reminder on the case; the daemon calls it
//! on a timer (see [`super::watch`]). Every time comes from the [`super::Clock`] passed in.

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use super::contacts::{self, Candidate};
use super::{Actor, CaseError, Clock, finding_domains, open_case, rfc3339, templates};
use crate::alert::AlertPayload;
use crate::config::{Config, Contact, ContactRole, SinkConfig};
use crate::model::{IndicatorKind, defang};
use crate::store::{AlertEvent, NewTakedown, ResponseAlert, Store, StoredFinding, Takedown};

/// Header naming the notice's reference, for mail rules and the tests.
pub const REFERENCE_HEADER: &str = "X-Vigie-Takedown";

/// Finding, case and contact of a takedown.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub case_id: i64,
    /// Finding id or fingerprint.
    pub finding: String,
    /// Contact id in the directory; when absent, chosen by `role` and what contacts cover.
    pub contact: Option<String>,
    pub role: Option<ContactRole>,
    /// Language of the notice; default: the contact's.
    pub language: Option<String>,
}

/// A file sent with a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// True when the file holds the headers of a reported mail.
    pub is_mail: bool,
}

/// A rendered notice.
#[derive(Debug, Clone)]
pub struct Notice {
    pub contact: Candidate,
    pub language: String,
    pub target: String,
    pub reference: String,
    pub subject: String,
    pub body: String,
    pub evidence: Evidence,
}

#[derive(Serialize)]
struct NoticeContext<'a> {
    organization: &'a str,
    sender: &'a str,
    contact_name: &'a str,
    role: &'a str,
    target_defanged: String,
    imitates: &'a str,
    reference: &'a str,
    first_seen: String,
    last_seen: String,
    addresses: Vec<String>,
    name_servers: Vec<String>,
    mail_servers: Vec<String>,
    urls: Vec<String>,
    mailboxes: Vec<String>,
    reasons: &'a [String],
    attachment: &'a str,
    attachment_is_mail: bool,
    followup: u32,
    first_sent: String,
}

/// The evidence to attach: the reported mail's headers when the finding has them, else the
/// finding's evidence as JSON.
pub fn evidence(finding: &StoredFinding) -> Evidence {
    let headers = [
        &finding.evidence["mail"]["headers"],
        &finding.evidence["headers"],
        &finding.evidence["raw_headers"],
    ]
    .into_iter()
    .find_map(|value| value.as_str().filter(|text| !text.trim().is_empty()));
    match headers {
        Some(headers) => Evidence {
            file_name: "reported-mail-headers.txt".to_owned(),
            content_type: "text/rfc822-headers; charset=utf-8".to_owned(),
            bytes: headers.as_bytes().to_vec(),
            is_mail: true,
        },
        None => {
            let document = json!({
                "finding": finding.id,
                "subject": finding.subject,
                "imitates": finding.imitates,
                "kind": finding.kind,
                "source": finding.source,
                "first_seen": rfc3339(finding.first_seen),
                "last_seen": rfc3339(finding.last_seen),
                "reasons": finding.reasons,
                "indicators": finding.indicators,
                "records": finding.facts,
                "evidence": finding.evidence,
            });
            Evidence {
                file_name: format!("evidence-finding-{}.json", finding.id),
                content_type: "application/json".to_owned(),
                bytes: serde_json::to_vec_pretty(&document).unwrap_or_default(),
                is_mail: false,
            }
        }
    }
}

/// The item a notice asks to take down: the finding's domain, or its subject.
fn target_of(finding: &StoredFinding, role: ContactRole) -> String {
    let first = |kind: IndicatorKind| {
        finding
            .indicators
            .iter()
            .find(|i| i.kind == kind)
            .map(|i| i.value.clone())
    };
    let chosen = match role {
        ContactRole::MailProvider => first(IndicatorKind::Email),
        ContactRole::SocialNetwork => first(IndicatorKind::Account),
        ContactRole::SiteOwner => first(IndicatorKind::Url),
        _ => None,
    };
    chosen
        .or_else(|| finding_domains(finding).into_iter().next())
        .unwrap_or_else(|| finding.subject.clone())
}

/// Renders a notice (first one when `followup` is 0).
#[expect(
    clippy::too_many_arguments,
    reason = "the parts of a notice differ between a first notice and a follow-up"
)]
fn render_notice(
    config: &Config,
    finding: &StoredFinding,
    contact: Candidate,
    language: String,
    target: String,
    reference: String,
    followup: u32,
    first_sent: Option<OffsetDateTime>,
) -> Result<Notice, CaseError> {
    let evidence = evidence(finding);
    let brand = config
        .watchlists
        .iter()
        .find(|w| w.id == finding.watchlist)
        .map(|w| w.brand.as_str());
    let organization = super::warning::organization(config, brand);
    let sender = config.response.sender.clone().unwrap_or_default();
    let fact = |name: &str| -> Vec<String> {
        finding
            .facts
            .get(name)
            .map(|values| values.iter().map(|v| defang(v)).collect())
            .unwrap_or_default()
    };
    let of_kind = |kind: IndicatorKind| -> Vec<String> {
        finding
            .indicators
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| defang(&i.value))
            .collect()
    };
    let mut addresses = fact("a");
    addresses.extend(fact("aaaa"));
    let context = NoticeContext {
        organization: &organization,
        sender: &sender,
        contact_name: &contact.contact.name,
        role: contact.contact.role.as_str(),
        target_defanged: defang(&target),
        imitates: &finding.imitates,
        reference: &reference,
        first_seen: rfc3339(finding.first_seen),
        last_seen: rfc3339(finding.last_seen),
        addresses,
        name_servers: fact("ns"),
        mail_servers: fact("mx"),
        urls: of_kind(IndicatorKind::Url),
        mailboxes: of_kind(IndicatorKind::Email),
        reasons: &finding.reasons,
        attachment: &evidence.file_name,
        attachment_is_mail: evidence.is_mail,
        followup,
        first_sent: first_sent
            .map(|at| at.date().to_string())
            .unwrap_or_default(),
    };
    super::check_language_code(&language)?;
    let name = format!("takedown/{language}.txt");
    if !templates::exists(config.response.templates_dir.as_deref(), &name) {
        return Err(CaseError::Invalid(format!(
            "no takedown template for language {language:?}; use one of {} or add {name} to templates_dir",
            crate::config::LANGUAGES.join(", ")
        )));
    }
    let text = templates::render(config.response.templates_dir.as_deref(), &name, &context)?;
    let (subject, body) = split_subject(&text).ok_or_else(|| CaseError::Template {
        name: name.clone(),
        reason: "the first line must be `Subject: ...`, followed by a blank line".to_owned(),
    })?;
    Ok(Notice {
        contact,
        language,
        target,
        reference,
        subject,
        body,
        evidence,
    })
}

/// Splits `Subject: ...\n\nbody` into its subject line and body.
fn split_subject(text: &str) -> Option<(String, String)> {
    let (first, rest) = text.split_once('\n')?;
    let subject = first.strip_prefix("Subject:")?.trim();
    if subject.is_empty() {
        return None;
    }
    Some((
        subject.to_owned(),
        rest.trim_start_matches(['\r', '\n']).to_owned(),
    ))
}

fn new_reference(case_id: i64) -> String {
    let random: u32 = rand::random();
    format!("vigie-{case_id}-{random:08x}")
}

/// Drafts the first notice of a takedown without sending or recording anything.
pub fn draft(store: &Store, config: &Config, request: &Request) -> Result<Notice, CaseError> {
    open_case(store, request.case_id)?;
    let finding = super::find_finding(store, &request.finding)?;
    let cases = store.cases_of_finding(finding.id)?;
    if !cases.contains(&request.case_id) {
        return Err(CaseError::Invalid(format!(
            "finding {} is not in case {}; add it with `vigie case add {} {}`",
            finding.id, request.case_id, request.case_id, finding.id
        )));
    }
    let contact = contacts::choose(
        &config.response.contacts,
        &finding,
        request.contact.as_deref(),
        request.role,
    )?;
    let language = match &request.language {
        Some(language) => language.clone(),
        None => contacts::language(&contact.contact, &config.response),
    };
    let target = target_of(&finding, contact.contact.role);
    render_notice(
        config,
        &finding,
        contact,
        language,
        target,
        new_reference(request.case_id),
        0,
        None,
    )
}

/// The relay and sender that notices go out through.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    relay: String,
    from: Mailbox,
    reply_to: Option<Mailbox>,
}

impl Mailer {
    /// Builds the mailer from `[response]` (`sender`, `reply_to`, `sink`) and the sink's relay.
    pub fn from_config(config: &Config) -> Result<Mailer, CaseError> {
        let response = &config.response;
        let sender = response.sender.as_ref().ok_or_else(|| CaseError::Setting {
            setting: "[response] sender",
            fix: "set it to the address takedown notices are sent from, such as abuse-desk@example.com".to_owned(),
        })?;
        let name = response.sink.as_ref().ok_or_else(|| CaseError::Setting {
            setting: "[response] sink",
            fix: "define an SMTP sink ([sinks.NAME] with type = \"smtp\") to send notices through"
                .to_owned(),
        })?;
        let Some(SinkConfig::Smtp(smtp)) = config.sinks.get(name) else {
            return Err(CaseError::Setting {
                setting: "[response] sink",
                fix: format!("sink {name} is not an SMTP sink of vigie.toml"),
            });
        };
        crate::init_tls();
        let transport = crate::alert::smtp::transport(name, smtp)
            .map_err(|error| CaseError::Invalid(error.to_string()))?;
        let parse = |text: &str| {
            text.parse::<Mailbox>()
                .map_err(|error| CaseError::Invalid(format!("invalid address {text:?}: {error}")))
        };
        Ok(Mailer {
            transport,
            relay: format!("{}:{}", smtp.host, smtp.port),
            from: parse(sender)?,
            reply_to: response.reply_to.as_deref().map(parse).transpose()?,
        })
    }

    fn domain(&self) -> String {
        self.from.email.domain().to_owned()
    }

    /// The sender address.
    pub fn sender(&self) -> String {
        self.from.email.to_string()
    }

    /// Sends a message built elsewhere (an abuse report) as is, from the sender to `to`.
    pub async fn send_raw(&self, to: &str, message: &[u8]) -> Result<(), CaseError> {
        let failed = |reason: String| CaseError::Send {
            recipient: to.to_owned(),
            relay: self.relay.clone(),
            reason,
        };
        let recipient: lettre::Address = to
            .parse()
            .map_err(|error| failed(format!("invalid recipient: {error}")))?;
        let envelope =
            lettre::address::Envelope::new(Some(self.from.email.clone()), vec![recipient])
                .map_err(|error| failed(error.to_string()))?;
        self.transport
            .send_raw(&envelope, message)
            .await
            .map(drop)
            .map_err(|error| failed(error.to_string()))
    }

    /// Sends one notice with the given Message-ID (and In-Reply-To for a follow-up).
    async fn send(
        &self,
        notice: &Notice,
        message_id: &str,
        in_reply_to: Option<&str>,
    ) -> Result<(), CaseError> {
        let recipient = notice.contact.contact.email.clone().ok_or_else(|| {
            let contact = &notice.contact.contact;
            let other = contact
                .web_form
                .as_deref()
                .map(|form| format!("its web form {form}"))
                .or_else(|| contact.phone.as_deref().map(|phone| format!("phone {phone}")))
                .unwrap_or_default();
            CaseError::Invalid(format!(
                "contact {} has no e-mail address; print the notice with `vigie takedown draft` and send it through {other}",
                contact.id
            ))
        })?;
        let failed = |reason: String| CaseError::Send {
            recipient: recipient.clone(),
            relay: self.relay.clone(),
            reason,
        };
        let to: Mailbox = recipient
            .parse()
            .map_err(|error| failed(format!("invalid recipient: {error}")))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(notice.subject.clone())
            .message_id(Some(format!("<{message_id}>")))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(REFERENCE_HEADER),
                notice.reference.clone(),
            ));
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        if let Some(original) = in_reply_to {
            builder = builder
                .in_reply_to(format!("<{original}>"))
                .references(format!("<{original}>"));
        }
        let content_type =
            ContentType::parse(&notice.evidence.content_type).unwrap_or(ContentType::TEXT_PLAIN);
        let message = builder
            .multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(notice.body.clone()))
                    .singlepart(
                        Attachment::new(notice.evidence.file_name.clone())
                            .body(notice.evidence.bytes.clone(), content_type),
                    ),
            )
            .map_err(|error| failed(format!("cannot build the mail: {error}")))?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|error| failed(error.to_string()))
    }
}

/// Sends the first notice and records the takedown; returns its id and the notice.
pub async fn send(
    store: &Store,
    config: &Config,
    actor: &Actor<'_>,
    mailer: &Mailer,
    request: &Request,
) -> Result<(i64, Notice), CaseError> {
    let notice = draft(store, config, request)?;
    let finding = super::find_finding(store, &request.finding)?;
    let message_id = format!("{}@{}", notice.reference, mailer.domain());
    mailer.send(&notice, &message_id, None).await?;

    let sent_at = actor.clock.now();
    let deadline_at = sent_at + time::Duration::hours(config.response.answer_hours as i64);
    let contact = &notice.contact.contact;
    let recipient = contact.email.clone().unwrap_or_default();
    let country = contact.country.clone().unwrap_or_default();
    let contact_id = notice.contact.store_id();
    let record = NewTakedown {
        case_id: request.case_id,
        finding_id: finding.id,
        target: &notice.target,
        contact: &contact_id,
        role: contact.role.as_str(),
        recipient: &recipient,
        language: &notice.language,
        country: &country,
        message_id: &message_id,
        subject: &notice.subject,
        sent_at,
        deadline_at,
    };
    let event = actor.event(
        "takedown-sent",
        format!(
            "Takedown notice {} for {} sent to {} ({}, {}, {}); answer expected by {}.",
            notice.reference,
            defang(&notice.target),
            recipient,
            contact.name,
            contact.role.as_str(),
            notice.language,
            rfc3339(deadline_at)
        ),
        json!({ "message_id": message_id, "contact": contact_id }),
    );
    let id = store.record_takedown(&record, &event)?;
    Ok((id, notice))
}

/// Outcome of a follow-up.
#[derive(Debug, Clone)]
pub struct FollowedUp {
    pub notice: Notice,
    /// Follow-ups sent so far, this one included.
    pub followups: u32,
    pub escalation: Option<Escalation>,
}

/// A proposed escalation to the CERT of the hosting country.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub country: String,
    /// The CERT found in the directory, if any.
    pub cert: Option<Contact>,
    pub text: String,
}

/// Sends a follow-up to an unanswered takedown and records it; proposes escalation once
/// the configured number of follow-ups is reached.
pub async fn followup(
    store: &Store,
    config: &Config,
    actor: &Actor<'_>,
    mailer: &Mailer,
    takedown_id: i64,
) -> Result<FollowedUp, CaseError> {
    let takedown = store
        .takedown(takedown_id)?
        .ok_or(CaseError::NoTakedown(takedown_id))?;
    open_case(store, takedown.case_id)?;
    if takedown.answered_at.is_some() || takedown.down_at.is_some() {
        return Err(CaseError::Invalid(format!(
            "takedown {takedown_id} was already answered ({}); no follow-up needed",
            takedown.status
        )));
    }
    let finding = store
        .finding(takedown.finding_id)?
        .ok_or_else(|| CaseError::NoFinding(takedown.finding_id.to_string()))?;
    let contact = stored_contact(config, &takedown);
    let number = takedown.followups + 1;
    let reference = takedown
        .message_id
        .split('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    let notice = render_notice(
        config,
        &finding,
        contact,
        takedown.language.clone(),
        takedown.target.clone(),
        reference,
        number,
        Some(takedown.sent_at),
    )?;
    let (local, domain) = takedown
        .message_id
        .split_once('@')
        .unwrap_or((&takedown.message_id, "vigie"));
    let message_id = format!("{local}-f{number}@{domain}");
    mailer
        .send(&notice, &message_id, Some(&takedown.message_id))
        .await?;

    let now = actor.clock.now();
    let deadline = now + time::Duration::hours(config.response.answer_hours as i64);
    let event = actor.event(
        "takedown-followup",
        format!(
            "Follow-up {number} of takedown {takedown_id} sent to {}; answer expected by {}.",
            takedown.recipient,
            rfc3339(deadline)
        ),
        json!({ "takedown": takedown_id, "message_id": message_id }),
    );
    store.record_followup(takedown_id, now, deadline, &event)?;

    let escalation = (number >= config.response.followups_before_escalation)
        .then(|| escalation(config, &takedown, number));
    if let Some(escalation) = &escalation {
        let event = actor.event(
            "escalation-proposed",
            escalation.text.clone(),
            json!({ "takedown": takedown_id, "country": escalation.country }),
        );
        store.add_event(takedown.case_id, &event)?;
    }
    Ok(FollowedUp {
        notice,
        followups: number,
        escalation,
    })
}

/// The contact of a stored takedown: from the directory, else rebuilt from the record.
fn stored_contact(config: &Config, takedown: &Takedown) -> Candidate {
    if let Some(contact) = config
        .response
        .contacts
        .iter()
        .find(|c| c.id == takedown.contact)
    {
        return Candidate {
            contact: contact.clone(),
            reason: "contact of the first notice".to_owned(),
            from_rdap: false,
        };
    }
    Candidate {
        contact: Contact {
            id: takedown.contact.clone(),
            name: String::new(),
            role: ContactRole::parse(&takedown.role).unwrap_or(ContactRole::Hosting),
            email: Some(takedown.recipient.clone()),
            web_form: None,
            phone: None,
            languages: vec![takedown.language.clone()],
            preferred: crate::config::ContactChannel::Email,
            country: (!takedown.country.is_empty()).then(|| takedown.country.clone()),
            covers: Vec::new(),
            note: String::new(),
        },
        reason: "contact of the first notice".to_owned(),
        from_rdap: takedown.contact.starts_with("rdap:"),
    }
}

/// Proposes the CERT of the country of the takedown's contact.
pub fn escalation(config: &Config, takedown: &Takedown, followups: u32) -> Escalation {
    let country = takedown.country.clone();
    let cert = contacts::cert_for(&config.response.contacts, &country).cloned();
    let text = match (&cert, country.is_empty()) {
        (Some(cert), _) => format!(
            "Escalation proposed: takedown {} is unanswered after {followups} follow-up(s); ask {} ({}), the CERT of {country}: vigie takedown send --case {} --finding {} --contact {}",
            takedown.id,
            cert.name,
            cert.email
                .as_deref()
                .or(cert.web_form.as_deref())
                .unwrap_or("see the directory"),
            takedown.case_id,
            takedown.finding_id,
            cert.id
        ),
        (None, false) => format!(
            "Escalation proposed: takedown {} is unanswered after {followups} follow-up(s), but the contacts directory has no CERT for {country}; add one with role = \"cert\" and country = \"{country}\"",
            takedown.id
        ),
        (None, true) => format!(
            "Escalation proposed: takedown {} is unanswered after {followups} follow-up(s); the contact has no country, so no CERT can be chosen; add `country` to contact {}",
            takedown.id, takedown.contact
        ),
    };
    Escalation {
        country,
        cert,
        text,
    }
}

/// Records an answer to a takedown, or that its item is down (which starts the recovery
/// checks).
pub fn record_outcome(
    store: &Store,
    actor: &Actor<'_>,
    takedown_id: i64,
    down: bool,
    note: &str,
) -> Result<Takedown, CaseError> {
    let takedown = store
        .takedown(takedown_id)?
        .ok_or(CaseError::NoTakedown(takedown_id))?;
    let now = actor.clock.now();
    let hours = (now - takedown.sent_at).as_seconds_f64() / 3600.0;
    let (kind, what) = if down {
        (
            "takedown-down",
            format!("{} is down", defang(&takedown.target)),
        )
    } else {
        (
            "takedown-answered",
            format!("{} answered", takedown.recipient),
        )
    };
    let mut text = format!("Takedown {takedown_id}: {what}, {hours:.1} h after the notice.");
    if !note.trim().is_empty() {
        text.push(' ');
        text.push_str(note.trim());
    }
    let event = actor.event(kind, text, json!({ "takedown": takedown_id }));
    store.record_takedown_outcome(takedown_id, down, &event)?;
    store
        .takedown(takedown_id)?
        .ok_or(CaseError::NoTakedown(takedown_id))
}

/// Writes a reminder alert for every takedown whose deadline passed without answer (once per
/// round of follow-ups). Returns the takedowns reminded.
pub fn remind_overdue(
    store: &Store,
    config: &Config,
    clock: &dyn Clock,
) -> Result<Vec<i64>, CaseError> {
    let now = clock.now();
    let mut reminded = Vec::new();
    for takedown in store.overdue_takedowns(now)? {
        let Some(finding) = store.finding(takedown.finding_id)? else {
            continue;
        };
        let mut text = format!(
            "Takedown notice {} to {} about {} got no answer since {} ({} follow-up(s) sent).",
            takedown.id,
            takedown.recipient,
            defang(&takedown.target),
            rfc3339(takedown.last_sent_at),
            takedown.followups
        );
        let mut steps = vec![format!(
            "Send a follow-up: vigie takedown followup {}",
            takedown.id
        )];
        if takedown.followups >= config.response.followups_before_escalation {
            let proposal = escalation(config, &takedown, takedown.followups);
            text.push(' ');
            text.push_str(&proposal.text);
            steps.insert(0, proposal.text);
        }
        steps.push(format!(
            "Record an answer: vigie takedown status {} --answered (or --down)",
            takedown.id
        ));
        let key = format!("takedown-{}-reminder-{}", takedown.id, takedown.followups);
        let payload = reminder_payload(&finding, &key, &text, steps, now);
        let sinks = sinks_of(config, &finding.watchlist);
        let alert = ResponseAlert {
            finding_id: finding.id,
            sinks: &sinks,
            idempotency_key: &key,
            payload,
        };
        let event = crate::store::NewEvent {
            at: now,
            author: "vigie",
            kind: "takedown-reminder",
            text,
            data: json!({ "takedown": takedown.id, "alert": key }),
        };
        if store.record_reminder(&takedown, &alert, &event)? {
            reminded.push(takedown.id);
        }
    }
    Ok(reminded)
}

/// Sinks that receive a watchlist's alerts (every sink when the watchlist is gone).
pub fn sinks_of(config: &Config, watchlist: &str) -> Vec<String> {
    match config.watchlists.iter().find(|w| w.id == watchlist) {
        Some(watchlist) => config.sink_names_for(watchlist),
        None => config.sinks.keys().cloned().collect(),
    }
}

/// An alert document about a finding that the response raised (a reminder, an item that
/// came back), in the layout every sink reads.
pub fn response_payload(
    finding: &StoredFinding,
    kind: &str,
    key: &str,
    reasons: Vec<String>,
    next_steps: Vec<String>,
    now: OffsetDateTime,
) -> serde_json::Value {
    let payload = AlertPayload {
        schema_version: crate::alert::SCHEMA_VERSION,
        idempotency_key: key.to_owned(),
        event: AlertEvent::Changed,
        revision: finding.revision,
        finding_id: finding.id,
        fingerprint: finding.fingerprint.clone(),
        kind: kind.to_owned(),
        source: "response".to_owned(),
        watchlist: finding.watchlist.clone(),
        subject: finding.subject.clone(),
        subject_defanged: defang(&finding.subject),
        imitates: finding.imitates.clone(),
        techniques: Vec::new(),
        reasons,
        severity: finding.severity,
        score: finding.score,
        facts: finding.facts.clone(),
        changes: Vec::new(),
        first_seen: finding.first_seen,
        observed_at: now,
        indicators: Vec::new(),
        next_steps,
    };
    serde_json::to_value(&payload).unwrap_or(serde_json::Value::Null)
}

fn reminder_payload(
    finding: &StoredFinding,
    key: &str,
    text: &str,
    steps: Vec<String>,
    now: OffsetDateTime,
) -> serde_json::Value {
    response_payload(
        finding,
        "takedown-reminder",
        key,
        vec![text.to_owned()],
        steps,
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::split_subject;

    #[test]
    fn subject_line_is_split_from_the_body() {
        let (subject, body) = split_subject("Subject: Hello\n\nBody\n").unwrap();
        assert_eq!(subject, "Hello");
        assert_eq!(body, "Body\n");
        assert!(split_subject("Hello\n\nBody").is_none());
    }
}
