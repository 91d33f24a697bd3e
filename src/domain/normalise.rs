//! Normal forms used for matching contacts across channels (and, later, for search).

/// Phone numbers as digits only, international form without '+'. "00" (the international
/// call prefix) is dropped, and Russian/Kazakh national numbers written with the trunk
/// prefix 8 (8 912 345-67-89) become 7…, since both forms name the same subscriber.
pub fn phone(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let d = digits.strip_prefix("00").unwrap_or(&digits);
    let d = if d.len() == 11 && d.starts_with('8') && !raw.trim_start().starts_with('+') {
        format!("7{}", &d[1..])
    } else {
        d.to_string()
    };
    (6..=15).contains(&d.len()).then_some(d)
}

/// E-mail addresses lowercased and trimmed; None unless it looks like local@domain.
pub fn email(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(e)
}

/// Free text from outside (names, tags): trimmed, control characters removed, bounded.
pub fn text(raw: &str, max_chars: usize) -> String {
    raw.trim()
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .take(max_chars)
        .collect()
}

/// A one-line preview of a message for the chat list.
pub fn preview(text: &str) -> String {
    let one: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(120)
        .collect();
    one
}

/// Whether two names are the same ignoring case in any script ("Привет" and "ПРИВЕТ").
pub fn same_text(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        assert_eq!(phone("+7 (912) 345-67-89").as_deref(), Some("79123456789"));
        assert_eq!(phone("8 912 345 67 89").as_deref(), Some("79123456789"));
        assert_eq!(phone("0049 30 1234567").as_deref(), Some("49301234567"));
        assert_eq!(phone("+1 415 555 0100").as_deref(), Some("14155550100"));
        assert_eq!(phone("12"), None);
        assert_eq!(phone("call me"), None);
    }

    #[test]
    fn emails() {
        assert_eq!(
            email(" Olga.P@Example.COM ").as_deref(),
            Some("olga.p@example.com")
        );
        assert_eq!(email("nope"), None);
        assert_eq!(email("a@b"), None);
    }

    #[test]
    fn previews_and_text() {
        assert_eq!(preview("a\n\n b\tc"), "a b c");
        assert_eq!(text(" x\u{0}y ", 10), "xy");
        assert_eq!(text("абвгд", 3), "абв");
    }
}
