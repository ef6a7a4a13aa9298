//! `vigie finding show ID`: prints everything the store holds about one finding: its fields,
//! facts, evidence (page, ownership, mail providers), the change watch's schedule, its
//! history with each change's before and after, and the earlier versions of its evidence.

use std::io::{self, Write};

use anyhow::Context;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::findings::Format;
use crate::config::Config;
use crate::model::defang;
use crate::store::{EvidenceVersion, HistoryEntry, Store, StoredFinding, WebCheck};

/// Arguments of `vigie finding`.
#[derive(Debug, Clone, clap::Args)]
pub struct FindingArgs {
    #[command(subcommand)]
    pub command: FindingCommand,
}

/// Subcommands of `vigie finding`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum FindingCommand {
    /// Print a finding's evidence and history.
    Show(ShowArgs),
}

/// Arguments of `vigie finding show`.
#[derive(Debug, Clone, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub config: super::ConfigArgs,

    /// Finding id, as `vigie findings` lists it.
    pub id: i64,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Everything printed about one finding.
struct Shown {
    finding: StoredFinding,
    check: Option<WebCheck>,
    history: Vec<HistoryEntry>,
    versions: Vec<EvidenceVersion>,
}

/// Runs `vigie finding show`.
pub fn run(args: &ShowArgs, config: &Config) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match write_finding(args, config, &mut out) {
        Err(error)
            if error
                .downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Writes one finding to `out` in the requested format.
pub fn write_finding(args: &ShowArgs, config: &Config, out: &mut impl Write) -> anyhow::Result<()> {
    let path = config.daemon.state_dir.join("vigie.db");
    if !path.exists() {
        anyhow::bail!(
            "no store at {}: run the daemon first, or set daemon.state_dir in {} to the folder holding vigie.db",
            path.display(),
            config.path.display()
        );
    }
    let store = Store::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let Some(finding) = store.finding(args.id)? else {
        anyhow::bail!(
            "no finding with id {} in {}; `vigie findings` lists the ids",
            args.id,
            path.display()
        );
    };
    let shown = Shown {
        check: store.web_check(finding.id)?,
        history: store.history(finding.id)?,
        versions: store.evidence_history(finding.id)?,
        finding,
    };
    match args.format {
        Format::Json => writeln!(out, "{}", to_json(&shown))?,
        Format::Text => write_text(out, &shown)?,
    }
    Ok(())
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

fn to_json(shown: &Shown) -> Value {
    let f = &shown.finding;
    json!({
        "id": f.id,
        "fingerprint": f.fingerprint,
        "kind": f.kind,
        "source": f.source,
        "watchlist": f.watchlist,
        "subject": f.subject,
        "imitates": f.imitates,
        "techniques": f.techniques,
        "reasons": f.reasons,
        "severity": f.severity,
        "score": f.score,
        "status": f.status,
        "indicators": f.indicators,
        "facts": f.facts,
        "evidence": f.evidence,
        "first_seen": rfc3339(f.first_seen),
        "last_seen": rfc3339(f.last_seen),
        "revision": f.revision,
        "sightings": f.sightings,
        "web_check": shown.check.as_ref().map(|c| json!({
            "host": c.host,
            "next_at": rfc3339(c.next_at),
            "last_at": c.last_at.map(rfc3339),
            "state": c.state,
            "failures": c.failures,
            "last_error": c.last_error,
        })),
        "history": shown.history.iter().map(|h| json!({
            "at": rfc3339(h.at),
            "event": h.event,
            "revision": h.revision,
            "severity": h.severity,
            "changes": h.changes,
        })).collect::<Vec<_>>(),
        "evidence_history": shown.versions.iter().map(|v| json!({
            "key": v.key,
            "at": rfc3339(v.at),
            "value": v.value,
        })).collect::<Vec<_>>(),
    })
}

fn write_text(out: &mut impl Write, shown: &Shown) -> io::Result<()> {
    let f = &shown.finding;
    writeln!(out, "Finding {} ({})", f.id, f.kind)?;
    writeln!(out, "  subject     {}", defang(&f.subject))?;
    writeln!(
        out,
        "  imitates    {} (watchlist {})",
        f.imitates, f.watchlist
    )?;
    writeln!(out, "  severity    {} (score {})", f.severity, f.score)?;
    writeln!(out, "  status      {}", f.status)?;
    writeln!(
        out,
        "  seen        {} to {}, {} sightings, revision {}",
        rfc3339(f.first_seen),
        rfc3339(f.last_seen),
        f.sightings,
        f.revision
    )?;
    writeln!(out, "  techniques  {}", f.techniques.join(", "))?;
    section(out, "Reasons")?;
    for reason in &f.reasons {
        writeln!(out, "  - {reason}")?;
    }
    section(out, "Indicators")?;
    for indicator in &f.indicators {
        writeln!(out, "  {:?}  {}", indicator.kind, defang(&indicator.value))?;
    }
    section(out, "Facts")?;
    for (name, values) in &f.facts {
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        writeln!(out, "  {name:<18} {}", values.join(", "))?;
    }
    write_web(out, f.evidence.get("web"))?;
    write_ownership(out, f.evidence.get("ownership"))?;
    write_mail(out, f.evidence.get("mail"))?;
    write_check(out, shown.check.as_ref())?;
    write_history(out, &shown.history)?;
    write_versions(out, &shown.versions)
}

fn section(out: &mut impl Write, title: &str) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "{title}")
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn line(out: &mut impl Write, label: &str, value: Option<String>) -> io::Result<()> {
    match value {
        Some(value) if !value.is_empty() => writeln!(out, "  {label:<14} {value}"),
        _ => Ok(()),
    }
}

fn write_web(out: &mut impl Write, web: Option<&Value>) -> io::Result<()> {
    let Some(web) = web else {
        return Ok(());
    };
    section(
        out,
        &format!("Web page (read {})", text(web, "read_at").unwrap_or("?")),
    )?;
    line(out, "state", text(web, "state").map(str::to_owned))?;
    let signs = list(web.get("signs"));
    line(out, "signs", (!signs.is_empty()).then(|| signs.join("; ")))?;
    line(out, "url", text(web, "url").map(defang))?;
    line(out, "final url", text(web, "final_url").map(defang))?;
    line(out, "status", web.get("status").map(Value::to_string))?;
    if let Some(hops) = web.get("redirects").and_then(Value::as_array) {
        for hop in hops {
            line(
                out,
                "redirect",
                Some(format!(
                    "{} {}",
                    hop.get("status").map(Value::to_string).unwrap_or_default(),
                    defang(text(hop, "url").unwrap_or_default())
                )),
            )?;
        }
    }
    line(out, "address", text(web, "address").map(str::to_owned))?;
    if let Some(cert) = web.get("certificate").filter(|c| !c.is_null()) {
        line(
            out,
            "cert subject",
            text(cert, "subject").map(str::to_owned),
        )?;
        line(out, "cert issuer", text(cert, "issuer").map(str::to_owned))?;
        line(
            out,
            "cert valid",
            Some(format!(
                "{} to {}",
                text(cert, "not_before").unwrap_or("?"),
                text(cert, "not_after").unwrap_or("?")
            )),
        )?;
    }
    line(out, "title", text(web, "title").map(str::to_owned))?;
    let yes_no = |key: &str| {
        Some(if web.get(key).and_then(Value::as_bool) == Some(true) {
            "yes".to_owned()
        } else {
            "no".to_owned()
        })
    };
    line(out, "login form", yes_no("login_form"))?;
    line(out, "payment form", yes_no("payment_form"))?;
    if let Some(forms) = web.get("forms").and_then(Value::as_array) {
        for form in forms {
            line(
                out,
                "form posts to",
                text(form, "action")
                    .map(|a| format!("{} ({})", defang(a), text(form, "method").unwrap_or("get"))),
            )?;
        }
    }
    let brand = list(web.get("brand_terms"));
    line(
        out,
        "names brand",
        (!brand.is_empty()).then(|| brand.join(", ")),
    )?;
    if let Some(icon) = web.get("favicon").filter(|i| !i.is_null()) {
        line(
            out,
            "favicon",
            Some(format!(
                "mmh3 {} sha256 {}",
                icon.get("mmh3").map(Value::to_string).unwrap_or_default(),
                text(icon, "sha256").unwrap_or_default()
            )),
        )?;
    }
    if let Some(similar) = web.get("similarity").filter(|s| !s.is_null()) {
        line(
            out,
            "similarity",
            Some(format!(
                "{} ({}; structure {}, text {}) to {}",
                similar
                    .get("score")
                    .map(Value::to_string)
                    .unwrap_or_default(),
                text(similar, "band").unwrap_or_default(),
                similar
                    .get("structure")
                    .map(Value::to_string)
                    .unwrap_or_default(),
                similar
                    .get("text")
                    .map(Value::to_string)
                    .unwrap_or_default(),
                text(similar, "reference").unwrap_or_default()
            )),
        )?;
    }
    for error in list(web.get("errors")) {
        line(out, "error", Some(error))?;
    }
    Ok(())
}

fn list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn write_ownership(out: &mut impl Write, ownership: Option<&Value>) -> io::Result<()> {
    let Some(ownership) = ownership else {
        return Ok(());
    };
    section(
        out,
        &format!(
            "Ownership (RDAP, read {})",
            text(ownership, "read_at").unwrap_or("?")
        ),
    )?;
    if let Some(domain) = ownership.get("domain").filter(|d| !d.is_null()) {
        line(out, "domain", text(domain, "domain").map(defang))?;
        line(
            out,
            "registrar",
            text(domain, "registrar").map(str::to_owned),
        )?;
        line(
            out,
            "IANA id",
            text(domain, "registrar_iana_id").map(str::to_owned),
        )?;
        line(
            out,
            "registrant",
            text(domain, "registrant").map(str::to_owned),
        )?;
        line(out, "created", text(domain, "created").map(str::to_owned))?;
        line(out, "expires", text(domain, "expires").map(str::to_owned))?;
        let status = list(domain.get("status"));
        line(
            out,
            "status",
            (!status.is_empty()).then(|| status.join(", ")),
        )?;
        line(out, "abuse", abuse(domain))?;
    }
    if let Some(networks) = ownership.get("networks").and_then(Value::as_array) {
        for network in networks {
            line(
                out,
                "network",
                Some(format!(
                    "{} {} {} {}",
                    text(network, "address").unwrap_or_default(),
                    text(network, "name").unwrap_or_default(),
                    text(network, "range").unwrap_or_default(),
                    text(network, "country").unwrap_or_default()
                )),
            )?;
            line(out, "holder", text(network, "holder").map(str::to_owned))?;
            let asns = network
                .get("asns")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|n| format!("AS{n}")).collect::<Vec<_>>())
                .unwrap_or_default();
            line(out, "ASN", (!asns.is_empty()).then(|| asns.join(", ")))?;
            line(out, "hosting abuse", abuse(network))?;
        }
    }
    for error in list(ownership.get("errors")) {
        line(out, "error", Some(error))?;
    }
    Ok(())
}

