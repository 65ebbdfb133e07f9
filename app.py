"""The Chalice app: routes from blueprints, and (later) the scheduled and Step Functions handlers.

Thin by design: every route lives in chalicelib/api, every job in chalicelib/jobs.
"""

from __future__ import annotations

import logging

from chalice import Chalice

from chalicelib.api import accounts, baskets, identity, strategies, system

app = Chalice(app_name="optexec")
app.log.setLevel(logging.INFO)

for blueprint in (system, identity, accounts, baskets, strategies):
    app.register_blueprint(blueprint.bp)
