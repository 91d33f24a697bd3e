#!/usr/bin/env python3
"""Writes the starting corpus of every fuzz target into tests/fuzz/corpus/<target>/seed-*.

The inputs mirror the fixtures in tests/channels/*.rs, tests/inbox/api_channel.rs,
tests/search/*.rs and config.example.toml, so the fuzzer starts from bodies the server really
accepts. Run from anywhere; existing seed files are overwritten, found inputs are kept."""
import json, os, pathlib

ROOT = pathlib.Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "fuzz" / "corpus"


def write(target, items):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    for i, item in enumerate(items):
        data = item if isinstance(item, bytes) else (
            item.encode() if isinstance(item, str) else json.dumps(item, ensure_ascii=False).encode())
        (d / f"seed-{i:02}").write_bytes(data)


def tg(update_id, chat_id, message_id, extra, key="message", chat_type="private"):
    m = {"message_id": message_id, "date": 1700000000,
         "from": {"id": chat_id, "is_bot": False, "first_name": "Ivan", "last_name": "Petrov", "username": "ivan"},
         "chat": {"id": chat_id, "type": chat_type, "first_name": "Ivan", "last_name": "Petrov"}}
    m.update(extra)
    return {"update_id": update_id, key: m}


def member(update_id, old, new):
    return {"update_id": update_id, "my_chat_member": {
        "chat": {"id": 42, "type": "private", "first_name": "Ivan", "last_name": "Petrov"},
        "from": {"id": 42, "is_bot": False, "first_name": "Ivan", "last_name": "Petrov"},
        "date": 1700000000,
        "old_chat_member": {"status": old, "user": {"id": 1, "is_bot": True, "first_name": "bot"}},
        "new_chat_member": {"status": new, "user": {"id": 1, "is_bot": True, "first_name": "bot"}, "until_date": 0}}}


write("telegram_update", [
    tg(1, 555000111, 10, {"text": "Hello 👋 see our site",
       "entities": [{"type": "text_link", "offset": 17, "length": 4, "url": "https://shop.example"}]}),
    tg(2, 555000111, 11, {"caption": "my receipt", "caption_entities": [{"type": "text_link", "offset": 0, "length": 2, "url": "https://x.io"}],
       "photo": [{"file_id": "photo-small", "file_unique_id": "s", "width": 90, "height": 90},
                 {"file_id": "photo-big", "file_unique_id": "b", "width": 1280, "height": 960, "file_size": 1000}]}),
    tg(3, 555000111, 12, {"voice": {"file_id": "voice-1", "file_unique_id": "v", "duration": 3, "mime_type": "audio/ogg"}}),
    tg(4, 555000111, 13, {"audio": {"file_id": "audio-1", "file_unique_id": "a", "duration": 3, "mime_type": "audio/mpeg", "file_name": "song.mp3"}}),
    tg(5, 555000111, 14, {"video": {"file_id": "video-1", "file_unique_id": "vv", "width": 1, "height": 1, "duration": 1, "mime_type": "video/mp4"},
                          "video_note": {"file_id": "vn", "length": 1}}),
    tg(6, 555000111, 15, {"document": {"file_id": "doc-1", "file_unique_id": "d", "file_name": "invoice.pdf", "mime_type": "application/pdf", "file_size": 30000000}}),
    tg(7, 555000111, 16, {"sticker": {"file_id": "sticker-1", "file_unique_id": "st", "type": "regular", "width": 512, "height": 512,
                                      "is_animated": False, "is_video": False, "emoji": "😀"}}),
    tg(8, 555000111, 17, {"sticker": {"file_id": "s2", "is_animated": True, "emoji": "🐱", "thumbnail": {"file_id": "thumb"}}}),
    tg(9, 555000111, 18, {"sticker": {"file_id": "s3", "is_video": True}}),
    tg(10, 555000111, 19, {"contact": {"phone_number": "79123456789", "first_name": "Ivan", "user_id": 555000111}}),
    tg(11, 555000111, 20, {"location": {"latitude": 55.751244, "longitude": 37.618423},
                           "venue": {"title": "Red Square", "address": "Moscow", "location": {"latitude": 55.75, "longitude": 37.61}}}),
    tg(12, 42, 2, {"text": "/start", "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}),
    tg(13, 42, 3, {"text": "edited text"}, key="edited_message"),
    tg(14, -100123, 4, {"text": "group"}, chat_type="group"),
    tg(15, 42, 5, {"pinned_message": {"message_id": 1}}),
    member(16, "member", "kicked"),
    member(17, "kicked", "member"),
    {"update_id": 18, "message": {"message_id": 1, "chat": {"id": 7, "type": "private", "username": "nameless"}, "text": "no from"}},
    {"update_id": 19, "callback_query": {"id": "1"}},
])


def wa_body(values, pnid="106540352242922"):
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [
        {"field": "messages", "value": dict(v, messaging_product="whatsapp",
                                            metadata={"display_phone_number": "15550100000", "phone_number_id": pnid})}
        for v in values]}]}


