-- Statements the analytical projector runs. Named with `-- name:`; parameters are `$name`.
-- Rows arrive column-wise: `$columns` is one JSON document with an array per column, which
-- DuckDB parses and unnests in bulk (no row-at-a-time inserts).

-- name: position
SELECT notification_id, caught_up_at FROM view_position WHERE application_name = $application_name

-- name: set_position
INSERT INTO view_position (application_name, notification_id, caught_up_at)
VALUES ($application_name, $notification_id, $caught_up_at)
ON CONFLICT (application_name) DO UPDATE
SET notification_id = excluded.notification_id, caught_up_at = excluded.caught_up_at

-- name: tag_columns
SELECT key, column_name FROM tag_columns

-- name: register_tag_column
INSERT INTO tag_columns (key, column_name) VALUES ($key, $column_name)

-- name: add_tag_column
-- The column placeholder is a name the projector generates (tag_<n>), never user text.
ALTER TABLE tasks ADD COLUMN {column} VARCHAR

-- name: task_states
SELECT task_id::VARCHAR, status, attempts, submitted_at, first_started_at, started_at,
    finished_at, actual_read_bytes, actual_write_bytes, actual_net_rx_bytes, actual_net_tx_bytes,
    queue_ms, duration_ms, last_error
FROM tasks
WHERE task_id IN (SELECT unnest($task_ids::UUID[]))

-- name: insert_tasks
-- The two tag placeholders list the generated tag columns (tag_<n>), never user text.
INSERT INTO tasks BY NAME
SELECT
    unnest(c.seq) AS seq,
    unnest(c.task_id)::UUID AS task_id,
    unnest(c.task_type) AS task_type,
    unnest(c.status) AS status,
    unnest(c.priority) AS priority,
    unnest(c.group_key) AS group_key,
    unnest(c.parent_id)::UUID AS parent_id,
    unnest(c.attempts) AS attempts,
    unnest(c.max_retries) AS max_retries,
    unnest(c.expected_read_bytes) AS expected_read_bytes,
    unnest(c.expected_write_bytes) AS expected_write_bytes,
    unnest(c.expected_net_rx_bytes) AS expected_net_rx_bytes,
    unnest(c.expected_net_tx_bytes) AS expected_net_tx_bytes,
    unnest(c.actual_read_bytes) AS actual_read_bytes,
    unnest(c.actual_write_bytes) AS actual_write_bytes,
    unnest(c.actual_net_rx_bytes) AS actual_net_rx_bytes,
    unnest(c.actual_net_tx_bytes) AS actual_net_tx_bytes,
    unnest(c.submitted_at)::TIMESTAMPTZ AS submitted_at,
    unnest(c.first_started_at)::TIMESTAMPTZ AS first_started_at,
    unnest(c.started_at)::TIMESTAMPTZ AS started_at,
    unnest(c.finished_at)::TIMESTAMPTZ AS finished_at,
    unnest(c.queue_ms) AS queue_ms,
    unnest(c.duration_ms) AS duration_ms,
    unnest(c.last_error) AS last_error,
    unnest(c.position) AS position
    {tag_select}
FROM (
    SELECT from_json($columns, '{
        "seq": "BIGINT[]", "task_id": "VARCHAR[]", "task_type": "VARCHAR[]",
        "status": "VARCHAR[]", "priority": "INTEGER[]", "group_key": "VARCHAR[]",
        "parent_id": "VARCHAR[]", "attempts": "INTEGER[]", "max_retries": "INTEGER[]",
        "expected_read_bytes": "BIGINT[]", "expected_write_bytes": "BIGINT[]",
        "expected_net_rx_bytes": "BIGINT[]", "expected_net_tx_bytes": "BIGINT[]",
        "actual_read_bytes": "BIGINT[]", "actual_write_bytes": "BIGINT[]",
        "actual_net_rx_bytes": "BIGINT[]", "actual_net_tx_bytes": "BIGINT[]",
        "submitted_at": "VARCHAR[]", "first_started_at": "VARCHAR[]", "started_at": "VARCHAR[]",
        "finished_at": "VARCHAR[]", "queue_ms": "DOUBLE[]", "duration_ms": "DOUBLE[]",
        "last_error": "VARCHAR[]", "position": "BIGINT[]"{tag_shape}
    }') AS c
)

