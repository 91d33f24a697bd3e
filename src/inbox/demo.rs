//! Seeded synthetic data: realistic clients (Latin and Cyrillic names, phones of several
//! countries, e-mails), chats on every channel kind, message histories, tasks and tags. Used by
//! `parley demo` so a newcomer sees a living inbox, and by the benchmarks. Writes go through
//! the normal store functions (so every index and section is maintained), in large batches.

use crate::domain::inbox::{Chat, Contact, Kind, Message, Status, Task};
use crate::error::Result;
use crate::store::inbox as db;
use crate::store::{Store, W};

/// xorshift64*: tiny, fast and reproducible for a given seed (no crate needed for fake data).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const FIRST_LATIN: &[&str] = &[
    "Anna", "Maria", "José", "Lucía", "John", "Emma", "Olivia", "Liam", "Noah", "Sofia", "Chloé",
    "Zoë", "Mateo", "Hannah", "Lukas", "Amélie", "Björn", "Joanna", "Piotr", "Ana", "Diego",
    "Fatima", "Omar", "Yusuf", "Elif", "Mehmet", "Priya", "Arjun", "Wei", "Hiroshi",
];
const LAST_LATIN: &[&str] = &[
    "Smith",
    "García",
    "Müller",
    "Kowalski",
    "Rossi",
    "Dubois",
    "Silva",
    "Johnson",
    "Nowak",
    "Fernández",
    "López",
    "Schmidt",
    "Novák",
    "Andersson",
    "Yılmaz",
    "Kumar",
    "Chen",
    "Tanaka",
    "O'Brien",
    "van Dijk",
];
const FIRST_CYR: &[&str] = &[
    "Анна",
    "Мария",
    "Алёна",
    "Ольга",
    "Иван",
    "Пётр",
    "Сергей",
    "Дмитрий",
    "Елена",
    "Наталья",
    "Алексей",
    "Юлия",
    "Татьяна",
    "Михаил",
    "Светлана",
    "Артём",
    "Ксения",
    "Фёдор",
];
const LAST_CYR: &[&str] = &[
    "Кузнецова",
    "Иванова",
    "Петрова",
    "Смирнова",
    "Соколова",
    "Попова",
    "Волкова",
    "Фёдорова",
    "Морозова",
    "Лебедева",
    "Новикова",
    "Орлова",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "mail.example.org",
    "corp.example.net",
    "shop.example",
    "inbox.example.ru",
];
const TAGS: &[&str] = &[
    "vip",
    "wholesale",
    "new",
    "returning",
    "complaint",
    "b2b",
    "newsletter",
];
const PLANS: &[&str] = &["Retail", "Wholesale", "Enterprise"];
const CLIENT_TEXTS: &[&str] = &[
    "Hello! Is the order shipped?",
    "Где мой заказ?",
    "Can I change the delivery address?",
    "Спасибо, всё получил",
    "Do you have this in blue?",
    "Какая стоимость доставки в Пермь?",
    "I'd like a refund please",
    "Подскажите, когда будет в наличии?",
    "Thanks for the quick reply!",
    "¿Tienen envío a Madrid?",
];
const MANAGER_TEXTS: &[&str] = &[
    "Your order is on its way.",
    "Заказ передан курьеру.",
    "Sure, I have updated the address.",
    "Пожалуйста! Обращайтесь.",
    "Yes, blue is in stock.",
    "Доставка в Пермь — 350 ₽.",
];
/// (channel id, kind) of the demo channels; `parley demo` prints matching config.
pub const CHANNELS: &[(&str, &str)] = &[
    ("telegram-main", "telegram"),
    ("whatsapp-main", "whatsapp"),
    ("viber-main", "viber"),
    ("site", "widget"),
    ("crm", "api"),
];

fn phone(r: &mut Rng) -> String {
    match r.below(5) {
        0 => format!(
            "+7 9{:02} {:03}-{:02}-{:02}",
            r.below(100),
            r.below(1000),
            r.below(100),
            r.below(100)
        ),
        1 => format!(
            "8 9{:02} {:03} {:02} {:02}",
            r.below(100),
            r.below(1000),
            r.below(100),
            r.below(100)
        ),
        2 => format!(
            "+1 ({}{:02}) 555-{:04}",
            2 + r.below(8),
            r.below(100),
            r.below(10_000)
        ),
        3 => format!("+49 30 {:07}", r.below(10_000_000)),
        _ => format!(
            "+34 6{:02} {:03} {:03}",
            r.below(100),
            r.below(1000),
            r.below(1000)
        ),
    }
}

