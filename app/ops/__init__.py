"""Operations: keeping a deployment alive.

Owns backups and restores (``backups``, ``restore``), retention and purges (``retention``), the worker process and
its schedule (``worker``, with ``leases`` so exactly one worker runs the schedule), the figures that /readyz and
/metrics report (``gauges``) and the demo data of a first run (``demo``).

May import the kernel and every other capability; never Flask, werkzeug or delivery (app.web, app.api, app.hooks,
app.http): the worker receives the app only to read its configuration.
"""
