"""Tokens: the eMSP is their owner and source of truth (spec mod_tokens.asciidoc).

- `tables`: `Token` and `TokenHistory`; `contract_id`: eMA-ID format and check digit.
- `service`: create / edit / block / unblock / deactivate (one transaction each: new `version` and
  `last_updated`, a history row, `emsp.distribution.ledger.mark_token_changed`); `validity`: the scheduled
  expiry and validity-start changes.
- `ocpi_map.to_ocpi`: the OCPI Token object; `authorize`: the real-time authorization decision;
  `queries` / `hotpath`: the reads of the admin list and the OCPI endpoints.

Used by `emsp.admin_api.tokens`, `emsp.cli.tokens`, `emsp.ocpi_api.tokens` and `emsp.distribution`.
"""
