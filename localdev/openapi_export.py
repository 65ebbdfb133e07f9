"""Writes the API's OpenAPI document to a file without a server, for the web app's type generation.

The web build (web/package.json `openapi`) turns this document into TypeScript types, so a change
of the contract breaks the app's build instead of its pages.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0] if args else "web/openapi.json")
    import app  # noqa: F401  (registers every route)
    from chalicelib.api.openapi import build_openapi

    target.write_text(json.dumps(build_openapi(), indent=1, sort_keys=True) + "\n")
    print(f"openapi: wrote {target}")


if __name__ == "__main__":
    main()
