-- Statements the projector runs. Named with `-- name:`; parameters are named, except where a
-- statement runs once or more per task on the hot paths and is bound from tuples (insert_task,
-- insert_tag, set_tag_phase, started, attempt_succeeded, add_tag_count, drop_empty_tag_count).

-- name: position
SELECT notification_id FROM view_position WHERE application_name = :application_name

-- name: set_position
INSERT INTO view_position (application_name, notification_id)
VALUES (:application_name, :notification_id)
ON CONFLICT (application_name) DO UPDATE SET notification_id = excluded.notification_id
WHERE excluded.notification_id > view_position.notification_id

-- name: insert_task
-- positional, in this order: bound in bulk from tuples (PageProjector._submitted)
INSERT INTO tasks (
    id, seq, task_type, status, priority, group_key, dedup_key, parent_id, payload, tags,
    attempts, max_retries, ttl_seconds,
    expected_read_bytes, expected_write_bytes, expected_net_rx_bytes, expected_net_tx_bytes,
    actual_read_bytes, actual_write_bytes, actual_net_rx_bytes, actual_net_tx_bytes,
    submitted_at, started_at, finished_at, run_after, expires_at, last_error, worker_id,
    lease_expires_at, children_total, children_unfinished, version
) VALUES (
    ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
    0, ?, ?,
    ?, ?, ?, ?,
    0, 0, 0, 0,
    ?, NULL, NULL, ?, ?, NULL, NULL,
    NULL, 0, 0, ?
)

-- name: insert_tag
-- positional: (task_id, key, value, phase, priority, seq)
INSERT INTO task_tags (task_id, key, value, phase, priority, seq)
VALUES (?, ?, ?, ?, ?, ?)

-- name: task_status_and_tags
SELECT status, tags FROM tasks WHERE id = :id

-- name: tags_of_tasks
-- :ids is a JSON array of task ids (one statement for a page's worth of tasks)
SELECT id, tags FROM tasks WHERE id IN (SELECT value FROM json_each(:ids))

-- name: set_tag_phase
-- Once per task: when it ends ('active' -> its terminal status). Positional: (phase, id)
UPDATE task_tags SET phase = ? WHERE task_id = ?

-- name: add_tag_count
INSERT INTO tag_counts (key, value, status, n) VALUES (?, ?, ?, ?)
ON CONFLICT (key, value, status) DO UPDATE SET n = n + excluded.n

-- name: drop_empty_tag_count
DELETE FROM tag_counts WHERE key = ? AND value = ? AND status = ? AND n = 0

-- name: set_status
UPDATE tasks SET status = :status, version = :version WHERE id = :id

-- name: started
-- positional: (status, attempt, started_at, worker_id, lease_expires_at, version, id)
UPDATE tasks SET status = ?, attempts = ?, started_at = ?, worker_id = ?,
    lease_expires_at = ?, version = ?
WHERE id = ?

-- name: requeued
UPDATE tasks SET status = :status, attempts = attempts - 1, worker_id = NULL,
    lease_expires_at = NULL, version = :version
WHERE id = :id

-- name: attempt_succeeded
-- positional: (status, finished_at, the four actual_* figures in column order, version, id)
UPDATE tasks SET status = ?, finished_at = ?, lease_expires_at = NULL,
    actual_read_bytes = ?, actual_write_bytes = ?, actual_net_rx_bytes = ?,
    actual_net_tx_bytes = ?, version = ?
WHERE id = ?

-- name: retrying
UPDATE tasks SET status = :status, last_error = :error, run_after = :retry_at, worker_id = NULL,
    lease_expires_at = NULL, version = :version
WHERE id = :id

-- name: ended
UPDATE tasks SET status = :status, finished_at = :at, lease_expires_at = NULL,
    last_error = COALESCE(:error, last_error), version = :version
WHERE id = :id

-- name: child_spawned
UPDATE tasks SET children_total = children_total + 1,
    children_unfinished = children_unfinished + 1, version = :version
WHERE id = :id

-- name: child_finished
UPDATE tasks SET children_unfinished = children_unfinished - 1, version = :version WHERE id = :id

-- name: lease_renewed
UPDATE tasks SET lease_expires_at = :lease_expires_at, version = :version WHERE id = :id
