"""The disclosure registry: parties submit signed disclosures, a database keeps them.

    store = open_store("registry.db")                 # SQLite, no set-up
    store = open_store("postgresql://host/greenai")   # PostgreSQL, for a shared deployment
    token = store.add_submitter("lab-a", public_key)  # the token is shown once, kept hashed
    make_server(store, port=8750).serve_forever()     # HTTP: submit, query, re-rate, board

The server (greenai.registry.server.make_server) verifies each upload against the
submitter's public key and stores it unchanged; the store keeps the figures ratings need in
a packed record per disclosure, so a re-rating of a million reads numbers, not documents.
greenai.registry.client submits and exports.
Install: pip install 'greenai[registry]' (psycopg for PostgreSQL, jsonschema-rs).
"""

from __future__ import annotations

from greenai.registry.store import RegistryError, Store, open_store

__all__ = ["RegistryError", "Store", "open_store"]
