"""Token distribution: the per-(token, partner) ledger, the delivery worker, operator actions.

Contract with `emsp.tokens`: every token change calls
`emsp.distribution.ledger.mark_token_changed(session, token)` in the same transaction, after the token row
(with its new `version` and `last_updated`) is flushed. See `ledger` (what should be where), `worker`
(claim, push, record), `reconcile` (GET back and compare), `queries` (operator views).
"""
