package io.changetracker

import com.cloudbees.groovy.cps.NonCPS
import groovy.json.JsonOutput

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

    /** Where events are recorded, and one event (PATCH at the end of a block). */
    static final String EVENTS_PATH = '/api/v1/events'

    /** The server's limits (app/ledger/schemas.py), checked here so a bad call fails before any HTTP. */
    static final int TITLE_MAX = 200
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
     * @param config the step's parameters, defaults already merged (see {@link StepParameters#withDefaults})
     * @param build the running build's env values JOB_NAME, BUILD_NUMBER, BUILD_URL, NODE_NAME and NODE_LABELS
     */
    ChangeRequest(Map config, Map build) {
        this(StepParameters.plainCopy(config), StepParameters.plainCopy(build), null, null, null, null)
    }

    // All the fields of an immutable value, for at(), started() and finished() only.
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

    /** Every problem with the parameters, each naming its parameter; empty when the call is good. */
    @NonCPS
    List<String> problems() {
        List<String> problems = StepParameters.unknownProblems(config, PARAMETERS)
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
            problems.addAll(StepParameters.nameProblems(name, config[name],
                name == 'tags' ? TAG_MAX : StepParameters.NAME_MAX))
        }
        problems.addAll(textProblems('description', config.description, DESCRIPTION_MAX))
        problems.addAll(textProblems('dedupeKey', config.dedupeKey, DEDUPE_KEY_MAX))
        if (config.metadata != null && !(config.metadata instanceof Map)) {
            problems << 'metadata must be a map, e.g. metadata: [from: \'17.0.11\', to: \'17.0.12\']'
        }
        problems.addAll(StepParameters.connectionProblems(config))
        if (!(config.failOnError instanceof Boolean)) {
            problems << "failOnError must be true or false (got '${config.failOnError}')".toString()
        }
        return problems
    }

    /** This change as it happened now-ish: a point in time. */
    @NonCPS
    ChangeRequest at(String occurredAt) {
        return new ChangeRequest(config, build, occurredAt, null, null, null)
    }

    /** This change as a block starts it: recorded at once, so it shows in the tracker while it happens. */
    @NonCPS
    ChangeRequest started(String startedAt) {
        return new ChangeRequest(config, build, startedAt, null, [outcome: 'running'], null)
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

    /** How the block went: running, success, failure or aborted; null for a change without a block. */
    @NonCPS
    String getOutcome() {
        return outcome?.outcome
    }

    @NonCPS
    String getCredentialsId() {
        return StepParameters.credentialsId(config.credentialsId)
    }

    @NonCPS
    boolean getFailOnError() {
        return config.failOnError == true
    }

    @NonCPS
    int getTimeout() {
        return StepParameters.timeout(config.timeout)
    }

    /** The tracker's base URL without trailing slashes. */
    @NonCPS
    String getBaseUrl() {
        return StepParameters.baseUrl(config.url)
    }

    /** Where people look at the recorded event in the tracker's web UI. */
    @NonCPS
    String eventUrl(Object eventId) {
        return new TrackerLinks(baseUrl).event(eventId)
    }

    /** The API path of one event, for the PATCH that records the end of a block. */
    @NonCPS
    static String eventPath(Object eventId) {
        return EVENTS_PATH + '/' + TrackerLinks.pathSegment(String.valueOf(eventId))
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
        body.agents = StepParameters.names(config.agents)
        body.tools = StepParameters.names(config.tools)
        body.toolchains = StepParameters.names(config.toolchains)
        body.tags = StepParameters.names(config.tags)
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

    /** The body of the PATCH that ends a block's event: when it ended, its severity, the metadata with the outcome. */
    @NonCPS
    String endJson() {
        return JsonOutput.toJson([ended_at: endedAt, severity: severity, metadata: metadata()])
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
            ((Map) config.metadata).each { key, value -> metadata[String.valueOf(key)] = StepParameters.plain(value) }
        }
        if (outcome) {
            metadata.putAll(outcome)
        }
        return metadata
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
}
