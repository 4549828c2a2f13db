"""Tokens: the eMSP is their owner and source of truth (spec mod_tokens.asciidoc)."""