def wa_msg(kind, payload, wamid="wamid.A", frm="79161234567"):
    m = {"from": frm, "id": wamid, "timestamp": "1717000000", "type": kind}
    m["contacts" if kind == "contacts" else kind] = payload
    return m


def wa_msgs(*msgs):
    return {"contacts": [{"profile": {"name": "Анна"}, "wa_id": "79161234567"}], "messages": list(msgs)}


write("whatsapp_payload", [
    wa_body([wa_msgs(wa_msg("text", {"body": "Привет / hi"}))]),
    wa_body([wa_msgs(wa_msg("image", {"id": "media-img", "mime_type": "image/jpeg", "sha256": "x", "caption": "my receipt"}),
                     wa_msg("audio", {"id": "media-ogg", "mime_type": "audio/ogg; codecs=opus", "voice": True}, "wamid.B"),
                     wa_msg("document", {"id": "media-pdf", "mime_type": "application/pdf", "filename": "invoice.pdf"}, "wamid.C"),
                     wa_msg("sticker", {"id": "media-webp", "mime_type": "image/webp", "animated": False}, "wamid.D"),
                     wa_msg("video", {"mime_type": "video/mp4"}, "wamid.E"))]),
    wa_body([wa_msgs(wa_msg("location", {"latitude": 55.75, "longitude": 37.61, "name": "Office", "address": "Tverskaya 1", "url": "https://x.io"}),
                     wa_msg("contacts", [{"name": {"formatted_name": "Ivan Petrov", "first_name": "Ivan"}, "phones": [{"phone": "+7 912 000", "wa_id": "7912000", "type": "CELL"}]},
                                         {"name": {"first_name": "Olga"}, "phones": []}], "wamid.F"))]),
    wa_body([wa_msgs(wa_msg("interactive", {"type": "button_reply", "button_reply": {"id": "b1", "title": "Yes"}}),
                     wa_msg("interactive", {"type": "list_reply", "list_reply": {"id": "l1", "title": "Row", "description": "d"}}, "wamid.G"),
                     wa_msg("interactive", {"type": "nfm_reply"}, "wamid.H"),
                     wa_msg("button", {"payload": "p", "text": "Stop promotions"}, "wamid.I"),
                     wa_msg("order", {"catalog_id": "c", "text": "asap", "product_items": [{"product_retailer_id": "sku1", "quantity": 2, "item_price": 9.5, "currency": "EUR"}, {"quantity": "1"}]}, "wamid.J"))]),
    wa_body([wa_msgs(dict(wa_msg("unsupported", {}), errors=[{"code": 131051, "title": "Message type unknown", "message": "Message type unknown", "error_data": {"details": "Message type is currently not supported."}}]),
                     wa_msg("reaction", {"message_id": "wamid.X", "emoji": "👍"}, "wamid.K"),
                     wa_msg("system", {"body": "changed number"}, "wamid.L"))]),
    wa_body([{"statuses": [
        {"id": "wamid.OUT1", "status": "delivered", "timestamp": "1717000100", "recipient_id": "79161234567"},
        {"id": "wamid.OUT1", "status": "read", "timestamp": "1717000100", "recipient_id": "79161234567"},
        {"id": "wamid.OUT2", "status": "failed", "timestamp": "1717000100", "recipient_id": "79161234567",
         "errors": [{"code": 131047, "title": "Re-engagement message", "error_data": {"details": "More than 24 hours"}}]},
        {"id": "wamid.OUT3", "status": "sent"}, {"id": "wamid.OUT4", "status": "played"}],
        "errors": [{"code": 1, "message": "oops"}]}]),
    wa_body([wa_msgs(wa_msg("text", {"body": "other number"}))], pnid="999"),
    {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "account_update", "value": {"phone_number": "106540352242922", "event": "VERIFIED_ACCOUNT"}}]}]},
    "sha256=0123456789abcdef",
])


