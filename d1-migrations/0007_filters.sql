-- Filters uploaded with POST /user/{userId}/filter (client-server-api "Filtering").
CREATE TABLE filters (
  user_id TEXT NOT NULL,
  filter_id INTEGER NOT NULL,
  json TEXT NOT NULL,
  PRIMARY KEY (user_id, filter_id)
);
