//! Indicators of compromise for sharing: CSV, a STIX 2.1 bundle and a MISP event.
//!
//! The indicators are those of the blocklist (confirmed findings, legitimate domains left
//! out). STIX and MISP ids are UUID version 5 of the indicator, so that exporting the same
//! indicator again gives the same id and a receiver updates rather than duplicates it.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

use super::blocklist::{Blocklist, Entry, kind_name};
use crate::model::{IndicatorKind, defang};
use crate::store::StoredFinding;

/// Output formats of `vigie export iocs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One indicator a line with its finding, defanged copy and reasons.
    Csv,
    /// A STIX 2.1 bundle: the organization's identity, one indicator each, one report.
    Stix,
    /// A MISP event (JSON, as MISP imports it).
    Misp,
}

/// Contents of an export.
pub struct Export<'a> {
    /// Name of the case, or of the export when it spans every case.
    pub title: &'a str,
    /// The organization that shares, as the STIX identity and the MISP creator.
    pub organization: &'a str,
    pub findings: &'a [StoredFinding],
    pub list: &'a Blocklist,
    pub generated: OffsetDateTime,
}

/// Namespace of the UUIDs vigie derives (a fixed random UUID).
const NAMESPACE: Uuid = Uuid::from_u128(0x5d1c_2a7e_8f3b_4c61_9e0a_7b42_13c8_d9f5);

pub fn render(export: &Export<'_>, format: Format) -> String {
    match format {
        Format::Csv => csv(export),
        Format::Stix => pretty(&stix(export)),
        Format::Misp => pretty(&misp(export)),
    }
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

fn findings_by_id<'a>(export: &Export<'a>) -> BTreeMap<i64, &'a StoredFinding> {
    export.findings.iter().map(|f| (f.id, f)).collect()
}

fn csv(export: &Export<'_>) -> String {
    let findings = findings_by_id(export);
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record([
        "kind",
        "value",
        "defanged",
        "finding",
        "severity",
        "imitates",
        "first_seen",
        "last_seen",
        "reasons",
    ]);
    for entry in &export.list.entries {
        let finding = findings.get(&entry.finding_id);
        let _ = writer.write_record([
            kind_name(entry.kind),
            &entry.value,
            &defang(&entry.value),
            &entry.finding_id.to_string(),
            &entry.severity,
            &entry.imitates,
            &timestamp(entry.first_seen),
            &finding.map(|f| timestamp(f.last_seen)).unwrap_or_default(),
            &finding.map(|f| f.reasons.join("; ")).unwrap_or_default(),
        ]);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A STIX timestamp: RFC 3339 in UTC with a `Z`, milliseconds at most.
fn timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(UtcOffset::UTC);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    at.format(&format).unwrap_or_default()
}

fn stable_id(prefix: &str, name: &str) -> String {
    format!("{prefix}--{}", Uuid::new_v5(&NAMESPACE, name.as_bytes()))
}

/// The STIX pattern matching an indicator.
fn pattern(entry: &Entry) -> String {
    let value = entry.value.replace('\\', "\\\\").replace('\'', "\\'");
    let path = match entry.kind {
        IndicatorKind::Domain => "domain-name:value",
        IndicatorKind::Ip if entry.value.contains(':') => "ipv6-addr:value",
        IndicatorKind::Ip => "ipv4-addr:value",
        IndicatorKind::Email => "email-addr:value",
        IndicatorKind::Url => "url:value",
        IndicatorKind::Account => "user-account:account_login",
    };
    format!("[{path} = '{value}']")
}

fn stix(export: &Export<'_>) -> Value {
    let findings = findings_by_id(export);
    let now = timestamp(export.generated);
    let identity_id = stable_id("identity", export.organization);
    let mut objects = vec![json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": identity_id,
        "created": now,
        "modified": now,
        "name": export.organization,
        "identity_class": "organization",
    })];
    let mut refs = Vec::new();
    for entry in &export.list.entries {
        let id = stable_id(
            "indicator",
            &format!("{}:{}", kind_name(entry.kind), entry.value),
        );
        let finding = findings.get(&entry.finding_id);
        let created = timestamp(entry.first_seen.min(export.generated));
        let mut indicator = json!({
            "type": "indicator",
            "spec_version": "2.1",
            "id": id,
            "created_by_ref": identity_id,
            "created": created,
            "modified": now,
            "name": format!("{} {} imitating {}", kind_name(entry.kind), defang(&entry.value), entry.imitates),
            "indicator_types": ["malicious-activity"],
            "pattern": pattern(entry),
            "pattern_type": "stix",
            "pattern_version": "2.1",
            "valid_from": created,
            "labels": ["phishing", "brand-impersonation"],
        });
        if let Some(finding) = finding {
            indicator["description"] = finding.reasons.join("; ").into();
            indicator["confidence"] = finding.score.into();
        }
        refs.push(id);
        objects.push(indicator);
    }
    if !refs.is_empty() {
        // A report rather than a grouping, because the bundle schema lists report among its
        // object types and would match a grouping only against its custom-object branch.
        objects.push(json!({
            "type": "report",
            "spec_version": "2.1",
            "id": stable_id("report", export.title),
            "created_by_ref": identity_id,
            "created": now,
            "modified": now,
            "name": export.title,
            "description": format!("Indicators of the scam campaign \"{}\" against {}, confirmed by its security team.", export.title, export.organization),
            "report_types": ["campaign", "indicator"],
            "published": now,
            "object_refs": refs,
        }));
    }
    json!({
        "type": "bundle",
        "id": format!("bundle--{}", Uuid::new_v4()),
        "objects": objects,
    })
}