def viber_msg(token, message, sender=None):
    return {"event": "message", "timestamp": 1457764197627, "message_token": token, "chat_hostname": "SN-CHAT-05_",
            "sender": sender or {"id": "01234567890A=", "name": "John McClane", "avatar": "http://avatar.example.com",
                                 "language": "en", "country": "UK", "api_version": 1},
            "message": message, "silent": False}


write("viber_event", [
    {"event": "webhook", "timestamp": 1457764197627, "chat_hostname": "SN-219_", "message_token": 241256543215},
    viber_msg(4912661846655238145, {"type": "text", "text": "a message to the service", "tracking_data": "x"}),
    viber_msg("5741311803571721087", {"type": "picture", "text": "caption", "media": "https://example.com/img.jpg", "thumbnail": "https://t", "file_name": "pic.jpg"}),
    viber_msg(2, {"type": "video", "media": "http://example.com/v.mp4", "size": 10000, "duration": 10}),
    viber_msg(3, {"type": "file", "media": "ftp://nope", "size": 10000, "file_name": "  "}),
    viber_msg(4, {"type": "sticker", "sticker_id": 46105, "media": "https://example.com/s.png"}),
    viber_msg(5, {"type": "sticker", "sticker_id": 46105}),
    viber_msg(6, {"type": "contact", "contact": {"name": "Itamar", "phone_number": "+972511123123", "avatar": "x"}}),
    viber_msg(7, {"type": "url", "media": "http://www.example.com"}),
    viber_msg(8, {"type": "location", "location": {"lat": 50.76891, "lon": 6.11499}}),
    viber_msg(9, {"type": "location", "location": {}}),
    viber_msg(10, {"type": "rich_media"}),
    viber_msg(11, {"type": "text", "text": "   "}),
    viber_msg(-12, {"type": "text", "text": "x"}, sender={"name": "no id"}),
    {"event": "subscribed", "timestamp": 1457764197627, "user": {"id": "01234567890A=", "name": "John McClane", "avatar": "x", "country": "UK", "language": "en", "api_version": 1}, "message_token": 4912661846655238145},
    {"event": "unsubscribed", "timestamp": 1457764197627, "user_id": "01234567890A=", "message_token": 4912661846655238145},
    {"event": "conversation_started", "timestamp": 1457764197627, "message_token": 4912661846655238145, "type": "open", "context": "ctx", "user": {"id": "01234567890A=", "name": "John"}, "subscribed": False},
    {"event": "delivered", "timestamp": 1457764197627, "message_token": 4912661846655238145, "user_id": "01234567890A="},
    {"event": "seen", "timestamp": 1457764197627, "message_token": "4912661846655238145", "user_id": "01234567890A="},
    {"event": "failed", "timestamp": 1457764197627, "message_token": 4912661846655238145, "user_id": "01234567890A=", "desc": "failure description"},
    {"event": "client_status", "user_id": "x"},
])

write("api_body", [
    {"contact": {"external_id": "crm-42", "name": "Anna Karenina", "phone": "+7 912 345-67-89", "email": "anna@example.com"},
     "message": {"external_id": "m-1", "text": "Hello from the CRM"}},
    {"contact": {"external_id": "crm-42"}, "message": {"external_id": "m-2", "attachments": [
        {"data_base64": "aGVsbG8=", "name": "a.txt", "mime": "text/plain"},
        {"url": "https://example.com/a.pdf", "name": "a.pdf", "mime": "application/pdf"}]}},
    {"contact": {"external_id": "crm-42"}, "message": {"external_id": "m-3", "text": "x", "attachments": [
        {"data_base64": "not base64!", "mime": "text/plain"}, {"mime": "text/plain"},
        {"data_base64": "aGk=", "url": "https://example.com/", "mime": "text/plain"}]}},
    {"contact": {"external_id": ""}, "message": {"external_id": "m-4", "text": "empty id"}},
    {"contact": {"external_id": "a\u0000b"}, "message": {"external_id": "m-5", "text": "nul"}},
    {"contact": {"external_id": "c"}, "message": {"external_id": "m-6", "text": " "}},
    {"contact": {"external_id": "c", "extra": 1}, "message": {"external_id": "m-7", "text": "unknown field"}},
])

write("search_query", [
    "anna", "Anna Karenina", "+7 912", "8 912 345", "(912) 345-67", "0079123", "anna.k@", "@example.co",
    "José", "Где мой заказ? Заказ №7781", "***", "a.b.c d@e", "заказ 7781", "\"quoted\" (paren) [regex].*+?",
    "x" * 201, "ÅÆØ ß ﬁ", "12", "😀 emoji",
])

