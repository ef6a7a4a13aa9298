//! Secrets of the alert sinks, read from an environment variable or a file.
//!
//! A secret written in the TOML itself is rejected: config files are copied, diffed and
//! committed, and a password in them leaks with them. Messages name the variable or the file,
//! never the value.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::Secret;
use super::tree::{Reader, Table};

/// Looks up an environment variable; tests pass their own map instead of the process's.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Names of the keys that can give one secret, such as `password_env` and `password_file`.
pub(crate) struct SecretKeys {
    /// Key that would hold the value inline, which is rejected (`password`).
    pub inline: &'static str,
    pub env: &'static str,
    pub file: &'static str,
}

/// Prefix of a secret file path that stands for the folder where systemd puts the
/// credentials of `LoadCredential=`.
const CREDENTIALS_PREFIX: &str = "$CREDENTIALS_DIRECTORY/";

/// Reads the secret named by `keys` in `table`, if any; reports every problem.
pub(crate) fn read_secret(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    keys: &SecretKeys,
    base: &Path,
    env: EnvLookup<'_>,
) -> Option<Secret> {
    if let Some((key, _)) = table.get(keys.inline) {
        reader.error(
            &key.span(),
            format!(
                "{} writes a secret directly in the TOML",
                table.key_path(keys.inline)
            ),
            format!(
                "use {} or {} and remove the value from this file",
                keys.env, keys.file
            ),
        );
    }
    let from_env = reader.string(table, keys.env);
    let from_file = reader.string(table, keys.file);
    match (from_env, from_file) {
        (Some(_), Some((_, span))) => {
            reader.error(
                &span,
                format!(
                    "{} and {} are both set",
                    table.key_path(keys.env),
                    table.key_path(keys.file)
                ),
                format!("keep only one of {} and {}", keys.env, keys.file),
            );
            None
        }
        (Some((variable, span)), None) => {
            secret_from_env(reader, table, keys, &variable, &span, env)
        }
        (None, Some((file, span))) => {
            let path = secret_path(reader, table, keys, &file, &span, base, env)?;
            secret_from_file(reader, table, keys, &path, &span)
        }
        (None, None) => None,
    }
}

fn secret_from_env(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    keys: &SecretKeys,
    variable: &str,
    span: &std::ops::Range<usize>,
    env: EnvLookup<'_>,
) -> Option<Secret> {
    match env(variable) {
        Some(value) if !value.is_empty() => Some(Secret::new(value)),
        Some(_) => {
            reader.error(
                span,
                format!(
                    "environment variable {variable} named by {} is empty",
                    table.key_path(keys.env)
                ),
                format!("set {variable} to the secret in the service environment"),
            );
            None
        }
        None => {
            reader.error(
                span,
                format!(
                    "environment variable {variable} named by {} is not set",
                    table.key_path(keys.env)
                ),
                format!(
                    "set {variable} in the service environment, or use {} instead",
                    keys.file
                ),
            );
            None
        }
    }
}

/// Resolves a secret file path: `$CREDENTIALS_DIRECTORY/` is expanded, a relative path is
/// taken from the folder of the file that names it.
fn secret_path(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    keys: &SecretKeys,
    written: &str,
    span: &std::ops::Range<usize>,
    base: &Path,
    env: EnvLookup<'_>,
) -> Option<PathBuf> {
    let Some(name) = written.strip_prefix(CREDENTIALS_PREFIX) else {
        return Some(base.join(written));
    };
    match env("CREDENTIALS_DIRECTORY") {
        Some(folder) => Some(Path::new(&folder).join(name)),
        None => {
            reader.error(
                span,
                format!(
                    "{} uses $CREDENTIALS_DIRECTORY, which is not set",
                    table.key_path(keys.file)
                ),
                "run vigie from a systemd unit with LoadCredential=, or write the file's full path"
                    .to_string(),
            );
            None
        }
    }
}

fn secret_from_file(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    keys: &SecretKeys,
    path: &Path,
    span: &std::ops::Range<usize>,
) -> Option<Secret> {
    let key = table.key_path(keys.file);
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            reader.error(
                span,
                format!("secret file {} named by {key} not found", path.display()),
                "create the file with the secret on one line, or fix the path".to_string(),
            );
            return None;
        }
        Err(error) => {
            reader.error(
                span,
                format!(
                    "cannot read secret file {} named by {key}: {error}",
                    path.display()
                ),
                "make the file readable by the vigie user (mode 0600 or 0400)".to_string(),
            );
            return None;
        }
    };
    warn_if_shared(reader, &key, path, span);

    // Editors and `echo` end files with a newline, which is never part of the secret.
    let value = text.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        reader.error(
            span,
            format!("secret file {} named by {key} is empty", path.display()),
            "write the secret in the file".to_string(),
        );
        return None;
    }
    Some(Secret::new(value))
}

#[cfg(unix)]
fn warn_if_shared(reader: &mut Reader<'_>, key: &str, path: &Path, span: &std::ops::Range<usize>) {
    use std::os::unix::fs::PermissionsExt;

    let Ok(metadata) = std::fs::metadata(path) else {
        return;
    };
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        reader.warn(
            span,
            format!(
                "secret file {} named by {key} is readable by group or others (mode {mode:o})",
                path.display()
            ),
            format!("run `chmod 600 {}`", path.display()),
        );
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_: &mut Reader<'_>, _: &str, _: &Path, _: &std::ops::Range<usize>) {}
