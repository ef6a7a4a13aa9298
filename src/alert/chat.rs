//! Ready-made message layouts for chat webhooks: Slack and Mattermost incoming webhooks and
//! Microsoft Teams workflows (an Adaptive Card). The generic webhook format posts the alert
//! document itself and is not built here.
//!
//! Everything the attacker controls (the lookalike, the reasons quoting it) is defanged and
//! escaped for the target's markup, so that a chat client shows it as text and never as a
//! link or formatting.

use serde_json::{Value, json};

use super::mail;
use super::payload::AlertPayload;
use super::policy::{Digest, digest_lines, digest_subject};
use crate::config::WebhookFormat;
use crate::model::Severity;

/// Slack allows at most 3,000 characters in a section's text.
const SLACK_SECTION_MAX: usize = 2_900;
/// Mattermost cuts a post at 16,383 characters; an attachment's text counts.
const MATTERMOST_TEXT_MAX: usize = 8_000;
/// Reasons and indicators shown in a chat message; the full list is in the mail alert.
const LIST_MAX: usize = 10;
/// Alerts listed in a chat digest; the mail digest lists them all.
const DIGEST_LINES_MAX: usize = 30;

/// Builds the request body for `format` from the alert document. Returns `None` for the
/// generic format, which posts the document as it is.
pub fn body(format: WebhookFormat, alert: &AlertPayload) -> Option<Value> {
    match format {
        WebhookFormat::Generic => None,
        WebhookFormat::Slack => Some(slack(alert)),
        WebhookFormat::Mattermost => Some(mattermost(alert)),
        WebhookFormat::Teams => Some(teams(alert)),
    }
}

/// Builds the request body of a digest for `format`; `None` for the generic format.
pub fn digest_body(format: WebhookFormat, digest: &Digest) -> Option<Value> {
    let title = digest_subject(digest);
    let title = title.strip_prefix("[vigie] ").unwrap_or(&title).to_owned();
    let mut lines = digest_lines(digest);
    let total = lines.len();
    lines.truncate(DIGEST_LINES_MAX);
    if total > DIGEST_LINES_MAX {
        lines.push(format!("and {} more", total - DIGEST_LINES_MAX));
    }
    match format {
        WebhookFormat::Generic => None,
        WebhookFormat::Slack => {
            let text: Vec<String> = lines
                .iter()
                .map(|l| format!("• {}", slack_escape(l)))
                .collect();
            Some(json!({
                "text": slack_escape(&title),
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": truncate(title.clone(), 150)}},
                    {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text.join("\n"), SLACK_SECTION_MAX)}},
                ],
            }))
        }
        WebhookFormat::Mattermost => {
            let text: Vec<String> = lines
                .iter()
                .map(|l| format!("- {}", markdown_escape(l)))
                .collect();
            Some(json!({
                "username": "vigie",
                "text": markdown_escape(&title),
                "attachments": [{
                    "fallback": title,
                    "color": severity_colour(digest.severity),
                    "text": truncate(text.join("\n"), MATTERMOST_TEXT_MAX),
                }],
            }))
        }
        WebhookFormat::Teams => {
            let text: Vec<String> = lines
                .iter()
                .map(|l| format!("- {}", markdown_escape(l)))
                .collect();
            Some(json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": null,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {"type": "TextBlock", "text": markdown_escape(&title), "weight": "Bolder", "wrap": true},
                            {"type": "TextBlock", "text": text.join("\n"), "wrap": true},
                        ],
                    },
                }],
            }))
        }
    }
}

/// Title line: the mail subject without its `[vigie]` tag.
fn title(alert: &AlertPayload) -> String {
    let subject = mail::subject(alert);
    subject
        .strip_prefix("[vigie] ")
        .unwrap_or(&subject)
        .to_owned()
}

/// Reasons with the subject defanged, at most [`LIST_MAX`] of them.
fn reasons(alert: &AlertPayload) -> Vec<String> {
    let mut lines: Vec<String> = alert
        .reasons
        .iter()
        .take(LIST_MAX)
        .map(|reason| reason.replace(&alert.subject, &alert.subject_defanged))
        .collect();
    if alert.reasons.len() > LIST_MAX {
        lines.push(format!("and {} more", alert.reasons.len() - LIST_MAX));
    }
    lines
}

fn indicators(alert: &AlertPayload) -> Vec<String> {
    let mut lines: Vec<String> = alert
        .indicators
        .iter()
        .take(LIST_MAX)
        .map(|indicator| format!("{:?}: {}", indicator.kind, indicator.defanged).to_lowercase())
        .collect();
    if alert.indicators.len() > LIST_MAX {
        lines.push(format!("and {} more", alert.indicators.len() - LIST_MAX));
    }
    lines
}

