"""The other parties: partner registry, credentials handshake, outbound delivery and pull sync.

Import rule: `partners` imports `ocpi` only (never `emsp`, never `cdr_pricing`). It owns its tables, takes a
database session as an argument, never commits, and never reads settings: `emsp` passes every policy value in.
"""
