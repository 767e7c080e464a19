-- The dispatch loop asks for "pending tasks of this type, by priority then submission, first N".
-- With (task_type, status) SQLite found them but had to sort; with (task_type, priority, seq)
-- it walked every finished task of the type first. This index answers it in order and reads
-- only what it returns.
DROP INDEX idx_tasks_type_status;
CREATE INDEX idx_tasks_type_status_order ON tasks (task_type, status, priority, seq);
