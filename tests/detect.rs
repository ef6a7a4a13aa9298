//! The matcher against a small set of watchlists: what it must catch, what it must leave
//! alone, and how `vigie match` reports good and bad lines.
//!
//! Real hosts marked "real" come from the Phishing.Database lists (MIT), see
//! tests/fixtures/detect/SOURCES.md.

use vigie::cli::match_cmd::{build_matcher, match_lines};
use vigie::detect::{BrandSpec, KeywordSpec, MatchKind, Matcher};
use vigie::model::Severity;

fn brand(id: &str, legitimate: &[&str], keywords: &[&str]) -> BrandSpec {
    BrandSpec {
        id: id.to_string(),
        brand: id.to_string(),
        keywords: keywords.iter().map(|k| KeywordSpec::new(*k)).collect(),
        legitimate: legitimate.iter().map(|d| d.to_string()).collect(),
        allow: Vec::new(),
    }
}

fn matcher() -> Matcher {
    let mut example = brand(
        "example",
        &["example.com", "example-group.org"],
        &["example"],
    );
    example.allow = vec!["example-fans.org".to_string()];
    let mut orange = brand("orange", &["orange.fr"], &[]);
    orange.keywords = vec![KeywordSpec {
        text: "orange".to_string(),
        word_boundary: true,
    }];
    Matcher::compile(&[
        example,
        brand("paypal", &["paypal.com"], &["paypal"]),
        brand("netflix", &["netflix.com"], &[]),
        brand(
            "microsoft",
            &["microsoft.com", "microsoftonline.com"],
            &["microsoft", "office365"],
        ),
        brand("metamask", &["metamask.io"], &["metamask"]),
        brand("ing", &["ing.com"], &["ing"]),
        orange,
    ])
    .expect("test watchlists compile")
}

/// One input the matcher must flag: which watchlist, the lowest severity, a technique it must
/// name, and a piece of text one reason must contain.
struct Catch {
    input: &'static str,
    watchlist: &'static str,
    at_least: Severity,
    kind: MatchKind,
    reason: &'static str,
}

const fn catch(
    input: &'static str,
    watchlist: &'static str,
    at_least: Severity,
    kind: MatchKind,
    reason: &'static str,
) -> Catch {
    Catch {
        input,
        watchlist,
        at_least,
        kind,
        reason,
    }
}

fn assert_catches(cases: &[Catch]) {
    let m = matcher();
    for case in cases {
        let found = m
            .check(case.input)
            .unwrap_or_else(|| panic!("{} not flagged", case.input));
        assert_eq!(found.watchlist, case.watchlist, "{}: {found:?}", case.input);
        assert!(
            found.severity >= case.at_least,
            "{}: severity {} below {}: {found:?}",
            case.input,
            found.severity,
            case.at_least
        );
        assert!(
            found.kinds.contains(&case.kind),
            "{}: kind {:?} missing: {found:?}",
            case.input,
            case.kind
        );
        assert!(
            found.reasons.iter().any(|r| r.contains(case.reason)),
            "{}: no reason contains {:?}: {found:?}",
            case.input,
            case.reason
        );
    }
}

#[test]
fn homoglyphs_and_idn() {
    use MatchKind::Homoglyph;
    assert_catches(&[
        // Cyrillic е (U+0435) in punycode, then the same name in Unicode.
        catch(
            "xn--xample-2of.com",
            "example",
            Severity::Critical,
            Homoglyph,
            "\u{0435} is Cyrillic",
        ),
        catch(
            "https://\u{0435}xample.com/login",
            "example",
            Severity::Critical,
            Homoglyph,
            "Cyrillic",
        ),
        // A single mixed-script character among Latin ones.
        catch(
            "p\u{0430}ypal.com",
            "paypal",
            Severity::Critical,
            Homoglyph,
            "\u{0430} is Cyrillic",
        ),
        catch(
            "examp1e.com",
            "example",
            Severity::High,
            Homoglyph,
            "1 for l",
        ),
        catch(
            "rnicrosoft.com",
            "microsoft",
            Severity::High,
            Homoglyph,
            "homoglyph of microsoft.com",
        ),
    ]);
}

