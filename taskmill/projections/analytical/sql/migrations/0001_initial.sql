-- The analytical view (DuckDB): every task with its numeric fields, its tags, and every change
-- of its status with the time it happened, so that any past instant can be reconstructed.

CREATE TABLE tasks (
    seq BIGINT NOT NULL,                -- log position of the submission (submission order)
    task_id UUID NOT NULL,
    task_type VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    priority INTEGER NOT NULL,
    group_key VARCHAR,
    parent_id UUID,
    attempts INTEGER NOT NULL,
    max_retries INTEGER NOT NULL,
    expected_read_bytes BIGINT NOT NULL,
    expected_write_bytes BIGINT NOT NULL,
    expected_net_rx_bytes BIGINT NOT NULL,
    expected_net_tx_bytes BIGINT NOT NULL,
    actual_read_bytes BIGINT NOT NULL,
    actual_write_bytes BIGINT NOT NULL,
    actual_net_rx_bytes BIGINT NOT NULL,
    actual_net_tx_bytes BIGINT NOT NULL,
    submitted_at TIMESTAMPTZ NOT NULL,
    first_started_at TIMESTAMPTZ,       -- start of the first attempt
    started_at TIMESTAMPTZ,             -- start of the latest attempt
    finished_at TIMESTAMPTZ,            -- when it reached a terminal status
    queue_ms DOUBLE,                    -- first_started_at - submitted_at
    duration_ms DOUBLE,                 -- finished_at - started_at, once finished after a start
    last_error VARCHAR,
    position BIGINT NOT NULL            -- log position of the last event applied to the task
);

CREATE TABLE task_tags (
    seq BIGINT NOT NULL,
    task_id UUID NOT NULL,
    key VARCHAR NOT NULL,
    value VARCHAR NOT NULL
);

CREATE TABLE state_changes (
    task_id UUID NOT NULL,
    position BIGINT NOT NULL,           -- log position of the event
    changed_at TIMESTAMPTZ NOT NULL,    -- the event's time
    event VARCHAR NOT NULL,             -- e.g. TaskSubmitted, TaskStarted, TaskCompleted
    status VARCHAR NOT NULL,            -- the status after the event
    attempts INTEGER NOT NULL,
    actual_read_bytes BIGINT NOT NULL,
    actual_write_bytes BIGINT NOT NULL,
    actual_net_rx_bytes BIGINT NOT NULL,
    actual_net_tx_bytes BIGINT NOT NULL,
    queue_ms DOUBLE,
    duration_ms DOUBLE
);

-- Which generated `tasks` column (tag_1, tag_2, ...) holds the value of each tag key, so that
-- grouping or filtering by a tag reads one column instead of joining task_tags.
CREATE TABLE tag_columns (
    key VARCHAR PRIMARY KEY,
    column_name VARCHAR NOT NULL UNIQUE
);

CREATE TABLE view_position (
    application_name VARCHAR PRIMARY KEY,
    notification_id BIGINT NOT NULL,
    caught_up_at TIMESTAMPTZ NOT NULL   -- wall-clock time of the last catch-up (for staleness)
);
