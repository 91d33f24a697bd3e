mod actions;
mod api_channel;
mod card;
mod lists;
mod notes;
mod outbox;
mod realtime;
mod rows;