#[test]
fn typos_and_swaps() {
    use MatchKind::{SecondLevelSwap, TldSwap, Typo};
    assert_catches(&[
        catch(
            "exmaple.com",
            "example",
            Severity::Medium,
            Typo,
            "two letters swapped",
        ),
        catch(
            "exampl.com",
            "example",
            Severity::Medium,
            Typo,
            "one letter left out",
        ),
        catch(
            "exampie.com",
            "example",
            Severity::Medium,
            Typo,
            "one letter replaced",
        ),
        catch(
            "netfliix.com",
            "netflix",
            Severity::Medium,
            Typo,
            "repeated",
        ),
        catch("paypall.com", "paypal", Severity::Medium, Typo, "repeated"),
        catch(
            "example.net",
            "example",
            Severity::Medium,
            TldSwap,
            ".net for .com",
        ),
        catch(
            "login.paypal.xyz",
            "paypal",
            Severity::High,
            TldSwap,
            "TLD swap of paypal.com",
        ),
        catch(
            "example.com.br",
            "example",
            Severity::Medium,
            SecondLevelSwap,
            ".com.br for .com",
        ),
        catch(
            "paypal.co.uk",
            "paypal",
            Severity::Medium,
            SecondLevelSwap,
            "second-level swap",
        ),
    ]);
}

#[test]
fn combosquats() {
    use MatchKind::{Combosquat, EmbeddedBrand};
    assert_catches(&[
        // Real hosts.
        catch(
            "service-paypal.link",
            "paypal",
            Severity::High,
            Combosquat,
            "with the word 'service'",
        ),
        catch(
            "zahlung-paypal.com",
            "paypal",
            Severity::Medium,
            Combosquat,
            "plus other words",
        ),
        catch(
            "secure-netflix-verify.com",
            "netflix",
            Severity::High,
            Combosquat,
            "brand 'netflix'",
        ),
        catch(
            "verify-netflix.help",
            "netflix",
            Severity::High,
            Combosquat,
            "'verify'",
        ),
        catch(
            "shrepointupdates-microsoft.com",
            "microsoft",
            Severity::High,
            Combosquat,
            "'update'",
        ),
        catch(
            "servr-office365check.com",
            "microsoft",
            Severity::Medium,
            Combosquat,
            "office365",
        ),
        catch(
            "xn--paypalgebhrenrechner-xec.de",
            "paypal",
            Severity::Medium,
            Combosquat,
            "paypal",
        ),
        catch(
            "verifypaypalpasswortlive.com",
            "paypal",
            Severity::Medium,
            EmbeddedBrand,
            "embedded",
        ),
        // The brand part itself a homoglyph or typo.
        catch(
            "examp1e-secure.com",
            "example",
            Severity::High,
            Combosquat,
            "look-alike spelling",
        ),
        catch(
            "paypa1-login.com",
            "paypal",
            Severity::High,
            Combosquat,
            "'login'",
        ),
        catch(
            "netflx-verify.com",
            "netflix",
            Severity::High,
            Combosquat,
            "typo of brand 'netflix'",
        ),
        catch(
            "rnetarnask-wallet.io",
            "metamask",
            Severity::High,
            Combosquat,
            "'wallet'",
        ),
        catch(
            "myexampleaccount.com",
            "example",
            Severity::Medium,
            EmbeddedBrand,
            "embedded in 'myexampleaccount'",
        ),
        catch(
            "pay-pal-support.com",
            "paypal",
            Severity::High,
            Combosquat,
            "'support'",
        ),
    ]);
}

#[test]
fn brand_in_unrelated_host() {
    use MatchKind::{Combosquat, LegitimateNameInHost, SubdomainBrand};
    assert_catches(&[
        catch(
            "example.com.verify-account.net",
            "example",
            Severity::High,
            LegitimateNameInHost,
            "legitimate domain example.com written into the host of unrelated domain verify-account.net",
        ),
        catch(
            "paypal.com-resolution.center",
            "paypal",
            Severity::High,
            LegitimateNameInHost,
            "paypal.com",
        ),
        catch(
            "www-paypal.com.evil.ru",
            "paypal",
            Severity::High,
            LegitimateNameInHost,
            "paypal.com",
        ),
        catch(
            "paypal.mobile-billing-verify.com",
            "paypal",
            Severity::High,
            SubdomainBrand,
            "subdomain 'paypal'",
        ),
        // Real hosts under hosting platforms' public suffixes.
        catch(
            "secure-metamask-en-us.pages.dev",
            "metamask",
            Severity::High,
            Combosquat,
            "'secure'",
        ),
        catch(
            "teams.microsoft-en.live",
            "microsoft",
            Severity::Medium,
            Combosquat,
            "microsoft",
        ),
        catch(
            "webmailmicrosoftupdate.weebly.com",
            "microsoft",
            Severity::Medium,
            MatchKind::EmbeddedBrand,
            "microsoft",
        ),
    ]);
}

