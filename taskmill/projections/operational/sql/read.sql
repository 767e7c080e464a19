-- Statements the queries run. Filters that vary are fragments joined with AND by queries.py;
-- every value is a bound parameter.

-- name: task_columns
SELECT id, seq, task_type, status, priority, group_key, dedup_key, parent_id, payload, tags,
    attempts, max_retries, ttl_seconds,
    expected_read_bytes, expected_write_bytes, expected_net_rx_bytes, expected_net_tx_bytes,
    actual_read_bytes, actual_write_bytes, actual_net_rx_bytes, actual_net_tx_bytes,
    submitted_at, started_at, finished_at, run_after, expires_at, last_error, worker_id,
    lease_expires_at, children_total, children_unfinished
FROM tasks

-- name: id_columns
SELECT id FROM tasks

-- name: task_columns_by_tag
SELECT t.id, t.seq, t.task_type, t.status, t.priority, t.group_key, t.dedup_key, t.parent_id,
    t.payload, t.tags, t.attempts, t.max_retries, t.ttl_seconds,
    t.expected_read_bytes, t.expected_write_bytes, t.expected_net_rx_bytes,
    t.expected_net_tx_bytes, t.actual_read_bytes, t.actual_write_bytes, t.actual_net_rx_bytes,
    t.actual_net_tx_bytes, t.submitted_at, t.started_at, t.finished_at, t.run_after,
    t.expires_at, t.last_error, t.worker_id, t.lease_expires_at, t.children_total,
    t.children_unfinished
FROM task_tags AS g CROSS JOIN tasks AS t ON t.id = g.task_id

-- name: id_columns_by_tag
SELECT g.task_id AS id FROM task_tags AS g

-- name: id_columns_by_tag_and_status
-- For an unfinished status the tag rows only know 'active': each is joined to its task.
SELECT g.task_id AS id FROM task_tags AS g CROSS JOIN tasks AS t ON t.id = g.task_id

-- name: by_id
id = ?

-- name: by_tag
id IN (SELECT task_id FROM task_tags WHERE key = ? AND value = ?)

-- name: by_tag_and_phase
id IN (SELECT task_id FROM task_tags WHERE key = ? AND value = ? AND phase = ?)

-- name: has_tag
-- One primary-key probe per task row: for plans driven by the task rows' status index.
EXISTS (SELECT 1 FROM task_tags AS h WHERE h.task_id = tasks.id AND h.key = ? AND h.value = ?)

-- name: by_status
status = ?

-- name: by_status_not_indexed
-- With a list of ids, look each one up by id: the unary + keeps SQLite from walking the
-- status index instead (every finished task, for "which of these have ended?").
+status = ?

-- name: by_type
task_type = ?

-- name: by_parent
parent_id = ?

-- name: run_after_due
-- Blocked tasks whose time has come: implies the WHERE of idx_tasks_blocked_until.
(status = 'blocked' AND run_after <= ?)

-- name: via_blocked_until
INDEXED BY idx_tasks_blocked_until

-- name: expires_due
-- Unstarted tasks past their expiry: implies the WHERE of idx_tasks_unstarted_expiry.
(status IN ('pending', 'blocked') AND expires_at IS NOT NULL AND expires_at <= ?)

-- name: via_unstarted_expiry
INDEXED BY idx_tasks_unstarted_expiry

-- name: lease_expired
lease_expires_at < ?

-- name: children_done
children_unfinished = 0

-- name: not_in_groups
(group_key IS NULL OR group_key NOT IN (?))

-- name: by_worker
worker_id = ?

-- name: after_cursor
(priority, seq) > (?, ?)

-- name: tag_phase_page
g.key = ? AND g.value = ? AND g.phase = ?

-- name: and_task_status
AND t.status = ?

-- name: and_task_has_tag
AND EXISTS (SELECT 1 FROM task_tags AS h WHERE h.task_id = g.task_id AND h.key = ? AND h.value = ?)

-- name: after_tag_cursor
AND (g.priority, g.seq) > (?, ?)

-- name: tag_order_and_page
ORDER BY g.priority, g.seq LIMIT ? OFFSET ?

-- name: order_and_page
ORDER BY priority, seq LIMIT ? OFFSET ?

-- name: count_by_tag
SELECT value, sum(n) AS total FROM tag_counts WHERE key = :key
GROUP BY value HAVING total > 0 ORDER BY total DESC, value

-- name: count_by_tag_and_status
SELECT value, n FROM tag_counts WHERE key = :key AND status = :status AND n > 0
ORDER BY n DESC, value

-- name: tag_values
SELECT DISTINCT value FROM tag_counts WHERE key = :key AND n > 0 ORDER BY value

-- name: tag_keys
SELECT DISTINCT key FROM tag_counts
WHERE key >= :prefix AND key < :prefix_end AND n > 0 ORDER BY key

-- name: all_tag_keys
SELECT DISTINCT key FROM tag_counts WHERE n > 0 ORDER BY key

-- name: status_counts
-- Every task has exactly one taskmill.type tag, so its counters count every task once: the
-- answer costs the same at any number of tasks.
SELECT status, sum(n) FROM tag_counts WHERE key = 'taskmill.type' AND n > 0 GROUP BY status

-- name: tags_of_tasks
-- Every tag of the tasks whose ids are in the JSON array :ids (the event feed's lookup).
SELECT task_id, key, value FROM task_tags
WHERE task_id IN (SELECT value FROM json_each(:ids))

-- name: view_position
SELECT notification_id FROM view_position WHERE application_name = :application_name

-- name: tag_value_status_counts
SELECT status, n FROM tag_counts WHERE key = :key AND value = :value AND n > 0

-- name: status_total
SELECT coalesce(sum(n), 0) FROM tag_counts WHERE key = 'taskmill.type' AND status = :status

-- name: tag_stats
SELECT value, status, n FROM tag_counts WHERE key = :key AND n > 0

-- name: group_status_counts
-- A task has the taskmill.group tag exactly when it has a group: its counters per status.
SELECT value, status, n FROM tag_counts
WHERE key = 'taskmill.group' AND status IN ('pending', 'running') AND n > 0

-- name: running_tasks
-- What a snapshot shows of each running task (not the whole record: no payload to parse).
SELECT id, task_type, tags, group_key, attempts, started_at, worker_id FROM tasks
WHERE status = 'running'
ORDER BY priority, seq
