"""An agent's ``config.xml`` (GET /computer/<name>/config.xml) as a normalised, comparable dict.

Only what the XML *means* survives: element order of unknown properties, attribute order, indentation,
comments and the XML declaration (1.0 on older cores, 1.1 on current ones) do not. Leaf text is
stripped. Secrets stay as Jenkins sent them (``********`` for a caller without Configure, or an
encrypted ``{AQAAAB...}`` blob); the snapshot diff knows not to report them.

    {"name", "description", "remote_fs", "executors", "mode", "labels": [sorted],
     "launcher": {"type": class, "settings": {dotted path: text}}, "retention": class,
     "tools": {name: {"kind": "jdk", "type": descriptor class, "home": path}},
     "env": {NAME: value}, "properties": {element tag: {dotted path: text}}}
"""
import re
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

__all__ = ["ParseError", "parse_agent_config", "tool_kind"]

TOOL_LOCATIONS = "hudson.tools.ToolLocationNodeProperty"
ENV_VARS = "hudson.slaves.EnvironmentVariablesNodeProperty"
# XML 1.1 (what current cores declare) allows character references to control characters that
# expat, an XML 1.0 parser, refuses; they carry no configuration meaning, so they become U+FFFD.
_CONTROL_REFERENCE = re.compile(r"&#(x[0-9a-fA-F]+|[0-9]+);")
_RESTRICTED = set(range(1, 9)) | {11, 12} | set(range(14, 32)) | set(range(127, 160))
MAX_LEAVES = 500
# Jenkins writes agents a few levels deep; past these, a document is not a config.xml (and _leaves recurses).
MAX_DEPTH = 32
MAX_ELEMENTS = 20000


def parse_agent_config(xml):
    """Parse config.xml text (str or bytes) into the normalised dict; raises ParseError when it is not
    well-formed (a truncated download, an HTML error page), declares a DTD or entities (Jenkins never writes
    them; nested entities made a 323-byte document 5 MB), or nests deeper than MAX_DEPTH or holds more than
    MAX_ELEMENTS elements."""
    if isinstance(xml, bytes):
        xml = xml.decode("utf-8")
    try:
        root = fromstring(_CONTROL_REFERENCE.sub(_replace_control, xml), forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ParseError("a DTD or entity declaration (%s) is not allowed in config.xml" % type(exc).__name__) from None
    _check_size(root)
    if root.find("name") is None:  # well-formed, but a login page or another document
        raise ParseError("not an agent config.xml: <%s> has no <name>" % root.tag)
    launcher = root.find("launcher")
    properties = root.find("nodeProperties")
    config = {
        "name": _text(root, "name"),
        "description": _text(root, "description"),
        "remote_fs": _text(root, "remoteFS"),
        "executors": _int(_text(root, "numExecutors")),
        "mode": _text(root, "mode") or "NORMAL",
        "labels": sorted(set((_text(root, "label") or "").split())),
        "launcher": {
            "type": launcher.get("class", launcher.tag) if launcher is not None else None,
            "settings": _leaves(launcher) if launcher is not None else {},
        },
        "retention": _class_of(root.find("retentionStrategy")),
        "tools": {},
        "env": {},
        "properties": {},
    }
    for prop in (list(properties) if properties is not None else []):
        if prop.tag == TOOL_LOCATIONS:
            config["tools"] = _tool_locations(prop)
        elif prop.tag == ENV_VARS:
            config["env"] = _env_vars(prop)
        else:
            config["properties"][prop.tag] = _leaves(prop)
    return config


def _check_size(root):
    elements, pending = 0, [(root, 1)]
    while pending:
        element, depth = pending.pop()
        elements += 1
        if depth > MAX_DEPTH or elements > MAX_ELEMENTS:
            raise ParseError("more than %d elements deep or %d elements in all: not an agent config.xml"
                             % (MAX_DEPTH, MAX_ELEMENTS))
        pending.extend((child, depth + 1) for child in element)


def tool_kind(descriptor):
    """"hudson.model.JDK$DescriptorImpl" → "jdk", "hudson.tasks.Maven$MavenInstallation$DescriptorImpl"
    → "maven", "hudson.plugins.git.GitTool$DescriptorImpl" → "git"."""
    if not descriptor:
        return "other"
    short = descriptor.split("$", 1)[0].rsplit(".", 1)[-1]
    short = re.sub(r"(Tool|Installation)$", "", short) or short
    return short.lower()


def _tool_locations(prop):
    tools = {}
    for location in prop.iterfind("./locations/*"):
        name = _text(location, "name")
        descriptor = _text(location, "type")
        if not name:
            continue
        kind = tool_kind(descriptor)
        # Names are unique per tool type only: a "default" JDK and a "default" Maven both exist.
        key = name if name not in tools else "%s (%s)" % (name, kind)
        tools[key] = {"kind": kind, "type": descriptor, "home": _text(location, "home")}
    return tools


def _env_vars(prop):
    """The tree-map's <string> children alternate key, value; its <int> (the pair count) and its
    comparator (java.lang.String$CaseInsensitiveComparator or hudson.util.CaseInsensitiveComparator,
    by Jenkins age) do not matter."""
    tree_map = prop.find(".//tree-map")
    if tree_map is None:
        return {}
    strings = [(child.text or "").strip() for child in tree_map if child.tag == "string"]
    return {key: value for key, value in zip(strings[0::2], strings[1::2])}


def _leaves(element, prefix=""):
    """Every leaf under ``element`` as {dotted path: text}; repeated siblings get [i]. An element with
    a class attribute but no text (a strategy, a nested launcher) records its class."""
    leaves = {}
    counts = {}
    for child in element:
        counts[child.tag] = counts.get(child.tag, 0) + 1
    seen = {}
    for child in element:
        if len(leaves) >= MAX_LEAVES:
            break
        name = child.tag
        if counts[name] > 1:
            seen[name] = seen.get(name, 0) + 1
            name = "%s[%d]" % (name, seen[name] - 1)
        path = prefix + name
        if len(child):
            if child.get("class"):
                leaves[path + "@class"] = child.get("class")
            leaves.update(_leaves(child, path + "."))
        else:
            text = (child.text or "").strip()
            leaves[path] = text if text or not child.get("class") else child.get("class")
    return leaves


def _class_of(element):
    return element.get("class") if element is not None else None


def _text(element, tag):
    found = element.find(tag)
    if found is None:
        return None
    return (found.text or "").strip()


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _replace_control(match):
    ref = match.group(1)
    number = int(ref[1:], 16) if ref[0] in "xX" else int(ref)
    return "\ufffd" if number in _RESTRICTED else match.group(0)