#[test]
fn legitimate_and_allowed_names_stay_silent() {
    let m = matcher();
    for input in [
        "example.com",
        "www.example.com",
        "login.example.com.",
        "https://secure.example.com/account?id=1",
        "EXAMPLE.COM",
        "example-group.org",
        "mail.example-group.org",
        "microsoftonline.com",
        "login.microsoftonline.com",
        "example-fans.org",
        "shop.example-fans.org",
        "http://192.0.2.7/paypal/login",
        "unrelated.org",
        "com",
    ] {
        assert_eq!(m.check(input), None, "{input} must not match");
    }
}

#[test]
fn short_brand_inside_common_word_scores_low() {
    let m = matcher();
    for input in [
        "booking.com",
        "shopping-list.net",
        "kingston.ac.uk",
        "orangecounty.gov",
        "blorange.fr",
    ] {
        if let Some(found) = m.check(input) {
            assert_eq!(found.severity, Severity::Low, "{input}: {found:?}");
        }
    }
    // The same short keyword as a whole word is a combosquat.
    let found = m
        .check("ing-login.com")
        .expect("whole-word short brand flagged");
    assert!(found.severity >= Severity::High, "{found:?}");
    let found = m
        .check("orange-secure.net")
        .expect("whole-word keyword flagged");
    assert!(found.severity >= Severity::High, "{found:?}");
}

#[test]
fn typo_variant_inside_a_word_is_ignored() {
    let m = matcher();
    // `paypa` (one letter left out) inside an unrelated word: no boundary on either side.
    assert_eq!(m.check("mypaypaxe.com"), None);
}

#[test]
fn invalid_inputs_are_errors_naming_the_input() {
    let m = matcher();
    for bad in [
        "exa mple.com",
        "http://",
        "a..b.com",
        "xn--.com",
        "ex!ample.com",
    ] {
        let err = m.check_input(bad).expect_err(bad);
        assert!(err.is_invalid_input(), "{bad}: {err}");
        assert!(err.to_string().contains(bad.trim()), "{bad}: {err}");
    }
}

#[test]
fn compile_rejects_bad_watchlists() {
    let cases = [
        (brand("a", &["com"], &[]), "public suffix"),
        (brand("b", &["bad domain.com"], &[]), "bad domain.com"),
        (brand("c", &["c.com"], &["7"]), "invalid keyword"),
        (brand("d", &[], &[]), "no keyword and no legitimate domain"),
    ];
    for (spec, expected) in cases {
        let err = Matcher::compile(std::slice::from_ref(&spec)).expect_err(&spec.id);
        let text = err.to_string();
        assert!(text.contains(expected), "{}: {text}", spec.id);
        assert!(text.contains(&format!("watchlist {}", spec.id)), "{text}");
    }
}

#[test]
fn ad_hoc_domains_use_registrable_label() {
    let m = build_matcher(&["example.co.uk".to_string()], None).unwrap();
    let found = m
        .check("example-login.com")
        .expect("keyword from domain label");
    assert_eq!(found.watchlist, "command-line");
    assert_eq!(m.check("www.example.co.uk"), None);
    assert!(build_matcher(&[], None).is_err());
}

#[test]
fn match_lines_reports_invalid_lines_and_goes_on() {
    let m = build_matcher(&["example.com".to_string()], None).unwrap();
    let input = "example.net\n\n# comment\nexa mple.com\nhttps://www.example.com/\nexamp1e-login.com\nhttp://\n";
    let mut out = Vec::new();
    let mut err = Vec::new();
    let summary = match_lines(&m, Severity::Low, input.as_bytes(), &mut out, &mut err).unwrap();

    assert_eq!(summary.lines, 7);
    assert_eq!(summary.flagged, 2);
    assert_eq!(summary.invalid, 2);
    let err = String::from_utf8(err).unwrap();
    assert!(
        err.contains("line 4: invalid input \"exa mple.com\""),
        "{err}"
    );
    assert!(err.contains("line 7: invalid input \"http://\""), "{err}");

    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["input"], "example.net");
    assert_eq!(lines[0]["matched"], "example.com");
    assert_eq!(lines[0]["severity"], "medium");
    assert!(lines[0]["score"].as_u64().unwrap() >= 40);
    assert!(
        lines[0]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("TLD swap")
    );
    assert_eq!(lines[1]["input"], "examp1e-login.com");
}