-- name: update_tasks
UPDATE tasks SET
    status = u.status,
    attempts = u.attempts,
    first_started_at = u.first_started_at,
    started_at = u.started_at,
    finished_at = u.finished_at,
    actual_read_bytes = u.actual_read_bytes,
    actual_write_bytes = u.actual_write_bytes,
    actual_net_rx_bytes = u.actual_net_rx_bytes,
    actual_net_tx_bytes = u.actual_net_tx_bytes,
    queue_ms = u.queue_ms,
    duration_ms = u.duration_ms,
    last_error = u.last_error,
    position = u.position
FROM (
    SELECT
        unnest(c.task_id)::UUID AS task_id,
        unnest(c.status) AS status,
        unnest(c.attempts) AS attempts,
        unnest(c.first_started_at)::TIMESTAMPTZ AS first_started_at,
        unnest(c.started_at)::TIMESTAMPTZ AS started_at,
        unnest(c.finished_at)::TIMESTAMPTZ AS finished_at,
        unnest(c.actual_read_bytes) AS actual_read_bytes,
        unnest(c.actual_write_bytes) AS actual_write_bytes,
        unnest(c.actual_net_rx_bytes) AS actual_net_rx_bytes,
        unnest(c.actual_net_tx_bytes) AS actual_net_tx_bytes,
        unnest(c.queue_ms) AS queue_ms,
        unnest(c.duration_ms) AS duration_ms,
        unnest(c.last_error) AS last_error,
        unnest(c.position) AS position
    FROM (
        SELECT from_json($columns, '{
            "task_id": "VARCHAR[]", "status": "VARCHAR[]", "attempts": "INTEGER[]",
            "first_started_at": "VARCHAR[]", "started_at": "VARCHAR[]",
            "finished_at": "VARCHAR[]", "actual_read_bytes": "BIGINT[]",
            "actual_write_bytes": "BIGINT[]", "actual_net_rx_bytes": "BIGINT[]",
            "actual_net_tx_bytes": "BIGINT[]", "queue_ms": "DOUBLE[]", "duration_ms": "DOUBLE[]",
            "last_error": "VARCHAR[]", "position": "BIGINT[]"
        }') AS c
    )
) AS u
WHERE tasks.task_id = u.task_id

-- name: insert_tags
INSERT INTO task_tags (seq, task_id, key, value)
SELECT unnest(c.seq), unnest(c.task_id)::UUID, unnest(c.key), unnest(c.value)
FROM (
    SELECT from_json($columns, '{
        "seq": "BIGINT[]", "task_id": "VARCHAR[]", "key": "VARCHAR[]", "value": "VARCHAR[]"
    }') AS c
)

-- name: insert_state_changes
INSERT INTO state_changes BY NAME
SELECT
    unnest(c.task_id)::UUID AS task_id,
    unnest(c.position) AS position,
    unnest(c.changed_at)::TIMESTAMPTZ AS changed_at,
    unnest(c.event) AS event,
    unnest(c.status) AS status,
    unnest(c.attempts) AS attempts,
    unnest(c.actual_read_bytes) AS actual_read_bytes,
    unnest(c.actual_write_bytes) AS actual_write_bytes,
    unnest(c.actual_net_rx_bytes) AS actual_net_rx_bytes,
    unnest(c.actual_net_tx_bytes) AS actual_net_tx_bytes,
    unnest(c.queue_ms) AS queue_ms,
    unnest(c.duration_ms) AS duration_ms
FROM (
    SELECT from_json($columns, '{
        "task_id": "VARCHAR[]", "position": "BIGINT[]", "changed_at": "VARCHAR[]",
        "event": "VARCHAR[]", "status": "VARCHAR[]", "attempts": "INTEGER[]",
        "actual_read_bytes": "BIGINT[]", "actual_write_bytes": "BIGINT[]",
        "actual_net_rx_bytes": "BIGINT[]", "actual_net_tx_bytes": "BIGINT[]",
        "queue_ms": "DOUBLE[]", "duration_ms": "DOUBLE[]"
    }') AS c
)
