//! A streaming reader of mbox files, the format mail archives and corpora come in.
//!
//! Hand-written because the format is a few rules: a mail starts at a line beginning with
//! `From ` at the start of the file or after a blank line, and the mboxrd quoting `>From `
//! loses one `>`. Reading line by line keeps memory to one mail, and a mail longer than the
//! limit is skipped, not loaded.

use std::io::BufRead;

/// One mail of an mbox file, or one skipped for its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MboxItem {
    /// A mail, without its `From ` separator line.
    Mail { line: usize, raw: Vec<u8> },
    /// A mail larger than the limit, with the line where it starts.
    TooLarge { line: usize, bytes: u64 },
}

/// Iterates over the mails of an mbox stream.
pub struct MboxReader<R> {
    reader: R,
    max_bytes: u64,
    line_number: usize,
    /// The separator line already read for the next mail, with its line number.
    pending: Option<usize>,
    started: bool,
}

impl<R: BufRead> MboxReader<R> {
    pub fn new(reader: R, max_bytes: u64) -> MboxReader<R> {
        MboxReader {
            reader,
            max_bytes,
            line_number: 0,
            pending: None,
            started: false,
        }
    }

    /// Returns the next mail, `None` at the end, or a read error.
    pub fn next_item(&mut self) -> std::io::Result<Option<MboxItem>> {
        let mut start = match self.pending.take() {
            Some(line) => line,
            None => match self.skip_to_first()? {
                Some(line) => line,
                None => return Ok(None),
            },
        };
        let mut raw: Vec<u8> = Vec::new();
        let mut size: u64 = 0;
        let mut previous_blank = true;
        let mut line = Vec::new();
        loop {
            line.clear();
            if self.reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            self.line_number += 1;
            if previous_blank && line.starts_with(b"From ") {
                self.pending = Some(self.line_number);
                break;
            }
            previous_blank = line == b"\n" || line == b"\r\n";
            let text = unquote(&line);
            size += text.len() as u64;
            if size <= self.max_bytes {
                raw.extend_from_slice(text);
            }
        }
        // The blank line before a separator belongs to the mbox, not to the mail.
        if self.pending.is_some() {
            trim_one_blank_line(&mut raw);
        }
        if size > self.max_bytes {
            return Ok(Some(MboxItem::TooLarge {
                line: start,
                bytes: size,
            }));
        }
        if raw.is_empty() && self.pending.is_none() {
            return Ok(None);
        }
        start = start.max(1);
        Ok(Some(MboxItem::Mail { line: start, raw }))
    }

    /// Reads up to the first separator line; text before it is not part of any mail.
    fn skip_to_first(&mut self) -> std::io::Result<Option<usize>> {
        if self.started {
            return Ok(None);
        }
        self.started = true;
        let mut line = Vec::new();
        loop {
            line.clear();
            if self.reader.read_until(b'\n', &mut line)? == 0 {
                return Ok(None);
            }
            self.line_number += 1;
            if line.starts_with(b"From ") {
                return Ok(Some(self.line_number));
            }
        }
    }
}

/// Drops one `>` from a `>From ` line (mboxrd quoting, also right for `>>From `).
fn unquote(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|byte| **byte == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") {
        &line[1..]
    } else {
        line
    }
}

fn trim_one_blank_line(raw: &mut Vec<u8>) {
    if raw.ends_with(b"\r\n\r\n") {
        raw.truncate(raw.len() - 2);
    } else if raw.ends_with(b"\n\n") {
        raw.truncate(raw.len() - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str, max: u64) -> Vec<MboxItem> {
        let mut reader = MboxReader::new(text.as_bytes(), max);
        let mut items = Vec::new();
        while let Some(item) = reader.next_item().unwrap() {
            items.push(item);
        }
        items
    }

    #[test]
    fn splits_and_unquotes() {
        let text = "From a@x Mon Jan 1 00:00:00 2001\nSubject: one\n\n>From here\nbody\n\nFrom b@y Tue Jan 2 00:00:00 2001\nSubject: two\n\n>>From quoted twice\n";
        let found = items(text, 1000);
        assert_eq!(
            found,
            vec![
                MboxItem::Mail {
                    line: 1,
                    raw: b"Subject: one\n\nFrom here\nbody\n".to_vec()
                },
                MboxItem::Mail {
                    line: 7,
                    raw: b"Subject: two\n\n>From quoted twice\n".to_vec()
                },
            ]
        );
    }

    #[test]
    fn from_line_inside_a_paragraph_is_text() {
        let text = "From a@x\nSubject: one\n\nline\nFrom me to you\n";
        let found = items(text, 1000);
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn oversized_mail_is_reported_and_the_next_read() {
        let text = format!(
            "From a@x\nSubject: big\n\n{}\n\nFrom b@y\nSubject: small\n\nok\n",
            "x".repeat(500)
        );
        let found = items(&text, 100);
        assert!(matches!(found[0], MboxItem::TooLarge { line: 1, .. }));
        assert!(matches!(&found[1], MboxItem::Mail { line: 6, .. }));
    }

    #[test]
    fn empty_input_has_no_mail() {
        assert!(items("", 100).is_empty());
        assert!(items("no separator at all\n", 100).is_empty());
    }
}