fn translit(s: &str) -> String {
    const MAP: &[(char, &str)] = &[
        ('а', "a"),
        ('б', "b"),
        ('в', "v"),
        ('г', "g"),
        ('д', "d"),
        ('е', "e"),
        ('ё', "e"),
        ('ж', "zh"),
        ('з', "z"),
        ('и', "i"),
        ('й', "y"),
        ('к', "k"),
        ('л', "l"),
        ('м', "m"),
        ('н', "n"),
        ('о', "o"),
        ('п', "p"),
        ('р', "r"),
        ('с', "s"),
        ('т', "t"),
        ('у', "u"),
        ('ф', "f"),
        ('х', "h"),
        ('ц', "ts"),
        ('ч', "ch"),
        ('ш', "sh"),
        ('щ', "sch"),
        ('ы', "y"),
        ('э', "e"),
        ('ю', "yu"),
        ('я', "ya"),
        ('ь', ""),
        ('ъ', ""),
    ];
    s.to_lowercase()
        .chars()
        .map(|c| {
            MAP.iter()
                .find(|(k, _)| *k == c)
                .map(|(_, v)| v.to_string())
                .unwrap_or_else(|| {
                    if c.is_ascii_alphanumeric() {
                        c.to_string()
                    } else {
                        match c {
                            'é' | 'è' | 'ë' => "e".into(),
                            'á' | 'à' => "a".into(),
                            'í' | 'ı' => "i".into(),
                            'ó' | 'ö' => "o".into(),
                            'ú' | 'ü' => "u".into(),
                            'ç' => "c".into(),
                            'ñ' => "n".into(),
                            _ => String::new(),
                        }
                    }
                })
        })
        .collect()
}

/// One synthetic client with their chats' identities.
pub fn contact(r: &mut Rng, n: u64, now: i64) -> Contact {
    let cyr = r.chance(40);
    let (first, last) = if cyr {
        (*r.pick(FIRST_CYR), *r.pick(LAST_CYR))
    } else {
        (*r.pick(FIRST_LATIN), *r.pick(LAST_LATIN))
    };
    let name = format!("{first} {last}");
    let mut c = Contact {
        name,
        created_ms: now - r.below(365 * 86_400_000) as i64,
        ..Default::default()
    };
    if r.chance(80) {
        c.phones.push(
            crate::domain::normalise::phone(&phone(r)).unwrap_or_else(|| format!("7900{n:07}")),
        );
    }
    if r.chance(60) {
        c.emails.push(format!(
            "{}.{}{}@{}",
            translit(first),
            translit(last),
            n,
            r.pick(DOMAINS)
        ));
    }
    if r.chance(30) {
        c.tags.push(r.pick(TAGS).to_string());
    }
    if r.chance(20) {
        c.sales_plan = Some(r.pick(PLANS).to_string());
    }
    c
}

pub struct Report {
    pub contacts: u64,
    pub chats: u64,
    pub messages: u64,
}

