//! Variables in funnel sends and chat templates: `{client.name}`, `{client.phone}` (as
//! `+digits`), `{client.email}`, `{manager.name}` and `{client.field.<name>}` (a custom
//! field). The first four are what the composer's `fillTemplate` (web/js/chats/composer.js)
//! fills, so a template reads the same typed by a manager or sent by a funnel.
//!
//! What counts as a placeholder: `{` + a name starting with an ASCII letter, without spaces
//! or braces, + `}`; or `{client.field.` + any name + `}`. Such a placeholder must name a
//! known variable (a typo like `{client.nmae}` is refused when the funnel is saved, instead
//! of reaching a client as is); other braces (`{ }`, `{:-)}`) are plain text.

use std::collections::BTreeMap;

use crate::domain::inbox::Contact;

const FIELD_PREFIX: &str = "client.field.";
const KNOWN: &[&str] = &[
    "client.name",
    "client.phone",
    "client.email",
    "manager.name",
];

/// The values a template is filled with; a missing one renders as empty.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vars {
    pub client_name: Option<String>,
    /// Digits only, as contacts store phones; rendered with a leading '+'.
    pub client_phone: Option<String>,
    pub client_email: Option<String>,
    pub manager_name: Option<String>,
    pub fields: BTreeMap<String, String>,
}

impl Vars {
    /// The values for a client (first phone, first e-mail) and the responsible manager.
    pub fn of(contact: &Contact, manager_name: Option<&str>) -> Vars {
        Vars {
            client_name: Some(contact.name.clone()).filter(|n| !n.is_empty()),
            client_phone: contact.phones.first().cloned(),
            client_email: contact.emails.first().cloned(),
            manager_name: manager_name.map(str::to_string),
            fields: contact.custom_fields.clone(),
        }
    }

    fn get(&self, var: &Var<'_>) -> String {
        match var {
            Var::Known("client.name") => self.client_name.clone().unwrap_or_default(),
            Var::Known("client.phone") => self
                .client_phone
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(|p| format!("+{}", p.trim_start_matches('+')))
                .unwrap_or_default(),
            Var::Known("client.email") => self.client_email.clone().unwrap_or_default(),
            Var::Known("manager.name") => self.manager_name.clone().unwrap_or_default(),
            Var::Known(_) => String::new(),
            // Custom field names are typed by people: an exact key first, then any case.
            Var::Field(name) => self
                .fields
                .get(*name)
                .or_else(|| {
                    let low = name.to_lowercase();
                    self.fields
                        .iter()
                        .find(|(k, _)| k.to_lowercase() == low)
                        .map(|(_, v)| v)
                })
                .cloned()
                .unwrap_or_default(),
        }
    }
}

