-- One global stream position for everything /sync reads (room events, to-device
-- messages, device-list changes, receipts, account data, ...). A write takes the
-- next position inside its own D1 batch (one transaction, D1 has one writer), so
-- positions follow commit order and a sync token is one integer: "s<pos>".
CREATE TABLE stream_counter (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  pos INTEGER NOT NULL
);
INSERT INTO stream_counter (id, pos) VALUES (1, 0);
