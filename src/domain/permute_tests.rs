use super::*;

/// Runs one fuzzer on `domain` and returns the names it made.
fn run(domain: &str, fuzzer: Fuzzer) -> Vec<String> {
    let options = PermuteOptions {
        fuzzers: vec![fuzzer],
        ..PermuteOptions::default()
    };
    permute(domain, &options)
        .unwrap_or_else(|error| panic!("{domain}: {error}"))
        .into_iter()
        .map(|permutation| {
            assert_eq!(permutation.fuzzer, fuzzer, "{}", permutation.domain);
            permutation.domain
        })
        .collect()
}

/// Checks that each fuzzer makes the expected names (and not the excluded ones) for a domain.
fn check_table(domain: &str, cases: &[(Fuzzer, &[&str], &[&str])]) {
    for &(fuzzer, expected, excluded) in cases {
        let names = run(domain, fuzzer);
        for name in expected {
            assert!(
                names.iter().any(|n| n == name),
                "{domain} {fuzzer}: {name} missing from {names:?}"
            );
        }
        for name in excluded {
            assert!(
                !names.iter().any(|n| n == name),
                "{domain} {fuzzer}: {name} must not be made"
            );
        }
    }
}

#[test]
fn fuzzers_on_example_com() {
    check_table(
        "example.com",
        &[
            (
                Fuzzer::Addition,
                &["examplea.com", "example1.com", "examplez.com"],
                &["aexample.com"],
            ),
            (
                Fuzzer::Bitsquatting,
                &["dxample.com", "axample.com", "exampld.com", "uxample.com"],
                &[],
            ),
            (Fuzzer::Cyrillic, &[], &["example.com"]),
            (
                Fuzzer::Homoglyph,
                &[
                    "exarnple.com",
                    "examp1e.com",
                    "exampie.com",
                    "xn--exmple-cua.com",
                    "exarnp1e.com",
                ],
                &[],
            ),
            (
                Fuzzer::Hyphenation,
                &["e-xample.com", "exampl-e.com"],
                &["-example.com", "example-.com"],
            ),
            (
                Fuzzer::Insertion,
                &[
                    "wexample.com",
                    "ewxample.com",
                    "examplwe.com",
                    "examplew.com",
                    "exaqmple.com",
                ],
                &[],
            ),
            (
                Fuzzer::Omission,
                &["xample.com", "exampe.com", "exampl.com"],
                &["example.com"],
            ),
            (Fuzzer::Plural, &["exampsle.com", "examples.com"], &[]),
            (
                Fuzzer::Repetition,
                &["eexample.com", "exammple.com", "examplee.com"],
                &[],
            ),
            (
                Fuzzer::Replacement,
                &["wxample.com", "exanple.com", "examplw.com", "zxample.com"],
                &[],
            ),
            (
                Fuzzer::Subdomain,
                &["e.xample.com", "examp.le.com"],
                &[".example.com", "exampl.e.com"],
            ),
            (Fuzzer::Transposition, &["xeample.com", "exampel.com"], &[]),
            (
                Fuzzer::VowelSwap,
                &["axample.com", "exampla.com", "examplu.com"],
                &["example.com"],
            ),
            (Fuzzer::Various, &["examplecom.com", "example-com.com"], &[]),
            (
                Fuzzer::Dictionary,
                &["example-login.com", "secureexample.com", "my-example.com"],
                &[],
            ),
            (
                Fuzzer::TldSwap,
                &["example.net", "example.co.uk", "example.xyz"],
                &["example.com"],
            ),
        ],
    );
}

#[test]
fn cyrillic_when_every_letter_has_a_look_alike() {
    // "paypal": р а у р а ӏ in Cyrillic.
    let names = run("paypal.com", Fuzzer::Cyrillic);
    assert_eq!(names, ["xn--80aa0cbo65f.com"]);
}

#[test]
fn public_suffix_is_kept() {
    check_table(
        "example.co.uk",
        &[
            (
                Fuzzer::Omission,
                &["exampe.co.uk"],
                &["example.c.uk", "example.co.k"],
            ),
            (Fuzzer::Addition, &["examplea.co.uk"], &["example.co.uka"]),
            (Fuzzer::Various, &["example.uk", "exampleco.uk"], &[]),
            (
                Fuzzer::TldSwap,
                &["example.com", "example.fr"],
                &["example.co.uk"],
            ),
        ],
    );
}

#[test]
fn uk_homoglyphs_stay_ascii() {
    // The .uk registry takes no IDN, so only ASCII look-alikes apply.
    let names = run("example.co.uk", Fuzzer::Homoglyph);
    assert!(
        names.iter().any(|name| name == "examp1e.co.uk"),
        "{names:?}"
    );
    assert!(names.iter().all(|name| !name.contains("xn--")), "{names:?}");
}

#[test]
fn idn_input_is_decoded_and_encoded() {
    for input in ["bücher.de", "XN--BCHER-KVA.DE.", "Bücher.de"] {
        let names = run(input, Fuzzer::Omission);
        assert!(
            names.iter().any(|name| name == "bcher.de"),
            "{input}: {names:?}"
        );
        assert!(
            names.iter().any(|name| name == "xn--bcer-0ra.de"),
            "{input}: {names:?}"
        );
        assert!(
            !names.iter().any(|name| name == "xn--bcher-kva.de"),
            "{input}: input itself listed"
        );
    }
    // The .de table turns u into u with diaeresis.
    let names = run("bucher.de", Fuzzer::Homoglyph);
    assert!(
        names.iter().any(|name| name == "xn--bcher-kva.de"),
        "{names:?}"
    );
}

