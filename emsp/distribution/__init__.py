"""Token distribution: the per-(token, partner, target party) ledger, the delivery worker, operator actions.

Contract with `emsp.tokens`: every token change calls
`emsp.distribution.ledger.mark_token_changed(session, token)` in the same transaction, after the token row
(with its new `version` and `last_updated`) is flushed. See `addressing` (which parties a partner's pushes
go to: a direct partner's own, or the CPO parties a hub reports through HubClientInfo), `ledger` (what should
be where), `sync` (rows in line with partner states and a hub's parties), `worker` (claim, push, record),
`reconcile` (GET back and compare), `queries` (operator views).
"""
