//! The report-form endpoint over real HTTP on 127.0.0.1: uploads, pasted headers, JSON, the
//! token, the body limit, the per-IP rate limit and the checks on each field.

mod support;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use vigie::sources::SourceContext;
use vigie::store::Store;

const TOKEN: &str = "form-token-0123456789";
const TOKEN_VARIABLE: &str = "VIGIE_TEST_INTAKE_TOKEN";
const BOUNDARY: &str = "vigie-test-boundary-7d3f";

struct Endpoint {
    _dir: tempfile::TempDir,
    url: String,
    store: Arc<Store>,
    stop: CancellationToken,
    client: reqwest::Client,
}

async fn endpoint(intake_keys: &str) -> Endpoint {
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[sinks.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/alerts\"\n\n\
         [intake]\nlisten = \"127.0.0.1:0\"\ntoken_env = \"{TOKEN_VARIABLE}\"\nwatchlist = \"example\"\n{intake_keys}\n"
    );
    let config = support::inbox::load_config(dir.path(), &extra, &[(TOKEN_VARIABLE, TOKEN)]);
    let intake = config.intake.clone().expect("[intake] is configured");
    let (pipeline, store, config_tx) = support::inbox::pipeline(dir.path(), config);
    let stop = CancellationToken::new();
    let ctx = SourceContext {
        pipeline,
        config: config_tx.subscribe(),
        shutdown: stop.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/report", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _config_tx = config_tx;
        vigie::intake::serve(listener, ctx, intake).await.unwrap();
    });
    vigie::init_tls();
    Endpoint {
        _dir: dir,
        url,
        store,
        stop,
        client: reqwest::Client::new(),
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Builds a multipart/form-data body from (name, file name, content) parts.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, content) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let disposition = match file {
            Some(file) => format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: message/rfc822\r\n\r\n"
            ),
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
        };
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

impl Endpoint {
    async fn post_multipart(&self, token: Option<&str>, body: Vec<u8>) -> reqwest::Response {
        let mut request = self
            .client
            .post(&self.url)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("POST /report")
    }

    async fn post_form(&self, form: &str) -> reqwest::Response {
        self.client
            .post(&self.url)
            .bearer_auth(TOKEN)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string())
            .send()
            .await
            .expect("POST /report")
    }

    async fn post_json(&self, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(&self.url)
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .expect("POST /report")
    }
}

fn eml() -> Vec<u8> {
    support::inbox::fixture("spamassassin/spam-1__00018.5b2765c42b7648d41c93b9b27140b23a.eml")
}

async fn json_of(response: reqwest::Response) -> serde_json::Value {
    response.json().await.expect("a JSON answer")
}

#[tokio::test]
async fn uploaded_eml_is_recorded() {
    let endpoint = endpoint("").await;
    let raw = eml();
    let body = multipart(&[
        ("reporter", None, b"jane@customer.example"),
        ("comment", None, b"I got this, is it you?"),
        ("eml", Some("scam.eml"), &raw),
    ]);

    let response = endpoint.post_multipart(Some(TOKEN), body).await;

    assert_eq!(response.status(), 201);
    let answer = json_of(response).await;
    let report_id = answer["report_id"]
        .as_str()
        .expect("a report id")
        .to_string();
    assert_eq!(answer["duplicate"], false);
    let mail_id = endpoint
        .store
        .intake_report_mail(&report_id)
        .unwrap()
        .expect("the report is stored");
    let mail = endpoint.store.mail(mail_id).unwrap().unwrap();
    assert_eq!(mail.source, "intake");
    assert!(
        mail.origin.starts_with("report form (127.0.0.1"),
        "{}",
        mail.origin
    );
    assert_eq!(Some(mail.sha256.as_str()), answer["sha256"].as_str());
    assert_eq!(endpoint.store.mail_raw(mail_id).unwrap().unwrap(), raw);
    let findings = endpoint.store.findings().unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].source, "intake");
    assert_eq!(findings[0].kind, "mail-campaign");
}

