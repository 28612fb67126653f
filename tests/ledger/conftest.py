# Registers the idempotency_keys table before the session schema is created; nothing in
# ccare.products imports it, so API-only runs of this directory would miss the table.
import ccare.core.idempotency  # noqa: F401
