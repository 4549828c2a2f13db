"""The operator's HTTP API under `/admin/v1` (Bearer admin key). Errors are `{"error": {code, message}}`."""
