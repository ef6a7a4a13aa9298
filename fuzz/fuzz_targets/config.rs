//! Configuration loading on any vigie.toml text: errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("vigie-fuzz-config-{}", std::process::id()));
    let _ = std::fs::create_dir_all(dir.join("watchlists"));
    let path = dir.join("vigie.toml");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let _ = vigie::config::load_with_env(&path, &|_| None);
});