#[test]
fn match_lines_filters_by_severity() {
    let m = build_matcher(&["example.com".to_string()], None).unwrap();
    let input = "example.net\nexamp1e-login.org\n";
    let mut out = Vec::new();
    let summary = match_lines(&m, Severity::High, input.as_bytes(), &mut out, Vec::new()).unwrap();
    assert_eq!(summary.flagged, 1);
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains("examp1e-login.org")
    );
}

#[test]
fn unmapped_non_latin_letter_is_homoglyph() {
    let m = Matcher::compile(&[brand("mew", &["myetherwallet.com"], &[])]).unwrap();
    // Ukrainian ie (U+0454) and Greek epsilon: not in the UTS #39 table as `e`.
    for input in ["xn--mytherwallet-cok.com", "myetherwall\u{03b5}t.com"] {
        let found = m
            .check(input)
            .unwrap_or_else(|| panic!("{input} not flagged"));
        assert!(found.severity >= Severity::High, "{input}: {found:?}");
        assert_eq!(found.kinds[0], MatchKind::Homoglyph, "{input}: {found:?}");
    }
}

#[test]
fn brand_split_by_dots() {
    let m = Matcher::compile(&[brand("mew", &["myetherwallet.com"], &[])]).unwrap();
    for input in [
        "myetherwa.llet.com",
        "my.etherwallet.com",
        "myetherwal.let.com",
    ] {
        let found = m
            .check(input)
            .unwrap_or_else(|| panic!("{input} not flagged"));
        assert!(
            found.kinds.contains(&MatchKind::SplitBrand),
            "{input}: {found:?}"
        );
        assert!(found.severity >= Severity::High, "{input}: {found:?}");
    }
}

#[test]
fn wildcard_suffix_still_judged() {
    let m = Matcher::compile(&[brand("mew", &["myetherwallet.com"], &[])]).unwrap();
    // `*.ck` makes every name under .ck a public suffix.
    let found = m.check("myetherwallet.ck").expect("flagged");
    assert_eq!(found.kinds[0], MatchKind::TldSwap, "{found:?}");
}

#[test]
fn every_permutation_kind_is_caught() {
    use vigie::domain::{Fuzzer, PermuteOptions, permute};
    let m = matcher();
    let options = PermuteOptions {
        fuzzers: Fuzzer::ALL.to_vec(),
        ..PermuteOptions::default()
    };
    let permutations = permute("example.com", &options).expect("example.com permutes");
    for fuzzer in Fuzzer::ALL {
        let made: Vec<_> = permutations.iter().filter(|p| p.fuzzer == fuzzer).collect();
        assert!(!made.is_empty(), "no {} permutation made", fuzzer.as_str());
        for permutation in made {
            let found = m.check(&permutation.domain).unwrap_or_else(|| {
                panic!("{} ({}) not flagged", permutation.domain, fuzzer.as_str())
            });
            assert_eq!(found.watchlist, "example", "{found:?}");
            assert!(found.severity >= Severity::Medium, "{found:?}");
            // The default fuzzers are hashed at compile time and named in the reasons.
            if Fuzzer::DEFAULT.contains(&fuzzer) {
                assert!(
                    found.fuzzers.iter().any(|f| f == fuzzer.as_str()),
                    "{} ({}): {found:?}",
                    permutation.domain,
                    fuzzer.as_str()
                );
            }
        }
    }
}

