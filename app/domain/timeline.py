"""Swimlanes: events grouped by agent, with a "fleet" lane for events that name no agent."""
from app.domain.events import list_events

FLEET_LANE = "fleet"


def swimlanes(filters):
    """{"lanes": [{"name", "events"}], "count"}: one lane per agent, sorted by name, fleet last."""
    events = list_events(filters)
    lanes = {}
    for event in events:
        for name in event["agents"] or [FLEET_LANE]:
            lanes.setdefault(name, []).append(event)
    ordered = sorted((n for n in lanes if n != FLEET_LANE), key=str.lower)
    if FLEET_LANE in lanes:
        ordered.append(FLEET_LANE)
    return {"lanes": [{"name": n, "events": lanes[n]} for n in ordered], "count": len(events), "events": events}
