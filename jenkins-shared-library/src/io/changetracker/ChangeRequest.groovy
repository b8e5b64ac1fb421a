package io.changetracker

import com.cloudbees.groovy.cps.NonCPS
import groovy.json.JsonOutput

import java.time.Instant
import java.time.temporal.ChronoUnit

/**
 * One change as recordChange sends it: checks the step's parameters and builds the body of POST /api/v1/events.
 *
 * It holds only strings, numbers, booleans, lists and maps, so a pipeline can keep it across steps (CPS
 * serialises the program between steps). Every method is @NonCPS and calls no step: they are plain
 * computations, and closures over collections are only safe outside CPS.
 */
class ChangeRequest implements Serializable {
    private static final long serialVersionUID = 1L

    /** The tracker's event types and severities (PRODUCT.md, app/models.py). */
    static final List<String> TYPES = ['agent_config', 'tool_update', 'toolchain_change', 'docker_image',
                                       'plugin_update', 'jenkins_core', 'package_update', 'outage', 'rollback',
                                       'maintenance', 'deployment', 'note'].asImmutable()
    static final List<String> SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'].asImmutable()

    /** Every parameter the step understands; anything else is most likely a typo worth failing on. */
    static final List<String> PARAMETERS = ['title', 'type', 'severity', 'agents', 'tools', 'toolchains', 'tags',
                                            'description', 'metadata', 'dedupeKey', 'credentialsId', 'url',
                                            'failOnError', 'timeout'].asImmutable()

    /** The server's limits (app/domain/schemas.py), checked here so a bad call fails before any HTTP. */
    static final int TITLE_MAX = 200
    static final int NAME_MAX = 200
    static final int TAG_MAX = 100
    static final int DESCRIPTION_MAX = 20000
    static final int DEDUPE_KEY_MAX = 255
    static final int ERROR_MESSAGE_MAX = 1000

    private final Map config
    private final Map build
    private final String occurredAt
    private final String endedAt
    private final Map outcome
    private final String severityOverride

    /**
     * @param config the step's parameters, defaults already merged (see {@link #withDefaults})
     * @param build the running build's env values JOB_NAME, BUILD_NUMBER, BUILD_URL, NODE_NAME and NODE_LABELS
     */
    ChangeRequest(Map config, Map build) {
        this(copyOf(config), copyOf(build), null, null, null, null)
    }

    // All the fields of an immutable value, for at() and finished() only.
    // groovylint-disable-next-line ParameterCount
    private ChangeRequest(Map config, Map build, String occurredAt, String endedAt, Map outcome,
                          String severityOverride) {
        this.config = config
        this.build = build
        this.occurredAt = occurredAt
        this.endedAt = endedAt
        this.outcome = outcome
        this.severityOverride = severityOverride
    }

    /** The caller's parameters over the defaults; a parameter passed as null keeps its default. */
    @NonCPS
    static Map withDefaults(Map defaults, Map config) {
        Map merged = new LinkedHashMap(defaults ?: [:])
        (config ?: [:]).each { key, value ->
            if (value != null) {
                merged[String.valueOf(key)] = value
            }
        }
        return merged
    }

    /** Now, as ISO 8601 in UTC with millisecond precision (the tracker wants an offset). */
    @NonCPS
    static String now() {
        return Instant.now().truncatedTo(ChronoUnit.MILLIS).toString()
    }

