//! The inbox source on a Maildir: mail in new/ is read, kept and moved to cur/; a missing
//! folder is reported without stopping the source.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use vigie::sources::SourceContext;

const MAILS: &[&str] = &[
    "spamassassin/spam-1__00018.5b2765c42b7648d41c93b9b27140b23a.eml",
    "spamassassin/spam-1__00026.da18dbed27ae933172f7a70f860c6ad0.eml",
    "spamassassin/spam-2__00357.049b1dd678979ce56f10dfa9632127a3.eml",
];

fn names(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maildir_mail_moves_to_cur() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("trap");
    for folder in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(folder)).unwrap();
    }
    for (index, name) in MAILS.iter().enumerate() {
        let file = maildir.join("new").join(format!("100{index}.M1P1.trap"));
        std::fs::write(file, support::inbox::fixture(name)).unwrap();
    }
    let extra = "[inbox.trap]\ntype = \"maildir\"\npath = \"trap\"\npoll_secs = 1\nwatchlist = \"example\"\n";
    let config = support::inbox::load_config(dir.path(), extra, &[]);
    let (pipeline, store, config_tx) = support::inbox::pipeline(dir.path(), config);
    let health = pipeline.health().clone();
    let stop = CancellationToken::new();
    let ctx = SourceContext {
        pipeline,
        config: config_tx.subscribe(),
        shutdown: stop.clone(),
    };
    let task = tokio::spawn(vigie::sources::inbox::run(ctx));

    let deadline = Instant::now() + Duration::from_secs(20);
    while names(&maildir.join("cur")).len() < 3 {
        assert!(Instant::now() < deadline, "mails not moved to cur/");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert!(names(&maildir.join("new")).is_empty());
    assert_eq!(
        names(&maildir.join("cur")),
        vec![
            "1000.M1P1.trap:2,",
            "1001.M1P1.trap:2,",
            "1002.M1P1.trap:2,"
        ]
    );
    let mails = store.mails().unwrap();
    assert_eq!(mails.len(), 3);
    assert_eq!(mails[0].origin, "trap/1000.M1P1.trap");
    // The two copies of one advance-fee letter make one campaign.
    assert_eq!(mails[0].campaign_id, mails[1].campaign_id);
    assert_ne!(mails[0].campaign_id, mails[2].campaign_id);
    let figures = health.snapshot();
    assert!(
        figures["inbox:trap"].items >= 3,
        "{:?}",
        figures["inbox:trap"]
    );

    stop.cancel();
    task.await.unwrap();
    drop(config_tx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_maildir_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "[inbox.trap]\ntype = \"maildir\"\npath = \"absent\"\npoll_secs = 1\n";
    let config = support::inbox::load_config(dir.path(), extra, &[]);
    let (pipeline, _store, config_tx) = support::inbox::pipeline(dir.path(), config);
    let health = pipeline.health().clone();
    let stop = CancellationToken::new();
    let ctx = SourceContext {
        pipeline,
        config: config_tx.subscribe(),
        shutdown: stop.clone(),
    };
    let task = tokio::spawn(vigie::sources::inbox::run(ctx));

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let figures = health.snapshot();
        if let Some(trap) = figures.get("inbox:trap")
            && trap.errors > 0
        {
            let (_, message) = trap.recent_errors.back().unwrap();
            assert!(message.contains("absent/new"), "{message}");
            assert!(message.contains("Maildir"), "{message}");
            break;
        }
        assert!(Instant::now() < deadline, "no failure recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!task.is_finished());
    stop.cancel();
    task.await.unwrap();
    drop(config_tx);
}
