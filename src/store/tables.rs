//! Every redb table, named `<key>_<value>`. All tables map bytes to bytes (keys from
//! `codec::Key`, values from `codec::encode`), which lets backup copy any table generically
//! and keeps type names out of the file format.

use redb::TableDefinition;

pub type Table = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// Schema version, id sequences and other single values.
pub const META: Table = TableDefinition::new("meta");
pub const MANAGERS: Table = TableDefinition::new("managerid_manager");
pub const MANAGER_LOGINS: Table = TableDefinition::new("login_managerid");
/// Key: SHA-256 of the session token (the token itself is never stored).
pub const SESSIONS: Table = TableDefinition::new("sessionhash_session");
/// Key: manager id ++ session hash, for revoking every session of a manager.
pub const MANAGER_SESSIONS: Table = TableDefinition::new("managerid_sessionhash");
/// Key: SHA-256 of the API token.
pub const API_TOKENS: Table = TableDefinition::new("tokenhash_apitoken");

pub const EVENTS: Table = TableDefinition::new("seq_event");

pub const CONTACTS: Table = TableDefinition::new("contactid_contact");
pub const CHATS: Table = TableDefinition::new("chatid_chat");
/// contact id ++ chat id
pub const CONTACT_CHATS: Table = TableDefinition::new("contactid_chatid");
/// channel id ++ the client's id on that channel → chat id
pub const CHANNEL_CHATS: Table = TableDefinition::new("channelclient_chatid");
/// chat id ++ message id → message
pub const MESSAGES: Table = TableDefinition::new("chatmsg_message");
pub const MESSAGE_CHATS: Table = TableDefinition::new("messageid_chatid");
/// channel id ++ external message id → message id ++ chat id (inbound dedupe)
pub const EXT_MESSAGES: Table = TableDefinition::new("channelextmsg_messagechat");
/// normalised phone ++ contact id
pub const PHONE_CONTACTS: Table = TableDefinition::new("phone_contactid");
/// normalised e-mail ++ contact id
pub const EMAIL_CONTACTS: Table = TableDefinition::new("email_contactid");
/// List sections: last activity ++ contact id → ()
pub const SEC_ALL: Table = TableDefinition::new("sec_all");
pub const SEC_UNREAD: Table = TableDefinition::new("sec_unread");
pub const SEC_IMPORTANT: Table = TableDefinition::new("sec_important");
pub const SEC_DIALOGS: Table = TableDefinition::new("sec_dialogs");
pub const TASKS: Table = TableDefinition::new("taskid_task");
pub const CONTACT_TASKS: Table = TableDefinition::new("contactid_taskid");
pub const DIALOGS: Table = TableDefinition::new("dialogid_dialog");
pub const CONTACT_DIALOGS: Table = TableDefinition::new("contactid_dialogid");
/// manager id ++ notification id → notification
pub const NOTIFICATIONS: Table = TableDefinition::new("managernotif_notification");
/// contact id ++ log id → entry
pub const CONTACT_LOG: Table = TableDefinition::new("contactlog_entry");
/// manager id ++ chat id → draft
pub const DRAFTS: Table = TableDefinition::new("managerchat_draft");
/// due time ++ message id → delivery
pub const OUTBOX: Table = TableDefinition::new("duemsg_delivery");
/// message id → due time of its delivery in OUTBOX (finds a message's pending delivery)
pub const OUTBOX_DUE: Table = TableDefinition::new("msg_outboxdue");
/// sha256 hex → blob metadata
pub const BLOBS: Table = TableDefinition::new("sha256_blob");
/// token id → token hash
pub const TOKEN_IDS: Table = TableDefinition::new("tokenid_tokenhash");

/// seq → changed contact or message, for the search indexer
pub const SEARCH_LOG: Table = TableDefinition::new("seq_searchchange");

pub const SAVED_FILTERS: Table = TableDefinition::new("filterid_savedfilter");
/// lowercased plan name → plan
pub const PLANS: Table = TableDefinition::new("planname_plan");

/// Key: SHA-256 of a widget visitor's token (the token itself is never stored).
pub const VISITORS: Table = TableDefinition::new("tokenhash_visitor");

/// channel id → what Settings shows about it (last inbound, last error, pause)
pub const CHANNEL_STATES: Table = TableDefinition::new("channelid_channelstate");
/// channel id ++ external message id → a receipt that came before its send was recorded
pub const EARLY_RECEIPTS: Table = TableDefinition::new("channelextmsg_receipt");
/// sha256 hex ++ owner (`v<visitor id>` / `m<manager id>`) → upload: who may attach a file
/// they uploaded (visitors only their own), and what the sweep may delete when unattached.
pub const UPLOADS: Table = TableDefinition::new("sha256owner_upload");
/// sha256 hex → (): the blob is in a message or came from a channel; the sweep never deletes it.
pub const KEPT_BLOBS: Table = TableDefinition::new("sha256_kept");
/// contact id ++ other contact id → merge suggestion (stored on both sides).
pub const MERGE_SUGGESTIONS: Table = TableDefinition::new("contactother_mergesuggestion");