write("filter_json", [
    {"match": "any", "messengers": ["telegram"], "has_phone": True,
     "conditions": [{"field": "tag", "op": "is", "value": "VIP"},
                    {"field": "custom_field", "key": "City", "op": "contains", "value": "Per"},
                    {"field": "created", "op": "between", "value": {"from": 1, "to": 2}},
                    {"field": "unread", "op": "is", "value": True}]},
    {"match": "all", "has_email": False, "sales_plan": "Gold",
     "conditions": [{"field": "tag", "op": "is_not", "value": "spam"},
                    {"field": "channel", "op": "is", "value": "tg-main"},
                    {"field": "messenger", "op": "is_not", "value": "viber"},
                    {"field": "sales_plan", "op": "contains", "value": "go.ld*"},
                    {"field": "sales_plan", "op": "empty"},
                    {"field": "custom_field", "key": "Size", "op": "equals", "value": "XL"},
                    {"field": "custom_field", "key": "Size", "op": "not_empty"},
                    {"field": "last_activity", "op": "before", "value": 1700000000000},
                    {"field": "last_activity", "op": "after", "value": {"from": None}},
                    {"field": "archived", "op": "is", "value": False},
                    {"field": "blacklisted", "op": "is", "value": True},
                    {"field": "open_task", "op": "is", "value": True},
                    {"field": "has_phone", "op": "is", "value": True},
                    {"field": "has_email", "op": "is", "value": True},
                    {"field": "assigned_manager", "op": "is", "value": 3}]},
    {"conditions": [{"field": "shoe_size", "op": "is", "value": 1}]},
    {"conditions": [{"field": "tag", "op": "like", "value": "x"}]},
    {"messengers": ["icq"]},
    {"bogus": 1},
    "'; DROP TABLE contacts; --",
    {},
])

example = (ROOT / "config.example.toml").read_text()
write("config_toml", [
    example,
    "",
    '[server]\nlisten = "127.0.0.1:8443"\nhttp_listen = "off"\npublic_url = "https://chat.example.com"\ntrust_proxy = true\n'
    '[tls]\ncert = "c.pem"\nkey = "k.pem"\n',
    '[[channels]]\nid = "tg"\nname = "Telegram"\nkind = "telegram"\ntoken = "123:abc"\nwebhook_secret = "s3cret_-"\n'
    '[[channels]]\nid = "tg2"\nname = "TG polling"\nkind = "telegram"\ntoken = "1:x"\nmode = "polling"\n'
    '[[channels]]\nid = "wa"\nname = "WhatsApp"\nkind = "whatsapp"\naccess_token = "t"\napp_secret = "s"\nverify_token = "v"\nphone_number_id = "1"\ntemplate = "hello"\ntemplate_language = "en_US"\n'
    '[[channels]]\nid = "vb"\nname = "Viber"\nkind = "viber"\ntoken = "v"\n'
    '[[channels]]\nid = "site"\nname = "Site"\nkind = "widget"\nallowed_origins = ["https://www.example.com", "*", "http://[::1]:8080"]\n'
    '[[channels]]\nid = "crm"\nname = "CRM"\nkind = "api"\ntoken = "0123456789abcdef"\ncallback_url = "https://crm.example/hook"\nsecret = "x"\n',
    '[server]\nlisen = "x"\n',
    '[[channels]]\nid = "a"\nname = "A"\nkind = "api"\ntoken = "short"\n',
    '[[channels]]\nid = "a b"\nname = "A"\nkind = "viber"\ntoken = "t"\n[[channels]]\nid = "a b"\nname = "A"\nkind = "viber"\ntoken = "t"\n',
    'server = 1\n',
])

# Stored rows: the format-version byte 1 followed by postcard; a few shapes that decode as
# something, and the raw event and search-log rows.
write("store_codec", [
    b"", b"\x01", b"\x02\x00", b"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    b"\x01\x07\x05admin\x05Admin\x00\x00\x00\x00\x00",
    b"\x01\x2a\x04csrf\x80\x01\x90\x01\x09127.0.0.1",
    b"\x01\x03\x04Gold\x02\x03new\x04paid\x00",
    b"c\x00\x00\x00\x00\x00\x00\x00\x07", b"m\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02",
    b"\x00\x00\x00\x00\x00\x00\x00\x00{\"seq\":1,\"type\":\"x\",\"data\":{}}",
    b"\x01" + b"\xff" * 12, b"\xff\xff\xff",
])
print("seeds written under", CORPUS)
