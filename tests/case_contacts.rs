//! The contacts directory: loading with `file:line` errors, choosing a contact for a
//! finding, and RDAP addresses filling the gaps.

mod support;

use support::response::{Settings, T0, World, lookalike};
use vigie::case::contacts::{self, candidates, choose};
use vigie::config::ContactRole;

#[test]
fn directory_loads_beside_the_watchlists_and_is_not_a_watchlist() {
    let world = World::new(&Settings::default());
    let contacts = &world.config.response.contacts;
    let ids: Vec<&str> = contacts.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "parking-abuse",
            "mailhost-abuse",
            "registry-test",
            "cert-fr",
            "legal"
        ]
    );
    assert_eq!(
        world.config.watchlists.len(),
        1,
        "contacts.toml is no watchlist"
    );
    assert_eq!(contacts[0].languages, ["fr", "en"]);
    assert_eq!(contacts[2].covers, ["test"]);
    assert_eq!(contacts[4].name, "Legal department");
}

#[test]
fn directory_errors_name_file_line_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("watchlists")).unwrap();
    std::fs::write(
        dir.path().join("vigie.toml"),
        "[daemon]\nstate_dir = \"state\"\n[response]\nlanguage = \"it\"\nsink = \"pager\"\nsender = \"abuse desk\"\nanswer_hours = 0\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("watchlists/acme.toml"),
        "[brand]\nname = \"Acme\"\n[[domains]]\nname = \"acme.test\"\n",
    )
    .unwrap();
    let broken = include_str!("fixtures/response/contacts-broken.toml");
    std::fs::write(dir.path().join("watchlists/contacts.toml"), broken).unwrap();

    let errors = vigie::config::load(&dir.path().join("vigie.toml")).unwrap_err();
    let text = errors.to_string();
    let expected = [
        (
            "vigie.toml:4:12",
            "invalid value \"it\" for response.language",
        ),
        (
            "vigie.toml:5:8",
            "response.sink \"pager\" is not an SMTP sink of vigie.toml",
        ),
        ("vigie.toml:6:10", "response.sender: "),
        (
            "vigie.toml:7:16",
            "response.answer_hours must be between 1 and 2160 hours",
        ),
        (
            "contacts.toml:4:8",
            "invalid value \"hoster\" for contact[0].role",
        ),
        ("contacts.toml:5:9", "contact[0].email: "),
        (
            "contacts.toml:9:1",
            "contact[1] is a CERT without a country",
        ),
        ("contacts.toml:12:14", "invalid language \"french\""),
        ("contacts.toml:13:1", "contact[2] gives no way to reach it"),
        ("contacts.toml:14:6", "invalid contact id \"bad id\""),
        (
            "contacts.toml:15:11",
            "invalid name \"https://x.test/\" in contact[2].covers",
        ),
        ("contacts.toml:23:1", "contact id \"dup\" is used twice"),
        ("contacts.toml:27:1", "unknown key `colour` in [contact[4]]"),
    ];
    assert_eq!(text.lines().count(), expected.len(), "{text}");
    for (place, message) in expected {
        let line = text
            .lines()
            .find(|line| line.contains(place))
            .unwrap_or_else(|| panic!("no error at {place}:\n{text}"));
        assert!(line.contains(message), "{line}");
        assert!(line.contains("(fix: "), "{line}");
    }
}

#[test]
fn named_contacts_file_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("watchlists")).unwrap();
    std::fs::write(
        dir.path().join("watchlists/acme.toml"),
        "[brand]\nname = \"Acme\"\n[[domains]]\nname = \"acme.test\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("vigie.toml"),
        "[response]\ncontacts_file = \"missing.toml\"\n",
    )
    .unwrap();
    let text = vigie::config::load(&dir.path().join("vigie.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("missing.toml: cannot read the contacts directory"),
        "{text}"
    );
}

#[tokio::test]
async fn contact_is_chosen_by_what_it_covers() {
    let world = World::new(&Settings::default());
    let contacts = &world.config.response.contacts;
    let mut finding = lookalike("examp1e.test", &[("a", &["198.51.100.10"])], T0);
    finding.facts.insert(
        "ns".into(),
        ["ns1.examp1e.test".to_owned(), "ns2.parking.test".to_owned()].into(),
    );
    finding
        .facts
        .insert("mx".into(), ["mx.mailhost.test".to_owned()].into());
    let id = world.record(finding).await;
    let stored = world.store.finding(id).unwrap().unwrap();

    let found = candidates(contacts, &stored);
    let ids: Vec<&str> = found.iter().map(|c| c.contact.id.as_str()).collect();
    assert_eq!(ids, ["parking-abuse", "mailhost-abuse", "registry-test"]);
    assert!(
        found[0].reason.contains("name server ns2.parking.test"),
        "{}",
        found[0].reason
    );

    let hosting = choose(contacts, &stored, None, None).unwrap();
    assert_eq!(hosting.contact.id, "parking-abuse");
    let mail = choose(contacts, &stored, None, Some(ContactRole::MailProvider)).unwrap();
    assert_eq!(mail.contact.id, "mailhost-abuse");
    assert_eq!(
        contacts::language(&mail.contact, &world.config.response),
        "de"
    );
    let error = choose(contacts, &stored, None, Some(ContactRole::SocialNetwork)).unwrap_err();
    assert!(error.to_string().contains("--contact ID"), "{error}");
    let error = choose(contacts, &stored, Some("nobody"), None).unwrap_err();
    assert!(
        error.to_string().contains("no contact \"nobody\""),
        "{error}"
    );
    assert_eq!(
        contacts::cert_for(contacts, "FR").map(|c| c.id.as_str()),
        Some("cert-fr")
    );
}

#[tokio::test]
async fn rdap_abuse_address_fills_a_missing_role() {
    let world = World::new(&Settings::default());
    let mut finding = lookalike("exarnple.test", &[], T0);
    finding.evidence = serde_json::json!({
        "rdap": { "entities": [{ "roles": ["registrar"], "abuse": { "email": "abuse@registrar.test" } }] }
    });
    let id = world.record(finding).await;
    let stored = world.store.finding(id).unwrap().unwrap();
    let chosen = choose(
        &world.config.response.contacts,
        &stored,
        None,
        Some(ContactRole::Registrar),
    )
    .unwrap();
    assert!(chosen.from_rdap);
    assert_eq!(
        chosen.contact.email.as_deref(),
        Some("abuse@registrar.test")
    );
    assert_eq!(chosen.store_id(), "rdap:abuse@registrar.test");
}
