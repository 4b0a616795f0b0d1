-- Thread Mirror's state. Everything that must survive a restart lives here.

-- Facts learned about each configured site (its REST root, the bot's user id there).
CREATE TABLE sites (
    name        TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    api_root    TEXT,
    bot_user_id INTEGER
);

-- Articles whose comments we have seen, for thread headers.
CREATE TABLE pages (
    site    TEXT NOT NULL,
    post_id INTEGER NOT NULL,
    url     TEXT NOT NULL,
    title   TEXT NOT NULL,
    excerpt TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (site, post_id)
);

-- The site's comments as last seen. `generation` grows when a removed comment comes back,
-- so it is mirrored again under fresh outbox keys.
CREATE TABLE comments (
    site         TEXT NOT NULL,
    comment_id   INTEGER NOT NULL,
    post_id      INTEGER NOT NULL,
    parent_id    INTEGER NOT NULL,
    author_name  TEXT NOT NULL,
    author_url   TEXT NOT NULL DEFAULT '',
    avatar_url   TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,          -- UTC ISO 8601
    link         TEXT NOT NULL,
    html         TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    status       TEXT NOT NULL,          -- approved | hold | trash | deleted
    generation   INTEGER NOT NULL DEFAULT 0,
    bot_author   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, comment_id)
);
CREATE INDEX comments_by_time ON comments (site, created_at);
CREATE INDEX comments_by_post ON comments (site, post_id, created_at);

-- What admins asked to mirror (from config.yaml or from chat commands).
CREATE TABLE mirrors (
    name          TEXT PRIMARY KEY,
    site          TEXT NOT NULL,
    pages         TEXT NOT NULL,         -- JSON: "all" or a list of post ids / URLs
    url_pattern   TEXT,
    thread_per    TEXT NOT NULL,         -- page | comment
    relay         TEXT NOT NULL,         -- off | approved | pending
    targets       TEXT NOT NULL,         -- JSON list of {"chat", "channel"}
    backfill_days REAL,
    origin        TEXT NOT NULL,         -- "config" or "command"
    created_by    TEXT NOT NULL DEFAULT '',
    paused        INTEGER NOT NULL DEFAULT 0,
    backfilled    INTEGER NOT NULL DEFAULT 0,
    created_at    REAL NOT NULL
);

-- One chat thread per (target, page) or per (target, top-level comment).
CREATE TABLE chat_threads (
    chat            TEXT NOT NULL,
    channel         TEXT NOT NULL,
    site            TEXT NOT NULL,
    post_id         INTEGER NOT NULL,
    root_comment_id INTEGER NOT NULL,    -- 0 when the thread is for the whole page
    thread_ref      TEXT NOT NULL,
    PRIMARY KEY (chat, channel, site, post_id, root_comment_id)
);
CREATE INDEX chat_threads_by_ref ON chat_threads (chat, thread_ref);

-- Comment <-> chat message, one row per split part. origin 'site': we mirrored the comment;
-- origin 'chat': a human wrote the message and we relayed it to the site (never echo it back).
CREATE TABLE message_map (
    chat        TEXT NOT NULL,
    message_ref TEXT NOT NULL,
    channel     TEXT NOT NULL,
    thread_ref  TEXT NOT NULL,
    part        INTEGER NOT NULL,
    site        TEXT NOT NULL,
    comment_id  INTEGER NOT NULL,
    origin      TEXT NOT NULL,
    PRIMARY KEY (chat, message_ref)
);
CREATE INDEX message_map_by_comment ON message_map (site, comment_id, chat, channel, part);

-- Every delivery is written here before it is attempted. Jobs of one lane (a chat thread,
-- or one chat thread's relays to the site) run in id order; lanes run side by side.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    key             TEXT NOT NULL UNIQUE, -- idempotency key: also the Matrix txn id / Discord nonce seed
    lane            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,        -- JSON
    state           TEXT NOT NULL DEFAULT 'pending',  -- pending | done | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    inflight        INTEGER NOT NULL DEFAULT 0,       -- 1 while an attempt may have reached the peer
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
);
CREATE INDEX outbox_open ON outbox (state, lane, id);

-- Per-site polling progress and health.
CREATE TABLE cursors (
    site            TEXT PRIMARY KEY,
    newest_gmt      TEXT,                 -- newest comment time seen (UTC)
    last_recheck_at REAL,
    last_ok_at      REAL,
    failing_since   REAL,
    last_error      TEXT
);