    /** Every problem with the parameters, each naming its parameter; empty when the call is good. */
    @NonCPS
    List<String> problems() {
        List<String> problems = []
        List unknown = config.keySet().findAll { !PARAMETERS.contains(it) }.sort()
        unknown.each { problems << "unknown parameter '${it}' (known: ${PARAMETERS.join(', ')})".toString() }

        def title = config.title
        if (title == null || (title instanceof CharSequence && !title.toString().trim())) {
            problems << "title is required: say what changed in one line, e.g. title: 'Upgrade JDK to 17.0.12'"
        } else if (!(title instanceof CharSequence)) {
            problems << 'title must be a string'
        } else if (title.toString().length() > TITLE_MAX) {
            problems << "title must be at most ${TITLE_MAX} characters (got ${title.toString().length()})".toString()
        }
        if (!TYPES.contains(String.valueOf(config.type))) {
            problems << "type '${config.type}' is not one of: ${TYPES.join(', ')}".toString()
        }
        if (!SEVERITIES.contains(String.valueOf(config.severity))) {
            problems << "severity '${config.severity}' is not one of: ${SEVERITIES.join(', ')}".toString()
        }
        ['agents', 'tools', 'toolchains', 'tags'].each { String name ->
            problems.addAll(nameProblems(name, config[name], name == 'tags' ? TAG_MAX : NAME_MAX))
        }
        problems.addAll(textProblems('description', config.description, DESCRIPTION_MAX))
        problems.addAll(textProblems('dedupeKey', config.dedupeKey, DEDUPE_KEY_MAX))
        if (config.metadata != null && !(config.metadata instanceof Map)) {
            problems << 'metadata must be a map, e.g. metadata: [from: \'17.0.11\', to: \'17.0.12\']'
        }
        def url = config.url
        if (url == null || !url.toString().trim()) {
            problems << 'url is required: pass url: or set the CHANGE_TRACKER_URL environment variable'
        } else if (!(url.toString().trim() ==~ /(?i)https?:\/\/[^\s\/]+.*/)) {
            problems << "url must start with http:// or https:// (got '${url}')".toString()
        }
        if (config.credentialsId == null || !config.credentialsId.toString().trim()) {
            problems << 'credentialsId is required: the ID of a Secret text credential holding a Change Tracker token'
        }
        if (!(config.failOnError instanceof Boolean)) {
            problems << "failOnError must be true or false (got '${config.failOnError}')".toString()
        }
        if (timeoutSeconds() == null) {
            problems << "timeout must be a whole number of seconds greater than 0 (got '${config.timeout}')".toString()
        }
        return problems
    }

    /** This change as it happened now-ish: a point in time. */
    @NonCPS
    ChangeRequest at(String occurredAt) {
        return new ChangeRequest(config, build, occurredAt, null, null, null)
    }

    /**
     * This change as the interval a block took. A block that threw is recorded as a failure (an abort as
     * "aborted") and at least 'high' severity: a change that broke half-way is what people look for first.
     */
    @NonCPS
    ChangeRequest finished(String startedAt, String endedAt, Throwable failure) {
        Map outcome = [outcome: 'success']
        String severity = null
        if (failure != null) {
            outcome = [outcome: failure instanceof InterruptedException ? 'aborted' : 'failure',
                       error  : describe(failure)]
            if (SEVERITIES.indexOf(String.valueOf(config.severity)) < SEVERITIES.indexOf('high')) {
                severity = 'high'
            }
        }
        return new ChangeRequest(config, build, startedAt, endedAt, outcome, severity)
    }

    @NonCPS
    String getTitle() {
        return String.valueOf(config.title)
    }

    @NonCPS
    String getSeverity() {
        return severityOverride ?: String.valueOf(config.severity)
    }

    @NonCPS
    String getCredentialsId() {
        return String.valueOf(config.credentialsId).trim()
    }

    @NonCPS
    boolean getFailOnError() {
        return config.failOnError == true
    }

    @NonCPS
    int getTimeout() {
        return timeoutSeconds() ?: 10
    }

    /** The tracker's base URL without trailing slashes. */
    @NonCPS
    String getBaseUrl() {
        return String.valueOf(config.url).trim().replaceAll('/+$', '')
    }

    @NonCPS
    String getEndpoint() {
        return baseUrl + '/api/v1/events'
    }

    /** Where people look at the recorded event in the tracker's web UI. */
    @NonCPS
    String eventUrl(Object eventId) {
        return baseUrl + '/events/' + eventId
    }

    /** The JSON body of POST /api/v1/events, as a map; absent facts are left out rather than sent as null. */
    @NonCPS
    Map payload() {
        Map body = [
            title   : title,
            type    : String.valueOf(config.type),
            severity: severity,
            source  : 'pipeline',
        ]
        if (occurredAt) {
            body.occurred_at = occurredAt
        }
        if (endedAt) {
            body.ended_at = endedAt
        }
        body.agents = names(config.agents)
        body.tools = names(config.tools)
        body.toolchains = names(config.toolchains)
        body.tags = names(config.tags)
        if (config.description != null) {
            body.description = config.description.toString()
        }
        body.metadata = metadata()
        if (config.dedupeKey != null) {
            body.dedupe_key = config.dedupeKey.toString()
        }
        String buildUrl = build.BUILD_URL ? build.BUILD_URL.toString() : null
        if (buildUrl && buildUrl ==~ /(?i)https?:\/\/\S+/) {
            body.build_url = buildUrl
        }
        return body
    }