fn fixture_lines(name: &str) -> Vec<String> {
    let path = format!(
        "{}/tests/fixtures/detect/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
        .lines()
        .map(str::to_string)
        .collect()
}

/// Legitimate domains of the test brands that appear in the Tranco head, as each company's
/// own watchlist would list them.
fn tranco_matcher() -> Matcher {
    Matcher::compile(&[
        brand(
            "paypal",
            &["paypal.com", "paypalobjects.com", "paypal.me"],
            &["paypal"],
        ),
        brand(
            "netflix",
            &[
                "netflix.com",
                "nflxvideo.net",
                "nflximg.net",
                "nflxext.com",
                "nflxso.net",
                "netflix.net",
                "nflximg.com",
            ],
            &["netflix"],
        ),
        brand(
            "microsoft",
            &[
                "microsoft.com",
                "microsoftonline.com",
                "live.com",
                "live.net",
                "office.com",
                "office.net",
                "office365.com",
                "windows.com",
                "windows.net",
                "azure.com",
                "bing.com",
                "msn.com",
                "skype.com",
                "xbox.com",
                "outlook.com",
                "sharepoint.com",
                "onenote.com",
                "microsoftonline-p.com",
                "msftncsi.com",
                "msftconnecttest.com",
                "windowsupdate.com",
                "azureedge.net",
                "azurewebsites.net",
                "msedge.net",
            ],
            &["microsoft", "office365"],
        ),
        brand("metamask", &["metamask.io"], &["metamask"]),
        brand("ing", &["ing.com"], &["ing"]),
    ])
    .expect("tranco brands compile")
}

#[test]
fn tranco_head_stays_quiet() {
    let m = tranco_matcher();
    let loud: Vec<String> = fixture_lines("tranco-top-1000.txt")
        .iter()
        .filter_map(|d| m.check(d))
        .filter(|found| found.severity >= Severity::Medium)
        .map(|found| format!("{} ({})", found.host, found.reasons[0]))
        .collect();
    assert!(
        loud.is_empty(),
        "popular names flagged medium or above: {loud:#?}"
    );
}

#[test]
fn real_phishing_hosts_are_flagged() {
    let m = tranco_matcher();
    let hosts = fixture_lines("phishing-database-brand-hosts.txt");
    let missed: Vec<&String> = hosts
        .iter()
        .filter(|h| {
            m.check(h)
                .is_none_or(|found| found.severity < Severity::Medium)
        })
        .collect();
    assert!(
        missed.is_empty(),
        "{} of {} real phishing hosts not flagged medium or above: {missed:#?}",
        missed.len(),
        hosts.len()
    );
}

#[test]
fn match_lines_counts_non_utf8_line_as_invalid() {
    let m = build_matcher(&["example.com".to_string()], None).unwrap();
    let input: &[u8] = b"ex\xffample.net\r\nexample.net\r\n";
    let mut out = Vec::new();
    let mut err = Vec::new();
    let summary = match_lines(&m, Severity::Low, input, &mut out, &mut err).unwrap();
    assert_eq!(summary.invalid, 1);
    assert_eq!(summary.flagged, 1);
    assert!(
        String::from_utf8(err)
            .unwrap()
            .starts_with("line 1: invalid input")
    );
}

#[test]
fn vigie_match_binary_reads_stdin() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["match", "--domain", "example.com", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigie starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"example.net\nexa mple.com\nwww.example.com\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();

    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["input"], "example.net");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("line 2: invalid input \"exa mple.com\""),
        "{stderr}"
    );
}

#[test]
fn vigie_match_binary_exits_1_without_match() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["match", "--domain", "example.com"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("vigie starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"unrelated.org\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty());
}

#[test]
fn watchlist_word_keywords_need_a_boundary() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("watchlists")).unwrap();
    std::fs::write(
        dir.path().join("vigie.toml"),
        "[daemon]\nstate_dir = \"state\"\nwatchlists_dir = \"watchlists\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("watchlists/acme.toml"),
        "[brand]\nname = \"Acme Bank\"\nkeywords = [\"acmebank\"]\nword_keywords = [\"bank\"]\n\n[[domains]]\nname = \"acmebank.example\"\n",
    )
    .unwrap();
    let config = vigie::config::load(&dir.path().join("vigie.toml")).expect("loads");
    assert_eq!(config.watchlists[0].word_keywords, ["bank"]);

    let specs: Vec<BrandSpec> = config.watchlists.iter().map(BrandSpec::from).collect();
    let bank = specs[0]
        .keywords
        .iter()
        .find(|k| k.text == "bank")
        .expect("bank keyword");
    assert!(bank.word_boundary);
    let m = Matcher::compile(&specs).expect("compiles");

    // Inside a longer word: at most low.
    if let Some(found) = m.check("bankruptcylawyers.com") {
        assert_eq!(found.severity, Severity::Low, "{found:?}");
    }
    // As a whole word next to a scam word: flagged.
    let found = m
        .check("bank-login-secure.com")
        .expect("whole word flagged");
    assert!(found.severity >= Severity::Medium, "{found:?}");

    // The same keyword in both lists is an error naming the line.
    std::fs::write(
        dir.path().join("watchlists/acme.toml"),
        "[brand]\nname = \"Acme Bank\"\nkeywords = [\"bank\"]\nword_keywords = [\"bank\"]\n\n[[domains]]\nname = \"acmebank.example\"\n",
    )
    .unwrap();
    let errors = vigie::config::load(&dir.path().join("vigie.toml"))
        .expect_err("duplicate keyword")
        .to_string();
    assert!(errors.contains("acme.toml:4:"), "{errors}");
    assert!(
        errors.contains("in both brand.keywords and brand.word_keywords"),
        "{errors}"
    );
}
