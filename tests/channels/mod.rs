pub mod telegram;
pub mod viber;
pub mod whatsapp;
pub mod widget;
