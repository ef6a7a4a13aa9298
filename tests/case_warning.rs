//! The warning page: rendered in four languages, written atomically into the web root,
//! removed again, each a case event.

mod support;

use support::response::{Settings, T0, World, lookalike, vigie};
use vigie::case::triage::{self, Opening, Verdict};
use vigie::case::{Actor, FixedClock, warning};
use vigie::model::{Indicator, IndicatorKind};

async fn world_with_case(settings: &Settings) -> (World, i64) {
    let world = World::new(settings);
    let mut finding = lookalike("examp1e.test", &[("a", &["198.51.100.10"])], T0);
    finding.indicators.push(Indicator::new(
        IndicatorKind::Url,
        "https://examp1e.test/login?card=1",
    ));
    let id = world.record(finding).await;
    let unconfirmed = world.record(lookalike("exarnple.test", &[], T0)).await;
    let clock = FixedClock::new(T0);
    let actor = Actor {
        author: "alice",
        clock: &clock,
    };
    let opening = Opening {
        title: "Card phishing".into(),
        summary: "A mail says your card is <b>blocked</b> & asks you to log in.".into(),
        vector: "phishing mail".into(),
        started_at: None,
    };
    let case = triage::open(&world.store, &actor, &opening, &[unconfirmed.to_string()]).unwrap();
    triage::triage(
        &world.store,
        &actor,
        &id.to_string(),
        &Verdict::Confirm { case: Some(case) },
    )
    .unwrap();
    (world, case)
}

#[tokio::test]
async fn page_is_published_in_four_languages_and_removed() {
    let (world, case) = world_with_case(&Settings::default()).await;
    let clock = FixedClock::new(T0 + time::Duration::hours(2));
    let actor = Actor {
        author: "bob",
        clock: &clock,
    };
    let languages: Vec<String> = ["fr", "en", "de", "es"].map(String::from).to_vec();
    let written = warning::publish(&world.store, &world.config, &actor, case, &languages).unwrap();
    assert_eq!(written.len(), 5);

    let folder = world.web_root().join(format!("case-{case}"));
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["de.html", "en.html", "es.html", "fr.html", "index.html"],
        "no temporary file left"
    );
    let read = |name: &str| std::fs::read_to_string(folder.join(name)).unwrap();
    assert_eq!(
        read("index.html"),
        read("fr.html"),
        "the first language is the index"
    );

    for (language, phrase) in [
        ("en", "What we will never ask you"),
        ("fr", "Ce que nous ne vous demanderons jamais"),
        ("de", "Was wir Sie niemals fragen werden"),
        ("es", "Lo que nunca le pediremos"),
    ] {
        let page = read(&format!("{language}.html"));
        assert!(
            page.contains(&format!("<html lang=\"{language}\">")),
            "{page}"
        );
        assert!(page.contains(phrase), "{language}: {page}");
        assert!(page.contains("Example Test Bank"), "{page}");
        assert!(
            page.contains("examp1e[.]test"),
            "defanged indicator: {page}"
        );
        assert!(
            page.contains("hxxps:&#x2f;&#x2f;examp1e[.]test&#x2f;login?card=1"),
            "{page}"
        );
        assert!(
            !page.contains("exarnple"),
            "unconfirmed findings stay out: {page}"
        );
        assert!(page.contains("mailto:security@example.test"), "{page}");
        assert!(page.contains("<strong>example.test</strong>"), "{page}");
        assert!(
            page.contains("&lt;b&gt;blocked&lt;&#x2f;b&gt; &amp; asks"),
            "escaped summary: {page}"
        );
        assert!(page.contains("2026-03-02"), "{page}");
    }

    clock.advance(time::Duration::days(3));
    let removed = warning::unpublish(&world.store, &world.config, &actor, case).unwrap();
    assert_eq!(removed.len(), 5);
    assert!(!folder.exists(), "the emptied folder is removed");

    let events = world.store.case_events(case).unwrap();
    let published = events
        .iter()
        .find(|e| e.kind == "warning-published")
        .unwrap();
    let unpublished = events
        .iter()
        .find(|e| e.kind == "warning-unpublished")
        .unwrap();
    assert_eq!(published.author, "bob");
    assert_eq!(published.at, T0 + time::Duration::hours(2));
    assert!(
        published.text.contains("fr, en, de, es"),
        "{}",
        published.text
    );
    assert_eq!(unpublished.at, T0 + time::Duration::hours(74));

    let error = warning::unpublish(&world.store, &world.config, &actor, case).unwrap_err();
    assert!(error.to_string().contains("no published page"), "{error}");
}

