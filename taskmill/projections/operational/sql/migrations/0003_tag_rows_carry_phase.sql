-- Tag rows carry the task's phase instead of its status: 'active' while it is unfinished, else
-- the terminal status it ended in. A status change between unfinished statuses (a claim, a
-- retry, a requeue) then leaves the tag rows and their ordered index alone; only the task's
-- end moves them, once. The exact status of an active task is read from its task row.
ALTER TABLE task_tags RENAME COLUMN status TO phase;
UPDATE task_tags SET phase = 'active' WHERE phase IN ('pending', 'blocked', 'running', 'waiting');
DROP INDEX idx_task_tags_kv_status_order;
CREATE INDEX idx_task_tags_kv_phase_order ON task_tags (key, value, phase, priority, seq);