fn abuse(value: &Value) -> Option<String> {
    let parts: Vec<&str> = [text(value, "abuse_email"), text(value, "abuse_phone")]
        .into_iter()
        .flatten()
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn write_mail(out: &mut impl Write, mail: Option<&Value>) -> io::Result<()> {
    let Some(hosts) = mail.and_then(|m| m.get("mx")).and_then(Value::as_array) else {
        return Ok(());
    };
    if hosts.is_empty() {
        return Ok(());
    }
    section(out, "Mail (MX)")?;
    for host in hosts {
        let provider = text(host, "provider")
            .or_else(|| text(host, "domain"))
            .unwrap_or("unknown");
        line(
            out,
            text(host, "host").unwrap_or_default(),
            Some(provider.to_owned()),
        )?;
    }
    Ok(())
}

fn write_check(out: &mut impl Write, check: Option<&WebCheck>) -> io::Result<()> {
    let Some(check) = check.filter(|c| !c.host.is_empty()) else {
        return Ok(());
    };
    section(out, "Change watch")?;
    line(out, "host", Some(defang(&check.host)))?;
    line(out, "last check", check.last_at.map(rfc3339))?;
    line(out, "last state", check.state.clone())?;
    line(out, "next check", Some(rfc3339(check.next_at)))?;
    if check.failures > 0 {
        line(
            out,
            "failures",
            Some(format!(
                "{} ({})",
                check.failures,
                check.last_error.as_deref().unwrap_or_default()
            )),
        )?;
    }
    Ok(())
}

fn write_history(out: &mut impl Write, history: &[HistoryEntry]) -> io::Result<()> {
    section(out, "History")?;
    for entry in history {
        writeln!(
            out,
            "  {}  {:<12} revision {}  {}",
            rfc3339(entry.at),
            entry.event.as_str(),
            entry.revision,
            entry.severity
        )?;
        for change in &entry.changes {
            let show = |values: &std::collections::BTreeSet<String>| {
                if values.is_empty() {
                    "-".to_owned()
                } else {
                    values.iter().cloned().collect::<Vec<_>>().join(", ")
                }
            };
            writeln!(
                out,
                "      {}: {} -> {}",
                change.fact,
                show(&change.before),
                show(&change.after)
            )?;
        }
    }
    Ok(())
}

fn write_versions(out: &mut impl Write, versions: &[EvidenceVersion]) -> io::Result<()> {
    if versions.is_empty() {
        return Ok(());
    }
    section(out, "Evidence versions")?;
    for version in versions {
        let summary = match version.key.as_str() {
            "web" => format!(
                "state {}, title {:?}",
                text(&version.value, "state").unwrap_or("?"),
                text(&version.value, "title").unwrap_or_default()
            ),
            _ => {
                let mut text = version.value.to_string();
                if text.len() > 100 {
                    let cut = (0..=100)
                        .rev()
                        .find(|i| text.is_char_boundary(*i))
                        .unwrap_or(0);
                    text.truncate(cut);
                    text.push_str("...");
                }
                text
            }
        };
        writeln!(
            out,
            "  {}  {:<10} {summary}",
            rfc3339(version.at),
            version.key
        )?;
    }
    Ok(())
}
