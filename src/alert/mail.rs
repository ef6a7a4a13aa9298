//! The alert as a plain-text mail: subject line and body, built from the alert document.

use std::fmt::Write;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::payload::AlertPayload;
use crate::model::defang;
use crate::store::AlertEvent;

/// Subject line, e.g. `[vigie] HIGH: examp1e[.]com imitates example.com (homoglyph)`;
/// a change of a known finding reads `[vigie] HIGH (changed): ...`.
pub fn subject(alert: &AlertPayload) -> String {
    let severity = alert.severity.as_str().to_uppercase();
    if alert.kind == crate::health::watch::KIND {
        // A finding about vigie itself: `[vigie] HIGH: source nrd:daily is blind`.
        return match alert.event {
            AlertEvent::New => format!("[vigie] {severity}: {} is blind", alert.subject),
            AlertEvent::Changed => format!("[vigie] {} works again", alert.subject),
        };
    }
    let changed = match alert.event {
        AlertEvent::New => "",
        AlertEvent::Changed => " (changed)",
    };
    let mut line = format!(
        "[vigie] {severity}{changed}: {} imitates {}",
        alert.subject_defanged, alert.imitates
    );
    if !alert.techniques.is_empty() {
        let _ = write!(line, " ({})", alert.techniques.join(", "));
    }
    line
}

/// Plain-text body. Every domain, URL and address taken from the finding is defanged.
pub fn body(alert: &AlertPayload) -> String {
    let mut text = String::new();
    write_summary(&mut text, alert);
    write_changes(&mut text, alert);
    write_records(&mut text, alert);
    // Reasons are free text that may quote the lookalike itself.
    let reasons: Vec<String> = alert
        .reasons
        .iter()
        .map(|reason| reason.replace(&alert.subject, &alert.subject_defanged))
        .collect();
    write_list(&mut text, "Reasons", reasons.iter().map(String::as_str));
    let indicators: Vec<String> = alert
        .indicators
        .iter()
        .map(|indicator| format!("{:?}: {}", indicator.kind, indicator.defanged).to_lowercase())
        .collect();
    write_list(
        &mut text,
        "Indicators",
        indicators.iter().map(String::as_str),
    );
    write_list(
        &mut text,
        "Next steps",
        alert.next_steps.iter().map(String::as_str),
    );

    let _ = writeln!(text, "Finding id: {}", alert.finding_id);
    let _ = writeln!(text, "Fingerprint: {}", alert.fingerprint);
    let _ = writeln!(text, "Idempotency key: {}", alert.idempotency_key);
    wrap(&text, WIDTH)
}

/// Body width in columns. Lines under 76 columns let a plain ASCII body go out as 7bit,
/// readable as is, rather than quoted-printable.
const WIDTH: usize = 72;

/// Wraps each line at spaces to `width` columns; continuation lines get the indent of the
/// line's text (after a `- ` or `+ ` marker). A word longer than `width` stays whole.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let content = line.trim_start();
        let lead = &line[..line.len() - content.len()];
        let marker = if content.starts_with("- ") || content.starts_with("+ ") {
            2
        } else {
            0
        };
        let indent = " ".repeat(lead.len() + marker);

        let mut current = lead.to_owned();
        let mut has_word = false;
        for word in content.split(' ') {
            if has_word && current.len() + 1 + word.len() > width {
                out.push_str(current.trim_end());
                out.push('\n');
                current.clone_from(&indent);
                has_word = false;
            }
            if has_word {
                current.push(' ');
            }
            current.push_str(word);
            has_word = true;
        }
        out.push_str(current.trim_end());
        out.push('\n');
    }
    out
}

fn write_summary(text: &mut String, alert: &AlertPayload) {
    let heading = match alert.event {
        AlertEvent::New => "New finding",
        AlertEvent::Changed => "Changed finding",
    };
    let _ = writeln!(
        text,
        "{heading}: {} ({})",
        alert.subject_defanged, alert.kind
    );
    let _ = writeln!(text, "Imitates: {}", alert.imitates);
    if !alert.techniques.is_empty() {
        let _ = writeln!(text, "How: {}", alert.techniques.join(", "));
    }
    let _ = writeln!(
        text,
        "Severity: {} (score {}/100)",
        alert.severity.as_str().to_uppercase(),
        alert.score
    );
    let _ = writeln!(text, "Watchlist: {}", alert.watchlist);
    let _ = writeln!(text, "Source: {}", alert.source);
    let _ = writeln!(text, "First seen: {}", timestamp(alert.first_seen));
    let _ = writeln!(text, "Last seen: {}", timestamp(alert.observed_at));
    let _ = writeln!(text, "Revision: {}", alert.revision);
    text.push('\n');
}

fn write_changes(text: &mut String, alert: &AlertPayload) {
    if alert.changes.is_empty() {
        return;
    }
    let _ = writeln!(text, "Changes since the last alert:");
    for change in &alert.changes {
        let fact = change.fact.to_uppercase();
        for value in &change.added {
            let _ = writeln!(text, "  + {fact} {}", defang(value));
        }
        for value in &change.removed {
            let _ = writeln!(text, "  - {fact} {}", defang(value));
        }
    }
    text.push('\n');
}

fn write_records(text: &mut String, alert: &AlertPayload) {
    let _ = writeln!(text, "DNS records:");
    let mut any = false;
    for (fact, values) in &alert.facts {
        for value in values {
            any = true;
            let _ = writeln!(text, "  {} {}", fact.to_uppercase(), defang(value));
        }
    }
    if !any {
        let _ = writeln!(text, "  (none)");
    }
    text.push('\n');
}

fn write_list<'a>(text: &mut String, title: &str, items: impl Iterator<Item = &'a str>) {
    let mut items = items.peekable();
    if items.peek().is_none() {
        return;
    }
    let _ = writeln!(text, "{title}:");
    for item in items {
        let _ = writeln!(text, "  - {item}");
    }
    text.push('\n');
}

fn timestamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_keeps_list_indent() {
        let text = "  - one two three four five six\nshort\n\n";
        let wrapped = wrap(text, 16);
        assert_eq!(
            wrapped,
            "  - one two\n    three four\n    five six\nshort\n\n"
        );
    }

    #[test]
    fn wrap_leaves_long_word_whole() {
        let wrapped = wrap("key: 0123456789abcdef0123456789abcdef-r1", 20);
        assert_eq!(wrapped, "key:\n0123456789abcdef0123456789abcdef-r1\n");
    }
}