/// Fill `store` with `contacts` clients (~2 chats each) and `messages` messages in total.
/// `progress` is called with the number of contacts written so far.
pub async fn generate(
    store: &Store,
    contacts: u64,
    messages: u64,
    seed: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report> {
    let mut rng = Rng::new(seed);
    let now = crate::store::now_ms();
    let per_contact = messages.checked_div(contacts).unwrap_or(0);
    let mut extra = messages.saturating_sub(per_contact * contacts);
    let mut report = Report {
        contacts: 0,
        chats: 0,
        messages: 0,
    };
    let mut done = 0u64;
    while done < contacts {
        let batch = (contacts - done).min(500);
        // Plan the batch outside the writer (plain data), then write it in one transaction.
        let mut plan = Vec::with_capacity(batch as usize);
        for i in 0..batch {
            let n = done + i;
            let c = contact(&mut rng, n, now);
            let chats = if rng.chance(50) {
                2
            } else {
                1 + rng.below(2) + rng.below(2)
            };
            let chans: Vec<(&str, &str)> = (0..chats).map(|_| *rng.pick(CHANNELS)).collect();
            let mut msgs = per_contact;
            if extra > 0 {
                msgs += 1;
                extra -= 1;
            }
            let texts: Vec<(Kind, String, i64, usize)> = (0..msgs)
                .map(|k| {
                    let kind = if rng.chance(55) {
                        Kind::Client
                    } else {
                        Kind::Manager
                    };
                    let t = if kind == Kind::Client {
                        rng.pick(CLIENT_TEXTS)
                    } else {
                        rng.pick(MANAGER_TEXTS)
                    };
                    let ts = c.created_ms + (k as i64) * 60_000 + rng.below(50_000) as i64;
                    (kind, t.to_string(), ts, rng.below(chats) as usize)
                })
                .collect();
            let task = rng.chance(5);
            plan.push((n, c, chans, texts, task));
        }
        let r = store.write(move |w| write_batch(w, &plan)).await?;
        report.contacts += r.0;
        report.chats += r.1;
        report.messages += r.2;
        done += batch;
        progress(done);
    }
    Ok(report)
}

type Planned = (
    u64,
    Contact,
    Vec<(&'static str, &'static str)>,
    Vec<(Kind, String, i64, usize)>,
    bool,
);

fn write_batch(w: &W, plan: &[Planned]) -> Result<(u64, u64, u64)> {
    let (mut nc, mut nch, mut nm) = (0, 0, 0);
    for (n, c, chans, texts, task) in plan {
        let stored = db::new_contact(w, c.clone())?;
        let mut contact = stored.clone();
        let mut chats = Vec::new();
        for (i, (id, kind)) in chans.iter().enumerate() {
            let chat = db::new_chat(
                w,
                &mut contact,
                Chat {
                    channel_id: id.to_string(),
                    channel_kind: kind.to_string(),
                    external_id: format!("demo-{n}-{i}"),
                    created_ms: c.created_ms,
                    ..Default::default()
                },
            )?;
            chats.push(chat);
            nch += 1;
        }
        for (kind, text, ts, which) in texts {
            let chat = &mut chats[*which];
            db::append_message(
                w,
                chat,
                &mut contact,
                Message {
                    id: 0,
                    chat_id: 0,
                    kind: *kind,
                    text: text.clone(),
                    attachments: vec![],
                    author: None,
                    created_ms: *ts,
                    status: (*kind == Kind::Manager).then_some(Status::Read),
                    error: None,
                    edited: false,
                    mentions: vec![],
                    event: None,
                    external_id: None,
                },
            )?;
            nm += 1;
        }
        // Old conversations are read; the last one of a few clients is not.
        for chat in &mut chats {
            if !(n % 7 == 0 && chat.last_inbound_ms == chat.last_activity_ms) {
                contact.unread -= chat.unread.min(contact.unread);
                chat.unread = 0;
            }
            db::put_chat(w, chat)?;
        }
        if *task {
            let t = Task {
                id: w.next_id("task")?,
                contact_id: contact.id,
                title: "Call back about the order".into(),
                due_ms: Some(contact.last_activity_ms + 86_400_000),
                assignee: None,
                done: false,
                created_ms: contact.last_activity_ms,
                created_by: None,
            };
            db::put_task(w, &t)?;
            contact.open_tasks += 1;
        }
        db::put_contact(w, Some(&stored), &contact)?;
        nc += 1;
    }
    Ok((nc, nch, nm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn generation_is_reproducible_and_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let r = generate(&store, 300, 1000, 7, &|_| {}).await.unwrap();
        assert_eq!((r.contacts, r.messages), (300, 1000));
        assert!(r.chats >= 300);
        use crate::store::inbox::InboxReads;
        let counts = store.read(|r| r.counts()).unwrap();
        assert_eq!(counts.all, 300);
        assert!(counts.unread > 0 && counts.unread < 300);
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        assert_eq!(contact(&mut a, 1, 0).name, contact(&mut b, 1, 0).name);
        assert_eq!(translit("Алёна Кузнецова"), "alenakuznetsova");
    }
}
