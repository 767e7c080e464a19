-- Fixed parts of the analytical queries. `queries.py` assembles them with generated column
-- names only (tag_<n>, and fields from its fixed list); every value is a bound parameter.

-- name: state_as_of
-- Each task's state at an instant: its latest state change at or before it.
SELECT
    task_id,
    arg_max_null(status, position) AS status,
    arg_max_null(attempts, position) AS attempts,
    arg_max_null(actual_read_bytes, position) AS actual_read_bytes,
    arg_max_null(actual_write_bytes, position) AS actual_write_bytes,
    arg_max_null(actual_net_rx_bytes, position) AS actual_net_rx_bytes,
    arg_max_null(actual_net_tx_bytes, position) AS actual_net_tx_bytes,
    arg_max_null(queue_ms, position) AS queue_ms,
    arg_max_null(duration_ms, position) AS duration_ms
FROM state_changes
WHERE changed_at <= $as_of
GROUP BY task_id

-- name: tag_values_of_key
-- The value of one tag key per task, for keys without a generated column.
SELECT task_id, value FROM task_tags WHERE key = $key
