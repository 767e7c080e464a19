-- The schema the code expects, in full. tests/test_schema.py checks that applying every
-- migration in order to an empty database gives exactly this.
CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    task_type TEXT NOT NULL,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL,
    group_key TEXT,
    dedup_key TEXT,
    parent_id TEXT,
    payload TEXT NOT NULL,
    tags TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    max_retries INTEGER NOT NULL,
    ttl_seconds REAL,
    expected_read_bytes INTEGER NOT NULL,
    expected_write_bytes INTEGER NOT NULL,
    expected_net_rx_bytes INTEGER NOT NULL,
    expected_net_tx_bytes INTEGER NOT NULL,
    actual_read_bytes INTEGER NOT NULL,
    actual_write_bytes INTEGER NOT NULL,
    actual_net_rx_bytes INTEGER NOT NULL,
    actual_net_tx_bytes INTEGER NOT NULL,
    submitted_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    run_after TEXT,
    expires_at TEXT,
    last_error TEXT,
    worker_id TEXT,
    lease_expires_at TEXT,
    children_total INTEGER NOT NULL,
    children_unfinished INTEGER NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX idx_tasks_order ON tasks (priority, seq);
CREATE INDEX idx_tasks_status_order ON tasks (status, priority, seq);
CREATE INDEX idx_tasks_type_status_order ON tasks (task_type, status, priority, seq);
CREATE INDEX idx_tasks_parent ON tasks (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX idx_tasks_blocked_until ON tasks (run_after) WHERE status = 'blocked';
CREATE INDEX idx_tasks_unstarted_expiry ON tasks (expires_at)
    WHERE status IN ('pending', 'blocked') AND expires_at IS NOT NULL;
CREATE TABLE task_tags (
    task_id TEXT NOT NULL REFERENCES tasks (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    phase TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, key)
) WITHOUT ROWID;
CREATE INDEX idx_task_tags_kv ON task_tags (key, value);
CREATE INDEX idx_task_tags_kv_phase_order ON task_tags (key, value, phase, priority, seq);
CREATE TABLE tag_counts (
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (key, value, status)
) WITHOUT ROWID;
CREATE INDEX idx_tag_counts_key_status ON tag_counts (key, status);
CREATE TABLE view_position (
    application_name TEXT PRIMARY KEY,
    notification_id INTEGER NOT NULL
);
