"""Ingest of CPO-owned objects: Locations (with EVSEs), Tariffs (with version history), Sessions, and the
parties a hub reports through HubClientInfo.

Objects arrive two ways and land in the same tables through the same store functions:

- pushed to our Receiver endpoints (`emsp.ocpi_api.locations` ...), one object per request;
- pulled from a partner's Sender endpoints (`emsp.ingest.sync` over `partners.pull`), a page at a time.

Every object is keyed by `(country_code, party_id, id)`, upper-cased (the spec compares them as CiString),
and keeps the partner it came from, its `last_updated` and its JSON as validated by the `ocpi` models. A
write whose `last_updated` is older than the stored one changes nothing (the spec has no rule; ours: ignore
and log).

Layout: `tables` (every table), `locations`, `tariffs`, `sessions`, `hubclientinfo` (store and read per
module), `upsert` (dialect-aware bulk upserts), `quarantine`, `sync` (pull wiring), `queries` (operator
views).
"""
