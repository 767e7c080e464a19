-- Most tasks have no parent, yet each one put a NULL entry in the parent index: one more B-tree
-- insert per submission, and one more index to build in a rebuild, for entries no query reads
-- (children are looked up by `parent_id = ?`, which implies `parent_id IS NOT NULL`, so SQLite
-- uses this partial index for them).
DROP INDEX idx_tasks_parent;
CREATE INDEX idx_tasks_parent ON tasks (parent_id) WHERE parent_id IS NOT NULL;
