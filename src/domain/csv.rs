//! CSV as spreadsheets write it (RFC 4180): a header row, `,` or `;` between fields (whichever
//! the header uses more), fields in double quotes may hold separators, quotes (doubled) and
//! line breaks; UTF-8 with or without a byte-order mark; `\n` or `\r\n` line ends.

/// One record and the line of the file it starts on (1 = the header).
#[derive(Debug, PartialEq, Eq)]
pub struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// Reads records one at a time from text already in memory.
pub struct Reader<'a> {
    rest: &'a str,
    sep: char,
    line: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `text`, the separator chosen from its first line.
    pub fn new(text: &'a str) -> Reader<'a> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let first = text.split('\n').next().unwrap_or("");
        let count = |c: char| first.chars().filter(|&x| x == c).count();
        let sep = if count(';') > count(',') { ';' } else { ',' };
        Reader {
            rest: text,
            sep,
            line: 1,
        }
    }

    pub fn separator(&self) -> char {
        self.sep
    }
}

impl Iterator for Reader<'_> {
    /// A record, or the line of a record whose quotes never close (the rest is unreadable).
    type Item = Result<Record, usize>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let start = self.line;
            let mut fields = Vec::new();
            let mut field = String::new();
            let mut chars = self.rest.char_indices().peekable();
            let mut quoted = false;
            let mut consumed = self.rest.len();
            let mut ended = false;
            while let Some((i, c)) = chars.next() {
                if quoted {
                    match c {
                        '"' if chars.peek().is_some_and(|&(_, n)| n == '"') => {
                            chars.next();
                            field.push('"');
                        }
                        '"' => quoted = false,
                        '\n' => {
                            self.line += 1;
                            field.push('\n');
                        }
                        _ => field.push(c),
                    }
                    continue;
                }
                match c {
                    '"' if field.is_empty() => quoted = true,
                    '\r' if chars.peek().is_some_and(|&(_, n)| n == '\n') => {}
                    '\n' => {
                        self.line += 1;
                        consumed = i + 1;
                        ended = true;
                        break;
                    }
                    c if c == self.sep => fields.push(std::mem::take(&mut field)),
                    _ => field.push(c),
                }
            }
            if quoted {
                self.rest = "";
                return Some(Err(start));
            }
            self.rest = if ended { &self.rest[consumed..] } else { "" };
            fields.push(field);
            // Blank lines (a trailing newline, spacing between blocks) are not records.
            if fields.len() == 1 && fields[0].trim().is_empty() {
                continue;
            }
            return Some(Ok(Record {
                line: start,
                fields,
            }));
        }
    }
}

/// A field for a CSV line: quoted when it holds a separator, quote or line break, and
/// prefixed with `'` when a spreadsheet would run it as a formula (CSV injection).
pub fn field(out: &mut String, v: &str) {
    let formula = v.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let v = if formula && !looks_like_phone(v) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', ';', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&v);
    }
}

/// A field as it was before `field` guarded it: the `'` before a formula character goes, so
/// an exported file imports back unchanged.
pub fn unguard(v: &str) -> &str {
    match v.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => v,
    }
}

/// `+79123456789; +4915…` stays as it is: a leading `+` before digits is a phone, not a formula.
fn looks_like_phone(v: &str) -> bool {
    v.starts_with('+')
        && v[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | ';' | '+'))
}

/// A whole CSV line (with `\r\n`, as spreadsheets expect).
pub fn line(out: &mut String, fields: &[&str]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, f);
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<Result<Record, usize>> {
        Reader::new(text).collect()
    }

    #[test]
    fn quotes_separators_bom_and_line_numbers() {
        let text =
            "\u{feff}name;phone\r\n\"Smith; Anna\";+7 912\r\n\r\n\"multi\nline \"\"x\"\"\";8 912\n";
        let r = Reader::new(text);
        assert_eq!(r.separator(), ';');
        let recs: Vec<_> = r.map(|r| r.unwrap()).collect();
        assert_eq!(recs[0].fields, vec!["name", "phone"]);
        assert_eq!(
            (recs[1].line, recs[1].fields[0].as_str()),
            (2, "Smith; Anna")
        );
        assert_eq!(recs[2].line, 4);
        assert_eq!(recs[2].fields, vec!["multi\nline \"x\"", "8 912"]);
        assert_eq!(recs.len(), 3);
    }

    #[test]
    fn an_unclosed_quote_names_its_line_and_no_last_newline_is_fine() {
        let r = all("a,b\n1,2\n\"open,3\n4,5");
        assert_eq!(
            r[1],
            Ok(Record {
                line: 2,
                fields: vec!["1".into(), "2".into()]
            })
        );
        assert_eq!(r[2], Err(3));
        assert_eq!(r.len(), 3);
        let r = all("a,b\n1,\"\"");
        assert_eq!(
            r[1],
            Ok(Record {
                line: 2,
                fields: vec!["1".into(), String::new()]
            })
        );
    }

    #[test]
    fn written_fields_read_back_and_formulas_are_defused() {
        let mut out = String::new();
        line(
            &mut out,
            &["a,b", "say \"hi\"", "=SUM(A1)", "+79123456789", "x\ny"],
        );
        let recs: Vec<_> = Reader::new(&out).map(|r| r.unwrap()).collect();
        assert_eq!(
            recs[0].fields,
            vec!["a,b", "say \"hi\"", "'=SUM(A1)", "+79123456789", "x\ny"]
        );
        assert_eq!(unguard("'=SUM(A1)"), "=SUM(A1)");
        assert_eq!(unguard("'quoted"), "'quoted");
    }
}