enum Var<'a> {
    Known(&'static str),
    Field(&'a str),
}

/// What a placeholder `{inner}` is: None for plain text, Some(Ok) for a variable,
/// Some(Err) for a placeholder naming no variable.
fn classify(inner: &str) -> Option<Result<Var<'_>, String>> {
    if let Some(name) = inner.strip_prefix(FIELD_PREFIX) {
        let name = name.trim();
        return Some(if name.is_empty() || name.len() > 64 {
            Err(format!(
                "{{{inner}}} needs a custom field name (1–64 bytes)"
            ))
        } else {
            Ok(Var::Field(name))
        });
    }
    let looks_like_one = inner.starts_with(|c: char| c.is_ascii_alphabetic())
        && !inner.chars().any(char::is_whitespace);
    if !looks_like_one {
        return None;
    }
    Some(match KNOWN.iter().find(|k| **k == inner) {
        Some(k) => Ok(Var::Known(k)),
        None => Err(format!(
            "unknown variable {{{inner}}} (known: {}, {{client.field.<name>}})",
            KNOWN
                .iter()
                .map(|k| format!("{{{k}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    })
}

/// A piece of a template text: literal text, or a placeholder (its raw inner text and what
/// it names).
enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str, Result<Var<'a>, String>),
}

/// Walk `text` piece by piece; stops at the first error `f` returns.
fn each<'a>(
    text: &'a str,
    mut f: impl FnMut(Piece<'a>) -> Result<(), String>,
) -> Result<(), String> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        f(Piece::Text(&rest[..open]))?;
        let after = &rest[open + 1..];
        // The placeholder ends at the next '}' unless another '{' comes first.
        let close = after.find('}').filter(|c| !after[..*c].contains('{'));
        match close.and_then(|c| classify(&after[..c]).map(|v| (c, v))) {
            Some((c, v)) => {
                f(Piece::Placeholder(&after[..c], v))?;
                rest = &after[c + 1..];
            }
            None => {
                f(Piece::Text("{"))?;
                rest = after;
            }
        }
    }
    f(Piece::Text(rest))
}

/// Refuse a text that names an unknown variable (the message says which and lists the known
/// ones). Used by funnel validation; chat templates can use it too.
pub fn check_template(text: &str) -> Result<(), String> {
    each(text, |p| match p {
        Piece::Placeholder(_, Err(e)) => Err(e),
        _ => Ok(()),
    })
}

/// Fill the variables in `text`. A known variable without a value becomes empty; an unknown
/// one (in a text saved before validation existed) stays as written.
pub fn render(text: &str, vars: &Vars) -> String {
    let mut s = String::with_capacity(text.len());
    // The callback never fails, so neither does the walk.
    let _ = each(text, |p| {
        match p {
            Piece::Text(t) => s.push_str(t),
            Piece::Placeholder(_, Ok(var)) => s.push_str(&vars.get(&var)),
            Piece::Placeholder(raw, Err(_)) => {
                s.push('{');
                s.push_str(raw);
                s.push('}');
            }
        }
        Ok(())
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars {
            client_name: Some("Анна".into()),
            client_phone: Some("79123456789".into()),
            client_email: None,
            manager_name: Some("Boris".into()),
            fields: [("City".to_string(), "Perm".to_string())].into(),
        }
    }

    #[test]
    fn known_variables_render_and_missing_ones_are_empty() {
        let t = "Hi {client.name}, {manager.name} here. {client.phone} / {client.email} / {client.field.city} / {client.field.Shoe}.";
        assert_eq!(
            render(t, &vars()),
            "Hi Анна, Boris here. +79123456789 /  / Perm / ."
        );
        assert!(check_template(t).is_ok());
    }

    #[test]
    fn plain_braces_stay_text_and_unknown_names_are_refused() {
        for ok in [
            "{ }",
            "{:-)}",
            "a { b",
            "}{",
            "{{client.name}}",
            "{1st}",
            "{}",
        ] {
            assert!(check_template(ok).is_ok(), "{ok}");
        }
        assert_eq!(render("{{client.name}}", &vars()), "{Анна}");
        assert_eq!(render("{:-)} {", &vars()), "{:-)} {");
        let e = check_template("Hello {client.nmae}").expect_err("typo");
        assert!(
            e.contains("{client.nmae}") && e.contains("{client.name}"),
            "{e}"
        );
        assert!(check_template("{name}").is_err());
        assert!(check_template("{client.field.}").is_err());
        // Rendering a text that was never checked leaves the unknown placeholder alone.
        assert_eq!(render("x {name} y", &vars()), "x {name} y");
    }

    #[test]
    fn vars_of_a_contact() {
        let c = Contact {
            name: "Ivan".into(),
            phones: vec!["4930123456".into()],
            emails: vec!["i@example.com".into()],
            ..Contact::default()
        };
        let v = Vars::of(&c, None);
        assert_eq!(
            render(
                "{client.name} {client.phone} {client.email} [{manager.name}]",
                &v
            ),
            "Ivan +4930123456 i@example.com []"
        );
    }
}
