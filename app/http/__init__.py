"""What every served app shares (the main one and the receivers' in app.hooks): the one error shape (``errors``),
the NUL check and security headers (``rules``), the access guard (``guard``), a database connection per request
(``connections``), the Flask extensions (``extensions``), /healthz and /readyz (``health``), /metrics (``metrics``)
and the redacting access log (``access_log``).

Delivery: it may import every capability; no capability imports it.
"""
