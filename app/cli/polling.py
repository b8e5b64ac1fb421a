"""Running the pollers once: observe Jenkins, registries and package indexes, here or pushed to a tracker; or
observe a demo controller."""
import os
import sys

import click

from app.accounts.audit import Actor
from app.cli.context import AppContext


@click.command()
@click.argument("pollers", nargs=-1, required=True, type=click.Choice(["jenkins", "registry", "packages", "all"]))
@click.option("--push", "push_url", metavar="URL", help="Send the snapshots to the tracker at URL instead of the "
              "local database (what the nightly Jenkins job does).")
@click.option("--token", envvar="CHANGETRACKER_TOKEN", help="API token with the record scope for --push "
              "[default: $CHANGETRACKER_TOKEN].")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write the JSON summary to FILE instead of stdout.")
def poll(pollers, push_url, token, output):
    """Observe Jenkins, registries and package indexes and record what changed.

    Prints a JSON summary (per poller: what it saw, what changed, the events, the errors); exits 1
    when a poller failed, with its errors on stderr. Configuration: docs/pollers.md.
    """
    import json

    from app.polling import runner
    from app.polling.collectors import config as poller_config

    if push_url and not token:
        click.echo("error: --push needs a token with the record scope: --token or CHANGETRACKER_TOKEN", err=True)
        sys.exit(2)
    try:
        if push_url:  # runs where there is no local database (a Jenkins agent): no app, no PollRun rows
            settings = poller_config.load()
            _refuse_unconfigured(pollers, settings)
            summary = runner.run_pollers(pollers, push_url=push_url, token=token, settings=settings)
        else:
            with AppContext() as app:
                settings = poller_config.load_for_app(app.config, app.instance_path)
                _refuse_unconfigured(pollers, settings)
                summary = runner.run_pollers(pollers, settings=settings, actor=Actor("poller (cli)"))
    except poller_config.PollerConfigError as exc:
        click.echo("error: %s" % exc, err=True)
        sys.exit(2)
    text = json.dumps(summary, indent=2, ensure_ascii=False, default=str)
    if output:
        with open(output, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    else:
        click.echo(text)
    for report in summary["pollers"]:
        for problem in report.get("errors", []):
            click.echo("error: %s: %s: %s" % (report["poller"], problem["target"], problem["message"]), err=True)
        click.echo("%s: %s%s" % (report["poller"], report["status"], "" if report["status"] == "skipped" else
                                 " (%d observed, %d changed, %d events, %d errors)" % (
                                     report["observed"], report["changed"], report["events"], len(report["errors"]))),
                   err=True)
    if summary["status"] != "ok":
        sys.exit(1)


def _refuse_unconfigured(names, settings):
    """A poller named on the command line with nothing to watch is a mistake; ``all`` runs what is configured."""
    for name in names:
        if name != "all" and not settings.configured(name):
            from app.polling.runner import WHERE

            click.echo("error: nothing configured for the %s poller: add %s (docs/pollers.md)%s" % (
                name, WHERE[name], "; pollers file: %s" % settings.source if settings.source else ""), err=True)
            sys.exit(2)


@click.command()
@click.option("--url", envvar="CHANGETRACKER_URL", default="http://127.0.0.1:8000", show_default=True,
              help="The tracker's address, for the links it prints [default: $CHANGETRACKER_URL, else this].")
def demo(url):
    """Try the pollers without a Jenkins: poll a small fake controller on loopback (the demo fleet as the ledger
    last saw it), change one agent the way a JDK roll-out would, poll again; the change shows on /fleet."""
    from app.ops import demo as demos

    os.environ["no_proxy"] = ",".join(filter(None, (os.environ.get("no_proxy"), "127.0.0.1")))  # a loopback poll
    with AppContext():
        result = demos.run_demo()
    url = url.rstrip("/")
    click.echo("demo controller %s (%s, %d agents)" % (result["controller"], demos.CONTROLLER,
                                                         result["first"]["seen"].get("agents", 0)))
    click.echo("first poll: %s" % _outcome(result["first"]))
    click.echo("the demo changes %s" % result["change"])
    click.echo("second poll: %s" % _outcome(result["second"]))
    for event in result["events"]:
        click.echo("  #%d %s  %s/events/%d" % (event["id"], event["title"], url, event["id"]))
    click.echo("see it on %s/fleet" % url)
    if "failed" in (result["first"]["status"], result["second"]["status"]):
        sys.exit(1)


def _outcome(report):
    problems = "; ".join("%s: %s" % (e["target"], e["message"]) for e in report["errors"])
    return "%s, %d observed, %d changed, %d event%s%s" % (
        report["status"], report["observed"], report["changed"], report["events"], "" if report["events"] == 1 else "s",
        "; " + problems if problems else "")
