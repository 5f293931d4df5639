// The fleet database schema, as numbered migrations. Append only: a released migration
// is never edited (databases in the field already ran it); change the schema with a new
// one. Plain SQL accepted by SQLite and PostgreSQL alike.
#include <string>
#include <vector>

namespace avkey::console {

const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      // 1: the first schema.
      R"sql(
CREATE TABLE keys (
  key_id      TEXT PRIMARY KEY,
  enrolled    TEXT NOT NULL,
  site        TEXT NOT NULL DEFAULT '',
  last_seq    BIGINT NOT NULL DEFAULT 0,   -- last journal record imported
  last_hash   TEXT NOT NULL DEFAULT '',    -- SHA-256 of that record's line: continuity anchor
  last_sync   TEXT,
  flagged     TEXT NOT NULL DEFAULT ''     -- why the last sync refused this key's journal
);
CREATE TABLE devices (
  device_id   TEXT PRIMARY KEY,
  hostname    TEXT NOT NULL DEFAULT '',
  site        TEXT NOT NULL DEFAULT '',
  asset_tag   TEXT NOT NULL DEFAULT '',
  first_seen  TEXT NOT NULL,
  last_seen   TEXT NOT NULL
);
CREATE TABLE journal_records (
  key_id      TEXT NOT NULL,
  seq         BIGINT NOT NULL,
  time        TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  scan_id     TEXT NOT NULL,
  type        TEXT NOT NULL,
  payload     TEXT NOT NULL,
  line        TEXT NOT NULL,               -- the record verbatim: the MAC and chain stay checkable
  PRIMARY KEY (key_id, seq)
);
CREATE TABLE scans (
  scan_id     TEXT PRIMARY KEY,
  key_id      TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  started     TEXT,
  finished    TEXT,
  verdict     TEXT,
  reason      TEXT,
  exit_status INTEGER,
  files       BIGINT,
  detections  BIGINT,
  incomplete  BIGINT,
  generation  INTEGER,
  signatures_created TEXT,
  policy      TEXT,
  action      TEXT,
  asset_tag   TEXT NOT NULL DEFAULT '',
  hostname    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX scans_device ON scans (device_id, finished);
CREATE TABLE detections (
  key_id      TEXT NOT NULL,
  seq         BIGINT NOT NULL,
  scan_id     TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  time        TEXT NOT NULL,
  path        TEXT NOT NULL,
  signature   TEXT NOT NULL,
  sha256      TEXT NOT NULL,
  PRIMARY KEY (key_id, seq)
);
CREATE INDEX detections_time ON detections (time);
CREATE TABLE actions (
  key_id      TEXT NOT NULL,
  seq         BIGINT NOT NULL,
  scan_id     TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  time        TEXT NOT NULL,
  path        TEXT NOT NULL,
  action      TEXT NOT NULL,
  result      TEXT NOT NULL,
  quarantine_id TEXT NOT NULL DEFAULT '',
  reason      TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (key_id, seq)
);
CREATE TABLE quarantine_items (
  quarantine_id TEXT PRIMARY KEY,
  key_id      TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  original_path TEXT NOT NULL,
  sha256      TEXT NOT NULL,
  size        BIGINT NOT NULL,
  signature   TEXT NOT NULL,
  quarantined TEXT NOT NULL,
  state       TEXT NOT NULL
);
CREATE TABLE inventories (
  device_id   TEXT NOT NULL,
  scan_id     TEXT NOT NULL,
  collected_at TEXT NOT NULL,
  document    TEXT NOT NULL,
  PRIMARY KEY (device_id, scan_id)
);
CREATE TABLE inventory_files (
  device_id   TEXT NOT NULL,
  scan_id     TEXT NOT NULL,
  path        TEXT NOT NULL,
  size        BIGINT,
  mtime       TEXT,
  sha256      TEXT,
  PRIMARY KEY (device_id, scan_id, path)
);
CREATE INDEX inventory_files_sha256 ON inventory_files (sha256);
CREATE TABLE generations (
  generation  INTEGER PRIMARY KEY,
  created     TEXT NOT NULL,
  added       TEXT NOT NULL,
  files       INTEGER NOT NULL,
  signatures  BIGINT NOT NULL,
  identity    TEXT NOT NULL
);
CREATE TABLE sync_events (
  time        TEXT NOT NULL,
  key_id      TEXT NOT NULL,
  outcome     TEXT NOT NULL,               -- imported | refused
  detail      TEXT NOT NULL
);
)sql",
  };
  return kMigrations;
}

}  // namespace avkey::console
