// Supervision trees, circuit breakers, bulkheads and rollback arrive with issue #3 (see README, "Status").
export {};
