"""CPO CDRs: received (POST to our receiver, or pulled from a CPO's sender), stored once as received, and
verified against a recomputation with the CPO's own tariff (architecture data flow 4).

Layout: `tables` (CDRs, verifications), `store` (the idempotency rule), `lookup` (what ingest knows:
time zone, connector tariffs, the tariff version in force), `verify` (received vs calculated per component),
`pipeline` (store → verify → price for the driver, and the retry of failed pricing), `pull` (the CDR pull
from a CPO's sender endpoint), `queries` (operator views).

Imports: `emsp.billing` for the MSP CDR; `cdr_pricing` for the arithmetic; `ocpi` models for the wire format.
"""
