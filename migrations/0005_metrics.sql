-- 0005: counters behind GET /metrics.
--
-- One row per metric and label set (`family="chat",status="200"`, already in Prometheus text
-- form). Instances add what they counted with an upsert (`value = value + ?`), a few times a
-- second at most, so every instance and replica adds to the same totals. Values only grow;
-- Prometheus handles the rates.
CREATE TABLE metric_counters (
    name    TEXT NOT NULL,
    labels  TEXT NOT NULL,
    value   REAL NOT NULL,
    PRIMARY KEY (name, labels)
) STRICT, WITHOUT ROWID;