    @NonCPS
    String toJson() {
        return JsonOutput.toJson(payload())
    }

    /** Build facts first, then the caller's metadata (which may override them), then the block's outcome. */
    @NonCPS
    private Map metadata() {
        Map metadata = [:]
        if (build.JOB_NAME) {
            metadata.job = build.JOB_NAME.toString()
        }
        if (build.BUILD_NUMBER) {
            String number = build.BUILD_NUMBER
            metadata.build_number = number.isInteger() ? number.toInteger() : number
        }
        if (build.NODE_NAME) {
            metadata.node = build.NODE_NAME.toString()
        }
        if (build.NODE_LABELS) {
            metadata.labels = build.NODE_LABELS.toString().trim().split(/\s+/) as List
        }
        if (config.metadata instanceof Map) {
            ((Map) config.metadata).each { key, value -> metadata[String.valueOf(key)] = plain(value) }
        }
        if (outcome) {
            metadata.putAll(outcome)
        }
        return metadata
    }

    @NonCPS
    private Integer timeoutSeconds() {
        def timeout = config.timeout
        if (timeout instanceof Integer || timeout instanceof Long || timeout instanceof Short) {
            return timeout > 0 && timeout <= Integer.MAX_VALUE ? timeout as Integer : null
        }
        if (timeout instanceof CharSequence && timeout.toString().isInteger()) {
            Integer value = timeout.toString().toInteger()
            return value > 0 ? value : null
        }
        return null
    }

    /** A name or a list of names, without blanks and repeats; null entries (an unset variable) are dropped. */
    @NonCPS
    static List<String> names(Object value) {
        Collection values = value instanceof Collection ? (Collection) value :
            value instanceof Object[] ? (value as List) : value == null ? [] : [value]
        Set<String> names = new LinkedHashSet<String>()
        values.each { item ->
            if (item != null && item.toString().trim()) {
                names << item.toString().trim()
            }
        }
        return new ArrayList<String>(names)
    }

    @NonCPS
    static List<String> nameProblems(String parameter, Object value, int max) {
        if (value == null) {
            return []
        }
        boolean listLike = value instanceof Collection || value instanceof Object[]
        if (!listLike && !(value instanceof CharSequence)) {
            return ["${parameter} must be a name or a list of names".toString()]
        }
        List items = listLike ? value as List : [value]
        List<String> problems = []
        items.each { item ->
            if (item != null && !(item instanceof CharSequence)) {
                problems << "${parameter} must hold names (strings), not ${item.getClass().simpleName}".toString()
            } else if (item != null && item.toString().trim().length() > max) {
                problems << ("${parameter} entry '${item.toString().take(40)}...' is longer than ${max} " +
                    'characters').toString()
            }
        }
        return problems.unique()
    }

    @NonCPS
    private static List<String> textProblems(String parameter, Object value, int max) {
        if (value == null) {
            return []
        }
        if (!(value instanceof CharSequence)) {
            return ["${parameter} must be a string".toString()]
        }
        if (value.toString().length() > max) {
            return ["${parameter} must be at most ${max} characters (got ${value.toString().length()})".toString()]
        }
        return []
    }

    @NonCPS
    private static String describe(Throwable failure) {
        String text = failure.message ?: failure.getClass().name
        return text.length() > ERROR_MESSAGE_MAX ? text.take(ERROR_MESSAGE_MAX - 3) + '...' : text
    }

    /** GStrings become Strings so the JSON and the serialised program hold plain values only. */
    @NonCPS
    private static Object plain(Object value) {
        if (value instanceof CharSequence) {
            return value.toString()
        }
        if (value instanceof Map) {
            Map copy = [:]
            ((Map) value).each { key, item -> copy[String.valueOf(key)] = plain(item) }
            return copy
        }
        if (value instanceof Collection || value instanceof Object[]) {
            return (value as List).collect { plain(it) }
        }
        return value
    }

    @NonCPS
    private static Map copyOf(Map map) {
        Map copy = [:]
        (map ?: [:]).each { key, value -> copy[String.valueOf(key)] = plain(value) }
        return copy
    }
}
