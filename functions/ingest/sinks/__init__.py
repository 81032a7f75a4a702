"""Where rows go: the contract tables, the dead letter and the audit table (all BigQuery)."""
