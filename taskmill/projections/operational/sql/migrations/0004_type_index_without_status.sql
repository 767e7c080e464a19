-- The type index no longer holds the status, so a status change moves one index entry of the
-- task row (in the status index) instead of two. Queries with a status walk the status index
-- in order (they always did); queries by type alone now read this one in order, without a sort.
DROP INDEX idx_tasks_type_status;
CREATE INDEX idx_tasks_type_order ON tasks (task_type, priority, seq);
