-- Schema version 2: what a reset for redeployment keeps gets a home outside the registers it
-- erases (GBCS: a reset keeps a device's security credentials, counters and firmware and
-- erases its consumer data; emulator/store.py erase_consumer_data).
--
-- 1. The prepayment top-up cell, kept in version 1 as a credential row of usage
--    "top-up-cell.<role>", becomes a column of its trust anchor cell.
-- 2. The running firmware version, a register in version 1, joins the device's identity.
-- 3. A firmware image held but not yet activated, and a key pair awaiting its certificate,
--    move to kept_register, which a reset does not erase. A pending key pair keeps the form
--    it was written in (version 1 wrote some as a bare PKCS#8 hex string; the firmware reads
--    both, emulator/firmware/credentials.py), since SQL cannot derive a public key.

ALTER TABLE trust_anchor ADD COLUMN top_up_certificate BLOB;   -- DER: the prepayment top-up KA key
UPDATE trust_anchor SET top_up_certificate = (
    SELECT certificate FROM credential
    WHERE credential.device = trust_anchor.device AND credential.usage = 'top-up-cell.' || trust_anchor.role
);
DELETE FROM credential WHERE usage LIKE 'top-up-cell.%';

UPDATE device SET identity = json_set(identity, '$.firmware_version', (
    SELECT json_extract(value, '$') FROM register
    WHERE register.device = device.eui AND register.name = 'firmware.version'
))
WHERE EXISTS (SELECT 1 FROM register WHERE register.device = device.eui AND register.name = 'firmware.version'
              AND register.value != 'null');
DELETE FROM register WHERE name = 'firmware.version';

-- Named values (JSON) that are device identity or security state, not consumer data.
CREATE TABLE kept_register (
    device          TEXT NOT NULL REFERENCES device (eui) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    value           TEXT NOT NULL,
    PRIMARY KEY (device, name)
);
INSERT INTO kept_register (device, name, value)
    SELECT device, name, value FROM register
    WHERE (name = 'firmware.image' OR name LIKE 'credentials.pending.%') AND value != 'null';
DELETE FROM register WHERE name = 'firmware.image' OR name LIKE 'credentials.pending.%';