#[tokio::test]
async fn republishing_replaces_the_page_in_place() {
    let (world, case) = world_with_case(&Settings::default()).await;
    let clock = FixedClock::new(T0);
    let actor = Actor {
        author: "bob",
        clock: &clock,
    };
    let en = vec!["en".to_owned()];
    warning::publish(&world.store, &world.config, &actor, case, &en).unwrap();
    clock.advance(time::Duration::days(1));
    warning::publish(&world.store, &world.config, &actor, case, &en).unwrap();
    let page =
        std::fs::read_to_string(world.web_root().join(format!("case-{case}/en.html"))).unwrap();
    assert!(page.contains("last updated 2026-03-03"), "{page}");
}

#[tokio::test]
async fn bad_language_template_and_web_root_are_refused() {
    let (world, case) = world_with_case(&Settings::default()).await;
    let clock = FixedClock::new(T0);
    let actor = Actor {
        author: "bob",
        clock: &clock,
    };
    let error =
        warning::publish(&world.store, &world.config, &actor, case, &["it".into()]).unwrap_err();
    assert!(
        error.to_string().contains("use one of en, fr, de, es"),
        "{error}"
    );
    let error =
        warning::publish(&world.store, &world.config, &actor, case, &["../x".into()]).unwrap_err();
    assert!(
        error.to_string().contains("invalid language \"../x\""),
        "{error}"
    );

    // An edited template with a mistake is named with its line, and nothing is written.
    let templates = world.dir.path().join("templates/warning");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(templates.join("de.html"), "<p>{{ organization }</p>\n").unwrap();
    std::fs::write(
        templates.join("es.html"),
        "<h1>{{ organization }} ({{ title }})</h1>\n",
    )
    .unwrap();
    let mut config = world.config.clone();
    config.response.templates_dir = Some(world.dir.path().join("templates"));
    let languages = vec!["en".to_owned(), "de".to_owned()];
    let error = warning::publish(&world.store, &config, &actor, case, &languages).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("template warning/de.html"), "{text}");
    assert!(text.contains("line 1"), "{text}");
    assert!(
        !world
            .web_root()
            .join(format!("case-{case}"))
            .join("en.html")
            .exists()
    );
    let page = warning::render(&world.store, &config, case, "es", T0.date()).unwrap();
    assert_eq!(page, "<h1>Example Test Bank (Card phishing)</h1>\n");

    config.response.web_root = None;
    let error = warning::publish(&world.store, &config, &actor, case, &["en".into()]).unwrap_err();
    assert!(error.to_string().contains("[response] web_root"), "{error}");
}

#[tokio::test]
async fn binary_publishes_and_unpublishes() {
    let (world, case) = world_with_case(&Settings::default()).await;
    let case = case.to_string();
    let (ok, out, err) = vigie(
        &world,
        &[
            "warning-page",
            "publish",
            "--case",
            &case,
            "--lang",
            "es,en",
        ],
        &[("VIGIE_AUTHOR", "carol")],
    );
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    let (ok, out, err) = vigie(
        &world,
        &["warning-page", "render", "--case", &case, "--lang", "de"],
        &[],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("Warnung: Betrug im Namen von Example Test Bank"),
        "{out}"
    );
    let (ok, _, err) = vigie(&world, &["warning-page", "unpublish", "--case", &case], &[]);
    assert!(ok, "{err}");
    let (ok, out, _) = vigie(&world, &["case", "show", &case], &[]);
    assert!(ok);
    assert!(out.contains("carol      warning-published"), "{out}");
    assert!(out.contains("warning-unpublished"), "{out}");
}
