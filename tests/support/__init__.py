"""Test support: real HTTP servers on loopback, fake partners, data builders."""
