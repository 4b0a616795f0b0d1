-- Small durable facts a chat adapter keeps between runs: a Matrix sync token and device id,
-- Discord webhook ids per channel, and the like.
CREATE TABLE chat_state (
    chat  TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (chat, key)
);