#[tokio::test]
async fn pasted_headers_are_recorded() {
    let endpoint = endpoint("").await;
    let form = "reporter=jane%40customer.example&comment=odd&headers=Received%3A+from+x.example+%28%5B198.51.100.4%5D%29%0AFrom%3A+%22Bank%22+%3Cno%40bank.example%3E%0ASubject%3A+verify";

    let response = endpoint.post_form(form).await;

    assert_eq!(response.status(), 201);
    let answer = json_of(response).await;
    let mail_id = endpoint
        .store
        .intake_report_mail(answer["report_id"].as_str().unwrap())
        .unwrap()
        .unwrap();
    let raw = endpoint.store.mail_raw(mail_id).unwrap().unwrap();
    assert_eq!(
        String::from_utf8(raw).unwrap(),
        "Received: from x.example ([198.51.100.4])\r\nFrom: \"Bank\" <no@bank.example>\r\nSubject: verify\r\n\r\n"
    );
}

#[tokio::test]
async fn json_mail_is_recorded_once() {
    let endpoint = endpoint("").await;
    let text = String::from_utf8(eml()).unwrap();

    let first = json_of(endpoint.post_json(serde_json::json!({ "eml": text })).await).await;
    let second = json_of(endpoint.post_json(serde_json::json!({ "eml": text })).await).await;

    assert_eq!(first["duplicate"], false);
    assert_eq!(second["duplicate"], true);
    assert_ne!(first["report_id"], second["report_id"]);
    assert_eq!(first["sha256"], second["sha256"]);
    assert_eq!(endpoint.store.mails().unwrap().len(), 1);
}

#[tokio::test]
async fn token_is_required() {
    let endpoint = endpoint("").await;
    let body = || multipart(&[("eml", Some("scam.eml"), &eml())]);

    let missing = endpoint.post_multipart(None, body()).await;
    let wrong = endpoint.post_multipart(Some("not-the-token"), body()).await;

    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers().get("www-authenticate").unwrap(), "Bearer");
    assert_eq!(wrong.status(), 401);
    assert!(endpoint.store.mails().unwrap().is_empty());
}

#[tokio::test]
async fn body_over_limit_is_rejected() {
    let endpoint = endpoint("max_body_bytes = 2048").await;
    let body = multipart(&[("eml", Some("scam.eml"), &eml())]);
    assert!(body.len() > 2048);

    let response = endpoint.post_multipart(Some(TOKEN), body).await;

    assert_eq!(response.status(), 413);
    assert!(endpoint.store.mails().unwrap().is_empty());
}

#[tokio::test]
async fn rate_limit_answers_429() {
    let endpoint = endpoint("rate_per_minute = 3").await;
    let mut statuses = Vec::new();
    for index in 0..4 {
        let headers = format!("headers=Subject%3A+report+{index}");
        statuses.push(endpoint.post_form(&headers).await);
    }

    let codes: Vec<u16> = statuses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(codes, vec![201, 201, 201, 429]);
    let retry_after: u64 = statuses[3]
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
}

#[tokio::test]
async fn bad_fields_are_explained() {
    let endpoint = endpoint("").await;
    let cases = [
        ("comment=only+text", 422, "no mail"),
        ("headers=just+some+words", 422, "no mail header line"),
        (
            "reporter=not-an-address&headers=Subject%3A+x",
            422,
            "reporter",
        ),
    ];
    for (form, status, message) in cases {
        let response = endpoint.post_form(form).await;
        assert_eq!(response.status(), status, "{form}");
        let answer = json_of(response).await;
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(message), "{form}: {error}");
    }

    let unknown_field = multipart(&[("attachment", None, b"x")]);
    let response = endpoint.post_multipart(Some(TOKEN), unknown_field).await;
    assert_eq!(response.status(), 422);

    let plain = endpoint
        .client
        .post(&endpoint.url)
        .bearer_auth(TOKEN)
        .header("content-type", "text/plain")
        .body("Subject: x")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 415);
    assert!(endpoint.store.mails().unwrap().is_empty());
}
