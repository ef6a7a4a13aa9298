//! SMTP sink: one plain-text mail per alert to every configured recipient, through lettre.

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{
    Certificate, CertificateStore, Tls, TlsParameters, TlsParametersBuilder,
};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use rustls::CertificateError;

use super::payload::AlertPayload;
use super::{SinkError, mail, policy};
use crate::config::{SmtpSecurity, SmtpSinkConfig};
use crate::store::OutboxAlert;

/// Header carrying the idempotency key, so a mail filter or ticketing system can drop
/// duplicates of the same alert.
pub const IDEMPOTENCY_HEADER: &str = "X-Vigie-Idempotency-Key";

/// A configured SMTP relay and the mail envelope.
pub struct SmtpSink {
    name: String,
    /// `host:port`, for messages.
    relay: String,
    security: SmtpSecurity,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl SmtpSink {
    /// Builds the transport; no connection is made until the first alert.
    pub fn new(name: &str, config: &SmtpSinkConfig) -> Result<SmtpSink, SinkError> {
        let invalid = |reason: String| SinkError::Config {
            sink: name.to_owned(),
            reason,
        };
        let parse_address = |field: &str, text: &str| {
            text.parse::<Mailbox>().map_err(|error| {
                invalid(format!(
                    "{field} address {text:?} is invalid ({error}); write it as name@domain"
                ))
            })
        };
        let from = parse_address("from", &config.from)?;
        let to = config
            .to
            .iter()
            .map(|address| parse_address("to", address))
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(invalid(
                "no recipient; set `to` to at least one address".into(),
            ));
        }

        let tls = tls_mode(config)
            .map_err(|error| invalid(format!("TLS setup for {} failed: {error}", config.host)))?;
        // `builder_dangerous` starts without TLS; `tls` sets the mode chosen above.
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host).tls(tls);
        builder = builder
            .port(config.port)
            .timeout(Some(Duration::from_secs(config.timeout_secs)));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }

        Ok(SmtpSink {
            name: name.to_owned(),
            relay: format!("{}:{}", config.host, config.port),
            security: config.security,
            transport: builder.build(),
            from,
            to,
        })
    }

    /// Sends one alert as one mail to every recipient.
    pub async fn send(&self, alert: &OutboxAlert) -> Result<(), SinkError> {
        let unreadable = |error: serde_json::Error| SinkError::Payload {
            sink: self.name.clone(),
            key: alert.idempotency_key.clone(),
            reason: error.to_string(),
        };
        let message = if policy::is_digest(&alert.payload) {
            let digest: policy::Digest =
                serde_json::from_value(alert.payload.clone()).map_err(unreadable)?;
            self.build(
                policy::digest_subject(&digest),
                policy::digest_body(&digest),
                &alert.idempotency_key,
            )?
        } else {
            let payload: AlertPayload =
                serde_json::from_value(alert.payload.clone()).map_err(unreadable)?;
            self.message(&payload, &alert.idempotency_key)?
        };

        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|error| self.delivery_error(error))
    }

    /// Classifies a failed delivery. A rejected certificate or a relay without STARTTLS
    /// becomes a [`SinkError::Config`], which is not transient: a retry fails the same way
    /// until someone changes the relay or the sink settings. The dispatcher still retries it.
    fn delivery_error(&self, error: lettre::transport::smtp::Error) -> SinkError {
        let relay = &self.relay;
        if let Some(problem) = rejected_certificate(&error) {
            return SinkError::Config {
                sink: self.name.clone(),
                reason: format!(
                    "TLS certificate of relay {relay} rejected ({problem}); {}",
                    certificate_fix(problem)
                ),
            };
        }
        // NOTE: lettre 0.11 reports a missing STARTTLS only as a client error with this text.
        // If a later lettre changes the text, the error stays a plain SMTP failure.
        if self.security == SmtpSecurity::StartTls
            && error.is_client()
            && error.to_string().contains("STARTTLS is not supported")
        {
            return SinkError::Config {
                sink: self.name.clone(),
                reason: format!(
                    "relay {relay} does not offer STARTTLS, so nothing was sent; enable STARTTLS on the relay, or set security = \"tls\" if this port expects TLS from the first byte"
                ),
            };
        }
        SinkError::Smtp {
            sink: self.name.clone(),
            relay: relay.to_string(),
            transient: !error.is_permanent(),
            source: error,
        }
    }

    fn message(&self, payload: &AlertPayload, key: &str) -> Result<Message, SinkError> {
        self.build(mail::subject(payload), mail::body(payload), key)
    }

    fn build(&self, subject: String, body: String, key: &str) -> Result<Message, SinkError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .message_id(Some(format!("<{key}@vigie>")))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(IDEMPOTENCY_HEADER),
                key.to_owned(),
            ))
            .header(ContentType::TEXT_PLAIN);
        for recipient in &self.to {
            builder = builder.to(recipient.clone());
        }
        builder.body(body).map_err(|error| SinkError::Payload {
            sink: self.name.clone(),
            key: key.to_owned(),
            reason: format!("cannot build the mail: {error}"),
        })
    }
}

/// Picks lettre's TLS mode for `security`. `starttls` maps to [`Tls::Required`], so a relay
/// that does not offer STARTTLS fails the delivery instead of receiving the alert in clear.
fn tls_mode(config: &SmtpSinkConfig) -> Result<Tls, lettre::transport::smtp::Error> {
    Ok(match config.security {
        SmtpSecurity::Plain => Tls::None,
        SmtpSecurity::StartTls => Tls::Required(tls_parameters(config)?),
        SmtpSecurity::Tls => Tls::Wrapper(tls_parameters(config)?),
    })
}

/// Builds rustls parameters that trust the webpki-roots set plus the certificates of
/// `ca_file`, and check the relay's certificate against `tls_server_name` or `host`.
fn tls_parameters(
    config: &SmtpSinkConfig,
) -> Result<TlsParameters, lettre::transport::smtp::Error> {
    let server_name = config
        .tls_server_name
        .clone()
        .unwrap_or_else(|| config.host.clone());
    let mut builder =
        TlsParametersBuilder::new(server_name).certificate_store(CertificateStore::WebpkiRoots);
    for certificate in config.ca_file.iter().flat_map(|file| &file.certificates) {
        builder = builder.add_root_certificate(Certificate::from_der(certificate.to_vec())?);
    }
    builder.build_rustls()
}

/// Finds the certificate error of a failed TLS handshake in lettre's error chain.
fn rejected_certificate(error: &lettre::transport::smtp::Error) -> Option<&CertificateError> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(layer) = current {
        // `io::Error::source` skips the error it wraps, so look inside with `get_ref`.
        let wrapped = layer
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        for candidate in [Some(layer), wrapped].into_iter().flatten() {
            if let Some(rustls::Error::InvalidCertificate(problem)) = candidate.downcast_ref() {
                return Some(problem);
            }
        }
        current = layer.source();
    }
    None
}

/// Returns the action that fixes a rejected relay certificate, for the error message.
fn certificate_fix(problem: &CertificateError) -> &'static str {
    match problem {
        CertificateError::UnknownIssuer => {
            "if the relay's certificate comes from a private CA, add that CA's certificate to ca_file (PEM)"
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "set tls_server_name to a name that the relay's certificate carries, or set host to that name"
        }
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => {
            "renew the relay's certificate, or correct this host's clock"
        }
        _ => "check the relay's certificate chain and the CA certificates in ca_file",
    }
}
