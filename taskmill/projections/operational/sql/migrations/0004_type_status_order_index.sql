-- The dispatch loop asks for "pending tasks of these types, by priority then submission,
-- first N". With one type, this index answers it in order and reads only what it returns;
-- (task_type, status) alone would need a sort, and an index without the status would walk
-- every finished task of the type first.
DROP INDEX idx_tasks_type_status;
CREATE INDEX idx_tasks_type_status_order ON tasks (task_type, status, priority, seq);
