-- Tag rows carry the task's priority and submission position, so "tasks with tag = v and
-- status = s in dispatch order, first N" reads N index entries instead of every match.
ALTER TABLE task_tags ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE task_tags ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE task_tags SET
    priority = (SELECT tasks.priority FROM tasks WHERE tasks.id = task_tags.task_id),
    seq = (SELECT tasks.seq FROM tasks WHERE tasks.id = task_tags.task_id);
DROP INDEX idx_task_tags_kv_status;
CREATE INDEX idx_task_tags_kv_status_order ON task_tags (key, value, status, priority, seq);
