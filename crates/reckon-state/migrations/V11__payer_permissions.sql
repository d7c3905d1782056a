-- reckon state store, schema 11 (reckon 0.1.0, 2026-12-03).
-- What was learned from decisions: a customer's payments made by another
-- customer of the master. When a person matches a payment whose account is
-- one customer's (the payer) to another customer's open items, that customer
-- permits the payer from then on, as the customer master's `payer_ids` says
-- it for the permissions a team records itself. Undoing the decision removes
-- what it taught.
CREATE TABLE payer_permissions (
    customer_id TEXT NOT NULL,
    payer_id TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    PRIMARY KEY (customer_id, payer_id)
);