#[test]
fn subdomains_are_kept() {
    check_table(
        "www.example.com",
        &[
            (Fuzzer::Omission, &["www.exampe.com"], &["ww.example.com"]),
            (
                Fuzzer::Various,
                &["wwwexample.com", "www-example.com", "www.examplecom.com"],
                &[],
            ),
        ],
    );
}

#[test]
fn hyphenated_labels() {
    check_table(
        "credit-agricole.fr",
        &[
            (
                Fuzzer::Addition,
                &["credit1-agricole.fr", "credit-agricolea.fr"],
                &[],
            ),
            (
                Fuzzer::Subdomain,
                &["cre.dit-agricole.fr"],
                &["credit.-agricole.fr", "credit-.agricole.fr"],
            ),
            (
                Fuzzer::Dictionary,
                &[
                    "credit-login.fr",
                    "login-agricole.fr",
                    "credit-agricole-secure.fr",
                ],
                &[],
            ),
            (
                Fuzzer::Various,
                &[
                    "credit-agricole-fr.com",
                    "credit-agricolefr.com",
                    "credit-agricolefr.fr",
                ],
                &[],
            ),
        ],
    );
}

#[test]
fn outputs_are_valid_unique_and_exclude_input() {
    let options = PermuteOptions {
        fuzzers: Fuzzer::ALL.to_vec(),
        ..PermuteOptions::default()
    };
    for domain in [
        "paypal.com",
        "credit-agricole.fr",
        "bücher.de",
        "ab.io",
        "www.example.co.uk",
    ] {
        let names = permute(domain, &options).unwrap();
        let original = name::to_ascii(domain).unwrap();
        let mut seen = HashSet::new();
        for permutation in &names {
            assert!(
                name::is_valid_ascii_name(&permutation.domain),
                "{domain}: {}",
                permutation.domain
            );
            assert!(
                name::to_ascii(&permutation.domain).is_ok(),
                "{domain}: {}",
                permutation.domain
            );
            assert_ne!(permutation.domain, original);
            assert!(
                seen.insert(permutation.domain.clone()),
                "{domain}: {} twice",
                permutation.domain
            );
        }
    }
}

#[test]
fn first_fuzzer_in_order_wins() {
    // Addition and repetition both make "examplee.com"; omission alone makes "exampe.com".
    let names = permute("example.com", &PermuteOptions::default()).unwrap();
    let fuzzer_of = |domain: &str| names.iter().find(|p| p.domain == domain).map(|p| p.fuzzer);
    assert_eq!(fuzzer_of("examplee.com"), Some(Fuzzer::Addition));
    assert_eq!(fuzzer_of("exampe.com"), Some(Fuzzer::Omission));
}

#[test]
fn default_set_and_optional_fuzzers() {
    let mut options = PermuteOptions::default();
    assert_eq!(options.selected_fuzzers(), Fuzzer::DEFAULT);

    options.dictionary = vec!["acme".to_owned()];
    options.tlds = vec!["example".to_owned()];
    let names = permute("paypal.com", &options).unwrap();
    let fuzzer_of = |domain: &str| names.iter().find(|p| p.domain == domain).map(|p| p.fuzzer);
    assert_eq!(fuzzer_of("paypal-acme.com"), Some(Fuzzer::Dictionary));
    assert_eq!(fuzzer_of("paypal-login.com"), Some(Fuzzer::Dictionary));
    assert_eq!(fuzzer_of("paypal.example"), Some(Fuzzer::TldSwap));
    assert_eq!(fuzzer_of("paypal.net"), Some(Fuzzer::TldSwap));

    let plain = permute("paypal.com", &PermuteOptions::default()).unwrap();
    assert!(
        plain
            .iter()
            .all(|p| p.fuzzer != Fuzzer::Dictionary && p.fuzzer != Fuzzer::TldSwap)
    );
}

#[test]
fn fuzzer_names_round_trip() {
    for fuzzer in Fuzzer::ALL {
        assert_eq!(Fuzzer::parse(fuzzer.as_str()), Some(fuzzer));
    }
    assert_eq!(Fuzzer::parse("vowel-swap"), Some(Fuzzer::VowelSwap));
    assert_eq!(Fuzzer::parse("tld-swap"), Some(Fuzzer::TldSwap));
    assert_eq!(Fuzzer::parse("typo"), None);
}

#[test]
fn rejections() {
    let cases = [
        ("https://paypal.com/", "URL"),
        ("paypal.com/signin", "host name only"),
        ("com", "no public suffix"),
        ("co.uk", "public suffix"),
        ("pay pal.com", "white space"),
        ("", "empty name"),
        ("pay_pal.com", "'_'"),
        ("192.0.2.1", "IP address"),
        ("192.0.2.1.", "IP address"),
    ];
    for (input, expected) in cases {
        let error = permute(input, &PermuteOptions::default()).unwrap_err();
        assert_eq!(error.domain, input);
        assert!(error.to_string().contains(expected), "{input:?}: {error}");
    }
}

#[test]
fn long_label_drops_names_over_the_limit() {
    // A 63-octet label: any addition makes a 64-octet label, which DNS cannot carry.
    let label = "a".repeat(63);
    let names = run(&format!("{label}.com"), Fuzzer::Addition);
    assert!(names.is_empty(), "{names:?}");
    let names = run(&format!("{label}.com"), Fuzzer::Omission);
    assert_eq!(names, [format!("{}.com", "a".repeat(62))]);
}
