-- Tag rows are stored in their primary key's order, (task_id, key), in the table's own B-tree
-- (WITHOUT ROWID) instead of a rowid table plus a separate index on that key. With
-- time-ordered task ids a task's tag rows are appended together, a task's end updates them in
-- one place, and every secondary index carries the task id, so "the ids of the tasks with this
-- tag" is answered from the index alone.
CREATE TABLE task_tags_by_task (
    task_id TEXT NOT NULL REFERENCES tasks (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    phase TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, key)
) WITHOUT ROWID;
INSERT INTO task_tags_by_task (task_id, key, value, phase, priority, seq)
SELECT task_id, key, value, phase, priority, seq FROM task_tags;
DROP TABLE task_tags;
ALTER TABLE task_tags_by_task RENAME TO task_tags;
CREATE INDEX idx_task_tags_kv ON task_tags (key, value);
CREATE INDEX idx_task_tags_kv_phase_order ON task_tags (key, value, phase, priority, seq);
