"""OCPI 2.2.1 protocol library: models, envelope, status codes, errors, headers, pagination, async client.

Import rule: `ocpi` imports no other package of this project; no database, no FastAPI, no clock.
"""