/// MISP type and category of an indicator.
fn misp_type(entry: &Entry) -> (&'static str, &'static str) {
    match entry.kind {
        IndicatorKind::Domain => ("domain", "Network activity"),
        IndicatorKind::Ip => ("ip-dst", "Network activity"),
        IndicatorKind::Url => ("url", "Network activity"),
        IndicatorKind::Email => ("email-src", "Payload delivery"),
        IndicatorKind::Account => ("text", "Social network"),
    }
}

fn misp(export: &Export<'_>) -> Value {
    let findings = findings_by_id(export);
    let stamp = export.generated.unix_timestamp().to_string();
    let attributes: Vec<Value> = export
        .list
        .entries
        .iter()
        .map(|entry| {
            let (kind, category) = misp_type(entry);
            let comment = findings
                .get(&entry.finding_id)
                .map(|f| format!("Imitates {}: {}", f.imitates, f.reasons.join("; ")))
                .unwrap_or_default();
            json!({
                "uuid": Uuid::new_v5(&NAMESPACE, format!("misp:{}:{}", kind_name(entry.kind), entry.value).as_bytes()).to_string(),
                "type": kind,
                "category": category,
                "value": entry.value,
                "to_ids": entry.kind != IndicatorKind::Account,
                "distribution": "5",
                "comment": comment,
                "timestamp": stamp,
            })
        })
        .collect();
    json!({
        "Event": {
            "uuid": Uuid::new_v5(&NAMESPACE, format!("misp-event:{}", export.title).as_bytes()).to_string(),
            "info": export.title,
            "date": export.generated.date().to_string(),
            "timestamp": stamp,
            "threat_level_id": "2",
            "analysis": "1",
            "distribution": "0",
            "published": false,
            "Orgc": { "name": export.organization },
            "Tag": [{ "name": "tlp:amber" }, { "name": "rsit:fraud=\"phishing\"" }],
            "Attribute": attributes,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_is_utc_with_millis() {
        let at = time::macros::datetime!(2026-03-02 10:00:00.5 +01:00);
        assert_eq!(timestamp(at), "2026-03-02T09:00:00.500Z");
    }

    #[test]
    fn pattern_escapes_quotes() {
        let entry = Entry {
            kind: IndicatorKind::Url,
            value: "https://evil.test/a'b".into(),
            finding_id: 1,
            severity: "high".into(),
            imitates: "example.test".into(),
            first_seen: OffsetDateTime::UNIX_EPOCH,
            cases: Vec::new(),
        };
        assert_eq!(pattern(&entry), "[url:value = 'https://evil.test/a\\'b']");
    }
}
