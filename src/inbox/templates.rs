//! Chat templates (A3): those of the config file's `[[templates]]` (read-only) and those
//! managers make in the UI (stored). Funnels and broadcasts use both, by name, as they are
//! at send time; the composer's Variables button lists both.

use std::sync::{Arc, RwLock};

use super::Inbox;
use crate::domain::inbox::Template;
use crate::domain::manager::ManagerId;
use crate::domain::normalise;
use crate::error::{Error, Result};
use crate::store;
use crate::store::templates as db_t;

const MAX_NAME: usize = 100;
const MAX_TEXT: usize = 4096;

/// Every template by (name, text): the config's first, then the stored ones.
#[derive(Default)]
pub struct Templates {
    config: Vec<(String, String)>,
    all: RwLock<Arc<Vec<(String, String)>>>,
}

impl Templates {
    pub fn new(config: Vec<(String, String)>) -> Templates {
        let all = RwLock::new(Arc::new(config.clone()));
        Templates { config, all }
    }

    pub fn all(&self) -> Arc<Vec<(String, String)>> {
        self.all.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn in_config(&self, name: &str) -> bool {
        self.config
            .iter()
            .any(|(n, _)| crate::domain::normalise::same_text(n, name))
    }

    fn set_stored(&self, stored: Vec<Template>) {
        let mut all = self.config.clone();
        all.extend(stored.into_iter().map(|t| (t.name, t.text)));
        *self.all.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(all);
    }
}

/// A template as the Variables page lists it.
pub struct TemplateView {
    pub name: String,
    pub text: String,
    /// Set in the config file: shown, not editable here.
    pub from_config: bool,
    pub updated_ms: Option<i64>,
}

fn checked(name: &str, text: &str) -> Result<(String, String)> {
    let name = normalise::text(name, MAX_NAME + 1);
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(Error::invalid(
            "name",
            format!("must be 1 to {MAX_NAME} characters"),
        ));
    }
    let text = normalise::text(text, MAX_TEXT + 1);
    if text.is_empty() || text.chars().count() > MAX_TEXT {
        return Err(Error::invalid(
            "text",
            format!("must be 1 to {MAX_TEXT} characters"),
        ));
    }
    crate::domain::automation::check_template(&text).map_err(|m| Error::invalid("text", m))?;
    Ok((name, text))
}

impl Inbox {
    /// Read the stored templates; called once at start.
    pub fn load_templates(&self) -> Result<()> {
        let stored = self.store.read(db_t::templates)?;
        self.templates.set_stored(stored);
        Ok(())
    }

    async fn reload_templates(&self) -> Result<()> {
        let stored = self.store.query(db_t::templates).await?;
        self.templates.set_stored(stored);
        Ok(())
    }

    /// Every template, the config's first.
    pub async fn template_list(&self) -> Result<Vec<TemplateView>> {
        let stored = self.store.query(db_t::templates).await?;
        let mut out: Vec<TemplateView> = self
            .templates
            .config
            .iter()
            .map(|(name, text)| TemplateView {
                name: name.clone(),
                text: text.clone(),
                from_config: true,
                updated_ms: None,
            })
            .collect();
        out.extend(stored.into_iter().map(|t| TemplateView {
            name: t.name,
            text: t.text,
            from_config: false,
            updated_ms: Some(t.updated_ms),
        }));
        Ok(out)
    }

    pub async fn create_template(
        &self,
        manager: ManagerId,
        name: &str,
        text: &str,
    ) -> Result<Template> {
        let (name, text) = checked(name, text)?;
        if self.templates.in_config(&name) {
            return Err(Error::Conflict(format!(
                "the config file has a template {name:?}"
            )));
        }
        let t = self
            .store
            .write(move |w| {
                if db_t::template(w, &name)?.is_some() {
                    return Err(Error::Conflict(format!("a template {name:?} exists")));
                }
                let now = store::now_ms();
                let t = Template {
                    name: name.clone(),
                    text: text.clone(),
                    created_ms: now,
                    updated_ms: now,
                    created_by: Some(manager.0),
                };
                db_t::put_template(w, &t)?;
                Ok(t)
            })
            .await?;
        self.reload_templates().await?;
        Ok(t)
    }

    /// Rename and/or rewrite a stored template.
    pub async fn update_template(
        &self,
        name: &str,
        new_name: Option<&str>,
        text: Option<&str>,
    ) -> Result<Template> {
        if self.templates.in_config(name) {
            return Err(Error::Conflict(format!(
                "{name:?} is set in the config file; change it there"
            )));
        }
        let old_name = name.to_string();
        let new_name = new_name.map(str::to_string);
        let text = text.map(str::to_string);
        let from_config = new_name
            .as_deref()
            .is_some_and(|n| self.templates.in_config(n));
        let t = self
            .store
            .write(move |w| {
                let old = db_t::template(w, &old_name)?
                    .ok_or_else(|| Error::NotFound(format!("template {old_name:?}")))?;
                let (name, text) = checked(
                    new_name.as_deref().unwrap_or(&old.name),
                    text.as_deref().unwrap_or(&old.text),
                )?;
                if name.to_lowercase() != old.name.to_lowercase() {
                    if from_config || db_t::template(w, &name)?.is_some() {
                        return Err(Error::Conflict(format!("a template {name:?} exists")));
                    }
                    db_t::delete_template(w, &old.name)?;
                }
                let t = Template {
                    name,
                    text,
                    updated_ms: store::now_ms(),
                    ..old
                };
                db_t::put_template(w, &t)?;
                Ok(t)
            })
            .await?;
        self.reload_templates().await?;
        Ok(t)
    }

    pub async fn delete_template(&self, name: &str) -> Result<()> {
        if self.templates.in_config(name) {
            return Err(Error::Conflict(format!(
                "{name:?} is set in the config file; remove it there"
            )));
        }
        let n = name.to_string();
        let gone = self
            .store
            .write(move |w| db_t::delete_template(w, &n))
            .await?;
        if !gone {
            return Err(Error::NotFound(format!("template {name:?}")));
        }
        self.reload_templates().await
    }
}
