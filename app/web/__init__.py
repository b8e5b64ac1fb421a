"""The pages people use: thin views that parse a form or query, call one capability function and render a template."""


def register(app):
    """What every page's template may use: the enumerations, and readable audit entries."""
    from app.web import event_view

    app.context_processor(vocabulary)
    app.add_template_filter(lambda entry: event_view.field_rows(entry["before"], entry["after"]), "audit_rows")
    app.add_template_filter(event_view.value_view, "readable")
    app.add_template_filter(lambda values: [(value, value.replace("_", " ")) for value in values], "zip_self")


def vocabulary():
    """The enumerations of the data model, for every template (as ``vocabulary``): one source for the choices a
    form offers and the values the service accepts."""
    from app.accounts import audit
    from app.models import EVENT_TYPES, INBOX_STATES, ROLES, SCOPES, SEVERITIES, SOURCE_KINDS, SOURCES

    return {"vocabulary": {"event_types": EVENT_TYPES, "severities": SEVERITIES, "sources": SOURCES, "roles": ROLES,
                           "scopes": SCOPES, "source_kinds": SOURCE_KINDS, "inbox_states": INBOX_STATES,
                           "audit_entity_types": audit.ENTITY_TYPES}}
