"""The bundled tool servers' names, as the CLI and the model see them (`mcp__<name>__<tool>`).

Defined once and with no imports, so a governed run can attach the servers by name without loading them; the
approval server's name belongs to the broker (`SERVER_NAME`), which owns the approval prompt.
"""

from __future__ import annotations

COMPLIANCE_SERVER = "compliance_db"
DOCUMENTS_SERVER = "documents"
