//! The `[nrd.NAME]` tables of `vigie.toml`: lists of newly registered domains.

use std::collections::BTreeMap;
use std::path::Path;

use super::tree::{Reader, Table};
use super::{NrdConfig, NrdLocation};

const NRD_KEYS: &[&str] = &["url", "path", "interval_secs", "max_bytes", "timeout_secs"];

/// Reads every `[nrd.NAME]` table; a list with errors is left out of the result.
pub(crate) fn nrd_lists(
    reader: &mut Reader<'_>,
    table: Option<&Table<'_, '_>>,
    base: &Path,
) -> BTreeMap<String, NrdConfig> {
    let mut lists = BTreeMap::new();
    let Some(table) = table else {
        return lists;
    };
    for key in table.entries.keys() {
        let name: &str = key.get_ref();
        if !is_valid_name(name) {
            reader.error(
                &key.span(),
                format!("invalid list name \"{name}\""),
                "use letters, digits, '-' and '_' only, such as [nrd.daily]".to_string(),
            );
        }
        let path = format!("nrd.{name}");
        let Some(list_table) = reader.table(table, name, &path) else {
            continue;
        };
        let errors_before = reader.errors.len();
        let list = nrd_list(reader, &list_table, name, base);
        if reader.errors.len() == errors_before {
            lists.insert(name.to_string(), list);
        }
    }
    lists
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn nrd_list(reader: &mut Reader<'_>, table: &Table<'_, '_>, name: &str, base: &Path) -> NrdConfig {
    reader.check_keys(table, NRD_KEYS);
    let url = reader.string(table, "url");
    let path = reader.string(table, "path");
    let location = match (url, path) {
        (Some((url, span)), None) => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                reader.error(
                    &span,
                    format!("{} must be an http or https URL, found \"{url}\"", table.key_path("url")),
                    "write a URL such as \"https://lists.example.net/nrd/{date}.txt.gz\", or use `path` for a file".to_string(),
                );
            }
            NrdLocation::Url(url)
        }
        (None, Some((path, span))) => {
            if path.trim().is_empty() {
                reader.error(
                    &span,
                    format!("{} is empty", table.key_path("path")),
                    "write the path of the list file".to_string(),
                );
            }
            NrdLocation::Path(base.join(path))
        }
        (Some((_, span)), Some(_)) => {
            reader.error(
                &span,
                format!("[nrd.{name}] has both `url` and `path`"),
                "keep one of them".to_string(),
            );
            NrdLocation::Path(base.to_path_buf())
        }
        (None, None) => {
            reader.error(
                &table.span,
                format!("[nrd.{name}] has neither `url` nor `path`"),
                "add `url = \"https://...\"` or `path = \"/var/lib/nrd/today.txt\"`".to_string(),
            );
            NrdLocation::Path(base.to_path_buf())
        }
    };
    NrdConfig {
        name: name.to_string(),
        location,
        interval_secs: reader.integer(table, "interval_secs", 3600, (1, 2_592_000), "seconds"),
        max_bytes: reader.integer(table, "max_bytes", 256 << 20, (1, 1 << 34), "bytes"),
        timeout_secs: reader.integer(table, "timeout_secs", 120, (1, 3600), "seconds"),
    }
}
