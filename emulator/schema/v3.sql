-- Schema version 3: indexes by device for the tables firmware reads device by device.
--
-- A site's store holds a few premises and a table scan cost nothing; a fleet's shard holds
-- thousands in one store, and every meter alert looked up its device's outbox and logs by
-- scanning every device's rows: a storm of 10,000 premises slowed as its tables grew
-- (measured: 1.35 ms a premises at 500, 17 ms at 10,000). No data changes.

CREATE INDEX outbox_device ON outbox (device, sent, id);
CREATE INDEX event_log_device ON event_log (device, at);
CREATE INDEX security_log_device ON security_log (device, at);
CREATE INDEX future_command_device ON future_command (device, due);