/// funnel id → funnel (B1)
pub const FUNNELS: Table = TableDefinition::new("funnelid_funnel");
/// run id → one client's run through a funnel
pub const RUNS: Table = TableDefinition::new("runid_run");
/// contact id ++ run id → (): a client's runs, for the card and for cancelling them
pub const CONTACT_RUNS: Table = TableDefinition::new("contactid_runid");
/// funnel id ++ run id → (): a funnel's runs, for its step counts and for stopping them
pub const FUNNEL_RUNS: Table = TableDefinition::new("funnelid_runid");
/// due ms ++ run id → (): waiting runs in the order the scheduler fires them
pub const RUNS_DUE: Table = TableDefinition::new("duems_runid");
/// funnel id ++ contact id → (hour start ms, sends in that hour): the per-client send cap
pub const FUNNEL_SENDS: Table = TableDefinition::new("funnelcontact_sends");

/// broadcast id → broadcast (B3)
pub const BROADCASTS: Table = TableDefinition::new("broadcastid_broadcast");
/// broadcast id ++ contact id → what became of that client
pub const BROADCAST_TARGETS: Table = TableDefinition::new("broadcastcontact_target");

/// message id → the WhatsApp template (parameters rendered) the outbox sends for that bot
/// message instead of its text; the message's text only describes it for the history.
pub const MESSAGE_WA_TEMPLATES: Table = TableDefinition::new("messageid_watemplate");

/// lowercased template name → chat template made in the UI (A3)
pub const TEMPLATES: Table = TableDefinition::new("templatename_template");

/// chat id → the AI assistant's state in that chat (B2): history start, pause, owed answer
pub const ASSISTANT_CHATS: Table = TableDefinition::new("chatid_assistantchat");
/// due ms ++ chat id → (): answers the assistant owes, in the order they come due
pub const ASSISTANT_DUE: Table = TableDefinition::new("duems_assistantchat");
/// assistant id → usage over every chat and the last error, for Settings
pub const ASSISTANT_STATS: Table = TableDefinition::new("assistantid_stats");
/// manager id ++ contact id → (): the manager's open conversations (T1: assigned to them,
/// not archived, with unread client messages or an open dialog), for the assignment cap
/// and "fewest open".
pub const ASSIGNED_OPEN: Table = TableDefinition::new("managercontact_open");

/// quick reply id → quick reply (T2)
pub const REPLIES: Table = TableDefinition::new("replyid_reply");

/// chat id → where the chat stands for report figures (T3)
pub const REPORT_CHATS: Table = TableDefinition::new("chatid_reportstate");
/// UTC hour ++ channel id ++ manager id → that hour's figures (T3)
pub const ROLLUPS: Table = TableDefinition::new("hourchannelmanager_rollup");

/// manager id ++ last activity ++ contact id → (): each manager's clients in the list (T1),
/// so "assigned to me" reads the store at once rather than the search index a moment later
pub const ASSIGNED_LIST: Table = TableDefinition::new("manageractivitycontact");
/// order id → order (A2)
pub const ORDERS: Table = TableDefinition::new("orderid_order");
/// contact id ++ order id → (): a client's orders
pub const CONTACT_ORDERS: Table = TableDefinition::new("contactid_orderid");
/// lowercased plan name ++ order id → (): a plan's board
pub const PLAN_ORDERS: Table = TableDefinition::new("planorder_orderid");
/// merged-away contact id → the id of the contact it was merged into
pub const MERGED: Table = TableDefinition::new("contactid_mergedinto");

/// job id → job (imports and bulk actions, with their progress)
pub const JOBS: Table = TableDefinition::new("jobid_job");
/// job id ++ batch number → the client ids of a bulk action's batch still to do
pub const JOB_BATCHES: Table = TableDefinition::new("jobbatch_ids");

/// Tables that must exist after start-up, so read transactions never meet a missing table.
pub const ALL: &[Table] = &[
    META,
    MANAGERS,
    MANAGER_LOGINS,
    SESSIONS,
    MANAGER_SESSIONS,
    API_TOKENS,
    EVENTS,
    CONTACTS,
    CHATS,
    CONTACT_CHATS,
    CHANNEL_CHATS,
    MESSAGES,
    MESSAGE_CHATS,
    EXT_MESSAGES,
    PHONE_CONTACTS,
    EMAIL_CONTACTS,
    SEC_ALL,
    SEC_UNREAD,
    SEC_IMPORTANT,
    SEC_DIALOGS,
    TASKS,
    CONTACT_TASKS,
    DIALOGS,
    CONTACT_DIALOGS,
    NOTIFICATIONS,
    CONTACT_LOG,
    DRAFTS,
    OUTBOX,
    OUTBOX_DUE,
    BLOBS,
    TOKEN_IDS,
    SEARCH_LOG,
    SAVED_FILTERS,
    PLANS,
    VISITORS,
    CHANNEL_STATES,
    EARLY_RECEIPTS,
    UPLOADS,
    KEPT_BLOBS,
    MERGE_SUGGESTIONS,
    FUNNELS,
    RUNS,
    CONTACT_RUNS,
    FUNNEL_RUNS,
    RUNS_DUE,
    FUNNEL_SENDS,
    BROADCASTS,
    BROADCAST_TARGETS,
    MESSAGE_WA_TEMPLATES,
    TEMPLATES,
    ASSISTANT_CHATS,
    ASSISTANT_DUE,
    ASSISTANT_STATS,
    ASSIGNED_OPEN,
    REPLIES,
    ASSIGNED_LIST,
    REPORT_CHATS,
    ROLLUPS,
    ORDERS,
    CONTACT_ORDERS,
    JOBS,
    JOB_BATCHES,
    PLAN_ORDERS,
    MERGED,
];
