"""The triage service (``dumptriage serve``, the ``[service]`` extra): ``analyze`` behind a
small HTTP API and a drop page.

    from dumptriage.service.app import create_app
    from dumptriage.service.config import ServiceConfig
    app = create_app(ServiceConfig(data=Path("/srv/dumptriage")))   # an ASGI app

config.py   what it may do (limits, token, loopback) - no web framework imported
uploads.py  request bodies streamed to disk, hashed on the way, names checked
jobs.py     deduplication, the queue, batch's worker processes, the ledger and history
ledger.py   the analyses table (service.sqlite)
buckets.py  /v1/buckets from the batch history store
app.py      the Starlette routes and the guard (token, Host, security headers)
openapi.json  the API, with the JSON of every answer; static/  the page and /docs
"""