/// Key facts shown as label/value pairs.
fn fields(alert: &AlertPayload) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        (
            "Severity",
            format!(
                "{} (score {}/100)",
                alert.severity.as_str().to_uppercase(),
                alert.score
            ),
        ),
        ("Imitates", alert.imitates.clone()),
        ("Watchlist", alert.watchlist.clone()),
        ("Source", alert.source.clone()),
        (
            "Finding",
            format!("{} (revision {})", alert.finding_id, alert.revision),
        ),
    ];
    for change in &alert.changes {
        if !change.added.is_empty() {
            let added: Vec<&str> = change.added.iter().map(String::as_str).collect();
            fields.push(("New", format!("{}: {}", change.fact, added.join(", "))));
        }
    }
    fields
}

fn severity_colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "#8b0000",
        Severity::High => "#d9480f",
        Severity::Medium => "#e0a800",
        Severity::Low => "#6c757d",
    }
}

/// Escapes the three characters Slack's mrkdwn gives a meaning to (links, mentions).
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escapes Markdown punctuation for Mattermost and Teams, so that text stays text.
fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '{'
                | '}'
                | '['
                | ']'
                | '('
                | ')'
                | '#'
                | '+'
                | '!'
                | '|'
                | '<'
                | '>'
                | '~'
                | '@'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut.
fn truncate(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str("...");
    text
}

fn slack(alert: &AlertPayload) -> Value {
    let title = slack_escape(&title(alert));
    let mut details = String::new();
    for (label, value) in fields(alert) {
        details.push_str(&format!("*{label}:* {}\n", slack_escape(&value)));
    }
    let mut lists = String::new();
    for (heading, lines) in [
        ("Reasons", reasons(alert)),
        ("Indicators", indicators(alert)),
    ] {
        if lines.is_empty() {
            continue;
        }
        lists.push_str(&format!("*{heading}*\n"));
        for line in lines {
            lists.push_str(&format!("• {}\n", slack_escape(&line)));
        }
    }
    json!({
        // Shown in notifications and by clients that do not render blocks.
        "text": title,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": truncate(title.clone(), 150)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": truncate(details, SLACK_SECTION_MAX)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": truncate(lists, SLACK_SECTION_MAX)}},
        ],
    })
}

fn mattermost(alert: &AlertPayload) -> Value {
    let title = title(alert);
    let mut text = String::new();
    for (heading, lines) in [
        ("Reasons", reasons(alert)),
        ("Indicators", indicators(alert)),
    ] {
        if lines.is_empty() {
            continue;
        }
        text.push_str(&format!("**{heading}**\n"));
        for line in lines {
            text.push_str(&format!("- {}\n", markdown_escape(&line)));
        }
    }
    let fields: Vec<Value> = fields(alert)
        .into_iter()
        .map(|(label, value)| json!({"title": label, "value": markdown_escape(&value), "short": true}))
        .collect();
    json!({
        "username": "vigie",
        "text": markdown_escape(&title),
        "attachments": [{
            "fallback": title,
            "color": severity_colour(alert.severity),
            "title": markdown_escape(&title),
            "text": truncate(text, MATTERMOST_TEXT_MAX),
            "fields": fields,
        }],
    })
}

fn teams(alert: &AlertPayload) -> Value {
    let title = title(alert);
    let facts: Vec<Value> = fields(alert)
        .into_iter()
        .map(|(label, value)| json!({"title": label, "value": markdown_escape(&value)}))
        .collect();
    let mut body = vec![
        json!({
            "type": "TextBlock",
            "text": markdown_escape(&title),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": true,
            "color": if alert.severity >= Severity::High { "Attention" } else { "Warning" },
        }),
        json!({"type": "FactSet", "facts": facts}),
    ];
    for (heading, lines) in [
        ("Reasons", reasons(alert)),
        ("Indicators", indicators(alert)),
    ] {
        if lines.is_empty() {
            continue;
        }
        body.push(json!({"type": "TextBlock", "text": heading, "weight": "Bolder", "wrap": true}));
        let text: Vec<String> = lines
            .iter()
            .map(|line| format!("- {}", markdown_escape(line)))
            .collect();
        body.push(json!({"type": "TextBlock", "text": text.join("\n"), "wrap": true}));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            },
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_escape_neutralises_links_and_mentions() {
        assert_eq!(
            slack_escape("<!channel> <https://x|y> a&b"),
            "&lt;!channel&gt; &lt;https://x|y&gt; a&amp;b"
        );
    }

    #[test]
    fn markdown_escape_keeps_text_plain() {
        assert_eq!(
            markdown_escape("[click](hxxp://x) @all *b*"),
            "\\[click\\]\\(hxxp://x\\) \\@all \\*b\\*"
        );
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        let text = "é".repeat(10);
        let cut = truncate(text, 8);
        assert!(cut.ends_with("..."));
        assert!(cut.len() <= 8);
    }
}
